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
import { PositiveIndex } from '../../data/negatives.js';
import type { Interactions } from '../../data/interactions.js';
import { Rng } from '../../util/rng.js';
import { runEpochLoop, type EpochOutcome } from '../fit-loop.js';
import type { BatchProgress, FactorScores, FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, type ModelContext } from './base.js';
import { PROGRESS_EVERY, applyInit, checkKind, fillNormal, identityOrder, optBool, optInt, optNum, stateF32, zeroUnseenRows } from './common.js';
import { ratingData, type RatingData } from './rating-stats.js';

/** Initial parameters instead of random ones (hand-checkable tests, warm starts); each optional, checked for length. */
export interface SvdInit {
  /** nUsers × factors, row-major. */
  userFactors?: Float32Array;
  /** nItems × factors, row-major. */
  itemFactors?: Float32Array;
  /** nUsers (default zeros). */
  userBias?: Float32Array;
  /** nItems (default zeros). */
  itemBias?: Float32Array;
}

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

/** Parameters of a factor model, all on the host. */
export interface MfParams {
  P: Float32Array;
  Q: Float32Array;
  bu: Float32Array;
  bi: Float32Array;
}

/** Random initial parameters (drawn for every row, so a seed fixes them whatever the data), then `init`, then unseen rows zeroed. */
export function initMfParams(model: string, d: RatingData, f: number, draw: (a: Float32Array) => void, init: SvdInit | undefined): MfParams {
  const P = new Float32Array(d.nUsers * f);
  const Q = new Float32Array(d.nItems * f);
  draw(P);
  draw(Q);
  const bu = new Float32Array(d.nUsers);
  const bi = new Float32Array(d.nItems);
  applyInit(P, init?.userFactors, model, 'userFactors');
  applyInit(Q, init?.itemFactors, model, 'itemFactors');
  applyInit(bu, init?.userBias, model, 'userBias');
  applyInit(bi, init?.itemBias, model, 'itemBias');
  zeroUnseenRows(P, f, d.userCount);
  zeroUnseenRows(Q, f, d.itemCount);
  zeroUnseenRows(bu, 1, d.userCount);
  zeroUnseenRows(bi, 1, d.itemCount);
  return { P, Q, bu, bi };
}

/**
 * SVD: r̂_ui = μ + b_u + b_i + q_i·p_u, clipped to the training rating range. A user or
 * item unseen in training keeps zero factors and bias, so its prediction falls back to
 * the baseline μ + b_u + b_i of the side that was seen (unbiased: to μ). Factor form:
 * users p_u, items q_i, item bias b_i. Needs explicit ratings; see `SvdOptions` for the
 * defaults.
 */
export class SVD extends BaselineModel {
  readonly kind = 'svd';
  readonly name = 'SVD';
  readonly predictsRatings = true;
  readonly options: ResolvedSvdOptions;
  private readonly init: SvdInit | undefined;
  private p: MfParams = { P: new Float32Array(0), Q: new Float32Array(0), bu: new Float32Array(0), bi: new Float32Array(0) };

  constructor(options: SvdOptions = {}, ctx: ModelContext = {}) {
    super(ctx);
    this.options = resolveMfOptions('SVD', options, { factors: 100, epochs: 20, lr: 0.005, reg: 0.02 });
    this.init = options.init;
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): SVD {
    checkKind(state, 'svd', 'SVD');
    const { init: _ignored, ...config } = state.config as SvdOptions;
    const m = new SVD(config, ctx);
    const fs = m.installCommonState(state);
    const f = m.options.factors;
    m.p = {
      P: stateF32(state, 'userFactors', fs.nUsers * f, m.name),
      Q: stateF32(state, 'itemFactors', fs.nItems * f, m.name),
      bu: stateF32(state, 'userBias', fs.nUsers, m.name),
      bi: stateF32(state, 'itemBias', fs.nItems, m.name),
    };
    return m;
  }

  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const d = ratingData(train, this.name);
    const o = this.options;
    const rng = new Rng(o.seed);
    const p = initMfParams(this.name, d, o.factors, (a) => fillNormal(a, rng, o.initMean, o.initSd), this.init);
    this.p = p;
    this.installCommon(
      { nUsers: d.nUsers, nItems: d.nItems, globalMean: d.globalMean, ratingMin: d.ratingMin, ratingMax: d.ratingMax },
      d.userCount,
      d.itemCount,
      PositiveIndex.of(train),
    );
    const order = identityOrder(d.rating.length);
    let best: MfParams | null = null;
    return runEpochLoop(
      {
        defaultEpochs: o.epochs,
        runEpoch: async (_epoch, progress, signal) => {
          if (o.shuffle) rng.shuffle(order);
          return svdEpoch(d, p, o, order, progress, signal);
        },
        validate: this.validator(opts),
        defaultMonitor: 'rmse',
        saveBest: () => {
          best = copyParams(p);
        },
        restoreBest: () => {
          if (best) setParams(p, best);
        },
      },
      opts,
    );
  }

  /** Users p_u, items q_i, item bias b_i (views of the parameters: do not modify). */
  async factors(): Promise<FactorScores> {
    this.ready('factors');
    return this.factorForm();
  }

  protected factorForm(): FactorScores {
    const { P, Q, bi } = this.p;
    return { dim: this.options.factors, users: P, items: Q, itemBias: this.options.biased ? bi : undefined };
  }

  protected estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void {
    mfEstimatePairs(this.fitted!.globalMean, this.options.biased, this.options.factors, this.p.P, this.p.Q, this.p.bu, this.p.bi, this.userCount, this.itemCount, users, items, out);
  }

  protected estimateRows(users: Int32Array, out: Float32Array): void {
    mfEstimateRows(this.fitted!.globalMean, this.options.biased, this.options.factors, this.p.P, this.p.Q, this.p.bu, this.p.bi, this.fitted!.nItems, users, out);
  }

  protected configJson(): Record<string, unknown> {
    return { ...this.options };
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    return { userFactors: this.p.P, itemFactors: this.p.Q, userBias: this.p.bu, itemBias: this.p.bi };
  }

  protected release(): void {
    this.p = { P: new Float32Array(0), Q: new Float32Array(0), bu: new Float32Array(0), bi: new Float32Array(0) };
  }
}

/** One SGD pass over the ratings in `order`; returns the mean squared error of the predictions made before each step. */
export function svdEpoch(
  d: RatingData,
  p: MfParams,
  o: ResolvedSvdOptions,
  order: Int32Array,
  progress?: (x: Omit<BatchProgress, 'epoch'>) => void,
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
    if (done % PROGRESS_EVERY === 0) {
      progress?.({ done, total: n, loss: sq / done });
      if (signal?.aborted) break;
    }
  }
  progress?.({ done, total: n, loss: done ? sq / done : 0 });
  return { loss: done ? sq / done : 0, samples: done };
}

/**
 * Estimates of a factor model: biased μ + b_u + b_i + p_u·q_i (unseen rows are zero, so
 * the fallback is built in); unbiased p_u·q_i when both sides were seen, else μ.
 */
export function mfEstimatePairs(
  mu: number,
  biased: boolean,
  f: number,
  P: Float32Array,
  Q: Float32Array,
  bu: Float32Array,
  bi: Float32Array,
  userCount: Int32Array,
  itemCount: Int32Array,
  users: Int32Array,
  items: Int32Array,
  out: Float32Array,
): void {
  const nU = userCount.length;
  const nI = itemCount.length;
  for (let j = 0; j < users.length; j++) {
    const u = users[j];
    const i = items[j];
    const ku = u < nU && userCount[u] > 0;
    const ki = i < nI && itemCount[i] > 0;
    let dot = 0;
    if (ku && ki) for (let c = 0; c < f; c++) dot += P[u * f + c] * Q[i * f + c];
    if (biased) out[j] = mu + (ku ? bu[u] : 0) + (ki ? bi[i] : 0) + dot;
    else out[j] = ku && ki ? dot : mu;
  }
}

/**
 * Ranking scores of every item for each user, from the factor form plus the user's
 * constant: biased μ + b_u + b_i + p_u·q_i (= the estimate: unseen rows and biases are
 * zero), unbiased p_u·q_i (0 where a side is unseen, unlike the μ of the estimate).
 */
export function mfEstimateRows(
  mu: number,
  biased: boolean,
  f: number,
  P: Float32Array,
  Q: Float32Array,
  bu: Float32Array,
  bi: Float32Array,
  nItems: number,
  users: Int32Array,
  out: Float32Array,
): void {
  for (let r = 0; r < users.length; r++) {
    const u = users[r];
    const c0 = biased ? mu + bu[u] : 0;
    const po = u * f;
    const row = r * nItems;
    for (let i = 0; i < nItems; i++) {
      let dot = 0;
      for (let c = 0; c < f; c++) dot += P[po + c] * Q[i * f + c];
      out[row + i] = (biased ? c0 + bi[i] : 0) + dot;
    }
  }
}

export function copyParams(p: MfParams): MfParams {
  return { P: p.P.slice(), Q: p.Q.slice(), bu: p.bu.slice(), bi: p.bi.slice() };
}

export function setParams(p: MfParams, from: MfParams): void {
  p.P.set(from.P);
  p.Q.set(from.Q);
  p.bu.set(from.bu);
  p.bi.set(from.bi);
}
