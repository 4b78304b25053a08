// Runs one pullguard command line in the bounded audit worker with stderr presented as a terminal,
// and prints the exit code and every write, in order, as one JSON object. A process of its own
// for cli-cluster-worker.test.ts: a worker thread inside the tap process would write V8 coverage
// that tap then counts.
import { Readable } from 'node:stream';
import { runInBoundedWorker } from '../../src/cli/cluster-worker.ts';

const writes: Array<[string, string]> = [];
const code = await runInBoundedWorker(process.argv.slice(2), {
  stdin: Readable.from([]),
  stdout: { write: (text: string) => writes.push(['stdout', text]), isTTY: false },
  stderr: { write: (text: string) => writes.push(['stderr', text]), isTTY: true },
  env: {},
});
process.stdout.write(JSON.stringify({ code, writes }));
