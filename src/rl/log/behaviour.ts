/**
 * A behaviour model: an estimate μ̂ of the logging policy, for logs that do not say how
 * probable their actions were (`loadLog(…, { propensity: 'estimate' })`).
 *
 * The model is a multinomial logit over the items a context could be shown (outside its
 * history window, and for a slate's later positions outside the earlier ones, the same
 * Plackett–Luce structure as `SoftmaxLoggingPolicy`):
 *
 *   μ̂(a | x) ∝ exp(c_a + β·s(x, a))
 *
 * with a per-item intercept c_a (the logger's popularity) and, when the caller gives them,
 * one weight β on context scores s(x, a) (a fitted model's scores for the event's user:
 * a softmax over factor scores). Maximum likelihood on the logged actions: the intercepts
 * by iterative scaling (c_a += log(count_a + α) − log(expected_a + α), α a small additive
 * smoothing that keeps never-logged items finite) and β by a Newton step, alternately.
 *
 * Estimated propensities carry the model's error into every estimator: IPS with μ̂ is
 * unbiased only as far as μ̂ = μ. The loader marks such logs `propensitySource: 'estimated'`.
 */
import { GnnrlError, check } from '../../errors.js';
import type { LoggedData } from './format.js';

export interface BehaviourOptions {
  /** Items of the catalogue (default: the largest logged item + 1). */
  nItems?: number;
  /** Context scores s(x, a), n × nItems (one row per event), or none (intercepts only). */
  scores?: Float32Array;
  /** Items in the event's history window cannot be shown (default true, as the logging policies do). */
  excludeHistory?: boolean;
  /** Fitting passes (default 60). */
  iterations?: number;
  /** Additive smoothing α of the item counts (default 0.5). */
  smoothing?: number;
}

export interface BehaviourModel {
  readonly nItems: number;
  /** c_a. */
  readonly intercept: Float64Array;
  /** β (0 without scores). */
  readonly beta: number;
  /** Mean log-likelihood of the logged actions per position, for reports. */
  readonly logLikelihood: number;
  /** μ̂ of each logged action of `log` (the log it was fitted on, or one with the same scores' rows). */
  propensities(log: LoggedData): Float64Array;
}

/** Fills `p` with the next-position distribution of event j; returns log μ̂ of `chosen` (or 0). */
function positionDistribution(
  log: LoggedData,
  j: number,
  pos: number,
  nItems: number,
  intercept: Float64Array,
  beta: number,
  scores: Float32Array | undefined,
  excludeHistory: boolean,
  p: Float64Array,
): void {
  const H = log.historyLen;
  const K = log.slateSize;
  let maxL = -Infinity;
  for (let a = 0; a < nItems; a++) {
    const l = intercept[a] + (scores ? beta * scores[j * nItems + a] : 0);
    p[a] = l;
    if (l > maxL) maxL = l;
  }
  let z = 0;
  for (let a = 0; a < nItems; a++) z += p[a] = Math.exp(p[a] - maxL);
  const drop = (a: number) => {
    if (a >= 0 && p[a] > 0) {
      z -= p[a];
      p[a] = 0;
    }
  };
  if (excludeHistory) for (let t = 0; t < H; t++) drop(log.history[j * H + t]);
  for (let q = 0; q < pos; q++) drop(log.slate[j * K + q]);
  if (!(z > 0)) throw new GnnrlError('input', `behaviour model: event ${j}, position ${pos} has no item it could have been shown`, { arg: 'log', index: j });
  for (let a = 0; a < nItems; a++) p[a] /= z;
}

export function fitBehaviourModel(log: LoggedData, opts: BehaviourOptions = {}): BehaviourModel {
  let maxItem = 0;
  for (let j = 0; j < log.slate.length; j++) maxItem = Math.max(maxItem, log.slate[j]);
  for (let j = 0; j < log.history.length; j++) maxItem = Math.max(maxItem, log.history[j]);
  const nItems = opts.nItems ?? maxItem + 1;
  check(Number.isInteger(nItems) && nItems > maxItem, 'behaviour.nItems', `an integer above the largest logged item ${maxItem}, got ${nItems}`);
  const scores = opts.scores;
  if (scores && scores.length !== log.n * nItems) throw new GnnrlError('input', `behaviour.scores: expected n × nItems = ${log.n} × ${nItems} values, got ${scores.length}`, { arg: 'behaviour.scores' });
  const excludeHistory = opts.excludeHistory ?? true;
  const iterations = opts.iterations ?? 60;
  const alpha = opts.smoothing ?? 0.5;
  check(Number.isInteger(iterations) && iterations >= 1, 'behaviour.iterations', `an integer >= 1, got ${iterations}`);
  check(alpha > 0, 'behaviour.smoothing', `a number > 0, got ${alpha}`);
  const K = log.slateSize;
  const counts = new Float64Array(nItems);
  for (let j = 0; j < log.slate.length; j++) counts[log.slate[j]]++;
  const intercept = new Float64Array(nItems);
  for (let a = 0; a < nItems; a++) intercept[a] = Math.log(counts[a] + alpha);
  let beta = 0;
  const p = new Float64Array(nItems);
  const expected = new Float64Array(nItems);
  let logLik = 0;
  for (let it = 0; it < iterations; it++) {
    expected.fill(0);
    let g = 0;
    let h = 0;
    logLik = 0;
    for (let j = 0; j < log.n; j++) {
      for (let pos = 0; pos < K; pos++) {
        positionDistribution(log, j, pos, nItems, intercept, beta, scores, excludeHistory, p);
        const chosen = log.slate[j * K + pos];
        logLik += Math.log(Math.max(p[chosen], 1e-300));
        let m1 = 0;
        let m2 = 0;
        for (let a = 0; a < nItems; a++) {
          expected[a] += p[a];
          if (scores && p[a] > 0) {
            const s = scores[j * nItems + a];
            m1 += p[a] * s;
            m2 += p[a] * s * s;
          }
        }
        if (scores) {
          g += scores[j * nItems + chosen] - m1;
          h += m2 - m1 * m1;
        }
      }
    }
    for (let a = 0; a < nItems; a++) intercept[a] += Math.log(counts[a] + alpha) - Math.log(expected[a] + alpha);
    // Newton on β (the log-likelihood is concave in it); a bounded step keeps early passes tame.
    if (scores && h > 1e-12) beta += Math.max(-5, Math.min(5, g / h));
  }
  let mean = 0;
  for (let a = 0; a < nItems; a++) mean += intercept[a] / nItems;
  for (let a = 0; a < nItems; a++) intercept[a] -= mean;
  const fittedBeta = beta;
  return {
    nItems,
    intercept,
    beta: fittedBeta,
    logLikelihood: logLik / Math.max(1, log.n * K),
    propensities(target: LoggedData): Float64Array {
      if (scores && target.n !== log.n) throw new GnnrlError('input', `behaviour model: fitted with scores for ${log.n} events, asked about ${target.n}`, { arg: 'log' });
      const out = new Float64Array(target.n);
      const q = new Float64Array(nItems);
      const Kt = target.slateSize;
      for (let j = 0; j < target.n; j++) {
        let prob = 1;
        for (let pos = 0; pos < Kt; pos++) {
          positionDistribution(target, j, pos, nItems, intercept, fittedBeta, scores, excludeHistory, q);
          prob *= q[target.slate[j * Kt + pos]];
        }
        if (!(prob > 0)) throw new GnnrlError('input', `behaviour model: event ${j} shows an item of its history window, which the model excludes; fit with excludeHistory: false`, { arg: 'log', index: j });
        out[j] = prob;
      }
      return out;
    },
  };
}
