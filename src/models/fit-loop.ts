/**
 * The epoch loop every iterative model shares: train an epoch, validate, keep the best
 * parameters by the monitored metric, stop after `patience` epochs without improvement,
 * report. Models supply the epoch and the snapshot/restore of their parameters; the
 * loop owns the bookkeeping, so early stopping means the same thing for LightGCN and
 * for SVD.
 */
import { GnnrlError } from '../errors.js';
import type { BatchProgress, EpochReport, FitOptions, FitResult } from './types.js';

export interface EpochOutcome {
  /** Mean loss over the epoch. */
  loss: number;
  /** Training examples processed. */
  samples: number;
}

export interface EpochLoopSpec {
  /** Epochs to run when `opts.epochs` is not given. */
  defaultEpochs: number;
  /** Runs one epoch (1-based); `progress` may be called every few batches. */
  runEpoch: (epoch: number, progress: (p: Omit<BatchProgress, 'epoch'>) => void, signal?: AbortSignal) => Promise<EpochOutcome>;
  /** Metrics on `opts.validation`; omitted when the caller gave no validation set. */
  validate?: () => Promise<Record<string, number>>;
  /** Default monitored metric ('rmse' for rating models, 'ndcg@20' for ranking ones). */
  defaultMonitor: string;
  /** Copies the current parameters aside (called when an epoch is the best so far). */
  saveBest?: () => Promise<void> | void;
  /** Puts the saved parameters back (called once at the end when a better epoch than the last exists). */
  restoreBest?: () => Promise<void> | void;
}

/** Lower is better for error metrics; higher for everything else. */
export function lowerIsBetter(metric: string): boolean {
  const m = metric.toLowerCase();
  return m === 'rmse' || m === 'mae' || m === 'mse' || m === 'loss';
}

export async function runEpochLoop(spec: EpochLoopSpec, opts: FitOptions = {}): Promise<FitResult> {
  const epochs = opts.epochs ?? spec.defaultEpochs;
  if (!Number.isInteger(epochs) || epochs < 0) throw new GnnrlError('input', `fit: epochs: expected a non-negative integer, got ${epochs}`, { arg: 'epochs' });
  const patience = opts.patience ?? 5;
  if (!Number.isInteger(patience) || patience < 0) throw new GnnrlError('input', `fit: patience: expected a non-negative integer, got ${patience}`, { arg: 'patience' });
  const validate = opts.validation ? spec.validate : undefined;
  const monitor = opts.monitor ?? spec.defaultMonitor;
  const lower = lowerIsBetter(monitor);
  const history: EpochReport[] = [];
  let best = lower ? Infinity : -Infinity;
  let bestEpoch = 0;
  let stale = 0;
  let stoppedEarly = false;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    if (opts.signal?.aborted) break;
    const t0 = performance.now();
    const out = await spec.runEpoch(epoch, (p) => opts.onProgress?.({ epoch, ...p }), opts.signal);
    const seconds = (performance.now() - t0) / 1000;
    const report: EpochReport = { epoch, loss: out.loss, seconds, samplesPerSecond: seconds > 0 ? out.samples / seconds : 0 };
    if (validate) {
      const metrics = await validate();
      report.validation = metrics;
      // The loss stands in for the monitor when the validation set cannot give it
      // (e.g. 'ndcg@20' asked of a model validated on ratings only).
      const value = monitor in metrics ? metrics[monitor] : monitor === 'loss' ? out.loss : undefined;
      if (value === undefined) {
        throw new GnnrlError('input', `fit: monitor: '${monitor}' is not among the validation metrics (${Object.keys(metrics).join(', ')})`, { arg: 'monitor' });
      }
      if (lower ? value < best : value > best) {
        best = value;
        bestEpoch = epoch;
        stale = 0;
        report.best = true;
        await spec.saveBest?.();
      } else {
        stale++;
      }
    } else {
      bestEpoch = epoch;
    }
    history.push(report);
    await opts.onEpoch?.(report);
    if (validate && patience > 0 && stale >= patience) {
      stoppedEarly = true;
      break;
    }
  }
  const last = history.length ? history[history.length - 1].epoch : 0;
  if (validate && bestEpoch > 0 && bestEpoch !== last) await spec.restoreBest?.();
  if (!validate) bestEpoch = last;
  return { history, bestEpoch, stoppedEarly };
}
