import { describe, expect, test } from 'vitest';
import { PositiveIndex } from '../../src/data/negatives.js';
import { evaluateModel } from '../../src/eval/evaluate.js';
import { rankingMetrics } from '../../src/eval/ranking.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend } from '../util/backends.js';
import { FakeFactorModel } from './fake-model.js';
import { log } from './logs.js';

// dim 1, no bias. Users 0 and 2 have factor 1, user 1 has −1; item factors below.
// Rankings (ties to the lower index):
//   users 0, 2: 5 (.9), 0 (.6), 1 (.5), 2 (.5), 3 (.2), 4 (.1)
//   user 1:     4 (−.1), 3 (−.2), 1 (−.5), 2 (−.5), 0 (−.6), 5 (−.9)
const factors = { dim: 1, users: new Float32Array([1, -1, 1]), items: new Float32Array([0.6, 0.5, 0.5, 0.2, 0.1, 0.9]) };
const train = log(3, 6, [[0, 5], [1, 4], [1, 0], [2, 0], [2, 5]]);
const test_ = log(3, 6, [
  [0, 2, 3],
  [0, 3, 4],
  [1, 1, 2],
  [1, 1, 1], // repeated pair: one relevant item
  [2, 5, 5], // user 2's only test item is a training item: skipped
]);
const fake = (opts: { predictsRatings?: boolean } = {}) => new FakeFactorModel(3, 6, factors, { name: 'Fake MF', offset: 3, train, ...opts });

// Top-3 with training items excluded:
//   user 0 (excl 5):    [0, 1, 2]; relevant {2, 3}: hit at rank 3 only because the 1/2 tie goes to item 1
//   user 1 (excl 0, 4): [3, 1, 2]; relevant {1}: hit at rank 2
// @1: no hits.  @3, user 0: P 1/3, R 1/2, NDCG (1/log2 4)/(1 + 1/log2 3) = 0.5/1.6309298 = 0.3065736, HR 1, MRR 1/3, MAP (1/3)/2 = 1/6
//               user 1: P 1/3, R 1, NDCG 1/log2 3 = 0.6309298, HR 1, MRR 1/2, MAP (1/2)/1 = 1/2
const L3 = 1 / Math.log2(3);
const ndcgU0 = 0.5 / (1 + L3);
const expected: Record<string, number> = {
  'precision@1': 0,
  'precision@3': 1 / 3,
  'recall@1': 0,
  'recall@3': 0.75,
  'ndcg@1': 0,
  'ndcg@3': (ndcgU0 + L3) / 2, // 0.4687517
  'hr@1': 0,
  'hr@3': 1,
  'mrr@1': 0,
  'mrr@3': 5 / 12,
  'map@1': 0,
  'map@3': 1 / 3,
  // Recommendation counts at 3: item 0 ×1, 1 ×2, 2 ×2, 3 ×1, 4 and 5 never → coverage 4/6.
  'coverage@3': 4 / 6,
  // Training users per item: 0 → 2 (users 1, 2), 1–3 → none (counted as 1), out of 3 users:
  // −log2(2/3) = 0.5849625 once, −log2(1/3) = 1.5849625 five times → 8.5097750/6 = 1.4182958
  'novelty@3': (Math.log2(3 / 2) + 5 * Math.log2(3)) / 6,
  // Sorted counts 0, 0, 1, 1, 2, 2, weights −5, −3, −1, 1, 3, 5: Σ = 16 → 16 / (6 · 6) = 0.4444444
  'gini@3': 16 / 36,
};

function expectMetrics(got: Record<string, number>, want: Record<string, number>): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [name, v] of Object.entries(want)) expect(got[name], name).toBeCloseTo(v, 6);
}

describe('evaluateModel', () => {
  test('full ranking on a fake model gives the hand-computed report', async () => {
    const model = fake();
    const report = await evaluateModel(model, { train, test: test_, k: [3, 1], perUser: true });
    expect(report.model).toBe('Fake MF');
    expect(report.users).toEqual({ evaluated: 2, skipped: 1 });
    expectMetrics(report.metrics, expected);
    expect([...report.userIndex!]).toEqual([0, 1]);
    expect(report.perUser!['ndcg@3'][0]).toBeCloseTo(ndcgU0, 12);
    expect(report.perUser!['ndcg@3'][1]).toBeCloseTo(L3, 12);
    expect([...report.perUser!['mrr@3']]).toEqual([1 / 3, 1 / 2]);
    expect(report.ci).toBeUndefined();
    expect(report.sampled).toBeUndefined();
    // Ranking went through model.recommend, for the evaluated users only.
    expect(model.recommendCalls.map((u) => [...u])).toEqual([[0, 1]]);
  });

  test('rating models add rmse and mae over every test pair', async () => {
    const report = await evaluateModel(fake({ predictsRatings: true }), { train, test: test_, k: 3 });
    // Predictions score + 3: 3.5, 3.2, 2.5, 2.5, 3.9 against 3, 4, 2, 1, 5:
    // errors .5, −.8, .5, 1.5, −1.1; squares sum 4.6 → rmse √0.92 = 0.9591663; mae 4.4/5 = 0.88
    expect(report.metrics.rmse).toBeCloseTo(Math.sqrt(0.92), 5);
    expect(report.metrics.mae).toBeCloseTo(0.88, 5);
    expect(report.metrics['ndcg@3']).toBeCloseTo(expected['ndcg@3'], 6);
  });

  test('sampled mode labels its metrics and, with every free item drawn, agrees with full ranking', async () => {
    // Each user has 3 items in neither train nor test, so 3 negatives take them all and the
    // candidate set is the full ranking's.
    const report = await evaluateModel(fake(), { train, test: test_, k: [1, 3], sampled: { negatives: 3, seed: 4 } });
    const want: Record<string, number> = {};
    for (const [name, v] of Object.entries(expected)) if (!/^(coverage|novelty|gini)/.test(name)) want[`${name} (sampled 3)`] = v;
    expectMetrics(report.metrics, want);
    expect(report.sampled).toEqual({ negatives: 3, seed: 4 });
    expect(report.users).toEqual({ evaluated: 2, skipped: 1 });
  });

  test('sampled mode: one negative per user, reproducible by seed', async () => {
    // Candidates are the relevant items plus one negative: at most 3, so everything relevant is in the top 3.
    const a = await evaluateModel(fake(), { train, test: test_, k: [1, 3], sampled: { negatives: 1, seed: 8 }, perUser: true });
    expect(a.metrics['recall@3 (sampled 1)']).toBe(1);
    expect(a.metrics['hr@3 (sampled 1)']).toBe(1);
    expect(Object.keys(a.metrics).every((n) => n.endsWith(' (sampled 1)'))).toBe(true);
    const b = await evaluateModel(fake(), { train, test: test_, k: [1, 3], sampled: { negatives: 1, seed: 8 }, perUser: true });
    expect(b.perUser).toEqual(a.perUser);
  });

  test('sampled negatives are distinct, unseen, untested, and min(N, free) per user', async () => {
    const rng = new Rng(21);
    const nUsers = 50;
    const nItems = 40;
    const rows: number[][] = [];
    for (let u = 0; u < nUsers; u++) for (let i = 0; i < nItems; i++) if (rng.next() < 0.2) rows.push([u, i]);
    const all = log(nUsers, nItems, rows);
    const isTest = rows.map(() => rng.next() < 0.3);
    const trRows = rows.filter((_, j) => !isTest[j]);
    // Some repeat consumption: training pairs seen again in test (relevant to no one, but not free either).
    const teRows = [...rows.filter((_, j) => isTest[j]), ...trRows.filter((_, j) => j % 4 === 0)];
    const tr = log(nUsers, nItems, trRows);
    const te = log(nUsers, nItems, teRows);
    const f = { dim: 3, users: Float32Array.from({ length: nUsers * 3 }, () => rng.next()), items: Float32Array.from({ length: nItems * 3 }, () => rng.next()) };
    const seen = PositiveIndex.of(tr);
    const tested = PositiveIndex.of(te);
    expect(all.user.length).toBeGreaterThan(0);
    for (const negatives of [5, 30]) {
      // 30 negatives exceed half of the ~26 free items per user: the dense branch.
      const model = new FakeFactorModel(nUsers, nItems, f, { train: tr });
      const report = await evaluateModel(model, { train: tr, test: te, k: 10, sampled: { negatives } });
      const pairs = model.predictCalls;
      const users = new Int32Array(pairs.flatMap((c) => [...c.users]));
      const items = new Int32Array(pairs.flatMap((c) => [...c.items]));
      let evaluatedUsers = 0;
      for (let u = 0; u < nUsers; u++) {
        const mine = [...items.filter((_, j) => users[j] === u)];
        if (mine.length === 0) continue;
        evaluatedUsers++;
        const rel = [...tested.items.subarray(tested.offsets[u], tested.offsets[u + 1])].filter((i) => !seen.has(u, i));
        const neg = mine.filter((i) => !rel.includes(i));
        expect(new Set(mine).size, `user ${u}: distinct candidates`).toBe(mine.length);
        expect(rel.every((i) => mine.includes(i)), `user ${u}: every relevant item is a candidate`).toBe(true);
        expect(neg.some((i) => seen.has(u, i) || tested.has(u, i)), `user ${u}: a seen or tested negative`).toBe(false);
        let free = 0;
        for (let i = 0; i < nItems; i++) if (!seen.has(u, i) && !tested.has(u, i)) free++;
        expect(neg.length, `user ${u}: negatives`).toBe(Math.min(negatives, free));
      }
      expect(evaluatedUsers).toBe(report.users.evaluated);
    }
  });

  test('bootstrap intervals contain the point estimates and are seeded-reproducible', async () => {
    const rng = new Rng(5);
    const nUsers = 60;
    const nItems = 30;
    const rows: number[][] = [];
    for (let u = 0; u < nUsers; u++) for (let i = 0; i < nItems; i++) if (rng.next() < 0.25) rows.push([u, i]);
    const isTest = rows.map(() => rng.next() < 0.3);
    const tr = log(nUsers, nItems, rows.filter((_, j) => !isTest[j]));
    const te = log(nUsers, nItems, rows.filter((_, j) => isTest[j]));
    const f = { dim: 2, users: Float32Array.from({ length: nUsers * 2 }, () => rng.next() - 0.5), items: Float32Array.from({ length: nItems * 2 }, () => rng.next() - 0.5) };
    const run = (seed: number) => evaluateModel(new FakeFactorModel(nUsers, nItems, f, { train: tr }), { train: tr, test: te, k: [5, 10], ci: { replicates: 300, seed } });
    const a = await run(1);
    expect(Object.keys(a.ci!).length).toBe(12); // 6 ranking metrics × 2 cut-offs, no CI for coverage and the like
    for (const [name, [lo, hi]] of Object.entries(a.ci!)) {
      expect(lo, name).toBeLessThanOrEqual(a.metrics[name]);
      expect(hi, name).toBeGreaterThanOrEqual(a.metrics[name]);
    }
    expect(a.ci!['ndcg@10'][1]).toBeGreaterThan(a.ci!['ndcg@10'][0]); // not degenerate
    expect((await run(1)).ci).toEqual(a.ci);
    expect((await run(2)).ci).not.toEqual(a.ci);
  });

  test('users beyond one chunk: per-user values land in their rows', async () => {
    const rng = new Rng(2);
    const nUsers = 2600; // about 86% have a scorable test item: more than one chunk of 2048
    const nItems = 12;
    const rows: number[][] = [];
    for (let u = 0; u < nUsers; u++) for (let i = 0; i < nItems; i++) if (rng.next() < 0.3) rows.push([u, i]);
    const isTest = rows.map(() => rng.next() < 0.5);
    const tr = log(nUsers, nItems, rows.filter((_, j) => !isTest[j]));
    const te = log(nUsers, nItems, rows.filter((_, j) => isTest[j]));
    const f = { dim: 2, users: Float32Array.from({ length: nUsers * 2 }, () => rng.next() - 0.5), items: Float32Array.from({ length: nItems * 2 }, () => rng.next() - 0.5) };
    const model = new FakeFactorModel(nUsers, nItems, f, { train: tr });
    const report = await evaluateModel(model, { train: tr, test: te, k: [2, 5], perUser: true });
    expect(report.users.evaluated).toBeGreaterThan(2048);
    expect(model.recommendCalls.length).toBe(2);
    expect(model.recommendCalls[0].length).toBe(2048);
    // Reference: one rankingMetrics call over all evaluated users at once.
    const users = report.userIndex!;
    const seen = PositiveIndex.of(tr);
    const tested = PositiveIndex.of(te);
    const rel: number[] = [];
    const rowPtr = [0];
    for (const u of users) {
      for (let e = tested.offsets[u]; e < tested.offsets[u + 1]; e++) if (!seen.has(u, tested.items[e])) rel.push(tested.items[e]);
      rowPtr.push(rel.length);
    }
    const recs = await new FakeFactorModel(nUsers, nItems, f, { train: tr }).recommend(users, 5);
    const ref = rankingMetrics(recs, { rowPtr: Int32Array.from(rowPtr), items: Int32Array.from(rel) }, [2, 5], { perUser: true });
    expect(ref.skipped).toBe(0);
    expect(report.perUser).toEqual(ref.perUser);
    for (const [name, v] of Object.entries(ref.metrics)) expect(report.metrics[name], name).toBeCloseTo(v, 12);
  });

  test('input errors name the argument', async () => {
    await expect(evaluateModel(fake(), { train, test: log(3, 7, [[0, 6]]) })).rejects.toThrow(/test: expected the id spaces of train \(3 users, 6 items\)/);
    await expect(evaluateModel(fake(), { train, test: test_, sampled: { negatives: 0 } })).rejects.toThrow(/sampled\.negatives: expected a positive integer, got 0/);
    await expect(evaluateModel(fake(), { train, test: test_, k: [0] })).rejects.toThrow(/k: expected integers in \[1,/);
    await expect(evaluateModel(fake(), { train: log(3, 6, []), test: test_ })).rejects.toThrow(/train: expected the log the model was fit on/);
  });
});

forEachBackend('evaluateModel through the top-K kernel', (b) => {
  test('an engine gives the same hand-computed report', async (ctx) => {
    const engine = b.engine(ctx);
    const model = fake();
    const report = await evaluateModel(model, { train, test: test_, k: [1, 3], engine });
    expectMetrics(report.metrics, expected);
    expect(model.recommendCalls).toEqual([]); // ranked from factors on the engine, not through recommend
  });
});
