/**
 * A progress line on stderr for long audits: shown only on a terminal, only once the work has
 * taken more than a second, redrawn at most a few times a second, and erased when done. It reads
 * the clock when told about progress, so a synchronous parse never needs a timer.
 */
export const PROGRESS_DELAY_MS = 1000;
const REDRAW_MS = 200;

export class ProgressLine {
  private lastDraw = 0;
  private drawn = false;
  private readonly started: number;

  private readonly stream: { write(text: string): unknown };
  private readonly enabled: boolean;
  private readonly clock: () => number;

  constructor(stream: { write(text: string): unknown }, enabled: boolean, clock: () => number = () => performance.now()) {
    this.stream = stream;
    this.enabled = enabled;
    this.clock = clock;
    this.started = clock();
  }

  update(text: () => string): void {
    if (!this.enabled) return;
    const now = this.clock();
    if (now - this.started < PROGRESS_DELAY_MS || now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.drawn = true;
    this.stream.write(`\r\x1b[K${text()}`);
  }

  /** Erases the line (before other output, and at the end). */
  clear(): void {
    if (!this.drawn) return;
    this.drawn = false;
    this.stream.write('\r\x1b[K');
  }
}
