// Child processes for the end-to-end harness: spawned with their output in a log file, stopped by the
// PID we started (SIGTERM, then SIGKILL after a grace period), never by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a SIGTERMed process may take before SIGKILL: kube-apiserver drains in-flight requests first. */
export const DEFAULT_STOP_GRACE_MS = 10_000;
/** Log lines shown when a process fails to start: enough for a Go stack trace's head and the last errors. */
export const LOG_TAIL_LINES = 40;

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited and been reaped. */
  readonly exited: Promise<void>;
}

export interface SpawnLoggedOptions {
  name: string;
  command: string;
  args: readonly string[];
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a process whose stdout and stderr both go to `logPath` (appended, so a restarted process
 * keeps the earlier run's lines). A file rather than a pipe: a chatty server never blocks on a full
 * pipe while the test is busy, and the log survives for the failure message.
 */
export async function spawnLogged(options: SpawnLoggedOptions): Promise<ManagedProcess> {
  const fd = openSync(options.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  // spawn reports a missing binary asynchronously: wait for either a PID or the error.
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  if (child.pid === undefined) throw new Error(`${options.name}: no PID after spawn`);
  return { name: options.name, pid: child.pid, logPath: options.logPath, child, exited };
}

export function hasExited(proc: ManagedProcess): boolean {
  return proc.child.exitCode !== null || proc.child.signalCode !== null;
}

export function describeExit(proc: ManagedProcess): string {
  const { exitCode, signalCode } = proc.child;
  if (signalCode !== null) return `killed by ${signalCode}`;
  if (exitCode !== null) return `exited with code ${exitCode}`;
  return 'still running';
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function stopProcess(proc: ManagedProcess, graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
  if (hasExited(proc)) return;
  proc.child.kill('SIGTERM');
  // Cancelled once the process is gone: a pending grace timer would keep the test process alive.
  const graceTimer = new AbortController();
  const timedOut = sleep(graceMs, 'timeout' as const, { signal: graceTimer.signal }).catch(() => 'cancelled' as const);
  const outcome = await Promise.race([proc.exited.then(() => 'exited' as const), timedOut]);
  graceTimer.abort();
  if (outcome === 'timeout' && !hasExited(proc)) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/** For exit handlers, where nothing asynchronous runs any more. */
export function killNow(proc: ManagedProcess): void {
  if (!hasExited(proc)) proc.child.kill('SIGKILL');
}

/** True while a process with this PID exists (a zombie counts: it has not been reaped). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PIDs of live processes whose command line contains `text` (Linux /proc). Used to prove that no
 * server started with a temp dir's paths in its arguments outlived the harness.
 */
export function pidsWithCommandLineContaining(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone between readdir and read
    }
    if (commandLine.includes(text)) found.push(Number(entry));
  }
  return found;
}

export function tailFile(path: string, lines = LOG_TAIL_LINES): string {
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch (error) {
    return `(no log: ${(error as Error).message})`;
  }
}

/**
 * `count` distinct free TCP ports on 127.0.0.1. All listeners stay open until every port is known, so
 * the kernel cannot hand out the same port twice; another process could still take one before our
 * server binds it, which the caller reports as a startup failure with the log.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('listener has no TCP port');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  /** Checked on every round: a reason to give up early (for example the server process died). */
  abortReason?: () => string | undefined;
}

/** Polls `probe` until it returns true; throws with the last probe error on timeout or abort. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = 'never answered';
  for (;;) {
    const abort = options.abortReason?.();
    if (abort !== undefined) throw new Error(`${what}: ${abort} (last probe: ${lastError})`);
    try {
      if (await probe()) return;
      lastError = 'not ready yet';
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not ready after ${options.timeoutMs} ms (last probe: ${lastError})`);
    await sleep(options.intervalMs);
  }
}
