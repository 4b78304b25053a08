import { fstatSync, writeSync } from 'node:fs';
import { writeJson } from '../report/write-json.ts';

/** The streams a command uses, injectable so tests run commands in-process. */
export interface CommandIo {
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function processIo(): CommandIo {
  return { stdin: process.stdin, stdout: stdoutWriter(), stderr: process.stderr, env: process.env };
}

/**
 * process.stdout, except when it is a file (`> report.json`) or /dev/null: Node's stream for
 * files turns every string into a Buffer before writing it, and the pieces of a 55 MiB report
 * would leave as many MiB of Buffers for the garbage collector (peak RSS); fs.writeSync encodes
 * each piece without one. Both write synchronously, so output order is kept.
 */
function stdoutWriter(): CommandIo['stdout'] {
  return fileStdout(process.stdout.isTTY === true) ?? readerMayLeave(process.stdout);
}

/**
 * stdout as a pipe or terminal, whose reader may stop reading (`pullguard audit | head`): the
 * write fails with EPIPE, which Node reports as an 'error' event that would crash the process
 * with a stack trace. Then the rest of the output is dropped and the command runs to its end, so
 * its exit status still says what it found (a pipeline under `set -o pipefail` must not read a
 * cut-short denial as success). Any other stream error is not ours to hide.
 */
export function readerMayLeave(stream: NodeJS.WritableStream & { isTTY?: boolean }): CommandIo['stdout'] {
  let gone = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
      gone = true;
      return;
    }
    throw error;
  });
  return {
    write: (text: string) => (gone ? true : stream.write(text)),
    get isTTY() {
      return stream.isTTY === true;
    },
  };
}

/** A writer straight to fd 1 when stdout is a file or /dev/null (not a terminal), else undefined. Works in a worker too. */
export function fileStdout(isTTY: boolean): CommandIo['stdout'] | undefined {
  try {
    const info = fstatSync(STDOUT_FD);
    if (info.isFile() || (info.isCharacterDevice() && !isTTY)) return { write: (text: string) => writeSync(STDOUT_FD, text), isTTY: false };
  } catch {
    // No stdout to stat (closed): Node's stream reports what went wrong when written to.
  }
  return undefined;
}

const STDOUT_FD = 1;

/** An audit report as `JSON.stringify(report, null, 2)` and a newline, written in pieces (writeJson). */
export function writeJsonLine(report: object, io: Pick<CommandIo, 'stdout'>): void {
  writeJson(report as Readonly<Record<string, unknown>>, RESULT_LISTS, (text) => io.stdout.write(text));
  io.stdout.write('\n');
}

/** The members of reports that grow with the input. */
const RESULT_LISTS: ReadonlySet<string> = new Set(['results']);
