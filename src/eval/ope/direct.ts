/**
 * Turning any score into a direct model of expected reward, for doubly robust: a ranking
 * model's scores (BPR logits, factor dot products) are not rewards, so DR calibrates them
 * on the logged events: q̂ = σ(a·s + b) fitted by Newton's method on the cross-entropy
 * when every reward lies in [0, 1] (clicks), else q̂ = a·s + b by least squares. Two
 * parameters: the calibration cannot overfit a log of any useful size, and a constant
 * score degenerates to the mean reward (DR then equals a baseline-corrected IPS).
 */
import { GnnrlError } from '../../errors.js';

export interface Calibration {
  link: 'logistic' | 'linear';
  a: number;
  b: number;
  /** q̂ for a score. */
  (score: number): number;
}

export function calibrateScores(score: ArrayLike<number>, reward: ArrayLike<number>): Calibration {
  const n = score.length;
  if (n === 0 || reward.length !== n) throw new GnnrlError('input', `calibrate: expected as many scores as rewards (> 0), got ${n} and ${reward.length}`, { arg: 'score' });
  let lo = Infinity;
  let hi = -Infinity;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(score[i]) || !Number.isFinite(reward[i])) throw new GnnrlError('input', `calibrate: event ${i}: score ${score[i]}, reward ${reward[i]}; expected finite numbers`, { arg: 'score', index: i });
    lo = Math.min(lo, reward[i]);
    hi = Math.max(hi, reward[i]);
    mean += reward[i] / n;
  }
  const make = (link: Calibration['link'], a: number, b: number): Calibration => {
    const f = (link === 'logistic' ? (s: number) => 1 / (1 + Math.exp(-(a * s + b))) : (s: number) => a * s + b) as Calibration;
    return Object.assign(f, { link, a, b });
  };
  // Standardise the score so that Newton starts well-conditioned.
  let sm = 0;
  for (let i = 0; i < n; i++) sm += score[i] / n;
  let sv = 0;
  for (let i = 0; i < n; i++) sv += (score[i] - sm) ** 2 / n;
  const sd = Math.sqrt(sv);
  const z = (i: number) => (sd > 0 ? (score[i] - sm) / sd : 0);
  if (lo >= 0 && hi <= 1) {
    const m = Math.min(Math.max(mean, 1e-6), 1 - 1e-6);
    let a = 0;
    let b = Math.log(m / (1 - m));
    for (let it = 0; it < 50; it++) {
      let ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
      for (let i = 0; i < n; i++) {
        const x = z(i);
        const p = 1 / (1 + Math.exp(-(a * x + b)));
        const e = reward[i] - p;
        const v = p * (1 - p);
        ga += e * x;
        gb += e;
        haa += v * x * x;
        hab += v * x;
        hbb += v;
      }
      // A small ridge keeps the step defined when the score separates the rewards.
      haa += 1e-6 * n;
      hbb += 1e-6 * n;
      const det = haa * hbb - hab * hab;
      if (!(det > 0)) break;
      const da = (hbb * ga - hab * gb) / det;
      const db = (haa * gb - hab * ga) / det;
      a += da;
      b += db;
      if (Math.abs(da) + Math.abs(db) < 1e-10) break;
    }
    return sd > 0 ? make('logistic', a / sd, b - (a * sm) / sd) : make('logistic', 0, b);
  }
  let sxy = 0;
  for (let i = 0; i < n; i++) sxy += z(i) * (reward[i] - mean);
  const slope = sd > 0 ? sxy / n : 0;
  return sd > 0 ? make('linear', slope / sd, mean - (slope * sm) / sd) : make('linear', 0, mean);
}
