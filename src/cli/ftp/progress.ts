/**
 * The progress bar of `wharf ftp get|put`, on standard error and only when it is a terminal:
 * a script reading our output or a log file should not fill up with carriage returns.
 * Redrawn at most ten times a second.
 */
import { Transform, type TransformCallback } from 'node:stream';

const REDRAW_MS = 100;

export class ProgressBar {
  private done: number;
  private readonly startedAt = Date.now();
  private readonly startBytes: number;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    /** Final size in bytes, when known. */
    private readonly total: number | null,
    /** Bytes already there (a resumed transfer). */
    initial: number,
    private readonly out: NodeJS.WriteStream | null,
  ) {
    this.done = initial;
    this.startBytes = initial;
  }

  /** A bar on standard error when it is a terminal, else one that draws nothing. */
  static forStderr(label: string, total: number | null, initial: number): ProgressBar {
    return new ProgressBar(label, total, initial, process.stderr.isTTY ? process.stderr : null);
  }

  /** A pass-through stream that counts the bytes going by. */
  counter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.add(chunk.length);
        cb(null, chunk);
      },
    });
  }

  add(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (now - this.lastDraw >= REDRAW_MS) {
      this.lastDraw = now;
      this.draw();
    }
  }

  finish(): void {
    if (!this.out) return;
    this.draw();
    this.out.write('\n');
  }

  /** Leaves the bar's line without completing it (the transfer failed). */
  abandon(): void {
    if (this.out && this.lastDraw > 0) this.out.write('\n');
  }

  private draw(): void {
    if (!this.out) return;
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    const rate = (this.done - this.startBytes) / seconds;
    const parts: string[] = [];
    let bar = '';
    const columns = this.out.columns || 80;
    const sizeText = this.total === null ? formatBytes(this.done) : `${formatBytes(this.done)}/${formatBytes(this.total)}`;
    const rateText = `${formatBytes(rate)}/s`;
    const etaText = this.total !== null && rate > 0 && this.done < this.total ? ` ETA ${formatDuration((this.total - this.done) / rate)}` : '';
    if (this.total !== null && this.total > 0) {
      const fraction = Math.min(this.done / this.total, 1);
      const width = Math.max(10, Math.min(40, columns - 60));
      const filled = Math.round(fraction * width);
      bar = ` [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
    }
    parts.push(`${bar} ${sizeText} ${rateText}${etaText}`);
    const room = Math.max(10, columns - parts[0].length - 2);
    const label = this.label.length > room ? '…' + this.label.slice(-(room - 1)) : this.label;
    this.out.write(`\r${label}${parts[0]}\x1b[K`);
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
