import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { generateCertificates } from '../../src/certs/generate.ts';
import { mapBounded, probeTargetOf } from '../../src/cli/audit-probe.ts';
import { main } from '../../src/cli/main.ts';
import { loadPolicyText } from '../../src/policy/load.ts';
import type { ProbeResult } from '../../src/probe/registry-probe.ts';
import type { AuditReport } from '../../src/report/audit.ts';
import { withAnonymousProbes, type Rollup } from '../../src/report/rollup.ts';
import { freeLoopbackPorts } from '../e2e/harness/processes.ts';
import { runCli } from '../helpers/cli.ts';

const bundle = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
const stranger = generateCertificates({ hosts: ['127.0.0.1'], validityDays: 1 });
const dir = mkdtempSync(join(tmpdir(), 'pullguard-audit-probe-'));
const caFile = join(dir, 'ca.crt');
writeFileSync(caFile, bundle.caCert);

/** A registry that answers every request; `open` decides whether anonymous requests are served. */
async function registry(t: { teardown(fn: () => Promise<void>): void }, open: boolean, pair = bundle): Promise<{ host: string; seen: string[] }> {
  const seen: string[] = [];
  const server = https.createServer({ cert: pair.tlsCert, key: pair.tlsKey }, (request, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers.authorization ?? 'none'}`);
    if (!open) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
      return response.end();
    }
    const known = request.url === '/v2/' || request.url === '/v2/team/app/manifests/1.0';
    response.writeHead(known ? 200 : 404, { 'Docker-Content-Digest': 'sha256:' + 'c'.repeat(64) });
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function pods(images: readonly string[]): string {
  return images
    .map((image, index) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${index}`, namespace: 'team' }, spec: { containers: [{ name: 'app', image }] } }))
    .join('\n---\n');
}

t.test('audit --probe-anonymous suggests public where anonymous pulls work, secret where refused, and only a comment where the probe cannot tell', async (t) => {
  const open = await registry(t, true);
  const closed = await registry(t, false);
  const untrusted = await registry(t, true, stranger);
  const [port] = await freeLoopbackPorts(1);
  const images = [`${open.host}/team/app:1.0`, `${closed.host}/team/app:1.0`, `${untrusted.host}/team/app:1.0`, `127.0.0.1:${port}/team/app:1.0`, `${open.host}/team/app:9.9`];
  // Two images of the open registry: the roll-up names one (the first seen), and that one is probed.
  const json = await runCli(['audit', '-', '--probe-anonymous', '--ca-file', caFile, '--probe-timeout', '3000', '-o', 'json'], pods(images));
  const report = JSON.parse(json.stdout) as AuditReport;
  const byRegistry = Object.fromEntries(report.rollup.uncovered.map((entry) => [entry.registry, entry]));
  t.equal(byRegistry[open.host]?.suggestedAccess, 'public');
  t.equal(byRegistry[open.host]?.probe?.verdict, 'ok');
  t.equal(byRegistry[open.host]?.probe?.reference, '1.0', 'the image the workloads use, not a guess');
  t.equal(byRegistry[closed.host]?.suggestedAccess, 'secret');
  t.equal(byRegistry[closed.host]?.probe?.verdict, 'unauthorized');
  t.equal(byRegistry[untrusted.host]?.suggestedAccess, null);
  t.equal(byRegistry[untrusted.host]?.probe?.verdict, 'tls');
  t.equal(byRegistry[`127.0.0.1:${port}`]?.suggestedAccess, null);
  t.equal(byRegistry[`127.0.0.1:${port}`]?.probe?.verdict, 'network');
  t.equal(byRegistry[open.host]?.probe?.withCredential, false);
  for (const line of [...open.seen, ...closed.seen, ...untrusted.seen]) t.match(line, / none$/, `no Authorization header: ${line}`);
  t.same(open.seen, ['GET /v2/ none', 'HEAD /v2/team/app/manifests/1.0 none'], 'one probe per registry: GET /v2/, then a HEAD (never a manifest GET)');

  const block = report.rollup.suggestedPolicy;
  t.match(block, new RegExp(`- hosts: \\["${open.host}"\\]\\n {4}access: public {2}# probed: anonymous pulls work`));
  t.match(block, new RegExp(`- hosts: \\["${closed.host}"\\]\\n {4}access: secret {2}# probed: anonymous pull refused \\(HTTP 401\\)`));
  t.match(block, new RegExp(`# not suggested: the anonymous probe could not tell \\(tls: [^\\n]+\\)\\n {2}# - hosts: \\["${untrusted.host}"\\]`));
  t.match(block, new RegExp(`# not suggested: the anonymous probe could not tell \\(network: [^\\n]+\\)\\n {2}# - hosts: \\["127\\.0\\.0\\.1:${port}"\\]`));
  const loaded = loadPolicyText(block);
  if (!loaded.ok) throw new Error(`the suggested block does not load: ${JSON.stringify(loaded.errors)}`);
  t.same(loaded.policy.registries.map((rule) => [rule.hosts, rule.access]), [[[open.host], 'public'], [[closed.host], 'secret']], 'only the entries the probe classified are live');

  const table = await runCli(['audit', '-', '--probe-anonymous', '--ca-file', caFile, '--probe-timeout', '3000'], pods(images));
  t.match(table.stdout, /Suggested policy block[^\n]*\n {2}registries:\n/);
  t.match(table.stdout, new RegExp(`access: public {2}# probed: anonymous pulls work`));
  t.equal(table.stderr, '', 'no probe lines when stderr is not a terminal');
});

t.test('on a terminal, each probe prints one line on stderr; on a pipe none', async (t) => {
  const open = await registry(t, true);
  const closed = await registry(t, false);
  let stderr = '';
  let stdout = '';
  const code = await main(['audit', '-', '--probe-anonymous', '--ca-file', caFile], {
    stdin: Readable.from([Buffer.from(pods([`${open.host}/team/app:1.0`, `${closed.host}/team/app:1.0`]))]),
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: true },
    env: {},
  });
  t.equal(code, 1, 'the closed registry denies its pod');
  const lines = stderr.split('\n').filter((line) => line.startsWith('probe '));
  t.equal(lines.length, 2);
  t.ok(lines.some((line) => line.includes(`${open.host}/team/app:1.0: ok → access public`)), lines.join('\n'));
  t.ok(lines.some((line) => line.includes(`${closed.host}/team/app:1.0: unauthorized → access secret`)), lines.join('\n'));
  t.match(stdout, /access: public/);
});

t.test('a registry token realm on another host is not asked unless allowed, and the entry says so', async (t) => {
  const tokenHits: string[] = [];
  const tokens = https.createServer({ cert: bundle.tlsCert, key: bundle.tlsKey }, (request, response) => {
    tokenHits.push(`${request.method} ${request.headers.authorization ?? 'none'}`);
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end('{"token":"anon"}');
  });
  await new Promise<void>((resolve) => tokens.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => tokens.close(() => resolve())));
  const tokenHost = `127.0.0.1:${(tokens.address() as AddressInfo).port}`;
  const server = https.createServer({ cert: bundle.tlsCert, key: bundle.tlsKey }, (request, response) => {
    if (request.headers.authorization !== 'Bearer anon') {
      response.writeHead(401, { 'WWW-Authenticate': `Bearer realm="https://${tokenHost}/token",service="reg"` });
      return response.end();
    }
    response.writeHead(200);
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const refused = JSON.parse((await runCli(['audit', '-', '--probe-anonymous', '--ca-file', caFile, '-o', 'json'], pods([`${host}/team/app:1.0`]))).stdout) as AuditReport;
  t.equal(refused.rollup.uncovered[0]?.probe?.verdict, 'realm-refused');
  t.equal(refused.rollup.uncovered[0]?.suggestedAccess, null);
  t.match(refused.rollup.suggestedPolicy, /--probe-allow-realm/);
  t.same(tokenHits, [], 'the token server on another host saw nothing');
  const allowed = JSON.parse((await runCli(['audit', '-', '--probe-anonymous', '--ca-file', caFile, '--probe-allow-realm', tokenHost, '-o', 'json'], pods([`${host}/team/app:1.0`]))).stdout) as AuditReport;
  t.equal(allowed.rollup.uncovered[0]?.suggestedAccess, 'public');
  t.same(tokenHits, ['GET none'], 'an anonymous token request: no credential');
});

t.test('probe flags are usage errors without --probe-anonymous, and a bad --probe-timeout or --ca-file is named', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['--ca-file alone', ['--ca-file', caFile], /go with --probe-anonymous/],
    ['--probe-timeout alone', ['--probe-timeout', '100'], /go with --probe-anonymous/],
    ['a zero time-out', ['--probe-anonymous', '--probe-timeout', '0'], /--probe-timeout must be milliseconds between 1 and 120000, got 0/],
    ['a missing CA file', ['--probe-anonymous', '--ca-file', join(dir, 'nope.crt')], /cannot read --ca-file .*nope\.crt: ENOENT/],
  ];
  for (const [name, flags, message] of cases) {
    const result = await runCli(['audit', '-', ...flags], pods(['gitlab.internal.example/team/app:1']));
    t.equal(result.code, 2, name);
    t.match(result.stderr, message, name);
  }
  const cluster = await runCli(['audit', '--cluster', '--ca-file', caFile]);
  t.equal(cluster.code, 2);
  t.match(cluster.stderr, /go with --probe-anonymous/);
});

t.test('nothing is probed when every registry is covered', async (t) => {
  const closed = await registry(t, false);
  const result = await runCli(['audit', '-', '--probe-anonymous', '--ca-file', caFile, '-o', 'json'], pods(['nginx:1.27']));
  t.same((JSON.parse(result.stdout) as AuditReport).rollup.uncovered, []);
  t.same(closed.seen, []);
});

t.test('the probe target is the image as the workload uses it: tag, digest, or latest', async (t) => {
  const digest = `sha256:${'d'.repeat(64)}`;
  t.same(probeTargetOf('registry.example.com:5000/team/app:1.0'), { registry: 'registry.example.com:5000', repository: 'team/app', reference: '1.0' });
  t.same(probeTargetOf(`registry.example.com/team/app@${digest}`), { registry: 'registry.example.com', repository: 'team/app', reference: digest });
  t.same(probeTargetOf('registry.example.com/team/app'), { registry: 'registry.example.com', repository: 'team/app', reference: 'latest' });
  t.equal(probeTargetOf('Not A Reference'), undefined);
});

t.test('probes run at most the cap at a time and keep their order', async (t) => {
  let running = 0;
  let peak = 0;
  const results = await mapBounded([5, 1, 4, 2, 3, 0, 6], 3, async (delay) => {
    running += 1;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, delay));
    running -= 1;
    return delay * 10;
  });
  t.same(results, [50, 10, 40, 20, 30, 0, 60]);
  t.equal(peak, 3);
});

t.test('the clouds\' registries keep access node unless anonymous pulls work', async (t) => {
  const ecr = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
  const rollup: Rollup = {
    findings: [],
    registries: [],
    uncovered: [{ registry: ecr, images: 1, workloads: 1, example: `${ecr}/api:3`, suggestedAccess: 'node' }],
    suggestedPolicy: '',
  };
  const probe = (verdict: ProbeResult['verdict'], status: number | null): ProbeResult =>
    ({ verdict, summary: 's', withCredential: false, steps: [{ method: 'HEAD', url: 'u', authorization: 'none', status, error: null, ms: 1 }] }) as unknown as ProbeResult; // only the fields the roll-up reads
  const cases: [string, ProbeResult, 'public' | 'secret' | undefined, string, RegExp][] = [
    ['refused', probe('unauthorized', 401), 'secret', 'node', /access: node {2}# probed: anonymous pull refused \(HTTP 401\); nodes pull with their cloud identity/],
    ['open', probe('ok', 200), 'public', 'public', /access: public {2}# probed: anonymous pulls work/],
    ['unreachable', probe('network', null), undefined, 'node', /access: node {2}# probed: could not tell \(network\)/],
  ];
  for (const [name, result, suggests, expected, line] of cases) {
    const after = withAnonymousProbes(rollup, new Map([[ecr, { probe: result, suggests }]]));
    t.equal(after.uncovered[0]?.suggestedAccess, expected, name);
    t.match(after.suggestedPolicy, line, name);
  }
});
