import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { ProbeCredential } from '../credentials/probe-credential.ts';
import { parseChallenges, type Challenge } from './challenge.ts';

/**
 * Asks a registry, the way containerd does, whether an image can be pulled: `GET /v2/`, the
 * `WWW-Authenticate` challenge (Basic, or Bearer: a token from the realm with `service` and
 * `scope=repository:NAME:pull`, POST with the password grant first and GET with Basic auth as the
 * fallback, as containerd's authorizer), then `HEAD` of the manifest with the OCI and Docker media
 * types. A HEAD does not count as a Docker Hub pull. Credentials go only to the registry host and
 * to a realm on that same host, Docker Hub's own auth.docker.io, or a host the caller allows;
 * they are never printed, logged or kept. Written on node:https because fetch cannot take a CA
 * file without the undici package.
 */

export const PROBE_TIMEOUT_MS = 10_000;
/** Longest response body read (token answers, error JSON); manifests are HEAD requests. */
const MAX_BODY_BYTES = 64 * 1024;

/** containerd's Accept list for resolving a reference (remotes/docker/resolver.go). */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  '*/*',
] as const;

/** Registries whose API host is not their name (containerd's docker.io default). */
const API_HOSTS: Readonly<Record<string, string>> = { 'docker.io': 'registry-1.docker.io' };
/** Token realms on another host that belong to the registry itself. */
const BUILTIN_REALMS: Readonly<Record<string, readonly string[]>> = { 'registry-1.docker.io': ['auth.docker.io'] };

export interface ProbeTarget {
  /** The reference's domain: `docker.io`, `registry.example.com:5000`. */
  readonly registry: string;
  /** The repository path: `library/nginx`. */
  readonly repository: string;
  /** The tag or digest to HEAD. */
  readonly reference: string;
}

export interface ProbeOptions {
  readonly credential?: ProbeCredential | undefined;
  /** Extra CA certificates (PEM) trusted besides the system's (`--ca-file`). */
  readonly caPem?: string | undefined;
  readonly timeoutMs?: number | undefined;
  /** Realm hosts (hostname or host:port) the credential may be sent to, besides the registry's. */
  readonly allowedRealmHosts?: readonly string[] | undefined;
}

export type ProbeVerdict = 'ok' | 'unauthorized' | 'not-found' | 'rate-limited' | 'tls' | 'network' | 'realm-refused' | 'unknown';

export interface ProbeStep {
  readonly method: string;
  /** The URL requested (never carries a credential). */
  readonly url: string;
  /** Which Authorization was sent: none, basic or bearer (never its value). */
  readonly authorization: 'none' | 'basic' | 'bearer';
  readonly status: number | null;
  readonly error: string | null;
  readonly ms: number;
}

export interface ProbeResult {
  readonly registry: string;
  readonly apiHost: string;
  readonly repository: string;
  readonly reference: string;
  /** True when a credential was sent; false for an anonymous probe. */
  readonly withCredential: boolean;
  readonly verdict: ProbeVerdict;
  /** One sentence for a person. */
  readonly summary: string;
  readonly reachable: boolean;
  /** False when the TLS certificate was not trusted; null when no TLS connection was made. */
  readonly tlsTrusted: boolean | null;
  /** `none`, `basic`, `bearer`, or null when /v2/ was not answered. */
  readonly auth: string | null;
  readonly realm: string | null;
  /** True, false, or null when no credential was sent or the answer does not tell. */
  readonly credentialAccepted: boolean | null;
  /** True or false when the manifest HEAD was answered 200 or 404; null otherwise. */
  readonly manifestExists: boolean | null;
  readonly digest: string | null;
  readonly mediaType: string | null;
  /** Docker Hub's `ratelimit-limit` and `ratelimit-remaining`, when sent. */
  readonly rateLimit: { readonly limit: string; readonly remaining: string | null } | null;
  readonly timeoutMs: number;
  readonly steps: readonly ProbeStep[];
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

type Failure = { readonly failure: 'tls' | 'network'; readonly message: string };

const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

export async function probeRegistry(target: ProbeTarget, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  const apiHost = API_HOSTS[target.registry] ?? target.registry;
  const credential = options.credential;
  const steps: ProbeStep[] = [];
  const ca = options.caPem !== undefined ? [...rootCertificates, options.caPem] : undefined;
  const base = {
    registry: target.registry,
    apiHost,
    repository: target.repository,
    reference: target.reference,
    withCredential: credential !== undefined,
    timeoutMs,
  };
  const empty = { reachable: true, tlsTrusted: true as boolean | null, auth: null as string | null, realm: null as string | null, credentialAccepted: null as boolean | null, manifestExists: null as boolean | null, digest: null as string | null, mediaType: null as string | null, rateLimit: null as ProbeResult['rateLimit'] };
  const finish = (verdict: ProbeVerdict, summary: string, fields: Partial<typeof empty>): ProbeResult => ({ ...base, ...empty, ...fields, verdict, summary, steps });

  const send = async (method: string, url: URL, authorization: ProbeStep['authorization'], headers: Record<string, string>, body?: string): Promise<Answer | Failure> => {
    const started = Date.now();
    const outcome = await request(method, url, headers, body, ca, timeoutMs);
    steps.push({
      method,
      url: url.toString(),
      authorization,
      status: 'status' in outcome ? outcome.status : null,
      error: 'failure' in outcome ? outcome.message : null,
      ms: Date.now() - started,
    });
    return outcome;
  };

  // 1. GET /v2/: is the registry there, is its TLS trusted, how does it want us to log in?
  const ping = await send('GET', new URL(`https://${apiHost}/v2/`), 'none', {});
  if ('failure' in ping) {
    const tls = ping.failure === 'tls';
    return finish(ping.failure, tls ? `the registry's TLS certificate is not trusted: ${ping.message}` : `the registry is not reachable: ${ping.message}`, {
      reachable: tls,
      tlsTrusted: tls ? false : null,
    });
  }
  let authorization: string | undefined;
  let sent: ProbeStep['authorization'] = 'none';
  let auth = 'none';
  let realm: string | null = null;
  let credentialAccepted: boolean | null = null;
  if (ping.status === 401) {
    const challenges = parseChallenges(headerText(ping.headers['www-authenticate']));
    const bearer = challenges.find((challenge) => challenge.scheme === 'bearer');
    const basic = challenges.find((challenge) => challenge.scheme === 'basic');
    if (bearer !== undefined) {
      auth = 'bearer';
      realm = bearer.params['realm'] ?? null;
      const token = await fetchToken(bearer, target, apiHost, credential, options.allowedRealmHosts ?? [], send);
      if (token.kind === 'refused') return finish('realm-refused', token.message, { auth, realm });
      if (token.kind === 'failed') {
        const verdict: ProbeVerdict = token.status === 401 || token.status === 403 ? 'unauthorized' : token.failure ?? 'unknown';
        const accepted = credential !== undefined && (token.status === 401 || token.status === 403) ? false : null;
        return finish(verdict, token.message, { auth, realm, credentialAccepted: accepted, tlsTrusted: token.failure === 'tls' ? false : true });
      }
      authorization = `Bearer ${token.token}`;
      sent = 'bearer';
      if (credential !== undefined) credentialAccepted = true;
    } else if (basic !== undefined) {
      auth = 'basic';
      if (credential !== undefined) {
        authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
        sent = 'basic';
      }
    } else {
      return finish('unknown', `the registry asks for an authentication scheme pullguard does not speak: ${headerText(ping.headers['www-authenticate']) || '(none)'}`, { auth: 'unknown' });
    }
  } else if (ping.status !== 200) {
    return finish(statusVerdict(ping.status), `GET /v2/ answered HTTP ${ping.status}: not a registry v2 API, or it is failing`, { auth: null });
  }

  // 2. HEAD the manifest, as containerd resolves a reference.
  const manifestUrl = new URL(`https://${apiHost}/v2/${target.repository}/manifests/${target.reference}`);
  const headers: Record<string, string> = { Accept: MANIFEST_MEDIA_TYPES.join(', ') };
  if (authorization !== undefined) headers['Authorization'] = authorization;
  const head = await send('HEAD', manifestUrl, sent, headers);
  authorization = undefined;
  if ('failure' in head) return finish(head.failure, `the manifest request failed: ${head.message}`, { auth, realm, credentialAccepted });
  const rateLimit = rateLimitOf(head.headers);
  const fields = { auth, realm, rateLimit };
  const name = `${target.registry}/${target.repository}:${target.reference}`.replace(/:(sha\d+:)/, '@$1');
  switch (head.status) {
    case 200:
      return finish('ok', `${name} exists${credential !== undefined ? ' and the credential may pull it' : ' and may be pulled anonymously'}`, {
        ...fields,
        credentialAccepted: credential !== undefined ? true : null,
        manifestExists: true,
        digest: headerText(head.headers['docker-content-digest']) || null,
        mediaType: headerText(head.headers['content-type']) || null,
      });
    case 404:
      return finish('not-found', `the registry has no ${name} (HTTP 404${credential !== undefined ? '; the credential was accepted' : ''})`, {
        ...fields,
        credentialAccepted: credential !== undefined ? true : null,
        manifestExists: false,
      });
    case 401:
    case 403: {
      // Basic: a 401 is the password. Bearer: the token was issued, so the login worked and the
      // token lacks pull rights on this repository (or the repository does not exist).
      const accepted = credential === undefined ? null : auth === 'bearer' ? credentialAccepted : head.status === 401 ? false : null;
      const summary =
        credential === undefined
          ? `the registry refuses anonymous pulls of ${name} (HTTP ${head.status}): the repository is private, or does not exist`
          : accepted === true
            ? `the credential logs in, but may not pull ${name} (HTTP ${head.status}): no pull rights on this repository, or it does not exist`
            : `the registry refused the credential for ${name} (HTTP ${head.status}): wrong, revoked, or without pull rights`;
      return finish('unauthorized', summary, { ...fields, credentialAccepted: accepted });
    }
    case 429:
      return finish('rate-limited', `the registry rate-limits this address (HTTP 429)${rateLimit !== null ? `: limit ${rateLimit.limit}` : ''}`, { ...fields, credentialAccepted });
    default:
      return finish(statusVerdict(head.status), `the manifest request answered HTTP ${head.status}`, { ...fields, credentialAccepted });
  }
}

type TokenOutcome =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string; readonly status: number | null; readonly failure?: 'tls' | 'network' };

async function fetchToken(
  challenge: Challenge,
  target: ProbeTarget,
  apiHost: string,
  credential: ProbeCredential | undefined,
  allowed: readonly string[],
  send: (method: string, url: URL, authorization: ProbeStep['authorization'], headers: Record<string, string>, body?: string) => Promise<Answer | Failure>,
): Promise<TokenOutcome> {
  const realmText = challenge.params['realm'] ?? '';
  let realm: URL;
  try {
    realm = new URL(realmText);
  } catch {
    return { kind: 'failed', message: `the registry's token realm "${realmText}" is not a URL`, status: null };
  }
  if (realm.protocol !== 'https:') return { kind: 'refused', message: `the token realm ${realm.origin} is not HTTPS: nothing is sent there` };
  const registryHost = new URL(`https://${apiHost}/`);
  const permitted =
    realm.host === registryHost.host ||
    (BUILTIN_REALMS[apiHost] ?? []).includes(realm.host) ||
    allowed.some((host) => host === realm.host || host === realm.hostname);
  if (!permitted) {
    return {
      kind: 'refused',
      message: `the registry sends logins to ${realm.host}, another host: nothing was sent there (allow it with --probe-allow-realm ${realm.host})`,
    };
  }
  const service = challenge.params['service'];
  const scope = `repository:${target.repository}:pull`;
  const query = new URL(realm);
  if (service !== undefined) query.searchParams.set('service', service);
  query.searchParams.set('scope', scope);
  if (credential === undefined) return tokenFrom(await send('GET', query, 'none', {}), 'anonymous token');
  // containerd: POST the password grant first; registries without it answer 404/405/401/400, then GET with Basic auth.
  const form = new URLSearchParams({ grant_type: 'password', username: credential.username, password: credential.password, scope, client_id: 'pullguard' });
  if (service !== undefined) form.set('service', service);
  const posted = await send('POST', realm, 'none', { 'Content-Type': 'application/x-www-form-urlencoded' }, form.toString());
  if ('status' in posted && ![400, 401, 404, 405].includes(posted.status)) return tokenFrom(posted, 'token');
  if ('failure' in posted) return tokenFrom(posted, 'token');
  const basic = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
  return tokenFrom(await send('GET', query, 'basic', { Authorization: basic }), 'token');
}

function tokenFrom(answer: Answer | Failure, what: string): TokenOutcome {
  if ('failure' in answer) return { kind: 'failed', message: `the ${what} request failed: ${answer.message}`, status: null, failure: answer.failure };
  if (answer.status !== 200) {
    const refused = answer.status === 401 || answer.status === 403;
    return { kind: 'failed', message: refused ? `the token server refused the ${what} request (HTTP ${answer.status})` : `the token server answered HTTP ${answer.status}`, status: answer.status };
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    body = undefined;
  }
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const token = typeof record['token'] === 'string' ? record['token'] : typeof record['access_token'] === 'string' ? record['access_token'] : '';
  if (token === '') return { kind: 'failed', message: 'the token server answered without a token', status: 200 };
  return { kind: 'token', token };
}

function statusVerdict(status: number): ProbeVerdict {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  if (status === 502 || status === 503 || status === 504) return 'network';
  return 'unknown';
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function rateLimitOf(headers: http.IncomingHttpHeaders): ProbeResult['rateLimit'] {
  const limit = headerText(headers['ratelimit-limit']);
  if (limit === '') return null;
  const remaining = headerText(headers['ratelimit-remaining']);
  return { limit, remaining: remaining === '' ? null : remaining };
}

function request(method: string, url: URL, headers: Record<string, string>, body: string | undefined, ca: string[] | undefined, timeoutMs: number): Promise<Answer | Failure> {
  return new Promise((resolve) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const options: https.RequestOptions = {
      method,
      headers: { 'User-Agent': 'pullguard-probe', ...headers, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}) },
      signal,
      ...(ca !== undefined ? { ca } : {}),
    };
    let settled = false;
    const done = (outcome: Answer | Failure): void => {
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const req = https.request(url, options, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      response.on('end', () => done({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', (error) => done(failureOf(error, timeoutMs)));
    });
    req.on('error', (error) => done(failureOf(error, timeoutMs)));
    req.end(body);
  });
}

function failureOf(error: Error, timeoutMs: number): Failure {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (error.name === 'AbortError' || error.name === 'TimeoutError' || code === 'ABORT_ERR' || code === 'ETIMEDOUT') {
    return { failure: 'network', message: `no answer within ${timeoutMs} ms` };
  }
  if (TLS_ERROR_CODES.has(code) || /certificate|ssl|tls/i.test(error.message)) {
    // Node's hint about --use-system-ca is for node's own flags; pullguard's answer is --ca-file.
    const message = error.message.replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca$/, '');
    return { failure: 'tls', message: `${code !== '' ? `${code}: ` : ''}${message} (trust its CA with --ca-file)` };
  }
  return { failure: 'network', message: `${code !== '' ? `${code}: ` : ''}${error.message}` };
}

/**
 * For `audit --probe-anonymous` (issue 15): the `registries:` access an anonymous probe of one
 * image suggests for its registry: `public` when the manifest answered 200 without credentials,
 * `secret` when the registry refused the anonymous pull, undefined when the probe cannot tell
 * (not found, TLS, network, rate limit, a refused realm).
 */
export function suggestedAccess(result: ProbeResult): 'public' | 'secret' | undefined {
  if (result.withCredential) return undefined;
  if (result.verdict === 'ok') return 'public';
  if (result.verdict === 'unauthorized') return 'secret';
  return undefined;
}
