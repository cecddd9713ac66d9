/**
 * Off-policy estimators: the value of a target policy π from events logged by another
 * policy μ, each event i with reward r_i, the logging propensity μ_i = μ(a_i | x_i) and the
 * target's probability π_i = π(a_i | x_i) of the same action (1 or 0 for a deterministic
 * target), w_i = π_i / μ_i. Generic over arrays: they know nothing of users or items.
 *
 *   IPS    (1/n) Σ w_i r_i                       unbiased when μ_i > 0 wherever π puts mass
 *                                               and the propensities are the true ones
 *   SNIPS  Σ w_i r_i / Σ w_i                     self-normalised: biased (O(1/n)), but a convex
 *                                               combination of rewards, so inside their range,
 *                                               and much less variable under large weights
 *   DR     (1/n) Σ [ q̂_π(x_i) + w_i (r_i − q̂(x_i, a_i)) ]
 *                                               q̂ a direct model of E[r | x, a], q̂_π(x) =
 *                                               Σ_a π(a|x) q̂(x, a); unbiased when either the
 *                                               propensities or q̂ are right, and its variance
 *                                               falls as q̂ gets better (Dudík et al. 2011)
 *   PI     (1/n) Σ r_i (Σ_j π_ij/μ_ij − K + 1)   slates of K, with per-position marginals μ_ij =
 *                                               μ(item at position j), π_ij likewise (the
 *                                               pseudo-inverse estimator, Swaminathan et al.
 *                                               2017, in its closed form for a logging policy
 *                                               that draws positions independently); unbiased
 *                                               when the reward is additive over positions
 *
 * Every estimator has the same small shape (Open Bandit Pipeline's idea): it states its
 * per-event terms, value = Σ num_i / Σ den_i (den ≡ 1 except for SNIPS), and the
 * importance weights behind them. The value, the bootstrap interval and the effective
 * sample size are then computed once for all of them (`estimateAll`), the interval from
 * one set of resampled events shared by every estimator (paired), so their intervals
 * compare like for like.
 *
 * Effective sample size: (Σ w_i)² / Σ w_i² (Kish); n when every weight is equal, near 1
 * when one event carries the estimate.
 *
 * Events of one user session share a user and states that follow from each other, so
 * they are not independent draws; with `cluster` (a session id per event) the bootstrap
 * resamples sessions whole (the cluster bootstrap), which keeps that dependence in the
 * interval instead of pretending to n independent events.
 */
import { GnnrlError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { quantileSorted } from '../bootstrap.js';

/** What the estimators read, one entry per logged event (n × K for the per-position arrays). */
export interface OpeInput {
  reward: ArrayLike<number>;
  /** μ(a_i | x_i) in (0, 1]. */
  propensity: ArrayLike<number>;
  /** π(a_i | x_i) in [0, 1]. */
  target: ArrayLike<number>;
  /** q̂(x_i, a_i): the direct model at the logged action (DR). */
  directLogged?: ArrayLike<number>;
  /** Σ_a π(a | x_i) q̂(x_i, a): the direct model's value of the target in x_i (DR). */
  directTarget?: ArrayLike<number>;
  /** K of the slates (PI). */
  slateSize?: number;
  /** n × K: μ(logged item at position j | x_i) (PI). */
  positionPropensity?: ArrayLike<number>;
  /** n × K: π(logged item at position j | x_i) (PI). */
  positionTarget?: ArrayLike<number>;
  /**
   * Cluster of each event (a session id): the bootstrap then resamples whole clusters,
   * since events of one session are not independent. Absent: events are resampled alone.
   */
  cluster?: ArrayLike<number>;
}

/** Per-event terms of one estimator: value = Σ num / Σ den (den null ≡ every den = 1). */
export interface EstimatorTerms {
  num: Float64Array;
  den: Float64Array | null;
  /** The importance weights the estimate rests on (for the effective sample size). */
  weights: Float64Array;
}

export interface OpeEstimator {
  /** 'ips', 'snips', 'dr', 'pi'. */
  readonly name: string;
  readonly display: string;
  /** What it needs to be right, for reports. */
  readonly assumes: string;
  terms(input: OpeInput): EstimatorTerms;
}

export interface OpeEstimate {
  estimator: string;
  display: string;
  value: number;
  /** Percentile bootstrap interval over events. */
  ci95: [number, number];
  /** (Σ w)² / Σ w². */
  ess: number;
  n: number;
  meanWeight: number;
  maxWeight: number;
}

export interface OpeOptions {
  /** Bootstrap resamples (default 1000). */
  replicates?: number;
  /** Interval coverage (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 1). */
  seed?: number;
}

function n(input: OpeInput): number {
  const len = input.reward.length;
  if (len === 0) throw new GnnrlError('input', 'ope: the log has no events to estimate from', { arg: 'reward' });
  return len;
}

function need(input: OpeInput, field: keyof OpeInput, who: string, len: number): ArrayLike<number> {
  const v = input[field] as ArrayLike<number> | undefined;
  if (!v) throw new GnnrlError('input', `ope: ${who} needs ${field}`, { arg: field });
  if (v.length !== len) throw new GnnrlError('input', `ope: ${field}: expected ${len} values, got ${v.length}`, { arg: field });
  for (let i = 0; i < len; i++) if (!Number.isFinite(v[i])) throw new GnnrlError('input', `ope: ${field}[${i}]: expected a finite number, got ${v[i]}`, { arg: field, index: i });
  return v;
}

function probabilities(v: ArrayLike<number>, field: string, positive: boolean): void {
  for (let i = 0; i < v.length; i++) {
    const p = v[i];
    if (!(positive ? p > 0 && p <= 1 : p >= 0 && p <= 1)) throw new GnnrlError('input', `ope: ${field}[${i}]: expected a probability in ${positive ? '(0, 1]' : '[0, 1]'}, got ${p}`, { arg: field, index: i });
  }
}

/** w_i = π_i / μ_i, checked. */
export function importanceWeights(input: OpeInput): Float64Array {
  const len = n(input);
  need(input, 'reward', 'every estimator', len);
  const mu = need(input, 'propensity', 'every estimator', len);
  const pi = need(input, 'target', 'every estimator', len);
  probabilities(mu, 'propensity', true);
  probabilities(pi, 'target', false);
  const w = new Float64Array(len);
  for (let i = 0; i < len; i++) w[i] = pi[i] / mu[i];
  return w;
}

export const ips: OpeEstimator = {
  name: 'ips',
  display: 'IPS',
  assumes: 'true logging propensities, positive wherever the target acts',
  terms(input) {
    const w = importanceWeights(input);
    const num = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) num[i] = w[i] * input.reward[i];
    return { num, den: null, weights: w };
  },
};

export const snips: OpeEstimator = {
  name: 'snips',
  display: 'SNIPS',
  assumes: 'as IPS; self-normalised (slightly biased, bounded by the reward range)',
  terms(input) {
    const w = importanceWeights(input);
    const num = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) num[i] = w[i] * input.reward[i];
    return { num, den: w, weights: w };
  },
};

export const doublyRobust: OpeEstimator = {
  name: 'dr',
  display: 'DR',
  assumes: 'true propensities or a correct direct model (either suffices)',
  terms(input) {
    const w = importanceWeights(input);
    const qa = need(input, 'directLogged', 'DR', w.length);
    const qp = need(input, 'directTarget', 'DR', w.length);
    const num = new Float64Array(w.length);
    for (let i = 0; i < w.length; i++) num[i] = qp[i] + w[i] * (input.reward[i] - qa[i]);
    return { num, den: null, weights: w };
  },
};

export const pseudoInverse: OpeEstimator = {
  name: 'pi',
  display: 'PI (slates)',
  assumes: 'a reward additive over slate positions and a logging policy that draws positions independently',
  terms(input) {
    const len = n(input);
    const K = input.slateSize;
    if (!(Number.isInteger(K) && K! >= 1)) throw new GnnrlError('input', `ope: PI needs slateSize, an integer >= 1, got ${K}`, { arg: 'slateSize' });
    const reward = need(input, 'reward', 'PI', len);
    const mu = need(input, 'positionPropensity', 'PI', len * K!);
    const pi = need(input, 'positionTarget', 'PI', len * K!);
    probabilities(mu, 'positionPropensity', true);
    probabilities(pi, 'positionTarget', false);
    const num = new Float64Array(len);
    const weights = new Float64Array(len);
    for (let i = 0; i < len; i++) {
      let g = 1 - K!;
      for (let j = 0; j < K!; j++) g += pi[i * K! + j] / mu[i * K! + j];
      weights[i] = g;
      num[i] = g * reward[i];
    }
    return { num, den: null, weights };
  },
};

export const ESTIMATORS: readonly OpeEstimator[] = [ips, snips, doublyRobust, pseudoInverse];

/** Σ num / Σ den. */
function ratio(t: EstimatorTerms): number {
  let s = 0;
  let d = 0;
  for (let i = 0; i < t.num.length; i++) {
    s += t.num[i];
    d += t.den ? t.den[i] : 1;
  }
  if (t.den && d === 0) throw new GnnrlError('input', 'ope: SNIPS: every importance weight is 0 (the target never takes a logged action); its value is undefined', { arg: 'target' });
  return s / d;
}

/** The point estimate of one estimator. */
export function estimateValue(est: OpeEstimator, input: OpeInput): number {
  return ratio(est.terms(input));
}

/** Kish's effective sample size of weights. */
export function effectiveSampleSize(w: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < w.length; i++) {
    s += w[i];
    s2 += w[i] * w[i];
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}

/**
 * Every estimator's value, bootstrap interval and effective sample size on one input.
 * The bootstrap draws one set of event multiplicities per replicate and applies it to all
 * estimators (paired resampling, as `bootstrapCIs` does for metrics).
 */
export function estimateAll(estimators: readonly OpeEstimator[], input: OpeInput, opts: OpeOptions = {}): OpeEstimate[] {
  const replicates = opts.replicates ?? 1000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(replicates) || replicates < 1) throw new GnnrlError('input', `ope: replicates: expected a positive integer, got ${replicates}`, { arg: 'replicates' });
  if (!(level > 0 && level < 1)) throw new GnnrlError('input', `ope: level: expected a number in (0, 1), got ${level}`, { arg: 'level' });
  const terms = estimators.map((e) => e.terms(input));
  const len = n(input);
  const rng = new Rng(opts.seed ?? 1);
  const times = new Int32Array(len);
  const reps = terms.map(() => new Float64Array(replicates));
  const clusters = clusterIndex(input.cluster, len);
  const clusterTimes = clusters ? new Int32Array(clusters.count) : null;
  for (let b = 0; b < replicates; b++) {
    times.fill(0);
    if (clusters && clusterTimes) {
      clusterTimes.fill(0);
      for (let c = 0; c < clusters.count; c++) clusterTimes[rng.int(clusters.count)]++;
      for (let j = 0; j < len; j++) times[j] = clusterTimes[clusters.of[j]];
    } else {
      for (let j = 0; j < len; j++) times[rng.int(len)]++;
    }
    terms.forEach((t, m) => {
      let s = 0;
      let d = 0;
      for (let j = 0; j < len; j++) {
        const c = times[j];
        if (!c) continue;
        s += c * t.num[j];
        d += c * (t.den ? t.den[j] : 1);
      }
      // A resample with every SNIPS weight 0 has no value; it counts as the full-sample one.
      reps[m][b] = d !== 0 ? s / d : ratio(t);
    });
  }
  const tail = (1 - level) / 2;
  return estimators.map((e, m) => {
    const t = terms[m];
    const sorted = reps[m].sort();
    let wSum = 0;
    let wMax = -Infinity;
    for (let i = 0; i < t.weights.length; i++) {
      wSum += t.weights[i];
      wMax = Math.max(wMax, t.weights[i]);
    }
    return {
      estimator: e.name,
      display: e.display,
      value: ratio(t),
      ci95: [quantileSorted(sorted, tail), quantileSorted(sorted, 1 - tail)] as [number, number],
      ess: effectiveSampleSize(t.weights),
      n: len,
      meanWeight: wSum / len,
      maxWeight: wMax,
    };
  });
}

/** Dense cluster indices 0..count−1 of `cluster` (in order of first appearance), or null without clusters. */
function clusterIndex(cluster: ArrayLike<number> | undefined, len: number): { of: Int32Array; count: number } | null {
  if (!cluster) return null;
  if (cluster.length !== len) throw new GnnrlError('input', `ope: cluster: expected ${len} values, got ${cluster.length}`, { arg: 'cluster' });
  const ids = new Map<number, number>();
  const of = new Int32Array(len);
  for (let j = 0; j < len; j++) {
    const c = cluster[j];
    if (!Number.isFinite(c)) throw new GnnrlError('input', `ope: cluster[${j}]: expected a finite id, got ${c}`, { arg: 'cluster', index: j });
    let k = ids.get(c);
    if (k === undefined) ids.set(c, (k = ids.size));
    of[j] = k;
  }
  return { of, count: ids.size };
}

/** One estimator's value and interval (the shared bootstrap, for one). */
export function estimateInterval(est: OpeEstimator, input: OpeInput, opts: OpeOptions = {}): OpeEstimate {
  return estimateAll([est], input, opts)[0];
}
