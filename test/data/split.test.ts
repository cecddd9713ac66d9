import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import {
  fromExternal,
  groupByUser,
  kFold,
  splitByGlobalTime,
  splitByUserTime,
  splitLeaveLastOut,
  splitRandom,
  trainCount,
  type Interactions,
  type Split,
} from '../../src/data/index.js';

/** A random log with many timestamp ties, users with 1..12 events, rows in random order. */
function randomLog(seed: number, withTs = true): Interactions {
  const rng = new Rng(seed);
  const user: number[] = [];
  const item: number[] = [];
  const ts: number[] = [];
  const nUsers = 5 + rng.int(30);
  for (let u = 0; u < nUsers; u++) {
    const n = 1 + rng.int(12);
    for (let k = 0; k < n; k++) {
      user.push(u * 3 + 1);
      item.push(rng.int(40));
      ts.push(1000 + rng.int(6)); // few distinct values: ties everywhere
    }
  }
  const order = rng.shuffle(Array.from(user, (_, i) => i));
  return fromExternal({
    user: order.map((i) => user[i]),
    item: order.map((i) => item[i]),
    rating: order.map((i) => (i % 5) + 1),
    ts: withTs ? order.map((i) => ts[i]) : null,
  });
}

/** Row identity: (user, item, rating, ts, index among equal rows) so multisets compare exactly. */
function keys(x: Interactions): string[] {
  return Array.from(x.user, (u, i) => `${u}|${x.item[i]}|${x.rating?.[i]}|${x.ts?.[i]}`);
}

function expectPartition(x: Interactions, s: Split, dropped: string[] = []): void {
  expect(s.train.userIds).toBe(x.userIds);
  expect(s.test.itemIds).toBe(x.itemIds);
  expect([...keys(s.train), ...keys(s.test), ...dropped].sort()).toEqual(keys(x).sort());
}

/** Position of each row of x in its user's time order (ts, then row index). */
function timeRank(x: Interactions): Int32Array {
  const { offsets, order } = groupByUser(x);
  const rank = new Int32Array(x.user.length);
  for (let u = 0; u < x.nUsers; u++) for (let j = offsets[u]; j < offsets[u + 1]; j++) rank[order[j]] = j - offsets[u];
  return rank;
}

/** Splits by mask reproduce the parent's row order, so row r of a part maps back by scanning. */
function partRows(x: Interactions, part: Interactions): number[] {
  const used = new Uint8Array(x.user.length);
  const out: number[] = [];
  let from = 0;
  for (let j = 0; j < part.user.length; j++) {
    let i = from;
    while (used[i] || x.user[i] !== part.user[j] || x.item[i] !== part.item[j] || x.ts?.[i] !== part.ts?.[j] || x.rating?.[i] !== part.rating?.[j]) i++;
    used[i] = 1;
    out.push(i);
    from = i + 1; // parts keep original order
  }
  return out;
}

describe('trainCount', () => {
  it('floors, keeps one event on each side, survives float noise', () => {
    expect([1, 2, 3, 4, 5, 7, 10].map((n) => trainCount(n, 0.8))).toEqual([1, 1, 2, 3, 4, 5, 8]);
    expect(trainCount(10, 0.7)).toBe(7);
    expect(trainCount(100, 0.29)).toBe(29);
    expect(trainCount(10, 0.01)).toBe(1);
    expect(trainCount(10, 0.99)).toBe(9);
  });
});

describe('splitByUserTime (DDPG-LA protocol)', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: per-user counts, chronology and partition', (seed) => {
    const x = randomLog(seed);
    const ratio = [0.8, 0.5, 0.7][seed % 3];
    const s = splitByUserTime(x, ratio);
    expectPartition(x, s);
    const rank = timeRank(x);
    const trainRows = partRows(x, s.train);
    const testRows = partRows(x, s.test);
    const deg = new Int32Array(x.nUsers);
    for (const u of x.user) deg[u]++;
    const nTrain = new Int32Array(x.nUsers);
    const maxTrain = new Float64Array(x.nUsers).fill(-Infinity);
    const maxTrainRank = new Int32Array(x.nUsers).fill(-1);
    for (const i of trainRows) {
      const u = x.user[i];
      nTrain[u]++;
      maxTrain[u] = Math.max(maxTrain[u], x.ts![i]);
      maxTrainRank[u] = Math.max(maxTrainRank[u], rank[i]);
    }
    for (let u = 0; u < x.nUsers; u++) expect(nTrain[u]).toBe(trainCount(deg[u], ratio));
    for (const i of testRows) {
      const u = x.user[i];
      // No test event earlier than any training event of the same user, ties by row order.
      expect(x.ts![i]).toBeGreaterThanOrEqual(maxTrain[u]);
      expect(rank[i]).toBeGreaterThan(maxTrainRank[u]);
    }
  });

  it('breaks timestamp ties by original row order and handles logs without ts', () => {
    const x = fromExternal({ user: [1, 1, 1, 1, 1], item: [10, 11, 12, 13, 14], ts: [5, 5, 5, 5, 5] });
    const s = splitByUserTime(x, 0.8);
    expect(Array.from(s.train.item)).toEqual([0, 1, 2, 3]);
    expect(Array.from(s.test.item)).toEqual([4]);
    const y = fromExternal({ user: [1, 2, 1, 1, 2], item: [1, 2, 3, 4, 5] });
    const t = splitByUserTime(y, 0.5);
    expect(Array.from(t.test.item, (i) => y.itemIds.id(i))).toEqual([3, 4, 5]);
  });

  it('singleton users go to train by default, or test, or nowhere', () => {
    const x = fromExternal({ user: ['a', 'b', 'b'], item: [1, 2, 3], ts: [1, 2, 3] });
    expect(splitByUserTime(x).train.user.length).toBe(2);
    expect(splitByUserTime(x, 0.8, { singleton: 'test' }).test.user.length).toBe(2);
    const d = splitByUserTime(x, 0.8, { singleton: 'drop' });
    expect(d.train.user.length + d.test.user.length).toBe(2);
    expect(() => splitByUserTime(x, 1)).toThrow('ratio: expected a number in (0, 1), got 1');
  });
});

describe('other splits', () => {
  it.each([1, 2, 3, 4, 5])('leave-last-out, seed %i', (seed) => {
    const x = randomLog(seed);
    const s = splitLeaveLastOut(x);
    expectPartition(x, s);
    const rank = timeRank(x);
    const deg = new Int32Array(x.nUsers);
    for (const u of x.user) deg[u]++;
    const testRows = partRows(x, s.test);
    expect(testRows.length).toBe(Array.from(deg).filter((d) => d >= 2).length);
    for (const i of testRows) expect(rank[i]).toBe(deg[x.user[i]] - 1);
  });

  it.each([1, 2, 3])('global time cut, seed %i', (seed) => {
    const x = randomLog(seed);
    const s = splitByGlobalTime(x, { at: 1003 });
    expectPartition(x, s);
    expect(Array.from(s.train.ts!).every((t) => t < 1003)).toBe(true);
    expect(Array.from(s.test.ts!).every((t) => t >= 1003)).toBe(true);
    const r = splitByGlobalTime(x, { ratio: 0.75 });
    expectPartition(x, r);
    expect(r.train.user.length).toBe(Math.floor(0.75 * x.user.length));
    expect(Math.max(...r.train.ts!)).toBeLessThanOrEqual(Math.min(...r.test.ts!));
    expect(() => splitByGlobalTime(randomLog(seed, false), { at: 1 })).toThrow(/no timestamps/);
  });

  it('random split: exact size, seeded, different seeds differ', () => {
    const x = randomLog(9);
    const a = splitRandom(x, 0.8, { seed: 5 });
    expectPartition(x, a);
    expect(a.train.user.length).toBe(Math.floor(0.8 * x.user.length));
    expect(keys(splitRandom(x, 0.8, { seed: 5 }).test)).toEqual(keys(a.test));
    expect(keys(splitRandom(x, 0.8, { seed: 6 }).test)).not.toEqual(keys(a.test));
  });

  it('k-fold: folds partition the log, each test set once, sizes within one', () => {
    const x = randomLog(10);
    const folds = [...kFold(x, 4, { seed: 2 })];
    expect(folds.map((f) => f.fold)).toEqual([0, 1, 2, 3]);
    for (const f of folds) expectPartition(x, f);
    expect(folds.flatMap((f) => keys(f.test)).sort()).toEqual(keys(x).sort());
    const sizes = folds.map((f) => f.test.user.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(folds.map((f) => keys(f.test))).toEqual([...kFold(x, 4, { seed: 2 })].map((f) => keys(f.test)));
    expect(() => [...kFold(x, 1)]).toThrow('k: expected an integer >= 2, got 1');
  });
});
