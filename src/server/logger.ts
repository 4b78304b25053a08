import { writeSync as fsWriteSync } from 'node:fs';
import { pino, type Logger } from 'pino';

/** Lines held while the log pipe is full; beyond this, new lines are dropped (and counted) rather than growing the heap. */
export const LOG_PENDING_MAX_CHARS = 4 * 1024 * 1024;
/** After a full pipe (EAGAIN), the next write is tried this much later. */
export const LOG_RETRY_MS = 10;
/** At exit, a full pipe is retried this many times, LOG_RETRY_MS apart, before the last lines are given up. */
const EXIT_RETRIES = 100;

type WriteSync = (fd: number, buffer: Uint8Array, offset: number) => number;

/**
 * A pino destination that writes the lines of one event-loop turn with one write(2).
 *
 * pino's default destination writes each line with its own synchronous write(2), and sonic-boom's
 * buffering copies its whole growing buffer on every line; on the webhook's path either costs more
 * than the decision. Here a line is pushed onto an array, and at the end of the turn (setImmediate)
 * everything pending leaves in one synchronous write: no line waits for a timer, lines stay in
 * order, and under load the requests answered in one turn share one system call.
 *
 * A full non-blocking pipe (EAGAIN: the log collector is behind) never blocks a request: the rest
 * is kept, retried LOG_RETRY_MS later, and lines beyond LOG_PENDING_MAX_CHARS are dropped and
 * counted. A closed pipe (EPIPE) or any other write error stops logging instead of crashing the
 * webhook. At exit, what is pending is written synchronously.
 */
export class TurnBatchedWriter {
  /** Lines dropped because the pipe stayed full or broke. */
  dropped = 0;
  private droppedReported = 0;
  private pending: string[] = [];
  private pendingChars = 0;
  /** Bytes of a write the pipe took only in part (UTF-8 already encoded). */
  private remainder: Buffer | undefined;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private broken = false;
  private readonly fd: number;
  private readonly writeSync: WriteSync;

  constructor(fd: number, writeSync: WriteSync = fsWriteSync) {
    this.fd = fd;
    this.writeSync = writeSync;
  }

  write(line: string): boolean {
    if (this.broken || this.pendingChars + line.length > LOG_PENDING_MAX_CHARS) {
      this.dropped++;
      return true;
    }
    this.pending.push(line);
    this.pendingChars += line.length;
    if (!this.scheduled && this.retryTimer === undefined) {
      this.scheduled = true;
      setImmediate(this.flushTurn);
    }
    return true;
  }

  /** Writes everything pending now. Returns false when the pipe was full and something is left. */
  flushSync(): boolean {
    if (this.broken) return true;
    if (this.remainder === undefined && this.pending.length === 0) return true;
    let data = this.remainder;
    if (this.pending.length > 0) {
      // Lines lost to a full pipe are reported in the log itself, once it flows again.
      if (this.droppedReported < this.dropped) {
        this.pending.unshift(`${JSON.stringify({ level: 40, time: Date.now(), app: 'pullguard', msg: `${this.dropped - this.droppedReported} log lines were dropped: the log pipe was full or closed` })}\n`);
        this.droppedReported = this.dropped;
      }
      const text = Buffer.from(this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join(''), 'utf8');
      data = data === undefined ? text : Buffer.concat([data, text]);
      this.pending = [];
    }
    // Everything held is in `data` now; whatever the pipe does not take is counted again below.
    this.pendingChars = 0;
    this.remainder = undefined;
    const buffer = data as Buffer;
    let offset = 0;
    try {
      while (offset < buffer.length) offset += this.writeSync(this.fd, buffer, offset);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        this.remainder = buffer.subarray(offset);
        this.pendingChars += this.remainder.length;
        return false;
      }
      // EPIPE, EBADF, ...: nobody reads the logs any more; stop writing rather than crash.
      this.broken = true;
      this.dropped += countLines(buffer.subarray(offset));
      return true;
    }
  }

  /** At exit: write what is left, waiting out a full pipe for a bounded time. */
  flushAtExit(): void {
    for (let attempt = 0; attempt < EXIT_RETRIES && !this.flushSync(); attempt++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOG_RETRY_MS);
    }
  }

  private readonly flushTurn = (): void => {
    this.scheduled = false;
    if (this.flushSync()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flushTurn();
    }, LOG_RETRY_MS);
    this.retryTimer.unref();
  };
}

function countLines(bytes: Uint8Array): number {
  let lines = 0;
  for (const byte of bytes) if (byte === 0x0a) lines++;
  return Math.max(lines, 1);
}

/**
 * The webhook's logger: pino JSON lines on stdout through a TurnBatchedWriter, whose pending lines
 * are written when the process exits ('exit' fires when serve returns after SIGTERM or SIGINT, on
 * process.exit, and after an uncaught exception).
 */
export function createLogger(level: string, fd: number = 1): Logger {
  const writer = new TurnBatchedWriter(fd);
  process.once('exit', () => writer.flushAtExit());
  return pino({ level, base: { app: 'pullguard' } }, writer);
}
