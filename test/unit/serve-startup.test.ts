// `pullguard serve` as a process: a port it cannot have is a usage error (exit 2) naming the port
// and the flag, and a failed start leaves nothing listening (the process exits instead of serving
// half). The ports are held by this test.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { writeCertificateFiles } from '../../src/certs/files.ts';
import { generateCertificates } from '../../src/certs/generate.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** A failed start must end the process; a webhook left serving would run until this kills it. */
const EXIT_WITHIN_MS = 20_000;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly stdout: string;
  /** True when the process was still running at the deadline and had to be killed. */
  readonly hung: boolean;
}

function runServe(args: readonly string[]): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
    let stdout = '';
    let stderr = '';
    let hung = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, EXIT_WITHIN_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, stdout, hung });
    });
  });
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** A port held by this test for the duration of `t`. */
async function heldPort(t: { teardown(cleanup: () => unknown): void }): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return port;
}

/** A free port right now (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when nothing listens on the port any more: we can bind it ourselves. */
async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  try {
    await listen(server, port);
    return true;
  } catch {
    return false;
  } finally {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const dir = t.testdir();
await writeCertificateFiles(dir, generateCertificates({ hosts: ['localhost'], validityDays: 30 }), { overwrite: false });
const common = ['--cluster', 'off', '--host', '127.0.0.1', '--cert', join(dir, 'tls.crt'), '--key', join(dir, 'tls.key'), '--log-level', 'warn'];

interface Case {
  /** Which of the two ports the test holds. */
  readonly held: 'webhook' | 'metrics';
  readonly flag: RegExp;
}

const cases: Record<string, Case> = {
  'exits 2 naming --port when the webhook port is in use, without a stack trace': { held: 'webhook', flag: /choose another port with --port \(PULLGUARD_PORT\)/ },
  'exits 2 naming --metrics-port when the metrics port is in use, and stops serving the webhook port': {
    held: 'metrics',
    flag: /choose another port with --metrics-port \(PULLGUARD_METRICS_PORT\)/,
  },
};

for (const [name, c] of Object.entries(cases)) {
  t.test(name, async (t) => {
    const held = await heldPort(t);
    const other = await freePort();
    const [port, metricsPort] = c.held === 'webhook' ? [held, other] : [other, held];
    const exit = await runServe([...common, '--port', String(port), '--metrics-port', String(metricsPort)]);
    t.equal(exit.hung, false, 'the process exits by itself');
    t.equal(exit.code, 2, `exit status 2 (stderr: ${exit.stderr})`);
    t.match(exit.stderr, `cannot listen on 127.0.0.1:${held}: port ${held} is already in use`);
    t.match(exit.stderr, c.flag);
    t.notMatch(exit.stderr, /internal error|\n\s+at /, 'no internal error, no stack trace');
    t.ok(await canBind(other), `nothing listens on the other port ${other} after the failed start`);
  });
}

t.test('still starts and serves when both ports are free (the control for the cases above)', async (t) => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [CLI, 'serve', ...common, '--log-level', 'info', '--port', String(port), '--metrics-port', String(metricsPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  const listening = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), EXIT_WITHIN_MS);
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('pullguard webhook listening')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.on('close', () => resolve(false));
  });
  t.ok(listening, `logs that it listens (output: ${output})`);
  t.notOk(await canBind(port), 'the webhook port is taken by the server');
  t.notOk(await canBind(metricsPort), 'the metrics port is taken by the server');
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops it cleanly');
});
