/**
 * Training progress on stderr. On a terminal, one line per epoch rewritten in place
 * (`\r`) as batches complete: epoch, bar, loss, examples/s, ETA; when the epoch ends the
 * line is finished with its validation metrics. Elsewhere (a log file, CI) only the
 * finished epoch lines are written, so logs stay one line per epoch.
 */
import type { BatchProgress, EpochReport } from '../models/types.js';
import { formatDuration, formatRate } from './table.js';

/** The part of a stream the reporter uses (process.stderr, or a test double). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Write nothing at all. */
  quiet?: boolean;
  /** Override the stream's own TTY detection. */
  tty?: boolean;
  /** Minimum milliseconds between in-place redraws (default 100). */
  redrawMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

const BAR = 20;

export class ProgressReporter {
  private readonly tty: boolean;
  private readonly quiet: boolean;
  private readonly redrawMs: number;
  private readonly now: () => number;
  private label = '';
  private epochs: number | null = null;
  private modelStart = 0;
  private epochStart = 0;
  private lastDraw = -Infinity;
  /** Seconds the finished epochs of the current model took, for the ETA. */
  private doneSeconds = 0;
  private doneEpochs = 0;
  private open = false;

  constructor(
    private readonly stream: ProgressStream,
    opts: ProgressOptions = {},
  ) {
    this.quiet = opts.quiet ?? false;
    this.tty = opts.tty ?? stream.isTTY === true;
    this.redrawMs = opts.redrawMs ?? 100;
    this.now = opts.now ?? (() => performance.now());
  }

  /** A plain message line (finishes any in-place line first). */
  message(text: string): void {
    if (this.quiet) return;
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /** Starts a model: `epochs` is the planned count (null when unknown: no ETA). */
  startModel(label: string, epochs: number | null): void {
    this.label = label;
    this.epochs = epochs;
    this.modelStart = this.now();
    this.epochStart = this.modelStart;
    this.doneSeconds = 0;
    this.doneEpochs = 0;
  }

  /** Within-epoch progress (redrawn in place on a TTY, throttled; ignored otherwise). */
  batch(p: BatchProgress): void {
    if (this.quiet || !this.tty) return;
    const t = this.now();
    if (p.done === 0) this.epochStart = t;
    if (t - this.lastDraw < this.redrawMs && p.done < p.total) return;
    this.lastDraw = t;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const elapsed = (t - this.epochStart) / 1000;
    const rate = elapsed > 0 ? p.done / elapsed : NaN;
    const filled = Math.round(frac * BAR);
    const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === BAR ? '=' : '>') : ''}${' '.repeat(BAR - filled)}]`;
    const eta = this.eta(p.epoch, frac, elapsed);
    const line = `${this.prefix(p.epoch)} ${bar} ${String(Math.round(frac * 100)).padStart(3)}%  loss ${fmtLoss(p.loss)}  ${formatRate(rate)} ex/s${eta}`;
    this.draw(line);
  }

  /** A finished epoch: its line with loss, speed, time and validation metrics (best marked with *). */
  epoch(r: EpochReport): void {
    this.doneSeconds += r.seconds;
    this.doneEpochs = r.epoch;
    this.epochStart = this.now();
    if (this.quiet) return;
    const val = r.validation
      ? '  val ' + Object.entries(r.validation).map(([k, v]) => `${k} ${fmtLoss(v)}`).join(' ') + (r.best ? ' *' : '')
      : '';
    const eta = this.epochs !== null && r.epoch < this.epochs ? `  ETA ${formatDuration((this.epochs - r.epoch) * (this.doneSeconds / r.epoch))}` : '';
    this.clear();
    // One-pass models (popularity, KNN) have no training loss: say nothing rather than "NaN".
    const loss = Number.isNaN(r.loss) ? '' : `  loss ${fmtLoss(r.loss)}`;
    this.stream.write(`${this.prefix(r.epoch)}${loss}  ${formatRate(r.samplesPerSecond)} ex/s  ${formatDuration(r.seconds)}${val}${eta}\n`);
  }

  /** Ends the in-place line, if any. */
  clear(): void {
    if (this.open) {
      this.stream.write('\r\x1b[2K');
      this.open = false;
    }
  }

  private prefix(epoch: number): string {
    const of = this.epochs !== null ? `/${this.epochs}` : '';
    const width = this.epochs !== null ? String(this.epochs).length : 0;
    return `${this.label}  epoch ${String(epoch).padStart(width)}${of}`;
  }

  private eta(epoch: number, frac: number, elapsed: number): string {
    // This epoch's remainder from its own pace, later epochs from the mean epoch so far
    // (or this one's projected length on the first): an upper bound under early stopping.
    const thisEpoch = frac > 0 ? elapsed / frac : NaN;
    const perEpoch = this.doneEpochs > 0 ? this.doneSeconds / this.doneEpochs : thisEpoch;
    const later = this.epochs !== null ? Math.max(0, this.epochs - epoch) * perEpoch : 0;
    const rest = thisEpoch - elapsed + later;
    return Number.isFinite(rest) ? `  ETA ${formatDuration(rest)}` : '';
  }

  private draw(line: string): void {
    const cols = this.stream.columns;
    const text = cols && line.length > cols - 1 ? line.slice(0, cols - 1) : line;
    this.stream.write(`\r\x1b[2K${text}`);
    this.open = true;
  }
}

function fmtLoss(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}
