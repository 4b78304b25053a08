import { execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readsWholeCluster, runsInBoundedWorker } from '../../src/cli/cluster-worker.ts';

const run = promisify(execFile);
const mainScript = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const cases: Record<string, { args: string[]; execArgv?: string[]; env?: Record<string, string>; expected: boolean }> = {
  'audit --cluster reads the whole cluster': { args: ['audit', '--cluster', '-o', 'json'], expected: true },
  '--cluster anywhere among the audit flags counts': { args: ['audit', '-A', '--stats', '--cluster'], expected: true },
  'the offline audit of files does not': { args: ['audit', 'manifests/'], expected: false },
  'a file named --cluster after -- does not': { args: ['audit', '--', '--cluster'], expected: false },
  'another command with --cluster does not': { args: ['explain', '--cluster'], expected: false },
  'no command does not': { args: [], expected: false },
  'a young generation sized with a node flag is left as the user set it': { args: ['audit', '--cluster'], execArgv: ['--max-semi-space-size=4'], expected: false },
  'a young generation sized in NODE_OPTIONS (the image does) is left as set': { args: ['audit', '--cluster'], env: { NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=4' }, expected: false },
  'other node flags do not matter': { args: ['audit', '--cluster'], execArgv: ['--enable-source-maps'], env: { NODE_OPTIONS: '--max-old-space-size=512' }, expected: true },
};
for (const [name, { args, execArgv, env, expected }] of Object.entries(cases)) {
  t.test(name, async (t) => t.equal(readsWholeCluster(args, execArgv, env), expected));
}

const bounded: Record<string, { args: string[]; execArgv?: string[]; env?: Record<string, string>; expected: boolean }> = {
  'the offline audit of files runs in the bounded worker': { args: ['audit', 'manifests/', '-o', 'json'], expected: true },
  'the offline audit with flags that take values before its files': { args: ['audit', '-o', 'json', '--state', 'state/', '-n', 'team', 'a.yaml'], expected: true },
  'audit --cluster still does': { args: ['audit', '--cluster'], expected: true },
  'an audit of stdin (-) stays on the main thread: the worker has no stdin': { args: ['audit', 'a.yaml', '-'], expected: false },
  'an audit without inputs reads stdin, so stays too': { args: ['audit', '-o', 'json', '--state', 'state/'], expected: false },
  'an audit whose flags do not parse stays, where the error is reported': { args: ['audit', '--bogus', 'a.yaml'], expected: false },
  'the offline audit with the young generation sized by the user stays': { args: ['audit', 'a.yaml'], env: { NODE_OPTIONS: '--max-semi-space-size=4' }, expected: false },
  'other commands stay': { args: ['review', 'a.yaml'], expected: false },
};
for (const [name, { args, execArgv, env, expected }] of Object.entries(bounded)) {
  t.test(name, async (t) => t.equal(runsInBoundedWorker(args, execArgv, env), expected));
}

t.test('the bin runs the offline audit of a file in its worker: report, stderr and exit code come through', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'pod.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: app, image: private.example.net/app:1}]}\n---\nreplicas: 3\n');
  const result = await bin(['audit', file, '-o', 'json', '--now', '2026-06-01T12:00:00Z']);
  t.equal(result.code, 1, 'a denial is exit 1');
  const report = JSON.parse(result.stdout) as { summary: { objects: number; deny: number } };
  t.same([report.summary.objects, report.summary.deny], [1, 1]);
  t.match(result.stderr, /skipped .*pod\.yaml:6: a mapping without kind/);
});

t.test('the bin writes a report going to a file from its worker, whole and as JSON.stringify(report, null, 2) prints it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pods = Array.from({ length: 100 }, (_, index) => `apiVersion: v1\nkind: Pod\nmetadata: {name: web-${index}}\nspec: {containers: [{name: app, image: nginx:1.27}]}\n`);
  const file = join(dir, 'pods.yaml');
  writeFileSync(file, pods.join('---\n'));
  const out = join(dir, 'report.json');
  const fd = openSync(out, 'w');
  const child = spawnSync(process.execPath, [mainScript, 'audit', file, '-o', 'json', '--now', '2026-06-01T12:00:00Z'], { stdio: ['ignore', fd, 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
  closeSync(fd);
  t.equal(child.status, 0, child.stderr.toString());
  const text = readFileSync(out, 'utf8');
  const report = JSON.parse(text) as { summary: { objects: number } };
  t.equal(report.summary.objects, 100);
  t.equal(text, JSON.stringify(report, null, 2) + '\n');
});

/** The bin, from source, in a process of its own: what users run. */
async function bin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [mainScript, ...args], { env: { PATH: process.env['PATH'] ?? '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

t.test('the bin runs audit --cluster in its worker: stdout, stderr and the exit code come through', async (t) => {
  const help = await bin(['audit', '--cluster', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: pullguard audit --cluster/);

  const missing = await bin(['audit', '--cluster', '--kubeconfig', '/nonexistent/kubeconfig']);
  t.equal(missing.code, 2, 'a usage error is exit 2, as on the main thread');
  t.match(missing.stderr, /pullguard audit: --kubeconfig \/nonexistent\/kubeconfig: no such file/);
  t.equal(missing.stdout, '');
});

t.test('an API server that cannot be reached is exit 2 with the context named, from the worker', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      'current-context': 'nowhere',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [{ name: 'nowhere', context: { cluster: 'c', user: 'u' } }],
    }),
  );
  const result = await bin(['audit', '--cluster', '--kubeconfig', kubeconfig]);
  t.equal(result.code, 2);
  t.match(result.stderr, /nowhere: .*cannot reach https:\/\/127\.0\.0\.1:1/);
});

t.test('in the worker, stdout and stderr keep their order: the progress line is cleared before the report, the policy line follows it', async (t) => {
  // An API server with an empty cluster: every list is empty.
  const server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-worker-order-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      'current-context': 'empty',
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [{ name: 'empty', context: { cluster: 'c', user: 'u' } }],
    }),
  );
  const { stdout } = await run(process.execPath, [fileURLToPath(new URL('../helpers/worker-writes.ts', import.meta.url)), 'audit', '--cluster', '--kubeconfig', kubeconfig, '--no-color'], {
    env: { PATH: process.env['PATH'] ?? '' },
  });
  const { code, writes } = JSON.parse(stdout) as { code: number; writes: Array<[string, string]> };
  t.equal(code, 0);
  const firstReport = writes.findIndex(([stream]) => stream === 'stdout');
  const lastClear = writes.findLastIndex(([stream, text]) => stream === 'stderr' && text.startsWith('\r\x1b[K') && !text.includes('reading'));
  const policyLine = writes.findIndex(([stream, text]) => stream === 'stderr' && text.startsWith('policy: '));
  t.ok(firstReport > 0 && writes.slice(0, firstReport).some(([, text]) => text.includes('reading')), 'progress lines come first');
  t.ok(lastClear >= 0 && lastClear < firstReport, 'the progress line is cleared before the report');
  t.ok(policyLine > firstReport, 'the policy line follows the report');
  t.match(writes.filter(([stream]) => stream === 'stdout').map(([, text]) => text).join(''), /0 workloads/);
});

t.test('a reader that stops early (audit | head) ends the output, not the audit: no crash, and the exit status still says what was found', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pullguard-epipe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Far more output than a pipe buffers (64 KiB), every pod denied.
  const pods = Array.from({ length: 3000 }, (_, index) => `apiVersion: v1\nkind: Pod\nmetadata: {name: web-${index}}\nspec: {containers: [{name: app, image: private.example.net/app:${index}}]}\n`);
  const file = join(dir, 'pods.yaml');
  writeFileSync(file, pods.join('---\n'));
  for (const output of ['table', 'json']) {
    const child = spawn(process.execPath, [mainScript, 'audit', file, '-o', output, '--now', '2026-06-01T12:00:00Z'], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Read the first chunk, then go away as head does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
    t.equal(code, 1, `-o ${output}: exit 1, the denials, as if the whole report had been read`);
    t.notMatch(stderr, /EPIPE|Unhandled|internal error|at /, `-o ${output}: nothing on stderr about the closed pipe`);
  }
});
