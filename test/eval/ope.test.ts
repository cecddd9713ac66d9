/**
 * Off-policy estimators on small problems whose value is known exactly: IPS and DR are
 * unbiased over repeated seeded logs (mean error inside 3 standard errors, and a biased
 * variant fails the same check), DR varies less than IPS with a good direct model, SNIPS
 * stays inside the reward range, the bootstrap intervals cover, the effective sample size
 * behaves, and the pseudo-inverse estimator is unbiased for an additive slate reward
 * (where whole-slate IPS is unbiased too, but far more variable).
 */
import { describe, expect, test } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { GnnrlError } from '../../src/errors.js';
import { doublyRobust, effectiveSampleSize, estimateAll, estimateValue, ips, pseudoInverse, snips, type OpeInput } from '../../src/eval/ope/estimators.js';
import { calibrateScores } from '../../src/eval/ope/direct.js';

/** A contextual bandit: X contexts (uniform), A actions, Bernoulli rewards with means m. */
interface Bandit {
  X: number;
  A: number;
  m: Float64Array;
  mu: Float64Array;
  pi: Float64Array;
  value: number;
}

function softmaxRows(rng: Rng, X: number, A: number, scale: number): Float64Array {
  const p = new Float64Array(X * A);
  for (let x = 0; x < X; x++) {
    let z = 0;
    for (let a = 0; a < A; a++) z += p[x * A + a] = Math.exp(scale * rng.normal());
    for (let a = 0; a < A; a++) p[x * A + a] /= z;
  }
  return p;
}

function bandit(seed: number): Bandit {
  const rng = new Rng(seed);
  const X = 5;
  const A = 6;
  const m = Float64Array.from({ length: X * A }, () => 0.1 + 0.8 * rng.next());
  const mu = softmaxRows(rng, X, A, 1.2); // skewed logger
  const pi = softmaxRows(rng, X, A, 1.5); // a different target
  let value = 0;
  for (let x = 0; x < X; x++) for (let a = 0; a < A; a++) value += (pi[x * A + a] * m[x * A + a]) / X;
  return { X, A, m, mu, pi, value };
}

function draw(rng: Rng, p: Float64Array, base: number, A: number): number {
  let u = rng.next();
  for (let a = 0; a < A; a++) {
    u -= p[base + a];
    if (u < 0) return a;
  }
  return A - 1;
}

/** A log of n events with the estimators' inputs; `q` is the direct model (X × A). */
function logOf(b: Bandit, n: number, seed: number, q: Float64Array, muUsed = b.mu): OpeInput {
  const rng = new Rng(seed);
  const reward = new Float64Array(n);
  const propensity = new Float64Array(n);
  const target = new Float64Array(n);
  const directLogged = new Float64Array(n);
  const directTarget = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = rng.int(b.X);
    const a = draw(rng, b.mu, x * b.A, b.A);
    reward[i] = rng.next() < b.m[x * b.A + a] ? 1 : 0;
    propensity[i] = muUsed[x * b.A + a];
    target[i] = b.pi[x * b.A + a];
    directLogged[i] = q[x * b.A + a];
    let v = 0;
    for (let c = 0; c < b.A; c++) v += b.pi[x * b.A + c] * q[x * b.A + c];
    directTarget[i] = v;
  }
  return { reward, propensity, target, directLogged, directTarget };
}

function meanSd(xs: number[]): { mean: number; sd: number; se: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd, se: sd / Math.sqrt(xs.length) };
}

describe('IPS, SNIPS and DR on a bandit with known value', () => {
  const b = bandit(11);
  const R = 300;
  const n = 400;
  const rng = new Rng(5);
  const good = Float64Array.from(b.m, (v) => v + 0.02 * rng.normal());
  const bad = new Float64Array(b.X * b.A).fill(0.9); // a wrong direct model
  const runs = Array.from({ length: R }, (_, r) => {
    const g = logOf(b, n, 1000 + r, good);
    const w = logOf(b, n, 1000 + r, bad);
    return { ips: estimateValue(ips, g), snips: estimateValue(snips, g), dr: estimateValue(doublyRobust, g), drBad: estimateValue(doublyRobust, w) };
  });

  test('IPS and DR (with a good or a wrong direct model) are unbiased: mean error inside 3 standard errors', () => {
    for (const k of ['ips', 'dr', 'drBad'] as const) {
      const s = meanSd(runs.map((x) => x[k]));
      expect(Math.abs(s.mean - b.value), `${k}: mean ${s.mean} vs ${b.value}, se ${s.se}`).toBeLessThan(3 * s.se);
    }
  });

  test('the check can fail: IPS with wrong (uniform) propensities, and the direct model alone, are biased', () => {
    const uniform = new Float64Array(b.X * b.A).fill(1 / b.A);
    const biased = meanSd(Array.from({ length: R }, (_, r) => estimateValue(ips, logOf(b, n, 1000 + r, good, uniform))));
    expect(Math.abs(biased.mean - b.value)).toBeGreaterThan(3 * biased.se);
    const dm = meanSd(Array.from({ length: 50 }, (_, r) => {
      const x = logOf(b, n, 1000 + r, bad);
      return Array.from(x.directTarget!).reduce((s, v) => s + v, 0) / n;
    }));
    expect(Math.abs(dm.mean - b.value)).toBeGreaterThan(3 * dm.se);
  });

  test("DR's variance is below IPS's when the direct model is good", () => {
    const vIps = meanSd(runs.map((x) => x.ips)).sd ** 2;
    const vDr = meanSd(runs.map((x) => x.dr)).sd ** 2;
    expect(vDr).toBeLessThan(0.8 * vIps);
    // …and not with a wrong one: the gain comes from the model.
    expect(meanSd(runs.map((x) => x.drBad)).sd ** 2).toBeGreaterThan(vDr * 2);
  });

  test('SNIPS stays inside the reward range, even when one weight dominates; IPS does not', () => {
    for (const x of runs) {
      expect(x.snips).toBeGreaterThanOrEqual(0);
      expect(x.snips).toBeLessThanOrEqual(1);
    }
    const input: OpeInput = { reward: [1, 1, 0, 1], propensity: [0.001, 0.5, 0.5, 0.5], target: [1, 0.5, 0.5, 0.5] };
    expect(estimateValue(ips, input)).toBeGreaterThan(100);
    const s = estimateValue(snips, input);
    expect(s).toBeGreaterThan(0.99);
    expect(s).toBeLessThanOrEqual(1);
  });

  test('bootstrap 95% intervals cover the true value in most logs; ESS and weights are reported', () => {
    let cover = { ips: 0, dr: 0, snips: 0 };
    const T = 40;
    for (let r = 0; r < T; r++) {
      const out = estimateAll([ips, snips, doublyRobust], logOf(b, n, 5000 + r, good), { replicates: 300, seed: r + 1 });
      for (const e of out) {
        expect(e.ci95[0]).toBeLessThanOrEqual(e.value);
        expect(e.ci95[1]).toBeGreaterThanOrEqual(e.value);
        expect(e.n).toBe(n);
        expect(e.ess).toBeGreaterThan(1);
        expect(e.ess).toBeLessThan(n);
        if (e.ci95[0] <= b.value && b.value <= e.ci95[1]) cover[e.estimator as keyof typeof cover]++;
      }
    }
    for (const k of ['ips', 'dr', 'snips'] as const) expect(cover[k] / T, k).toBeGreaterThanOrEqual(0.85);
    // The same seed gives the same intervals.
    const a = estimateAll([ips, doublyRobust], logOf(b, n, 1, good), { replicates: 200, seed: 3 });
    expect(estimateAll([ips, doublyRobust], logOf(b, n, 1, good), { replicates: 200, seed: 3 })).toEqual(a);
  });

  test('with session clusters the bootstrap resamples sessions: duplicated events do not narrow the interval', () => {
    const base = logOf(b, n, 77, good);
    const dup = (a: ArrayLike<number>) => Float64Array.from({ length: 5 * a.length }, (_, j) => a[Math.floor(j / 5)]);
    const copies: OpeInput = { reward: dup(base.reward), propensity: dup(base.propensity), target: dup(base.target), directLogged: dup(base.directLogged!), directTarget: dup(base.directTarget!) };
    const width = (x: OpeInput) => {
      const [e] = estimateAll([doublyRobust], x, { replicates: 600, seed: 4 });
      return e.ci95[1] - e.ci95[0];
    };
    const one = width(base);
    const iid = width(copies);
    const clustered = width({ ...copies, cluster: Float64Array.from({ length: 5 * n }, (_, j) => Math.floor(j / 5)) });
    expect(iid).toBeLessThan(0.6 * one); // ≈ 1/√5: five copies passed off as independent
    expect(clustered).toBeGreaterThan(0.8 * one);
    expect(clustered).toBeLessThan(1.25 * one);
    expect(() => estimateAll([ips], { ...base, cluster: [1, 2] })).toThrow(/cluster: expected 400 values, got 2/);
  });

  test('effective sample size: n for equal weights, about 1 when one weight dominates', () => {
    expect(effectiveSampleSize([2, 2, 2, 2])).toBeCloseTo(4, 12);
    expect(effectiveSampleSize([1000, 1, 1, 1])).toBeLessThan(1.01);
    const same = estimateAll([ips], { reward: [1, 0, 1], propensity: [0.3, 0.3, 0.3], target: [0.3, 0.3, 0.3] }, { replicates: 50 })[0];
    expect(same.ess).toBeCloseTo(3, 12);
    expect(same.meanWeight).toBeCloseTo(1, 12);
  });

  test('bad input: coded errors naming the array and index', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as GnnrlError;
      }
      throw new Error('did not throw');
    };
    expect(err(() => estimateValue(ips, { reward: [], propensity: [], target: [] })).message).toMatch(/no events/);
    const zero = err(() => estimateValue(ips, { reward: [1, 0], propensity: [0.5, 0], target: [1, 1] }));
    expect(zero.code).toBe('input');
    expect(zero.message).toMatch(/propensity\[1\]: expected a probability in \(0, 1\], got 0/);
    expect(zero.details.index).toBe(1);
    expect(err(() => estimateValue(ips, { reward: [1], propensity: [1.2], target: [1] })).message).toMatch(/propensity\[0\].*got 1\.2/);
    expect(err(() => estimateValue(ips, { reward: [1, 1], propensity: [0.5], target: [1, 1] })).message).toMatch(/propensity: expected 2 values, got 1/);
    expect(err(() => estimateValue(doublyRobust, { reward: [1], propensity: [0.5], target: [1] })).message).toMatch(/DR needs directLogged/);
    expect(err(() => estimateValue(snips, { reward: [1], propensity: [0.5], target: [0] })).message).toMatch(/SNIPS: every importance weight is 0/);
    expect(err(() => estimateValue(pseudoInverse, { reward: [1], propensity: [0.5], target: [1] })).message).toMatch(/PI needs slateSize/);
  });
});

describe('pseudo-inverse estimator for slates', () => {
  // K positions, each filling from its own pool of A items (so independent draws give
  // distinct items); reward = clicks summed over positions, P(click at j) = φ_j(x, item).
  const K = 3;
  const A = 4;
  const X = 4;
  const rng = new Rng(21);
  const phi = Float64Array.from({ length: X * K * A }, () => 0.05 + 0.25 * rng.next());
  const mu = Array.from({ length: K }, () => softmaxRows(rng, X, A, 1.0)); // μ_j(a | x)
  // A target that is NOT position-factored: per context, one of two whole slates.
  const slates = Array.from({ length: X }, () => [Array.from({ length: K }, () => rng.int(A)), Array.from({ length: K }, () => rng.int(A))]);
  const pick = 0.7;
  const marginal = (x: number, j: number, a: number) => (slates[x][0][j] === a ? pick : 0) + (slates[x][1][j] === a ? 1 - pick : 0);
  let value = 0;
  for (let x = 0; x < X; x++) for (const [s, p] of [[slates[x][0], pick], [slates[x][1], 1 - pick]] as const) for (let j = 0; j < K; j++) value += (p * phi[(x * K + j) * A + s[j]]) / X;

  function slateLog(n: number, seed: number) {
    const r = new Rng(seed);
    const reward = new Float64Array(n);
    const positionPropensity = new Float64Array(n * K);
    const positionTarget = new Float64Array(n * K);
    const propensity = new Float64Array(n);
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = r.int(X);
      let joint = 1;
      const s: number[] = [];
      for (let j = 0; j < K; j++) {
        const a = draw(r, mu[j], x * A, A);
        s.push(a);
        positionPropensity[i * K + j] = mu[j][x * A + a];
        positionTarget[i * K + j] = marginal(x, j, a);
        joint *= mu[j][x * A + a];
        if (r.next() < phi[(x * K + j) * A + a]) reward[i] += 1;
      }
      propensity[i] = joint;
      const eq = (t: number[]) => t.every((a, j) => a === s[j]);
      target[i] = (eq(slates[x][0]) ? pick : 0) + (eq(slates[x][1]) ? 1 - pick : 0);
    }
    return { reward, propensity, target, slateSize: K, positionPropensity, positionTarget };
  }

  test('PI is unbiased for an additive slate reward, with far less variance than whole-slate IPS', () => {
    const R = 300;
    const pi: number[] = [];
    const slateIps: number[] = [];
    for (let r = 0; r < R; r++) {
      const log = slateLog(300, 700 + r);
      pi.push(estimateValue(pseudoInverse, log));
      slateIps.push(estimateValue(ips, log));
    }
    const s = meanSd(pi);
    expect(Math.abs(s.mean - value), `PI mean ${s.mean} vs ${value}, se ${s.se}`).toBeLessThan(3 * s.se);
    const t = meanSd(slateIps);
    expect(Math.abs(t.mean - value)).toBeLessThan(3 * t.se);
    expect(s.sd).toBeLessThan(0.5 * t.sd);
  });
});

describe('direct model calibration', () => {
  test('a logistic calibration recovers click probabilities from a monotone score', () => {
    const rng = new Rng(3);
    const n = 4000;
    const score = new Float64Array(n);
    const reward = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      score[i] = 3 * rng.normal() + 5;
      reward[i] = rng.next() < 1 / (1 + Math.exp(-(0.5 * score[i] - 2))) ? 1 : 0;
    }
    const q = calibrateScores(score, reward);
    expect(q.link).toBe('logistic');
    expect(q.a).toBeGreaterThan(0.4);
    expect(q.a).toBeLessThan(0.6);
    expect(q(4)).toBeCloseTo(0.5, 1);
    const lin = calibrateScores([1, 2, 3], [2, 4, 6]);
    expect(lin.link).toBe('linear');
    expect(lin(4)).toBeCloseTo(8, 10);
    expect(calibrateScores([1, 1, 1], [0, 1, 1])(7)).toBeCloseTo(2 / 3, 6);
  });
});
