import https from 'node:https';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { generateCertificates } from '../../src/certs/generate.ts';
import { parseChallenges } from '../../src/probe/challenge.ts';
import { MANIFEST_MEDIA_TYPES, probeRegistry, suggestedAccess } from '../../src/probe/registry-probe.ts';

/**
 * The probe against registries written in the test: a Basic-auth registry and a Bearer registry
 * with its token endpoint, over TLS from a CA the test makes. (The e2e suite runs the same flows
 * against Debian's docker-registry.)
 */

const bundle = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
const USER = 'robot';
const PASSWORD = 'not-a-real-password-42';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const DIGEST = 'sha256:' + 'a'.repeat(64);

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
  body: string;
}

interface Registry {
  readonly host: string;
  readonly seen: Seen[];
  close(): Promise<void>;
}

type Handler = (seen: Seen, respond: (status: number, headers?: Record<string, string>, body?: string) => void, host: string) => void;

async function serve(handler: Handler): Promise<Registry> {
  const seen: Seen[] = [];
  let host = '';
  const server = https.createServer({ cert: bundle.tlsCert, key: bundle.tlsKey }, (request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', authorization: request.headers.authorization, accept: request.headers.accept, body };
      seen.push(entry);
      handler(entry, (status, headers = {}, text = '') => {
        response.writeHead(status, headers);
        response.end(request.method === 'HEAD' ? undefined : text);
      }, host);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, seen, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** distribution's htpasswd mode: /v2/ and every repository need Basic auth. */
const basicRegistry: Handler = (seen, respond) => {
  if (seen.authorization !== BASIC) return respond(401, { 'WWW-Authenticate': 'Basic realm="Registry Realm"' }, '{"errors":[{"code":"UNAUTHORIZED"}]}');
  if (seen.url === '/v2/') return respond(200, {}, '{}');
  if (seen.url === '/v2/team/app/manifests/1.0') return respond(200, { 'Docker-Content-Digest': DIGEST, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
  return respond(404, {}, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
};

/** A Bearer registry whose token endpoint lives on `realmHost` (default: itself). */
function bearerRegistry(options: { realmHost?: string; postSupported?: boolean; anonymousPulls?: boolean; manifestStatus?: number } = {}): Handler {
  return (seen, respond, host) => {
    const realm = `https://${options.realmHost ?? host}/token`;
    if (seen.url.startsWith('/token')) {
      const post = seen.method === 'POST';
      if (post && options.postSupported === false) return respond(404);
      const form = new URLSearchParams(post ? seen.body : seen.url.slice(seen.url.indexOf('?') + 1));
      const loggedIn = post ? form.get('username') === USER && form.get('password') === PASSWORD : seen.authorization === BASIC;
      const anonymous = !post && seen.authorization === undefined;
      if (!loggedIn && !(anonymous && options.anonymousPulls === true)) return respond(401, {}, '{"details":"incorrect username or password"}');
      if (form.get('scope') !== 'repository:team/app:pull' || form.get('service') !== 'test-registry') return respond(400);
      return respond(200, { 'Content-Type': 'application/json' }, JSON.stringify(post ? { access_token: 'tok-' + (loggedIn ? 'user' : 'anon') } : { token: 'tok-' + (loggedIn ? 'user' : 'anon') }));
    }
    if (seen.authorization === undefined || !seen.authorization.startsWith('Bearer tok-')) {
      return respond(401, { 'WWW-Authenticate': `Bearer realm="${realm}",service="test-registry",scope="repository:team/app:pull"` });
    }
    if (seen.url === '/v2/') return respond(200);
    if (options.manifestStatus !== undefined) return respond(options.manifestStatus, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' });
    return respond(200, { 'Docker-Content-Digest': DIGEST, 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' });
  };
}

const credential = { username: USER, password: PASSWORD };

t.test('Basic auth: good credentials, the tag exists, with its digest; the manifest HEAD sends the OCI and Docker media types', async (t) => {
  const registry = await serve(basicRegistry);
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential, caPem: bundle.caCert });
  t.equal(result.verdict, 'ok');
  t.equal(result.auth, 'basic');
  t.equal(result.credentialAccepted, true);
  t.equal(result.manifestExists, true);
  t.equal(result.digest, DIGEST);
  t.same(result.steps.map((step) => `${step.method} ${step.authorization} ${step.status}`), ['GET none 401', 'HEAD basic 200']);
  const head = registry.seen.find((seen) => seen.method === 'HEAD');
  for (const type of MANIFEST_MEDIA_TYPES) t.match(head?.accept, type);
  t.notMatch(JSON.stringify(result), new RegExp(`${PASSWORD}|${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`), 'the credential is nowhere in the report');
});

t.test('Basic auth: a wrong password is a refused credential', async (t) => {
  const registry = await serve(basicRegistry);
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential: { username: USER, password: 'wrong' }, caPem: bundle.caCert });
  t.equal(result.verdict, 'unauthorized');
  t.equal(result.credentialAccepted, false);
  t.match(result.summary, /refused the credential/);
});

t.test('Basic auth: a missing tag is not-found, and the credential was accepted', async (t) => {
  const registry = await serve(basicRegistry);
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '9.9' }, { credential, caPem: bundle.caCert });
  t.equal(result.verdict, 'not-found');
  t.equal(result.manifestExists, false);
  t.equal(result.credentialAccepted, true);
});

t.test('Bearer: the password grant is POSTed to the realm with service and scope, then the manifest is HEADed with the token', async (t) => {
  const registry = await serve(bearerRegistry());
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential, caPem: bundle.caCert });
  t.equal(result.verdict, 'ok');
  t.equal(result.auth, 'bearer');
  t.equal(result.realm, `https://${registry.host}/token`);
  t.same(result.steps.map((step) => `${step.method} ${step.authorization} ${step.status}`), ['GET none 401', 'POST none 200', 'HEAD bearer 200']);
  t.same(result.rateLimit, { limit: '100;w=21600', remaining: '76;w=21600' });
});

t.test('Bearer: a token server without the POST grant gets a GET with Basic auth, as containerd falls back', async (t) => {
  const registry = await serve(bearerRegistry({ postSupported: false }));
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential, caPem: bundle.caCert });
  t.equal(result.verdict, 'ok');
  t.same(result.steps.map((step) => `${step.method} ${step.authorization} ${step.status}`), ['GET none 401', 'POST none 404', 'GET basic 200', 'HEAD bearer 200']);
  t.match(result.steps[2]?.url, /scope=repository%3Ateam%2Fapp%3Apull/);
});

t.test('Bearer: a wrong password is refused by the token server', async (t) => {
  const registry = await serve(bearerRegistry({ postSupported: false }));
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential: { username: USER, password: 'nope' }, caPem: bundle.caCert });
  t.equal(result.verdict, 'unauthorized');
  t.equal(result.credentialAccepted, false);
});

t.test('Bearer, anonymous: a public repository, then a rate limit', async (t) => {
  const open = await serve(bearerRegistry({ anonymousPulls: true }));
  t.teardown(() => open.close());
  const ok = await probeRegistry({ registry: open.host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert });
  t.equal(ok.verdict, 'ok');
  t.equal(ok.withCredential, false);
  t.equal(ok.credentialAccepted, null);
  const limited = await serve(bearerRegistry({ anonymousPulls: true, manifestStatus: 429 }));
  t.teardown(() => limited.close());
  const result = await probeRegistry({ registry: limited.host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert });
  t.equal(result.verdict, 'rate-limited');
  t.same(result.rateLimit, { limit: '100;w=21600', remaining: '0;w=21600' });
});

t.test('a realm on another host is refused and receives nothing, unless allowed', async (t) => {
  const tokens = await serve(bearerRegistry());
  t.teardown(() => tokens.close());
  const realmHost = tokens.host.replace('127.0.0.1', 'localhost');
  const registry = await serve(bearerRegistry({ realmHost }));
  t.teardown(() => registry.close());
  const refused = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential, caPem: bundle.caCert });
  t.equal(refused.verdict, 'realm-refused');
  t.match(refused.summary, new RegExp(`--probe-allow-realm ${realmHost}`));
  t.equal(tokens.seen.length, 0, 'the other host saw no request at all');
  const allowed = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential, caPem: bundle.caCert, allowedRealmHosts: [realmHost] });
  t.equal(allowed.verdict, 'ok');
  t.equal(tokens.seen.length, 1);
});

t.test('an untrusted CA is a TLS verdict, and nothing is sent over that connection', async (t) => {
  const registry = await serve(basicRegistry);
  t.teardown(() => registry.close());
  const untrusted = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { credential });
  t.equal(untrusted.verdict, 'tls');
  t.equal(untrusted.tlsTrusted, false);
  t.equal(registry.seen.length, 0, 'nothing was sent over the untrusted connection');
});

t.test('an unreachable port is a network verdict', async (t) => {
  const registry = await serve(basicRegistry);
  const host = registry.host;
  await registry.close();
  const result = await probeRegistry({ registry: host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert });
  t.equal(result.verdict, 'network');
  t.equal(result.reachable, false);
  t.match(result.summary, /ECONNREFUSED/);
});

t.test('a registry that never answers is cut at the stated time-out', async (t) => {
  const registry = await serve(() => undefined);
  t.teardown(() => registry.close());
  const result = await probeRegistry({ registry: registry.host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert, timeoutMs: 300 });
  t.equal(result.verdict, 'network');
  t.equal(result.timeoutMs, 300);
  t.match(result.summary, /no answer within 300 ms/);
});

t.test('parses registry challenges', async (t) => {
  t.same(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
  ]);
  t.same(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  t.same(parseChallenges('Basic realm="a\\"b", Bearer realm=x'), [
    { scheme: 'basic', params: { realm: 'a"b' } },
    { scheme: 'bearer', params: { realm: 'x' } },
  ]);
  t.same(parseChallenges(''), []);
});

t.test('an anonymous probe suggests the registries access for audit: public when it pulls, secret when refused, nothing when it cannot tell', async (t) => {
  const open = await serve(bearerRegistry({ anonymousPulls: true }));
  t.teardown(() => open.close());
  const closed = await serve(basicRegistry);
  t.teardown(() => closed.close());
  t.equal(suggestedAccess(await probeRegistry({ registry: open.host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert })), 'public');
  t.equal(suggestedAccess(await probeRegistry({ registry: closed.host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert })), 'secret');
  t.equal(suggestedAccess(await probeRegistry({ registry: closed.host, repository: 'team/app', reference: '1.0' }, {})), undefined, 'an untrusted certificate tells nothing');
  t.equal(suggestedAccess(await probeRegistry({ registry: closed.host, repository: 'team/app', reference: '1.0' }, { caPem: bundle.caCert, credential })), undefined, 'only anonymous probes suggest');
});
