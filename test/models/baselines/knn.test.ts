/**
 * KNN similarities and predictions on the 4 × 5 matrix of helpers.ts, computed by hand.
 *
 *         i0  i1  i2  i3  i4
 *   u0     5   3   -   1   -
 *   u1     4   -   -   1   2
 *   u2     1   1   -   5   4
 *   u3     -   1   5   4   -
 *
 * Co-rated items of each user pair (ratings of the first user, of the second):
 *   (u0,u1): i0 (5,4), i3 (1,1)                 n = 2
 *   (u0,u2): i0 (5,1), i1 (3,1), i3 (1,5)       n = 3
 *   (u0,u3): i1 (3,1), i3 (1,4)                 n = 2
 *   (u1,u2): i0 (4,1), i3 (1,5), i4 (2,4)       n = 3
 *   (u1,u3): i3 (1,4)                           n = 1
 *   (u2,u3): i1 (1,1), i3 (5,4)                 n = 2
 */
import { describe, expect, test } from 'vitest';
import { GnnrlError } from '../../../src/errors.js';
import { KNNBaseline, KNNBasic, KNNWithMeans, type KnnOptions } from '../../../src/models/baselines/index.js';
import { syntheticWorld } from '../../../src/data/synthetic.js';
import { MATRIX, ratingsLog } from './helpers.js';

const mu = 37 / 13;

/** Baselines after one ALS epoch from zero (λ_i = 10, then λ_u = 15), by hand: */
const bi = [
  (5 - mu + (4 - mu) + (1 - mu)) / (10 + 3), // i0: u0 5, u1 4, u2 1
  (3 - mu + (1 - mu) + (1 - mu)) / (10 + 3), // i1: u0 3, u2 1, u3 1
  (5 - mu) / (10 + 1), // i2: u3 5
  (1 - mu + (1 - mu) + (5 - mu) + (4 - mu)) / (10 + 4), // i3: u0 1, u1 1, u2 5, u3 4
  (2 - mu + (4 - mu)) / (10 + 2), // i4: u1 2, u2 4
];
const bu = [
  (5 - mu - bi[0] + (3 - mu - bi[1]) + (1 - mu - bi[3])) / (15 + 3),
  (4 - mu - bi[0] + (1 - mu - bi[3]) + (2 - mu - bi[4])) / (15 + 3),
  (1 - mu - bi[0] + (1 - mu - bi[1]) + (5 - mu - bi[3]) + (4 - mu - bi[4])) / (15 + 4),
  (1 - mu - bi[1] + (5 - mu - bi[2]) + (4 - mu - bi[3])) / (15 + 3),
];
const oneAls = { method: 'als' as const, epochs: 1 };

async function sims(opts: KnnOptions): Promise<(a: number, b: number) => number> {
  const m = new KNNBasic(opts);
  await m.fit(ratingsLog(MATRIX));
  const s = m.similarities();
  const n = Math.round(Math.sqrt(s.length));
  return (a, b) => s[a * n + b];
}

describe('similarities (hand-computed)', () => {
  test('cosine over co-rated items', async () => {
    const s = await sims({ similarity: 'cosine' });
    expect(s(0, 1)).toBeCloseTo((5 * 4 + 1 * 1) / Math.sqrt((25 + 1) * (16 + 1)), 6); // 21/√442 ≈ 0.99887
    expect(s(0, 2)).toBeCloseTo((5 * 1 + 3 * 1 + 1 * 5) / Math.sqrt((25 + 9 + 1) * (1 + 1 + 25)), 6); // 13/√945 ≈ 0.42289
    expect(s(0, 3)).toBeCloseTo((3 * 1 + 1 * 4) / Math.sqrt((9 + 1) * (1 + 16)), 6); // 7/√170
    expect(s(1, 2)).toBeCloseTo((4 * 1 + 1 * 5 + 2 * 4) / Math.sqrt((16 + 1 + 4) * (1 + 25 + 16)), 6); // 17/√882
    expect(s(1, 3)).toBeCloseTo(1, 6); // one common item: (1·4)/√(1·16)
    expect(s(2, 3)).toBeCloseTo((1 * 1 + 5 * 4) / Math.sqrt((1 + 25) * (1 + 16)), 6); // 21/√442
    // Symmetric, 1 on the diagonal.
    for (let a = 0; a < 4; a++) {
      expect(s(a, a)).toBe(1);
      for (let b = 0; b < 4; b++) expect(s(a, b)).toBe(s(b, a));
    }
  });

  test('msd: 1 / (mean squared difference + 1)', async () => {
    const s = await sims({ similarity: 'msd' });
    expect(s(0, 1)).toBeCloseTo(1 / ((1 + 0) / 2 + 1), 6); // 2/3
    expect(s(0, 2)).toBeCloseTo(1 / ((16 + 4 + 16) / 3 + 1), 6); // 1/13
    expect(s(0, 3)).toBeCloseTo(1 / ((4 + 9) / 2 + 1), 6); // 2/15
    expect(s(1, 2)).toBeCloseTo(1 / ((9 + 16 + 4) / 3 + 1), 6); // 3/32
    expect(s(1, 3)).toBeCloseTo(1 / (9 / 1 + 1), 6); // 1/10
    expect(s(2, 3)).toBeCloseTo(1 / ((0 + 1) / 2 + 1), 6); // 2/3
  });

  test('pearson centres each side on its mean over the common items', async () => {
    const s = await sims({ similarity: 'pearson' });
    // (u0,u2): r = (5,3,1), r' = (1,1,5): n Σrr' − ΣrΣr' = 3·13 − 9·7 = −24,
    // n Σr² − (Σr)² = 105 − 81 = 24, n Σr'² − (Σr')² = 81 − 49 = 32 → −24/√768 = −√3/2.
    expect(s(0, 2)).toBeCloseTo(-Math.sqrt(3) / 2, 6);
    // (u1,u2): r = (4,1,2), r' = (1,5,4): 3·17 − 7·10 = −19; 63 − 49 = 14; 126 − 100 = 26.
    expect(s(1, 2)).toBeCloseTo(-19 / Math.sqrt(14 * 26), 6);
    // Two common items always correlate ±1: (u0,u1) (5,1)~(4,1) → 1; (u0,u3) (3,1)~(1,4) → −1.
    expect(s(0, 1)).toBeCloseTo(1, 6);
    expect(s(0, 3)).toBeCloseTo(-1, 6);
    // (u1,u3) share one item: zero variance → 0.
    expect(s(1, 3)).toBe(0);
  });

  test('pearson_baseline: correlation of baseline residuals, shrunk by (n−1)/(n−1+shrinkage)', async () => {
    // (u0,u2) over i0, i1, i3; residual d = r − (μ + b_u + b_i).
    const d0 = [5 - (mu + bu[0] + bi[0]), 3 - (mu + bu[0] + bi[1]), 1 - (mu + bu[0] + bi[3])];
    const d2 = [1 - (mu + bu[2] + bi[0]), 1 - (mu + bu[2] + bi[1]), 5 - (mu + bu[2] + bi[3])];
    const dot = d0[0] * d2[0] + d0[1] * d2[1] + d0[2] * d2[2];
    const raw = dot / Math.sqrt((d0[0] ** 2 + d0[1] ** 2 + d0[2] ** 2) * (d2[0] ** 2 + d2[1] ** 2 + d2[2] ** 2));
    const shrunk = await sims({ similarity: 'pearson_baseline', baseline: oneAls });
    expect(shrunk(0, 2)).toBeCloseTo(raw * ((3 - 1) / (3 - 1 + 100)), 6);
    expect(shrunk(1, 3)).toBe(0); // n = 1: shrink factor 0
    const plain = await sims({ similarity: 'pearson_baseline', baseline: oneAls, shrinkage: 0 });
    expect(plain(0, 2)).toBeCloseTo(raw, 6);
    expect(Math.abs(raw)).toBeGreaterThan(0.1); // the case is not degenerate
  });

  test('minSupport zeroes pairs with fewer common ratings', async () => {
    const s = await sims({ similarity: 'cosine', minSupport: 3 });
    expect(s(0, 1)).toBe(0); // n = 2
    expect(s(1, 3)).toBe(0); // n = 1
    expect(s(0, 2)).toBeCloseTo(13 / Math.sqrt(945), 6); // n = 3 stays
  });

  test('item-based swaps the roles: cosine of items over co-rating users', async () => {
    const s = await sims({ similarity: 'cosine', userBased: false });
    // (i0,i3) co-rated by u0 (5,1), u1 (4,1), u2 (1,5): 14/√(42·27).
    expect(s(0, 3)).toBeCloseTo(14 / Math.sqrt(42 * 27), 6);
    // (i2,i4) have no common user.
    expect(s(2, 4)).toBe(0);
  });
});

describe('KNN predictions (hand-computed)', () => {
  // Predict u1 on i1, which u1 has not rated. Raters of i1: u0 (3), u2 (1), u3 (1), with
  // msd similarities to u1 of 2/3, 3/32 and 1/10.
  const x = ratingsLog(MATRIX);
  const one = async (m: KNNBasic | KNNWithMeans | KNNBaseline, u = 1, i = 1) => {
    await m.fit(x);
    return (await m.predict(Int32Array.of(u), Int32Array.of(i)))[0];
  };

  test('KNNBasic: similarity-weighted mean of the k best neighbours', async () => {
    // k = 40: all three. (2/3·3 + 3/32·1 + 1/10·1) / (2/3 + 3/32 + 1/10) ≈ 2.54964
    expect(await one(new KNNBasic())).toBeCloseTo((2 + 3 / 32 + 0.1) / (2 / 3 + 3 / 32 + 0.1), 5);
    // k = 2: u0 and u3 (u2's 3/32 < 1/10). (2 + 0.1) / (2/3 + 0.1) ≈ 2.73913
    expect(await one(new KNNBasic({ k: 2 }))).toBeCloseTo(2.1 / (2 / 3 + 0.1), 5);
  });

  test('KNNWithMeans: user mean plus weighted deviations from the neighbours’ means', async () => {
    // μ_u1 = 7/3, μ_u0 = 3, μ_u3 = 10/3; k = 2: 7/3 + (2/3·(3−3) + 1/10·(1 − 10/3)) / (2/3 + 1/10) ≈ 2.02899
    expect(await one(new KNNWithMeans({ k: 2 }))).toBeCloseTo(7 / 3 + (0.1 * (1 - 10 / 3)) / (2 / 3 + 0.1), 5);
  });

  test('KNNBaseline: baseline plus weighted deviations from the neighbours’ baselines', async () => {
    const base = mu + bu[1] + bi[1];
    const dev0 = 3 - (mu + bu[0] + bi[1]);
    const dev3 = 1 - (mu + bu[3] + bi[1]);
    const want = base + ((2 / 3) * dev0 + 0.1 * dev3) / (2 / 3 + 0.1);
    expect(await one(new KNNBaseline({ k: 2, baseline: oneAls }))).toBeCloseTo(want, 5);
  });

  test('too few neighbours: KNNBasic → μ, KNNWithMeans → user mean, KNNBaseline → baseline', async () => {
    expect(await one(new KNNBasic({ minK: 4 }))).toBeCloseTo(mu, 5);
    expect(await one(new KNNWithMeans({ minK: 4 }))).toBeCloseTo(7 / 3, 5);
    expect(await one(new KNNBaseline({ minK: 4, baseline: oneAls }))).toBeCloseTo(mu + bu[1] + bi[1], 5);
    // Neighbours with similarity ≤ 0 do not count: under pearson, u1's similarities with the
    // raters of i1 are u0 +1, u2 −19/√364, u3 0 (one common item), so only u0 (rating 3)
    // is a neighbour; with minK 2 that is too few.
    expect(await one(new KNNBasic({ similarity: 'pearson' }))).toBeCloseTo(3, 5);
    expect(await one(new KNNBasic({ similarity: 'pearson', minK: 2 }))).toBeCloseTo(mu, 5);
  });

  test('unseen users and items fall back as documented', async () => {
    // u4 and i5 exist in the id space but have no training event; 99 is past it.
    const wide = ratingsLog(MATRIX, 5, 6);
    const at = async (m: KNNBasic | KNNWithMeans | KNNBaseline, pairs: [number, number][]) => {
      await m.fit(wide);
      return Array.from(await m.predict(Int32Array.from(pairs, (p) => p[0]), Int32Array.from(pairs, (p) => p[1])));
    };
    const basic = await at(new KNNBasic(), [[4, 1], [1, 5], [99, 1]]);
    basic.forEach((v) => expect(v).toBeCloseTo(mu, 5));
    const means = await at(new KNNWithMeans(), [[4, 1], [1, 5], [1, 99]]);
    expect(means[0]).toBeCloseTo(mu, 5); // unseen user: no mean of its own
    expect(means[1]).toBeCloseTo(7 / 3, 5); // seen user, unseen item: the user's mean
    expect(means[2]).toBeCloseTo(7 / 3, 5);
    const base = await at(new KNNBaseline({ baseline: oneAls }), [[4, 1], [1, 5]]);
    expect(base[0]).toBeCloseTo(mu + bi[1], 5); // b_u4 = 0
    expect(base[1]).toBeCloseTo(mu + bu[1], 5); // b_i5 = 0
  });

  test('scoreItems gives full rows and recommend ranks them, excluding training items', async () => {
    const m = new KNNBasic();
    await m.fit(x);
    const row = await m.scoreItems(Int32Array.of(1));
    expect(row.length).toBe(5);
    expect(row[1]).toBeCloseTo((2 + 3 / 32 + 0.1) / (2 / 3 + 3 / 32 + 0.1), 5);
    expect(row[2]).toBeCloseTo(5, 5); // only u3 rated i2 (5), similarity 1/10 > 0
    const rec = await m.recommend(Int32Array.of(1), 3);
    // u1 rated i0, i3, i4: left are i2 (5) then i1 (≈2.55), then padding.
    expect(Array.from(rec.items)).toEqual([2, 1, -1]);
    expect(rec.scores[0]).toBeCloseTo(5, 5);
    const all = await m.recommend(Int32Array.of(1), 5, { exclude: 'none' });
    expect(all.items[0]).toBe(2);
    expect(Array.from(all.items).sort()).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('KNN rows', () => {
  test.each([
    ['item-based', false],
    ['user-based', true],
  ])('%s scoreItems rows equal predict on every pair, with and without top-k selection', async (_label, userBased) => {
    // k = 3 makes most rows select among more positive neighbours than k; k = 1000 never does.
    const x = syntheticWorld({ preset: 'tiny', seed: 5 }).interactions;
    for (const k of [3, 1000]) {
      for (const m of [new KNNBasic({ k, userBased, similarity: 'cosine' }), new KNNWithMeans({ k, userBased }), new KNNBaseline({ k, userBased, similarity: 'pearson_baseline' })]) {
        await m.fit(x);
        const users = Int32Array.from({ length: m.nUsers }, (_, u) => u);
        const rows = await m.scoreItems(users);
        const n = m.nItems;
        const pu = Int32Array.from({ length: rows.length }, (_, j) => Math.floor(j / n));
        const pi = Int32Array.from({ length: rows.length }, (_, j) => j % n);
        const p = await m.predict(pu, pi);
        let lo = Infinity;
        let hi = -Infinity;
        for (const r of x.rating!) {
          lo = Math.min(lo, r);
          hi = Math.max(hi, r);
        }
        let mismatches = 0;
        for (let j = 0; j < rows.length; j++) if (Math.min(hi, Math.max(lo, rows[j])) !== p[j]) mismatches++;
        expect(mismatches, `${m.name} k=${k}`).toBe(0);
      }
    }
  });
});

describe('KNN limits', () => {
  test('a similarity matrix over the limit is a limit error naming the size and the way out', async () => {
    const m = new KNNBasic({ maxSimilarityRows: 3 });
    const err = await m.fit(ratingsLog(MATRIX)).catch((e) => e);
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err.code).toBe('limit');
    expect(err.message).toMatch(/4 users/);
    expect(err.message).toMatch(/maxSimilarityRows/);
    expect(err.message).toMatch(/smaller data set|userBased: false/);
    // Item-based over 5 items is also over 3; over 4 users it would fit, and the message says so.
    const it = await new KNNBasic({ maxSimilarityRows: 4, userBased: false }).fit(ratingsLog(MATRIX)).catch((e) => e);
    expect(it.code).toBe('limit');
    expect(it.message).toMatch(/user-based similarities \(userBased: true; 4 users\)/);
  });
});
