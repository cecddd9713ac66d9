import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { itemDegrees, splitByUserTime, syntheticWorld, userDegrees } from '../../src/data/index.js';
import { topKMetrics, trainLogisticMf } from './mf.js';

describe('syntheticWorld', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = syntheticWorld({ preset: 'tiny', seed: 42 });
    const b = syntheticWorld({ preset: 'tiny', seed: 42 });
    const c = syntheticWorld({ preset: 'tiny', seed: 43 });
    expect(Array.from(a.interactions.item)).toEqual(Array.from(b.interactions.item));
    expect(Array.from(a.interactions.rating!)).toEqual(Array.from(b.interactions.rating!));
    expect(Array.from(a.interactions.ts!)).toEqual(Array.from(b.interactions.ts!));
    expect(Array.from(a.userFactors)).toEqual(Array.from(b.userFactors));
    expect(Array.from(a.interactions.item)).not.toEqual(Array.from(c.interactions.item));
  });

  it('generates the tiny preset quickly', () => {
    syntheticWorld({ preset: 'tiny', seed: 1 }); // JIT warm-up
    const t = performance.now();
    syntheticWorld({ preset: 'tiny', seed: 2 });
    expect(performance.now() - t).toBeLessThan(50);
  });

  it('respects the model: ranges, no repeated item per user, time order, horizon, activity bounds', () => {
    const w = syntheticWorld({ nUsers: 300, nItems: 400, meanEvents: 25, minEvents: 4, maxEvents: 120, seed: 5 });
    const x = w.interactions;
    expect(x.nUsers).toBe(300);
    expect(x.nItems).toBe(400);
    const deg = userDegrees(x);
    expect(Math.min(...deg)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...deg)).toBeLessThanOrEqual(120);
    const mean = x.user.length / 300;
    expect(mean).toBeGreaterThan(20);
    expect(mean).toBeLessThan(30);
    const seen = new Set<string>();
    for (let e = 0; e < x.user.length; e++) {
      const key = `${x.user[e]}:${x.item[e]}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      expect(x.rating![e]).toBeGreaterThanOrEqual(1);
      expect(x.rating![e]).toBeLessThanOrEqual(5);
      expect(Number.isInteger(x.rating![e])).toBe(true);
      expect(x.ts![e]).toBeGreaterThanOrEqual(w.config.start);
      expect(x.ts![e]).toBeLessThanOrEqual(w.config.start + w.config.span);
      if (e > 0 && x.user[e] === x.user[e - 1]) expect(x.ts![e]).toBeGreaterThanOrEqual(x.ts![e - 1]);
    }
    expect(syntheticWorld({ preset: 'tiny', implicit: true, seed: 1 }).interactions.rating).toBeNull();
    expect(() => syntheticWorld({ nUsers: 10, nItems: 10, minEvents: 20, seed: 1 })).toThrow(/minEvents/);
  });

  it('item popularity follows the planted Zipf weights', () => {
    const w = syntheticWorld({ nUsers: 2000, nItems: 200, meanEvents: 20, temperature: 50, seed: 8 });
    const deg = itemDegrees(w.interactions);
    // With τ large, choice ≈ popularity: the 10 most popular items must dominate the 10 least.
    const byPop = Array.from(w.popularity, (p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
    const head = byPop.slice(0, 10).reduce((s, [, i]) => s + deg[i], 0);
    const tail = byPop.slice(-10).reduce((s, [, i]) => s + deg[i], 0);
    expect(head).toBeGreaterThan(5 * tail);
    // Rank correlation between planted popularity and observed counts.
    const rank = (v: ArrayLike<number>) => {
      const idx = Array.from(v, (_, i) => i).sort((a, b) => v[a] - v[b]);
      const r = new Float64Array(v.length);
      idx.forEach((i, k) => (r[i] = k));
      return r;
    };
    const rp = rank(w.popularity);
    const rd = rank(deg);
    const n = rp.length;
    let d2 = 0;
    for (let i = 0; i < n; i++) d2 += (rp[i] - rd[i]) ** 2;
    expect(1 - (6 * d2) / (n * (n * n - 1))).toBeGreaterThan(0.8);
  });

  it('trueTopK ranks by score exactly and honours exclusions', () => {
    const w = syntheticWorld({ preset: 'tiny', seed: 3 });
    for (const u of [0, 7, 31]) {
      const all = Array.from({ length: w.nItems }, (_, i) => i).sort((a, b) => w.score(u, b) - w.score(u, a) || a - b);
      expect(Array.from(w.trueTopK(u, 10))).toEqual(all.slice(0, 10));
      const seen = new Set(Array.from(w.interactions.item).filter((_, e) => w.interactions.user[e] === u));
      expect(Array.from(w.trueTopK(u, 10, 'seen'))).toEqual(all.filter((i) => !seen.has(i)).slice(0, 10));
      expect(Array.from(w.trueTopK(u, 5, [all[0], all[2]]))).toEqual(all.filter((_, k) => k !== 0 && k !== 2).slice(0, 5));
      expect(w.score(u, 3)).toBeCloseTo(w.affinity(u, 3) / w.config.temperature + Math.log(w.popularity[3]), 12);
    }
    expect(() => w.score(w.nUsers, 0)).toThrow('user: expected an index in [0, 60), got 60');
  });

  it('expectedRating matches a Monte Carlo mean of the rating model', () => {
    const w = syntheticWorld({ preset: 'tiny', seed: 4 });
    const r = w.config.rating;
    const rng = new Rng(99);
    for (const [u, i] of [
      [0, 0],
      [5, 17],
      [33, 90],
    ]) {
      const x = r.mu + w.userBias[u] + w.itemBias[i] + r.factorWeight * w.affinity(u, i);
      let sum = 0;
      const n = 100_000;
      for (let k = 0; k < n; k++) sum += Math.min(5, Math.max(1, Math.round(x + r.noiseSd * rng.normal())));
      expect(Math.abs(sum / n - w.expectedRating(u, i))).toBeLessThan(0.01);
    }
    const exact = syntheticWorld({ preset: 'tiny', seed: 4, rating: { noiseSd: 0 } });
    const x0 = 3.0 + exact.userBias[1] + exact.itemBias[2] + 0.5 * exact.affinity(1, 2);
    expect(exact.expectedRating(1, 2)).toBe(Math.min(5, Math.max(1, Math.round(x0))));
  });

  it('planted preferences are recoverable: biased MF beats popularity on the chronological test split', () => {
    const w = syntheticWorld({ preset: 'small', seed: 1 });
    const { train, test } = splitByUserTime(w.interactions, 0.8);
    const deg = itemDegrees(train);
    const pop = topKMetrics(train, test, (_u, i) => deg[i], 20);
    const mf = trainLogisticMf(train, { dim: 16, epochs: 15, lr: 0.05, reg: 0.01, negatives: 4, seed: 3 });
    const m = topKMetrics(train, test, (u, i) => mf.score(u, i), 20);
    const oracle = topKMetrics(train, test, (u, i) => w.score(u, i), 20);
    // Margins: measured about +40% recall and +50% NDCG for MF, +55% for the oracle; 20% must hold.
    expect(m.recall).toBeGreaterThan(1.2 * pop.recall);
    expect(m.ndcg).toBeGreaterThan(1.2 * pop.ndcg);
    expect(oracle.recall).toBeGreaterThan(1.2 * pop.recall);
    // Sanity: MF learns from data and should not beat the true preference function.
    expect(m.recall).toBeLessThanOrEqual(oracle.recall * 1.05);
  });
});
