/**
 * NMF: non-negative matrix factorisation r̂_ui = q_i·p_u with p, q ≥ 0, fit by the
 * regularised multiplicative updates of Luo et al. (2014), as the reference
 * implementation does. Each epoch first accumulates, over every rating with the
 * current factors (est = r̂_ui),
 *
 *   U⁺_uf = Σ_{i∈R(u)} q_if r_ui     U⁻_uf = Σ_{i∈R(u)} q_if est_ui
 *   I⁺_if = Σ_{u∈R(i)} p_uf r_ui     I⁻_if = Σ_{u∈R(i)} p_uf est_ui
 *
 * then sets p_uf ← p_uf · U⁺_uf / (U⁻_uf + |R(u)| λ_p p_uf) and
 * q_if ← q_if · I⁺_if / (I⁻_if + |R(i)| λ_q q_if), both from the same accumulations.
 * Non-negative ratings and initial values keep every factor non-negative.
 *
 * Biased (`biased: true`): est = μ + b_u + b_i + q_i·p_u, with the biases moved by an
 * SGD step per rating during the accumulation pass (ratings in log order).
 */
import { GnnrlError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import type { EpochOutcome } from '../fit-loop.js';
import type { ModelState } from '../types.js';
import type { ModelContext } from './base.js';
import { PROGRESS_EVERY, checkKind, epochOutcome, fillUniform, optBool, optInt, optNum, reportProgress, type EpochProgress } from './common.js';
import { MF_ARRAYS, MfModel, initMfParams, savedOptions, type MfParams, type MfRun, type SvdInit } from './mf-base.js';
import type { RatingData } from './rating-stats.js';

/**
 * Options of NMF, defaulted as the reference implementation (Surprise) does: 15
 * `factors`, 50 `epochs`, `biased` false, `regPu` 0.06, `regQi` 0.06, factors drawn
 * uniformly from [`initLow` 0, `initHigh` 1) by a generator seeded with `seed` (default
 * 1); for the biased variant `lrBu` 0.005, `lrBi` 0.005, `regBu` 0.02, `regBi` 0.02.
 */
export interface NmfOptions {
  factors?: number;
  epochs?: number;
  biased?: boolean;
  regPu?: number;
  regQi?: number;
  regBu?: number;
  regBi?: number;
  lrBu?: number;
  lrBi?: number;
  initLow?: number;
  initHigh?: number;
  seed?: number;
  /** Initial parameters instead of random ones (factors must be non-negative). Not part of `state().config`. */
  init?: SvdInit;
}

export type ResolvedNmfOptions = Required<Omit<NmfOptions, 'init'>>;

function resolveNmfOptions(o: NmfOptions): ResolvedNmfOptions {
  const m = 'NMF';
  const initLow = optNum(m, 'initLow', o.initLow, 0);
  return {
    factors: optInt(m, 'factors', o.factors, 15, 1),
    epochs: optInt(m, 'epochs', o.epochs, 50, 0),
    biased: optBool(m, 'biased', o.biased, false),
    regPu: optNum(m, 'regPu', o.regPu, 0.06),
    regQi: optNum(m, 'regQi', o.regQi, 0.06),
    regBu: optNum(m, 'regBu', o.regBu, 0.02),
    regBi: optNum(m, 'regBi', o.regBi, 0.02),
    lrBu: optNum(m, 'lrBu', o.lrBu, 0.005),
    lrBi: optNum(m, 'lrBi', o.lrBi, 0.005),
    initLow,
    initHigh: optNum(m, 'initHigh', o.initHigh, 1, initLow),
    seed: optInt(m, 'seed', o.seed, 1, -(2 ** 31)),
  };
}

/**
 * NMF: see the module comment. Predictions are clipped to the training rating range.
 * Unbiased: a pair whose user or item was unseen in training is predicted as the global
 * mean μ; biased: the baseline μ + b_u + b_i of the side that was seen. Factor form:
 * users p_u, items q_i (item bias b_i when biased). Needs explicit, non-negative ratings.
 */
export class NMF extends MfModel<ResolvedNmfOptions, MfParams> {
  readonly kind = 'nmf';
  readonly name = 'NMF';

  constructor(options: NmfOptions = {}, ctx: ModelContext = {}) {
    super(MF_ARRAYS, resolveNmfOptions(options), options.init, ctx);
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): NMF {
    checkKind(state, 'nmf', 'NMF');
    return new NMF(savedOptions<NmfOptions>(state), ctx).restore(state);
  }

  /** Checks that ratings and initial factors are non-negative; factors from U[initLow, initHigh); then `nmfEpoch` per epoch. */
  protected start(d: RatingData): MfRun<MfParams> {
    if (d.ratingMin < 0) {
      throw new GnnrlError('input', `NMF.fit: train.rating: expected non-negative ratings (multiplicative updates keep factors non-negative), got a minimum of ${d.ratingMin}; shift the scale or use SVD`, {
        arg: 'train.rating',
      });
    }
    const o = this.options;
    const rng = new Rng(o.seed);
    const p = initMfParams(this.name, d, o.factors, (a) => fillUniform(a, rng, o.initLow, o.initHigh), this.init);
    for (const [name, a] of [['userFactors', p.P], ['itemFactors', p.Q]] as const) {
      const bad = a.findIndex((v) => !(v >= 0));
      if (bad >= 0) throw new GnnrlError('input', `NMF: options.init.${name}[${bad}]: expected a non-negative factor, got ${a[bad]}`, { arg: `options.init.${name}`, index: bad });
    }
    const acc = {
      uNum: new Float64Array(d.nUsers * o.factors),
      uDen: new Float64Array(d.nUsers * o.factors),
      iNum: new Float64Array(d.nItems * o.factors),
      iDen: new Float64Array(d.nItems * o.factors),
    };
    return { params: p, epoch: (progress, signal) => nmfEpoch(d, p, o, acc, progress, signal) };
  }
}

interface NmfAccumulators {
  uNum: Float64Array;
  uDen: Float64Array;
  iNum: Float64Array;
  iDen: Float64Array;
}

/**
 * One epoch: the accumulation pass (and bias steps), then the multiplicative updates.
 * Returns the mean squared error of the estimates of the accumulation pass. An abort
 * during the pass skips the factor update of that epoch.
 */
function nmfEpoch(
  d: RatingData,
  p: MfParams,
  o: ResolvedNmfOptions,
  acc: NmfAccumulators,
  progress?: EpochProgress,
  signal?: AbortSignal,
): EpochOutcome {
  const { P, Q, bu, bi } = p;
  const f = o.factors;
  const { uNum, uDen, iNum, iDen } = acc;
  uNum.fill(0);
  uDen.fill(0);
  iNum.fill(0);
  iDen.fill(0);
  const biased = o.biased;
  const mu = d.globalMean;
  const { user, item, rating } = d;
  const n = rating.length;
  let sq = 0;
  let done = 0;
  let aborted = false;
  for (let e = 0; e < n; e++) {
    const u = user[e];
    const i = item[e];
    const r = rating[e];
    const po = u * f;
    const qo = i * f;
    let dot = 0;
    for (let c = 0; c < f; c++) dot += P[po + c] * Q[qo + c];
    const est = biased ? mu + bu[u] + bi[i] + dot : dot;
    const err = r - est;
    if (biased) {
      bu[u] += o.lrBu * (err - o.regBu * bu[u]);
      bi[i] += o.lrBi * (err - o.regBi * bi[i]);
    }
    for (let c = 0; c < f; c++) {
      const pf = P[po + c];
      const qf = Q[qo + c];
      uNum[po + c] += qf * r;
      uDen[po + c] += qf * est;
      iNum[qo + c] += pf * r;
      iDen[qo + c] += pf * est;
    }
    sq += err * err;
    done++;
    if (done % PROGRESS_EVERY === 0 && reportProgress(progress, done, n, sq, signal)) {
      aborted = true;
      break;
    }
  }
  if (!aborted) {
    multiplicative(P, uNum, uDen, d.userCount, o.regPu, f);
    multiplicative(Q, iNum, iDen, d.itemCount, o.regQi, f);
  }
  return epochOutcome(progress, done, n, sq);
}

/** x_rf ← x_rf · num_rf / (den_rf + count_r λ x_rf), skipping entries whose denominator is not positive (rows without ratings). */
function multiplicative(X: Float32Array, num: Float64Array, den: Float64Array, count: Int32Array, reg: number, f: number): void {
  for (let r = 0; r < count.length; r++) {
    const nr = count[r];
    if (nr === 0) continue;
    for (let c = r * f; c < (r + 1) * f; c++) {
      const x = X[c];
      const dn = den[c] + nr * reg * x;
      if (dn > 0) X[c] = x * (num[c] / dn);
    }
  }
}
