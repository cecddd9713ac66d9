/**
 * The top-K off-policy correction of Chen et al., "Top-K Off-Policy Correction for a
 * REINFORCE Recommender System" (WSDM 2019), as host arithmetic on per-event numbers.
 *
 * Data logged by a behaviour policy β is reweighted toward the policy π being learned:
 *
 *     w = π(a|s) / β(a|s)                        importance weight (Williams' REINFORCE
 *                                                 gradient, reweighted: E_β[w ∇log π] = E_π[∇log π])
 *     w ← min(π / max(β, clip), cap)             the denominator floored at `clip` (a
 *                                                 near-zero β would explode w) and w capped
 *                                                 at `cap`, trading bias for variance
 *     λ_K = K (1 − π(a|s))^{K−1}                 the top-K multiplier: a slate of K shows a
 *                                                 when any of K draws from π picks it, with
 *                                                 probability α = 1 − (1 − π)^K, and
 *                                                 ∇α = λ_K ∇π, so λ_K reweights ∇log π toward
 *                                                 items the slate does not already show
 *
 * The corrected policy gradient is Σ w·λ_K·G·∇log π with w and λ_K held fixed (not
 * differentiated). K = 1 gives λ = 1: plain (capped) importance sampling.
 */
import { GnnrlError } from '../../errors.js';

export interface CorrectionOptions {
  /** Floor on β in the denominator (default 1e-8, range [0, 1)): only guards underflow by default. */
  clip?: number;
  /** Upper cap on w (default 10, range (0, ∞]; Infinity: uncapped). */
  cap?: number;
}

export interface ResolvedCorrection {
  clip: number;
  cap: number;
}

/** Checks and fills the correction options; `prefix` names the caller in messages. */
export function resolveCorrection(o: CorrectionOptions, prefix = 'reinforce'): ResolvedCorrection {
  if (o.clip !== undefined && !(typeof o.clip === 'number' && o.clip >= 0 && o.clip < 1)) {
    throw new GnnrlError('input', `${prefix}: clip: expected a number in [0, 1) (the floor on β), got ${JSON.stringify(o.clip)}`, { arg: 'clip' });
  }
  if (o.cap !== undefined && !(typeof o.cap === 'number' && o.cap > 0 && !Number.isNaN(o.cap))) {
    throw new GnnrlError('input', `${prefix}: cap: expected a number > 0 (or Infinity), got ${JSON.stringify(o.cap)}`, { arg: 'cap' });
  }
  return { clip: o.clip ?? 1e-8, cap: o.cap ?? 10 };
}

/** λ_K = K(1 − π)^{K−1} for π ∈ [0, 1] and a slate of K ≥ 1. */
export function lambdaK(pi: number, K: number): number {
  if (!(Number.isInteger(K) && K >= 1)) throw new GnnrlError('input', `lambdaK: K: expected an integer >= 1, got ${K}`, { arg: 'K' });
  if (!(pi >= 0 && pi <= 1)) throw new GnnrlError('input', `lambdaK: pi: expected a probability in [0, 1], got ${pi}`, { arg: 'pi' });
  return K === 1 ? 1 : K * Math.pow(1 - pi, K - 1);
}

/** w = min(π / max(β, clip), cap) ∈ [0, cap]. β must be in (0, 1] (or 0 with clip > 0). */
export function importanceWeight(pi: number, beta: number, o: ResolvedCorrection): number {
  if (!(pi >= 0 && pi <= 1)) throw new GnnrlError('input', `importanceWeight: pi: expected a probability in [0, 1], got ${pi}`, { arg: 'pi' });
  if (!(beta >= 0 && beta <= 1)) throw new GnnrlError('input', `importanceWeight: beta: expected a probability in [0, 1], got ${beta}`, { arg: 'beta' });
  const den = Math.max(beta, o.clip);
  if (!(den > 0)) throw new GnnrlError('input', 'importanceWeight: beta is 0 and clip is 0: the weight is undefined (set clip > 0)', { arg: 'beta' });
  return Math.min(pi / den, o.cap);
}

export interface CorrectionTerms {
  /** w per event (clipped and capped). */
  weight: Float32Array;
  /** λ_K per event. */
  lambda: Float32Array;
  /** Mean w, share of events whose w hit the cap, and Kish's effective sample size (Σw)²/Σw². */
  meanWeight: number;
  cappedShare: number;
  ess: number;
}

/** w and λ_K of n events from π(a|s) and β(a|s) of each. */
export function correctionTerms(pi: ArrayLike<number>, beta: ArrayLike<number>, K: number, o: ResolvedCorrection): CorrectionTerms {
  const n = pi.length;
  if (beta.length !== n) throw new GnnrlError('input', `correctionTerms: ${n} π values but ${beta.length} β values`, { arg: 'beta' });
  const weight = new Float32Array(n);
  const lambda = new Float32Array(n);
  let s = 0;
  let s2 = 0;
  let capped = 0;
  for (let i = 0; i < n; i++) {
    const w = importanceWeight(pi[i], beta[i], o);
    weight[i] = w;
    lambda[i] = lambdaK(pi[i], K);
    s += w;
    s2 += w * w;
    if (w >= o.cap) capped++;
  }
  return { weight, lambda, meanWeight: n ? s / n : 0, cappedShare: n ? capped / n : 0, ess: s2 > 0 ? (s * s) / s2 : 0 };
}

/** Refuses propensities outside (0, 1] (logged β), naming the event. */
export function checkPropensities(p: ArrayLike<number>, arg = 'log'): void {
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (!(v > 0 && v <= 1)) throw new GnnrlError('input', `${arg}: propensity of event ${i} is ${v}; expected a probability in (0, 1]`, { arg, field: 'propensity', index: i });
  }
}
