import { describe, expect, test } from 'vitest';
import { PositiveIndex } from '../../src/data/negatives.js';
import { coverage, gini, itemPopularity, novelty, recommendationCounts } from '../../src/eval/diversity.js';
import { log } from './logs.js';

// Three lists of width 3 over 6 items; −1 is padding.
const lists = { k: 3, items: new Int32Array([0, 1, 2, 1, 2, -1, 1, 3, 0]) };

describe('beyond-accuracy measures', () => {
  test('recommendation counts at K, tallied across chunks', () => {
    // K = 3: item 0 twice, 1 three times, 2 twice, 3 once, 4 and 5 never.
    expect([...recommendationCounts(lists, 6)]).toEqual([2, 3, 2, 1, 0, 0]);
    // K = 1: only the first slots 0, 1, 1.
    expect([...recommendationCounts(lists, 6, 1)]).toEqual([1, 2, 0, 0, 0, 0]);
    // Two chunks into one tally equal one pass.
    const into = new Float64Array(6);
    recommendationCounts({ k: 3, items: lists.items.subarray(0, 3) }, 6, 3, into);
    recommendationCounts({ k: 3, items: lists.items.subarray(3) }, 6, 3, into);
    expect([...into]).toEqual([2, 3, 2, 1, 0, 0]);
    expect(() => recommendationCounts(lists, 3)).toThrow(/lists\.items\[7\]: expected an item index below nItems \(3\), got 3/);
    expect(() => recommendationCounts(lists, 6, 4)).toThrow(/k: expected an integer in \[1, 3\]/);
  });

  test('coverage: share of items recommended at least once', () => {
    expect(coverage(recommendationCounts(lists, 6))).toBeCloseTo(4 / 6, 12); // items 0–3
    expect(coverage(recommendationCounts(lists, 6, 1))).toBeCloseTo(2 / 6, 12); // items 0, 1
  });

  test('Gini of recommendation counts, zeros included', () => {
    // Sorted counts 0, 0, 1, 2, 2, 3 (n = 6, sum 8); weights 2i − n − 1 = −5, −3, −1, 1, 3, 5:
    // Σ w·x = 0 + 0 − 1 + 2 + 6 + 15 = 22 → G = 22 / (6 · 8) = 0.4583333
    expect(gini(recommendationCounts(lists, 6))).toBeCloseTo(22 / 48, 12);
    expect(gini([4, 4, 4])).toBe(0);
    expect(gini([0, 0, 0, 9])).toBeCloseTo(3 / 4, 12); // (n − 1)/n: one item takes every slot
    expect(gini([0, 0])).toBeNaN();
  });

  test('novelty from training popularity (distinct users per item)', () => {
    // 8 training users. Distinct users per item: 0 → 4, 1 → 8, 2 → 2, 3 → 1, 4 → 0, 5 → 3.
    const rows: number[][] = [];
    const users = [[0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7], [4, 5], [6], [], [0, 1, 2]];
    users.forEach((us, i) => us.forEach((u) => rows.push([u, i])));
    rows.push([0, 1]); // a repeated pair counts its user once
    const pop = itemPopularity(PositiveIndex.of(log(8, 6, rows)));
    expect([...pop.users]).toEqual([4, 8, 2, 1, 0, 3]);
    expect(pop.population).toBe(8);
    // p = 4/8, 8/8, 2/8, 1/8 → −log2 p = 1, 0, 2, 3 for items 0–3.
    // Slots: [0, 1, 2] → 1 + 0 + 2; [1, 2] → 0 + 2; [1, 3, 0] → 0 + 3 + 1. Sum 9 over 8 slots = 1.125
    expect(novelty(recommendationCounts(lists, 6), pop)).toBeCloseTo(1.125, 12);
    // An item no training user touched counts as touched once: −log2(1/8) = 3.
    expect(novelty([0, 0, 0, 0, 2, 0], pop)).toBeCloseTo(3, 12);
    expect(novelty([0, 0, 0, 0, 0, 0], pop)).toBeNaN();
    expect(() => novelty([1, 2], pop)).toThrow(/popularity\.users: expected 2 entries/);
  });
});
