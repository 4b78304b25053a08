/**
 * The protocol between bench/http.ts and the servers it forks (bench/webhook-server.ts,
 * bench/bare-server.ts). The parent sends the TLS material once; the child answers with its
 * port. A child never outlives its parent: it exits when the IPC channel closes (parent exited,
 * crashed or was killed) and, as a last resort, after a fixed lifetime.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';

export interface StartMessage {
  readonly type: 'start';
  readonly cert: string;
  readonly key: string;
}

/** Asks a listening child for its CPU time and memory (the parent brackets each measured run with it). */
export interface UsageQuery {
  readonly type: 'usage';
}

export type ParentMessage = StartMessage | UsageQuery;

export interface Usage {
  /** User + system CPU time of the child's whole process, microseconds (process.cpuUsage). */
  readonly cpuMicros: number;
  /** User + system CPU time of the main (JavaScript) thread only, microseconds (process.threadCpuUsage): the rest is GC helpers, libuv and V8 workers. */
  readonly mainThreadCpuMicros: number;
  /** The kernel's share of cpuMicros (system time: TLS writes' syscalls, waking the peer, epoll). */
  readonly systemCpuMicros: number;
  /** Garbage-collection pauses of the main thread so far, microseconds (the durations of V8's `gc` performance entries). */
  readonly gcPauseMicros: number;
  /** Of which minor (scavenge) collections. */
  readonly scavengeMicros: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

export type ChildMessage =
  | { readonly type: 'listening'; readonly port: number; readonly setupMs: number; readonly detail: string }
  | { readonly type: 'failed'; readonly message: string }
  | ({ readonly type: 'usage' } & Usage);

/** Loopback only: the benchmark never listens on or sends to any other address. */
export const BENCH_HOST = '127.0.0.1';
/** Hard stop for a forgotten child: longer than any bench run, short enough not to linger. */
export const CHILD_LIFETIME_MS = 15 * 60 * 1000;

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Runs a bench server in a forked child: waits for TLS material, builds the app, listens, reports the port. */
export function runBenchChild(build: (start: StartMessage) => Promise<{ app: FastifyInstance; detail: string }>): void {
  if (process.send === undefined) {
    process.stderr.write('this file is started by bench/http.ts (it needs an IPC channel)\n');
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  // A clean exit on SIGTERM, so `--cpu-prof` (bench/http.ts --profile) gets to write its profile.
  process.once('SIGTERM', () => process.exit(0));
  setTimeout(() => process.exit(3), CHILD_LIFETIME_MS).unref();
  // Every child counts its collections the same way, so the GC column compares like with like.
  let gcPauseMicros = 0;
  let scavengeMicros = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const micros = entry.duration * 1000;
      gcPauseMicros += micros;
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavengeMicros += micros;
    }
  }).observe({ entryTypes: ['gc'] });
  let starting = false;
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'usage') {
      const cpu = process.cpuUsage();
      const mainThread = process.threadCpuUsage();
      const memory = process.memoryUsage();
      send({
        type: 'usage',
        cpuMicros: cpu.user + cpu.system,
        mainThreadCpuMicros: mainThread.user + mainThread.system,
        systemCpuMicros: cpu.system,
        gcPauseMicros,
        scavengeMicros,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      });
      return;
    }
    if (starting) return;
    starting = true;
    const started = performance.now();
    build(message)
      .then(async ({ app, detail }) => {
        await app.listen({ host: BENCH_HOST, port: 0 });
        const address = app.server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        send({ type: 'listening', port, setupMs: Math.round(performance.now() - started), detail });
      })
      .catch((error: unknown) => {
        send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
        process.exit(1);
      });
  });
}
