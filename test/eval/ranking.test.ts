import { describe, expect, test } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { metricName, rankingMetrics } from '../../src/eval/ranking.js';

const L3 = 1 / Math.log2(3); // discount at rank 2: 0.6309298
const L5 = 1 / Math.log2(5); // rank 4: 0.4306766
const L6 = 1 / Math.log2(6); // rank 5: 0.3868528

/** Four lists of width 5 and their relevant sets (CSR), worked by hand below. */
const lists = {
  k: 5,
  // prettier-ignore
  items: new Int32Array([
    4, 2, 9, 1, 7,       // user A: hits at ranks 2 and 5
    5, -1, -1, -1, -1,   // user B: one eligible item, a hit; padding after it
    0, 1, 2, 3, 4,       // user C: no relevant items → skipped
    6, 6, 3, 0, 0,       // user D: a malformed list repeating items; each hit counts once
  ]),
};
const relevant = {
  rowPtr: new Int32Array([0, 4, 5, 5, 7]),
  // A: {2, 7, 8} given with 2 repeated; B: {5}; C: {}; D: {6, 0}
  items: new Int32Array([7, 2, 8, 2, 5, 6, 0]),
};

// Per user, per K (1, 3, 5). |R|: A 3, B 1, D 2.
// A  K=1: no hit → all 0.
//    K=3: hits 1 (rank 2). P 1/3, R 1/3, DCG = L3, IDCG(min(3,3)=3) = 1 + L3 + 1/2, HR 1, MRR 1/2, MAP (1/2)/3
//    K=5: hits 2 (ranks 2, 5). P 2/5, R 2/3, DCG = L3 + L6, same IDCG, HR 1, MRR 1/2, MAP (1/2 + 2/5)/3 = 0.3
// B  K=1: P 1, R 1, NDCG 1, HR 1, MRR 1, MAP 1/min(1,1) = 1
//    K=3: P 1/3 (padding slots count), R 1, NDCG 1 (IDCG over min(|R|, K) = 1 slot), HR 1, MRR 1, MAP 1
//    K=5: P 1/5, R 1, NDCG 1, HR 1, MRR 1, MAP 1
// D  K=1: hit at rank 1. P 1, R 1/2, NDCG 1/1 (IDCG over min(2,1) = 1), HR 1, MRR 1, MAP 1/min(2,1) = 1
//    K=3: the repeat of 6 at rank 2 is no hit. P 1/3, R 1/2, NDCG 1/(1 + L3), HR 1, MRR 1, MAP (1/1)/2
//    K=5: hit at rank 4 (item 0), not again at 5. P 2/5, R 1, NDCG (1 + L5)/(1 + L3), MRR 1, MAP (1/1 + 2/4)/2 = 0.75
const idcgA = 1 + L3 + 0.5;
const perUser: Record<string, number[]> = {
  'precision@1': [0, 1, 1],
  'precision@3': [1 / 3, 1 / 3, 1 / 3],
  'precision@5': [2 / 5, 1 / 5, 2 / 5],
  'recall@1': [0, 1, 1 / 2],
  'recall@3': [1 / 3, 1, 1 / 2],
  'recall@5': [2 / 3, 1, 1],
  'ndcg@1': [0, 1, 1],
  'ndcg@3': [L3 / idcgA, 1, 1 / (1 + L3)],
  'ndcg@5': [(L3 + L6) / idcgA, 1, (1 + L5) / (1 + L3)],
  'hr@1': [0, 1, 1],
  'hr@3': [1, 1, 1],
  'hr@5': [1, 1, 1],
  'mrr@1': [0, 1, 1],
  'mrr@3': [1 / 2, 1, 1],
  'mrr@5': [1 / 2, 1, 1],
  'map@1': [0, 1, 1],
  'map@3': [1 / 6, 1, 1 / 2],
  'map@5': [0.3, 1, 0.75],
};

describe('rankingMetrics', () => {
  test('hand-worked lists: padding, duplicates, a skipped user, K above |R|', () => {
    const res = rankingMetrics(lists, relevant, [5, 1, 3, 3], { perUser: true });
    expect(res.evaluated).toBe(3);
    expect(res.skipped).toBe(1);
    expect([...res.rows!]).toEqual([0, 1, 3]);
    // Reported in metric order, cut-offs ascending and deduplicated.
    expect(Object.keys(res.metrics)).toEqual(Object.keys(perUser));
    for (const [name, want] of Object.entries(perUser)) {
      want.forEach((v, j) => expect(res.perUser![name][j], `${name}, user ${j}`).toBeCloseTo(v, 12));
      expect(res.metrics[name], name).toBeCloseTo((want[0] + want[1] + want[2]) / 3, 12);
    }
    // Spot checks of the means in plain numbers: recall@3 = (1/3 + 1 + 1/2)/3 = 11/18,
    // ndcg@5 = (0.4776240 + 1 + 0.8772153)/3 = 0.7849464, map@5 = (0.3 + 1 + 0.75)/3 = 0.6833333.
    expect(res.metrics['recall@3']).toBeCloseTo(11 / 18, 12);
    expect(res.metrics['ndcg@5']).toBeCloseTo(0.7849464, 6);
    expect(res.metrics['map@5']).toBeCloseTo(0.6833333, 6);
  });

  test('a perfect list scores 1 on NDCG and MAP even when |R| > K, while recall stays |hits|/|R|', () => {
    const res = rankingMetrics({ k: 3, items: new Int32Array([1, 2, 3]) }, { rowPtr: new Int32Array([0, 5]), items: new Int32Array([5, 4, 3, 2, 1]) }, 3);
    expect(res.metrics).toEqual({ 'precision@3': 1, 'recall@3': 3 / 5, 'ndcg@3': 1, 'hr@3': 1, 'mrr@3': 1, 'map@3': 1 });
  });

  test('metrics look only at the first K slots of a wider list', () => {
    // The only relevant item sits at rank 3: nothing at K = 2, a hit at K = 3.
    const res = rankingMetrics({ k: 4, items: new Int32Array([0, 1, 2, 3]) }, { rowPtr: new Int32Array([0, 1]), items: new Int32Array([2]) }, [2, 3]);
    expect(res.metrics['hr@2']).toBe(0);
    expect(res.metrics['ndcg@3']).toBeCloseTo(0.5, 12); // 1/log2(4)
    expect(res.metrics['mrr@3']).toBeCloseTo(1 / 3, 12);
  });

  test('no user with relevant items: means are NaN, everyone is counted as skipped', () => {
    const res = rankingMetrics({ k: 2, items: new Int32Array([0, 1, 1, 0]) }, { rowPtr: new Int32Array([0, 0, 0]), items: new Int32Array(0) }, 2);
    expect(res.evaluated).toBe(0);
    expect(res.skipped).toBe(2);
    expect(res.metrics['ndcg@2']).toBeNaN();
  });

  test('input errors name the argument', () => {
    const rel = { rowPtr: new Int32Array([0, 1]), items: new Int32Array([0]) };
    const one = { k: 2, items: new Int32Array([0, 1]) };
    expect(() => rankingMetrics(one, rel, 3)).toThrow(/k: expected integers in \[1, 2\] \(the list width\), got 3/);
    expect(() => rankingMetrics(one, rel, [])).toThrow(/k: expected at least one cut-off/);
    expect(() => rankingMetrics(one, { rowPtr: new Int32Array([0, 1, 1]), items: rel.items }, 1)).toThrow(/relevant\.rowPtr: expected 2 entries/);
    expect(() => rankingMetrics({ k: 2, items: new Int32Array(3) }, rel, 1)).toThrow(/lists\.items: expected a multiple of lists\.k/);
    expect(() => rankingMetrics(one, { rowPtr: new Int32Array([0, 1]), items: new Int32Array([-2]) }, 1)).toThrow(GnnrlError);
  });

  test('metricName carries a suffix for sampled metrics', () => {
    expect(metricName('recall', 10)).toBe('recall@10');
    expect(metricName('recall', 10, '(sampled 100)')).toBe('recall@10 (sampled 100)');
  });
});
