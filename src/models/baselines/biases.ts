/**
 * Baseline estimates b_ui = μ + b_u + b_i (Koren 2010, §2.1), fit by alternating least
 * squares or by SGD. BaselineOnly is just these; KNNBaseline and the pearson_baseline
 * similarity build on them.
 *
 * ALS: each epoch first sets every item bias to its regularised mean residual given the
 * user biases, b_i = Σ_{u∈R(i)} (r_ui − μ − b_u) / (λ_i + |R(i)|), then every user bias
 * given the new item biases, b_u = Σ_{i∈R(u)} (r_ui − μ − b_i) / (λ_u + |R(u)|),
 * starting from zero: each half-step is the exact minimiser of the regularised squared
 * error in its block. SGD: for each rating, e = r − (μ + b_u + b_i), then
 * b_u += γ(e − λ b_u) and b_i += γ(e − λ b_i), both from the same e.
 */
import { Rng } from '../../util/rng.js';
import type { EpochOutcome } from '../fit-loop.js';
import { PROGRESS_EVERY, epochOutcome, identityOrder, optBool, optInt, optNum, optOneOf, reportProgress, type EpochProgress } from './common.js';
import { ratingsByItem, ratingsByUser, type RatingCsr, type RatingData } from './rating-stats.js';

export type BaselineMethod = 'als' | 'sgd';

/**
 * How baselines are fit. Defaults are the reference implementation's (Surprise's
 * `bsl_options`): ALS with λ_i = 10, λ_u = 15 and 10 epochs; SGD with γ = 0.005,
 * λ = 0.02 and 20 epochs.
 */
export interface BaselineOptions {
  /** 'als' (default) or 'sgd'. */
  method?: BaselineMethod;
  /** Passes over the data: default 10 for ALS, 20 for SGD. */
  epochs?: number;
  /** ALS: regulariser of the user biases (default 15). */
  regU?: number;
  /** ALS: regulariser of the item biases (default 10). */
  regI?: number;
  /** SGD: learning rate (default 0.005). */
  lr?: number;
  /** SGD: regulariser of both biases (default 0.02). */
  reg?: number;
  /** SGD: seed of the per-epoch visiting order (default 1). */
  seed?: number;
  /** SGD: visit the ratings in a new seeded order each epoch (default true); false visits them in log order. */
  shuffle?: boolean;
}

export type ResolvedBaselineOptions = Required<BaselineOptions>;

/** Checks the options, naming `${prefix}name` in errors, and fills in the defaults. */
export function resolveBaselineOptions(model: string, o: BaselineOptions = {}, prefix = ''): ResolvedBaselineOptions {
  const method = optOneOf(model, `${prefix}method`, o.method, 'als', ['als', 'sgd'] as const);
  return {
    method,
    epochs: optInt(model, `${prefix}epochs`, o.epochs, method === 'als' ? 10 : 20, 0),
    regU: optNum(model, `${prefix}regU`, o.regU, 15),
    regI: optNum(model, `${prefix}regI`, o.regI, 10),
    lr: optNum(model, `${prefix}lr`, o.lr, 0.005),
    reg: optNum(model, `${prefix}reg`, o.reg, 0.02),
    seed: optInt(model, `${prefix}seed`, o.seed, 1, -(2 ** 31)),
    shuffle: optBool(model, `${prefix}shuffle`, o.shuffle, true),
  };
}

/** Runs epochs of one fitting method over `bu` and `bi` (updated in place). */
export interface BiasTrainer {
  readonly bu: Float32Array;
  readonly bi: Float32Array;
  epoch(progress?: EpochProgress, signal?: AbortSignal): EpochOutcome;
}

export function biasTrainer(d: RatingData, o: ResolvedBaselineOptions): BiasTrainer {
  const bu = new Float32Array(d.nUsers);
  const bi = new Float32Array(d.nItems);
  return o.method === 'als' ? alsTrainer(d, o, bu, bi) : sgdTrainer(d, o, bu, bi);
}

/** Fits baselines with all their epochs (KNNBaseline, pearson_baseline). */
export function fitBiases(d: RatingData, o: ResolvedBaselineOptions): { bu: Float32Array; bi: Float32Array } {
  const t = biasTrainer(d, o);
  for (let e = 0; e < o.epochs; e++) t.epoch();
  return { bu: t.bu, bi: t.bi };
}

function alsTrainer(d: RatingData, o: ResolvedBaselineOptions, bu: Float32Array, bi: Float32Array): BiasTrainer {
  const byItem = ratingsByItem(d);
  const byUser = ratingsByUser(d);
  const mu = d.globalMean;
  return {
    bu,
    bi,
    epoch(progress) {
      alsHalfStep(byItem, bi, bu, mu, o.regI);
      alsHalfStep(byUser, bu, bi, mu, o.regU);
      const n = d.rating.length;
      let sq = 0;
      for (let e = 0; e < n; e++) {
        const err = d.rating[e] - (mu + bu[d.user[e]] + bi[d.item[e]]);
        sq += err * err;
      }
      return epochOutcome(progress, n, n, sq);
    },
  };
}

/** Sets target[r] = Σ_{(c, v) in row r} (v − μ − other[c]) / (reg + |row r|) for every row. */
function alsHalfStep(csr: RatingCsr, target: Float32Array, other: Float32Array, mu: number, reg: number): void {
  const { offsets, index, value } = csr;
  for (let r = 0; r < target.length; r++) {
    const lo = offsets[r];
    const hi = offsets[r + 1];
    let dev = 0; // float64: thousands of residuals per popular item
    for (let q = lo; q < hi; q++) dev += value[q] - mu - other[index[q]];
    const den = reg + (hi - lo);
    target[r] = den > 0 ? dev / den : 0;
  }
}

function sgdTrainer(d: RatingData, o: ResolvedBaselineOptions, bu: Float32Array, bi: Float32Array): BiasTrainer {
  const n = d.rating.length;
  const order = identityOrder(n);
  const rng = new Rng(o.seed);
  const mu = d.globalMean;
  const { lr, reg } = o;
  return {
    bu,
    bi,
    epoch(progress, signal) {
      if (o.shuffle) rng.shuffle(order);
      let sq = 0;
      let done = 0;
      for (let j = 0; j < n; j++) {
        const e = order[j];
        const u = d.user[e];
        const i = d.item[e];
        const err = d.rating[e] - (mu + bu[u] + bi[i]);
        bu[u] += lr * (err - reg * bu[u]);
        bi[i] += lr * (err - reg * bi[i]);
        sq += err * err;
        done++;
        if (done % PROGRESS_EVERY === 0 && reportProgress(progress, done, n, sq, signal)) break;
      }
      return epochOutcome(progress, done, n, sq);
    },
  };
}
