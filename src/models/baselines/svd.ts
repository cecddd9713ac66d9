/**
 * SVD (Funk; Koren, Bell & Volinsky 2009): biased matrix factorisation
 * r̂_ui = μ + b_u + b_i + q_i·p_u, fit by stochastic gradient descent on the regularised
 * squared error, one rating at a time:
 *
 *   e = r_ui − r̂_ui
 *   b_u += γ_bu (e − λ_bu b_u)          b_i += γ_bi (e − λ_bi b_i)
 *   p_u += γ_pu (e q_i − λ_pu p_u)      q_i += γ_qi (e p_u − λ_qi q_i)
 *
 * (both factor updates from the values before the step). Unbiased (`biased: false`):
 * r̂ = q_i·p_u, no μ or biases.
 */
import { Rng } from '../../util/rng.js';
import type { EpochOutcome } from '../fit-loop.js';
import type { ModelState } from '../types.js';
import type { ModelContext } from './base.js';
import { PROGRESS_EVERY, checkKind, epochOutcome, fillNormal, identityOrder, optBool, optInt, optNum, reportProgress, type EpochProgress } from './common.js';
import { MF_ARRAYS, MfModel, initMfParams, savedOptions, type MfParams, type MfRun, type SvdInit } from './mf-base.js';
import type { RatingData } from './rating-stats.js';

export type { SvdInit } from './mf-base.js';

/**
 * Options of SVD, defaulted as the reference implementation (Surprise) does: 100
 * `factors`, 20 `epochs`, `biased` true, factors drawn from N(`initMean` 0, `initSd`
 * 0.1²), learning rate `lr` 0.005 and regulariser `reg` 0.02 for every parameter unless
 * a per-parameter `lrBu`/`lrBi`/`lrPu`/`lrQi`, `regBu`/`regBi`/`regPu`/`regQi` is given.
 * Ratings are visited in a new order each epoch, shuffled by a generator seeded with
 * `seed` (default 1), which also draws the initial factors; `shuffle: false` visits the
 * log in order (the reference visits its trainset order, grouped by user).
 */
export interface SvdOptions {
  factors?: number;
  epochs?: number;
  biased?: boolean;
  initMean?: number;
  initSd?: number;
  lr?: number;
  reg?: number;
  lrBu?: number;
  lrBi?: number;
  lrPu?: number;
  lrQi?: number;
  regBu?: number;
  regBi?: number;
  regPu?: number;
  regQi?: number;
  seed?: number;
  shuffle?: boolean;
  /** Not part of `state().config`. */
  init?: SvdInit;
}

export type ResolvedSvdOptions = Required<Omit<SvdOptions, 'init'>>;

/** Resolves the options SVD and SVD++ share, with each model's defaults. */
export function resolveMfOptions(
  model: string,
  o: SvdOptions,
  dflt: { factors: number; epochs: number; lr: number; reg: number },
): ResolvedSvdOptions {
  const lr = optNum(model, 'lr', o.lr, dflt.lr);
  const reg = optNum(model, 'reg', o.reg, dflt.reg);
  return {
    factors: optInt(model, 'factors', o.factors, dflt.factors, 1),
    epochs: optInt(model, 'epochs', o.epochs, dflt.epochs, 0),
    biased: optBool(model, 'biased', o.biased, true),
    initMean: optNum(model, 'initMean', o.initMean, 0, -Infinity),
    initSd: optNum(model, 'initSd', o.initSd, 0.1),
    lr,
    reg,
    lrBu: optNum(model, 'lrBu', o.lrBu, lr),
    lrBi: optNum(model, 'lrBi', o.lrBi, lr),
    lrPu: optNum(model, 'lrPu', o.lrPu, lr),
    lrQi: optNum(model, 'lrQi', o.lrQi, lr),
    regBu: optNum(model, 'regBu', o.regBu, reg),
    regBi: optNum(model, 'regBi', o.regBi, reg),
    regPu: optNum(model, 'regPu', o.regPu, reg),
    regQi: optNum(model, 'regQi', o.regQi, reg),
    seed: optInt(model, 'seed', o.seed, 1, -(2 ** 31)),
    shuffle: optBool(model, 'shuffle', o.shuffle, true),
  };
}

/**
 * SVD: r̂_ui = μ + b_u + b_i + q_i·p_u, clipped to the training rating range. A user or
 * item unseen in training keeps zero factors and bias, so its prediction falls back to
 * the baseline μ + b_u + b_i of the side that was seen (unbiased: to μ). Factor form:
 * users p_u, items q_i, item bias b_i. Needs explicit ratings; see `SvdOptions` for the
 * defaults.
 */
export class SVD extends MfModel<ResolvedSvdOptions, MfParams> {
  readonly kind = 'svd';
  readonly name = 'SVD';

  constructor(options: SvdOptions = {}, ctx: ModelContext = {}) {
    super(MF_ARRAYS, resolveMfOptions('SVD', options, { factors: 100, epochs: 20, lr: 0.005, reg: 0.02 }), options.init, ctx);
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): SVD {
    checkKind(state, 'svd', 'SVD');
    return new SVD(savedOptions<SvdOptions>(state), ctx).restore(state);
  }

  /** Factors from N(initMean, initSd²), then an SGD pass per epoch in a freshly shuffled order (or log order). */
  protected start(d: RatingData): MfRun<MfParams> {
    const o = this.options;
    const rng = new Rng(o.seed);
    const p = initMfParams(this.name, d, o.factors, (a) => fillNormal(a, rng, o.initMean, o.initSd), this.init);
    const order = identityOrder(d.rating.length);
    return {
      params: p,
      epoch: (progress, signal) => {
        if (o.shuffle) rng.shuffle(order);
        return svdEpoch(d, p, o, order, progress, signal);
      },
    };
  }
}

/** One SGD pass over the ratings in `order`; returns the mean squared error of the predictions made before each step. */
export function svdEpoch(
  d: RatingData,
  p: MfParams,
  o: ResolvedSvdOptions,
  order: Int32Array,
  progress?: EpochProgress,
  signal?: AbortSignal,
): EpochOutcome {
  const { P, Q, bu, bi } = p;
  const f = o.factors;
  const biased = o.biased;
  const mu = biased ? d.globalMean : 0;
  const { lrBu, lrBi, lrPu, lrQi, regBu, regBi, regPu, regQi } = o;
  const { user, item, rating } = d;
  const n = order.length;
  let sq = 0;
  let done = 0;
  for (let j = 0; j < n; j++) {
    const e = order[j];
    const u = user[e];
    const i = item[e];
    const po = u * f;
    const qo = i * f;
    let dot = 0;
    for (let c = 0; c < f; c++) dot += P[po + c] * Q[qo + c];
    const err = biased ? rating[e] - (mu + bu[u] + bi[i] + dot) : rating[e] - dot;
    if (biased) {
      bu[u] += lrBu * (err - regBu * bu[u]);
      bi[i] += lrBi * (err - regBi * bi[i]);
    }
    for (let c = 0; c < f; c++) {
      const pf = P[po + c];
      const qf = Q[qo + c];
      P[po + c] = pf + lrPu * (err * qf - regPu * pf);
      Q[qo + c] = qf + lrQi * (err * pf - regQi * qf);
    }
    sq += err * err;
    done++;
    if (done % PROGRESS_EVERY === 0 && reportProgress(progress, done, n, sq, signal)) break;
  }
  return epochOutcome(progress, done, n, sq);
}
