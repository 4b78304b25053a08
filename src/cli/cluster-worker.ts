import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { offlineAuditReadsStdin } from './audit-options.ts';
import type { CommandIo } from './io.ts';

/**
 * `audit --cluster` runs in a worker thread whose young generation is capped. Reading a cluster
 * parses tens of MiB of list pages; every object of the page being read is alive when a
 * young-generation collection runs, so V8 counts it as surviving and grows the young generation,
 * by default up to a size V8 derives from the heap limit (128 MiB seen on a 23 GiB machine: 100
 * MiB of RSS holding garbage). Capped, the same audit peaks at ~190 MiB instead of ~300 MiB, with
 * the same CPU time. A worker's resource limits are the one Node API that sets this from inside
 * the program, so `pullguard` and `kubectl pullguard` behave the same however they are started
 * (no node flags, no NODE_OPTIONS); every other command runs on the main thread, and so does the
 * audit when the user sized the young generation themselves (the image sets --max-semi-space-size).
 */

/**
 * Young generation of the audit's worker (V8 splits it into two 16 MiB semi-spaces and a
 * large-object area). Smaller caps promote page objects that are still being read and grow the
 * old generation instead (measured: 24 MiB peaks higher than 48 MiB); larger ones hold garbage.
 */
export const CLUSTER_AUDIT_YOUNG_GENERATION_MB = 48;

export interface WorkerRequest {
  readonly pullguardCommand: readonly string[];
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
}

/**
 * What the worker posts: its output, one write at a time, then its exit code. Both streams go
 * through the one message port so their order survives: a worker's own process.stdout and
 * process.stderr are forwarded separately, and the progress line's clearing (stderr) would then
 * land after the report (stdout) on a terminal.
 */
export type WorkerMessage = { readonly stream: 'stdout' | 'stderr'; readonly text: string } | { readonly exitCode: number };

/** V8 flags that size the young generation: whoever passes one (node flags, NODE_OPTIONS) gets exactly that. */
const YOUNG_GENERATION_FLAG = /(^|\s)--(max-semi-space-size|max-young-generation-size|semi-space-growth-factor)\b/;

export function setsYoungGeneration(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>): boolean {
  return execArgv.some((arg) => YOUNG_GENERATION_FLAG.test(arg)) || YOUNG_GENERATION_FLAG.test(env['NODE_OPTIONS'] ?? '');
}

/**
 * The commands that read a whole cluster and so run in the bounded worker: `audit --cluster`
 * (flags after `--` do not count), unless the young generation was sized by the user.
 */
export function readsWholeCluster(args: readonly string[], execArgv: readonly string[] = [], env: Readonly<Record<string, string | undefined>> = {}): boolean {
  if (args[0] !== 'audit' || setsYoungGeneration(execArgv, env)) return false;
  for (const arg of args.slice(1)) {
    if (arg === '--') return false;
    if (arg === '--cluster') return true;
  }
  return false;
}

/**
 * The commands the bin runs in the bounded worker: `audit --cluster` (readsWholeCluster), and the
 * offline audit unless it reads stdin (the worker has none): a 20,000-pod manifest dump peaks at
 * ~300 MiB there instead of ~390 MiB, with the same CPU time. Not when the user sized the young
 * generation.
 */
export function runsInBoundedWorker(args: readonly string[], execArgv: readonly string[] = [], env: Readonly<Record<string, string | undefined>> = {}): boolean {
  if (readsWholeCluster(args, execArgv, env)) return true;
  if (args[0] !== 'audit' || setsYoungGeneration(execArgv, env) || args.includes('--cluster')) return false;
  return !offlineAuditReadsStdin(args.slice(1));
}

/** Runs `pullguard ARGS` in the bounded worker, writing its output to `io` in order. Resolves to the exit code. */
export function runInBoundedWorker(args: readonly string[], io: CommandIo): Promise<number> {
  const request: WorkerRequest = { pullguardCommand: [...args], stdoutIsTTY: io.stdout.isTTY === true, stderrIsTTY: io.stderr.isTTY === true };
  // Next to this module: .js when built, .ts when run from source.
  const entry = new URL(`./cluster-worker-entry${extname(new URL(import.meta.url).pathname)}`, import.meta.url);
  return new Promise((resolve, reject) => {
    let code: number | undefined;
    const worker = new Worker(entry, { workerData: request, env: { ...io.env }, resourceLimits: { maxYoungGenerationSizeMb: CLUSTER_AUDIT_YOUNG_GENERATION_MB } });
    worker.on('message', (message: WorkerMessage) => {
      if ('exitCode' in message) code = message.exitCode;
      else if (message.stream === 'stdout') io.stdout.write(message.text);
      else io.stderr.write(message.text);
    });
    worker.on('error', reject);
    // 'exit' comes after every message the worker posted has been handled.
    worker.on('exit', () => (code === undefined ? reject(new Error('the audit worker ended without an exit code')) : resolve(code)));
  });
}
