/**
 * A one-line transfer progress bar for interactive terminals, redrawn in place with `\r`:
 * `uploading [██████░░░░░░░░░░]  40%  2.0 MiB / 5.0 MiB  1.3 MiB/s`. Redraws are throttled;
 * `finish` always draws the final state and ends the line.
 */
import { formatBytes } from '#core/package/limits.ts';

const BAR_WIDTH = 24;
const REDRAW_EVERY_MS = 80;

/** The bar for `done` of `total` bytes after `elapsedMs`, without control characters. */
export function renderProgressBar(label: string, done: number, total: number, elapsedMs: number): string {
  const ratio = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  const rate = elapsedMs > 0 ? `  ${formatBytes(Math.round((done * 1000) / elapsedMs))}/s` : '';
  return `${label} [${bar}] ${percent}  ${formatBytes(done)} / ${formatBytes(total)}${rate}`;
}

export class ProgressBar {
  private readonly started: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private done = 0;
  private finished = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly label: string,
    private readonly total: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    this.draw();
  }

  update(done: number): void {
    this.done = done;
    if (this.now() - this.lastDraw >= REDRAW_EVERY_MS) this.draw();
  }

  /** Draws the last state and moves to the next line; later calls do nothing. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.draw();
    this.write('\n');
  }

  private draw(): void {
    this.lastDraw = this.now();
    // \r: back to column 0; \x1b[K: clear what a longer previous frame left.
    this.write(
      `\r${renderProgressBar(this.label, this.done, this.total, this.lastDraw - this.started)}\x1b[K`,
    );
  }
}
