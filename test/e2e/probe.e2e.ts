// `explain --probe` against Debian's docker-registry (distribution 2.8, unpacked from the Debian
// package, never installed) on loopback with TLS from a CA the
// test makes: once with htpasswd (Basic auth), once with token auth whose token server (Bearer
// realm, JWTs signed with an x5c chain) is written here. Cases: good credentials, a wrong
// password, a missing tag, an untrusted CA, an unreachable port, a realm on another host refused
// (and allowed with the flag).
//   npx tap test/e2e/probe.e2e.ts
import { createHash, createSign, randomBytes, X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { generateCertificates } from '../../src/certs/generate.ts';
import { probeRegistry } from '../../src/probe/registry-probe.ts';
import type { AuditReport } from '../../src/report/audit.ts';
import { runCli } from '../helpers/cli.ts';
import { freeLoopbackPorts, spawnLogged, stopProcess, tailFile, waitUntil, type ManagedProcess } from './harness/processes.ts';

t.setTimeout(5 * 60_000);
const execFileAsync = promisify(execFile);

/**
 * Debian's docker-registry: the copy test/e2e/build-node.sh unpacks for the real node when it is
 * there, else one this file fetches the same way (`apt-get download`, `dpkg-deb -x`: never
 * installed, no service starts) into its own cache directory.
 */
async function registryBinary(): Promise<string> {
  const override = process.env['PULLGUARD_DOCKER_REGISTRY'];
  if (override !== undefined) return override;
  const cache = join(process.env['HOME'] ?? '/root', '.cache/pullguard-e2e');
  const fromNode = join(cache, 'node-k8s-1.36.3/debian/docker-registry/usr/bin/docker-registry');
  if (existsSync(fromNode)) return fromNode;
  const own = join(cache, 'probe-docker-registry');
  const binary = join(own, 'usr/bin/docker-registry');
  if (existsSync(binary)) return binary;
  const work = mkdtempSync(join(tmpdir(), 'pullguard-deb-'));
  try {
    await execFileAsync('apt-get', ['download', 'docker-registry'], { cwd: work }).catch(async () => {
      await execFileAsync('apt-get', ['update']);
      await execFileAsync('apt-get', ['download', 'docker-registry'], { cwd: work });
    });
    const deb = readdirSync(work).find((name) => name.startsWith('docker-registry_') && name.endsWith('.deb'));
    if (deb === undefined) throw new Error('apt-get download docker-registry left no .deb');
    await execFileAsync('dpkg-deb', ['-x', join(work, deb), join(work, 'x')]);
    mkdirSync(cache, { recursive: true });
    renameSync(join(work, 'x'), own);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

/** htpasswd (apache2-utils) makes the registry's bcrypt users; installed the way build-node.sh does when missing. */
async function htpasswdLine(user: string, password: string): Promise<string> {
  try {
    return (await execFileAsync('htpasswd', ['-Bbn', user, password])).stdout;
  } catch {
    await execFileAsync('apt-get', ['install', '-y', '--no-install-recommends', 'apache2-utils']);
    return (await execFileAsync('htpasswd', ['-Bbn', user, password])).stdout;
  }
}

const REGISTRY_BINARY = await registryBinary();

const USER = 'robot';
const PASSWORD = `e2e-${randomBytes(6).toString('hex')}`;
const SERVICE = 'pullguard-e2e-registry';
const ISSUER = 'pullguard-e2e-token-server';
const dir = mkdtempSync(join(tmpdir(), 'pullguard-probe-e2e-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// One CA for the registries' TLS, one for the token signer.
const tlsBundle = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
const signer = generateCertificates({ hosts: ['token-signer'], validityDays: 1 });
const files = {
  cert: join(dir, 'tls.crt'),
  key: join(dir, 'tls.key'),
  ca: join(dir, 'ca.crt'),
  signerRoot: join(dir, 'signer-ca.crt'),
  htpasswd: join(dir, 'htpasswd'),
  storage: join(dir, 'storage'),
};
writeFileSync(files.cert, tlsBundle.tlsCert);
writeFileSync(files.key, tlsBundle.tlsKey, { mode: 0o600 });
writeFileSync(files.ca, tlsBundle.caCert);
writeFileSync(files.signerRoot, signer.caCert);
writeFileSync(files.htpasswd, await htpasswdLine(USER, PASSWORD));
mkdirSync(files.storage);

/** Starts a registry; `auth` undefined serves anonymous pulls. `tls` is the serving pair and its CA (default: the trusted CA's). */
async function startRegistry(
  name: string,
  auth: Record<string, unknown> | undefined,
  tls = { certificate: files.cert, key: files.key, caPem: tlsBundle.caCert },
): Promise<{ host: string; proc: ManagedProcess }> {
  const [port] = await freeLoopbackPorts(1);
  const config = join(dir, `${name}.yml`);
  writeFileSync(
    config,
    JSON.stringify({
      version: 0.1,
      log: { level: 'info', formatter: 'text' },
      storage: { filesystem: { rootdirectory: files.storage } },
      http: { addr: `127.0.0.1:${port}`, tls: { certificate: tls.certificate, key: tls.key } },
      ...(auth !== undefined ? { auth } : {}),
    }),
  );
  const logPath = join(dir, `${name}.log`);
  const proc = await spawnLogged({
    name,
    command: REGISTRY_BINARY,
    args: ['serve', config],
    logPath,
    cwd: dir,
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_'))),
  });
  const host = `127.0.0.1:${port}`;
  try {
    // Any HTTP answer means it serves (0: not listening yet, or a TLS failure against another CA).
    await waitUntil(`${name} on ${host}`, async () => (await request('GET', `https://${host}/v2/`, {}, undefined, tls.caPem)).status !== 0, { timeoutMs: 30_000, intervalMs: 100 });
  } catch (error) {
    await stopProcess(proc, 2_000);
    throw new Error(`${(error as Error).message}\n${tailFile(logPath)}`, { cause: error });
  }
  return { host, proc };
}

function request(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | string, ca = tlsBundle.caCert): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const req = https.request(url, { method, headers, ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', () => resolve({ status: 0, headers: {} }));
    req.end(body);
  });
}

const basicAuth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/** Pushes team/app:1.0 (one config blob, one layer) with the registry API, as `docker push` would. */
async function pushImage(host: string): Promise<string> {
  const upload = async (content: Buffer): Promise<string> => {
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const started = await request('POST', `https://${host}/v2/team/app/blobs/uploads/`, { Authorization: basicAuth });
    const location = new URL(String(started.headers['location']), `https://${host}`);
    location.searchParams.set('digest', digest);
    const put = await request('PUT', location.toString(), { Authorization: basicAuth, 'Content-Type': 'application/octet-stream', 'Content-Length': String(content.length) }, content);
    if (put.status !== 201) throw new Error(`blob upload answered ${put.status}`);
    return digest;
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
  const layer = randomBytes(64);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: await upload(config) },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: await upload(layer) }],
    }),
  );
  const put = await request('PUT', `https://${host}/v2/team/app/manifests/1.0`, { Authorization: basicAuth, 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' }, manifest);
  if (put.status !== 201) throw new Error(`manifest upload answered ${put.status}`);
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

/** The token server: Bearer realm for the token registry. Password grant by POST, or GET with Basic; anonymous gets no access. */
function jwt(subject: string, actions: string[]): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const der = new X509Certificate(signer.tlsCert).raw.toString('base64');
  const now = Math.floor(Date.now() / 1000);
  const header = encode({ typ: 'JWT', alg: 'RS256', x5c: [der] });
  const claims = encode({
    iss: ISSUER,
    sub: subject,
    aud: SERVICE,
    exp: now + 300,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(8).toString('hex'),
    access: actions.length > 0 ? [{ type: 'repository', name: 'team/app', actions }] : [],
  });
  const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(signer.tlsKey).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

const tokenRequests: string[] = [];
const tokenServer = https.createServer({ cert: tlsBundle.tlsCert, key: tlsBundle.tlsKey }, (req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    tokenRequests.push(req.method ?? '');
    const url = new URL(req.url ?? '/', 'https://x');
    const form = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
    const basic = req.headers.authorization === basicAuth;
    const password = req.method === 'POST' && form.get('username') === USER && form.get('password') === PASSWORD;
    const anonymous = req.method === 'GET' && req.headers.authorization === undefined;
    if (!basic && !password && !anonymous) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      return res.end('{"details":"incorrect username or password"}');
    }
    const token = jwt(anonymous ? '' : USER, anonymous ? [] : ['pull']);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(req.method === 'POST' ? { access_token: token } : { token }));
  });
});
await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => tokenServer.close(() => resolve())));
const tokenHost = `127.0.0.1:${(tokenServer.address() as AddressInfo).port}`;

const basicRegistry = await startRegistry('registry-htpasswd', { htpasswd: { realm: 'pullguard-e2e', path: files.htpasswd } });
t.teardown(() => stopProcess(basicRegistry.proc, 5_000));
const tokenRegistry = await startRegistry('registry-token', {
  token: { realm: `https://${tokenHost}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: files.signerRoot },
});
t.teardown(() => stopProcess(tokenRegistry.proc, 5_000));
const digest = await pushImage(basicRegistry.host);
// The same storage served without auth (a public registry), and once more with a certificate from a CA nobody trusts.
const openRegistry = await startRegistry('registry-open', undefined);
t.teardown(() => stopProcess(openRegistry.proc, 5_000));
const strangerBundle = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
writeFileSync(join(dir, 'stranger.crt'), strangerBundle.tlsCert);
writeFileSync(join(dir, 'stranger.key'), strangerBundle.tlsKey, { mode: 0o600 });
const strangerRegistry = await startRegistry('registry-stranger', undefined, { certificate: join(dir, 'stranger.crt'), key: join(dir, 'stranger.key'), caPem: strangerBundle.caCert });
t.teardown(() => stopProcess(strangerRegistry.proc, 5_000));

const good = { username: USER, password: PASSWORD };
const options = { caPem: tlsBundle.caCert, timeoutMs: 5_000 };
const target = (host: string, reference = '1.0') => ({ registry: host, repository: 'team/app', reference });

t.test('htpasswd: good credentials, the tag exists with the digest the registry stored', async (t) => {
  const result = await probeRegistry(target(basicRegistry.host), { ...options, credential: good });
  t.equal(result.verdict, 'ok', result.summary);
  t.equal(result.auth, 'basic');
  t.equal(result.credentialAccepted, true);
  t.equal(result.digest, digest);
  t.equal(result.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
});

t.test('htpasswd: a wrong password is refused', async (t) => {
  const result = await probeRegistry(target(basicRegistry.host), { ...options, credential: { username: USER, password: 'wrong' } });
  t.equal(result.verdict, 'unauthorized');
  t.equal(result.credentialAccepted, false);
});

t.test('htpasswd: a missing tag is not-found with the credential accepted', async (t) => {
  const result = await probeRegistry(target(basicRegistry.host, '9.9'), { ...options, credential: good });
  t.equal(result.verdict, 'not-found');
  t.equal(result.credentialAccepted, true);
});

t.test('htpasswd: anonymous is refused, as the kubelet would be without a secret', async (t) => {
  const result = await probeRegistry(target(basicRegistry.host), options);
  t.equal(result.verdict, 'unauthorized');
  t.match(result.summary, /refuses anonymous pulls/);
});

t.test('an untrusted CA is a TLS verdict', async (t) => {
  const result = await probeRegistry(target(basicRegistry.host), { timeoutMs: 5_000, credential: good });
  t.equal(result.verdict, 'tls');
  t.equal(result.tlsTrusted, false);
});

t.test('an unreachable port is a network verdict', async (t) => {
  const [port] = await freeLoopbackPorts(1);
  const result = await probeRegistry(target(`127.0.0.1:${port}`), { ...options, credential: good });
  t.equal(result.verdict, 'network');
  t.equal(result.reachable, false);
});

t.test('token auth: the realm is on another host, so the credential is not sent there', async (t) => {
  const before = tokenRequests.length;
  const result = await probeRegistry(target(tokenRegistry.host), { ...options, credential: good });
  t.equal(result.verdict, 'realm-refused');
  t.equal(result.realm, `https://${tokenHost}/token`);
  t.equal(tokenRequests.length, before, 'the token server saw nothing');
});

t.test('token auth, realm allowed: the password grant gets a token and the registry accepts it', async (t) => {
  const result = await probeRegistry(target(tokenRegistry.host), { ...options, credential: good, allowedRealmHosts: [tokenHost] });
  t.equal(result.verdict, 'ok', result.summary);
  t.equal(result.auth, 'bearer');
  t.equal(result.digest, digest);
  t.same(result.steps.map((step) => `${step.method} ${step.status}`), ['GET 401', 'POST 200', 'HEAD 200']);
});

t.test('token auth, realm allowed: a wrong password is refused by the token server', async (t) => {
  const result = await probeRegistry(target(tokenRegistry.host), { ...options, credential: { username: USER, password: 'wrong' }, allowedRealmHosts: [tokenHost] });
  t.equal(result.verdict, 'unauthorized');
  t.equal(result.credentialAccepted, false);
});

t.test('token auth, anonymous: a token without pull rights, then the registry refuses the manifest', async (t) => {
  const result = await probeRegistry(target(tokenRegistry.host), { ...options, allowedRealmHosts: [tokenHost] });
  t.equal(result.verdict, 'unauthorized');
  t.match(result.summary, /refuses anonymous pulls/);
});

t.test('audit --probe-anonymous classifies each uncovered registry from what it answers to an anonymous pull', async (t) => {
  const [closedPort] = await freeLoopbackPorts(1);
  const unreachable = `127.0.0.1:${closedPort}`;
  const hosts = [basicRegistry.host, openRegistry.host, strangerRegistry.host, unreachable, tokenRegistry.host];
  const manifest = hosts
    .map((host, index) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${index}`, namespace: 'team' }, spec: { containers: [{ name: 'app', image: `${host}/team/app:1.0` }] } }))
    .join('\n---\n');
  const args = ['audit', '-', '--probe-anonymous', '--ca-file', files.ca, '--probe-timeout', '5000', '--probe-allow-realm', tokenHost];
  const before = tokenRequests.length;
  const json = await runCli([...args, '-o', 'json'], manifest);
  const report = JSON.parse(json.stdout) as AuditReport;
  const access = Object.fromEntries(report.rollup.uncovered.map((entry) => [entry.registry, [entry.suggestedAccess, entry.probe?.verdict]]));
  t.same(access, {
    [basicRegistry.host]: ['secret', 'unauthorized'],
    [openRegistry.host]: ['public', 'ok'],
    [strangerRegistry.host]: [null, 'tls'],
    [unreachable]: [null, 'network'],
    [tokenRegistry.host]: ['secret', 'unauthorized'],
  });
  t.equal(report.rollup.uncovered.find((entry) => entry.registry === openRegistry.host)?.probe?.digest, digest, 'the open registry served the pushed manifest');
  t.same(tokenRequests.slice(before), ['GET'], 'one anonymous token request (a GET without credentials), never the password grant');
  const text = await runCli(args, manifest);
  const block = text.stdout.slice(text.stdout.indexOf('Suggested policy block'));
  t.match(block, `- hosts: ["${openRegistry.host}"]\n      access: public  # probed: anonymous pulls work`);
  t.match(block, `- hosts: ["${basicRegistry.host}"]\n      access: secret  # probed: anonymous pull refused (HTTP 401)`);
  t.match(block, `# not suggested: the anonymous probe could not tell (tls: `);
  t.match(block, `# - hosts: ["${strangerRegistry.host}"]`);
  t.match(block, `# not suggested: the anonymous probe could not tell (network: `);
  t.match(block, `# - hosts: ["${unreachable}"]`);
  t.notMatch(text.stdout + json.stdout, PASSWORD, 'no credential anywhere');
});
