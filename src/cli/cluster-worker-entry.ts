import { enableCompileCache } from 'node:module';
import { Readable } from 'node:stream';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { WorkerMessage, WorkerRequest } from './cluster-worker.ts';
import { fileStdout, type CommandIo } from './io.ts';

/** The bounded worker of cluster-worker.ts: runs one pullguard command line and posts its exit code. */

function isWorkerRequest(data: unknown): data is WorkerRequest {
  return typeof data === 'object' && data !== null && Array.isArray((data as WorkerRequest).pullguardCommand);
}

if (!isMainThread && isWorkerRequest(workerData)) {
  const request = workerData;
  const post = (message: WorkerMessage): void => parentPort?.postMessage(message);
  // As the bin does (main.ts): the worker compiles its modules anew, so it reuses the cache too.
  enableCompileCache();
  const { main } = await import('./main.ts');
  const io: CommandIo = {
    stdin: Readable.from([]),
    // A file is written from here directly (fileStdout: no copy of the report through the main thread).
    stdout: fileStdout(request.stdoutIsTTY) ?? { write: (text: string) => post({ stream: 'stdout', text }), isTTY: request.stdoutIsTTY },
    stderr: { write: (text: string) => post({ stream: 'stderr', text }), isTTY: request.stderrIsTTY },
    env: process.env,
  };
  let exitCode: number;
  try {
    exitCode = await main(request.pullguardCommand, io);
  } catch (error) {
    io.stderr.write(`pullguard: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exitCode = 70;
  }
  post({ exitCode });
}
