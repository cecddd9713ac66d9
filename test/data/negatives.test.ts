import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { AliasTable, PositiveIndex, bprBatches, fromExternal, itemDegrees, sampleNegatives, type Interactions } from '../../src/data/index.js';

function log(seed: number, nUsers = 30, nItems = 50, n = 600): Interactions {
  const rng = new Rng(seed);
  return fromExternal({
    user: Array.from({ length: n }, () => rng.int(nUsers)),
    // Popular items first: item k has weight ∝ 1/(k+1).
    item: Array.from({ length: n }, () => Math.min(nItems - 1, Math.floor(Math.exp(rng.next() * Math.log(nItems + 1)) - 1))),
  });
}

describe('AliasTable', () => {
  it('draws in proportion to the weights', () => {
    const w = [1, 0, 3, 6];
    const t = new AliasTable(w);
    const rng = new Rng(4);
    const counts = [0, 0, 0, 0];
    const n = 200_000;
    for (let k = 0; k < n; k++) counts[t.sample(rng)]++;
    expect(counts[1]).toBe(0);
    // 4σ binomial tolerance.
    w.forEach((wi, k) => {
      const p = wi / 10;
      expect(Math.abs(counts[k] / n - p)).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / n) + 1e-12);
    });
    expect(() => new AliasTable([0, 0])).toThrow('all weights are zero');
    expect(() => new AliasTable([1, -1])).toThrow('weights[1] = -1');
  });
});

describe('sampleNegatives', () => {
  it.each(['uniform', 'popularity'] as const)('%s: never a positive, seeded, shaped as per-positive rows', (strategy) => {
    const x = log(1);
    const pos = PositiveIndex.of(x);
    const s = sampleNegatives(x, { perPositive: 3, strategy, seed: 9 });
    expect(s.neg.length).toBe(3 * x.user.length);
    for (let k = 0; k < s.neg.length; k++) {
      const e = Math.floor(k / 3);
      expect(s.users[k]).toBe(x.user[e]);
      expect(s.pos[k]).toBe(x.item[e]);
      expect(pos.has(s.users[k], s.neg[k])).toBe(false);
      expect(s.neg[k]).toBeGreaterThanOrEqual(0);
      expect(s.neg[k]).toBeLessThan(x.nItems);
    }
    expect(Array.from(sampleNegatives(x, { perPositive: 3, strategy, seed: 9 }).neg)).toEqual(Array.from(s.neg));
    expect(Array.from(sampleNegatives(x, { perPositive: 3, strategy, seed: 10 }).neg)).not.toEqual(Array.from(s.neg));
  });

  it('popularity strategy follows item counts; uniform does not', () => {
    // One user with a single positive: its negatives are otherwise unconstrained.
    const x = log(2, 200, 40, 4000);
    const lone = fromExternal({ user: [...Array.from(x.user, (u) => x.userIds.id(u)), 'lone'], item: [...Array.from(x.item, (i) => x.itemIds.id(i)), x.itemIds.id(0)] });
    const deg = itemDegrees(lone);
    const u = lone.userIds.get('lone');
    const draws = 100_000;
    const sub = { ...lone, user: new Int32Array(draws).fill(u), item: new Int32Array(draws).fill(0), rating: null, ts: null };
    const exclude = PositiveIndex.of(lone);
    const pop = sampleNegatives(sub, { strategy: 'popularity', seed: 3, exclude, itemCounts: deg });
    const uni = sampleNegatives(sub, { strategy: 'uniform', seed: 3, exclude });
    const total = deg.reduce((a, b) => a + b, 0) - deg[0];
    const cp = new Float64Array(lone.nItems);
    const cu = new Float64Array(lone.nItems);
    pop.neg.forEach((i) => cp[i]++);
    uni.neg.forEach((i) => cu[i]++);
    expect(cp[0] + cu[0]).toBe(0);
    for (let i = 1; i < lone.nItems; i++) {
      const p = deg[i] / total;
      expect(Math.abs(cp[i] / draws - p)).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / draws) + 1e-9);
      const q = 1 / (lone.nItems - 1);
      expect(Math.abs(cu[i] / draws - q)).toBeLessThanOrEqual(4 * Math.sqrt((q * (1 - q)) / draws));
    }
  });

  it('falls back to an exact draw for a user who has almost every item, and refuses one who has all', () => {
    const items = Array.from({ length: 500 }, (_, i) => i);
    const x = fromExternal({ user: [...items.map(() => 'heavy'), 'other'], item: [...items, 500] });
    const s = sampleNegatives({ ...x, user: Int32Array.from([0, 0, 0]), item: Int32Array.from([0, 1, 2]) }, { exclude: PositiveIndex.of(x), seed: 1 });
    expect(Array.from(s.neg)).toEqual([500, 500, 500]);
    const full = fromExternal({ user: ['a', 'a'], item: [1, 2] });
    expect(() => sampleNegatives(full)).toThrow('negative sampling: user 0 has interacted with every item, so no negative exists');
  });
});

describe('bprBatches', () => {
  it('visits every event once per epoch in batches, with valid negatives', () => {
    const x = log(5);
    const pos = PositiveIndex.of(x);
    const batches = [...bprBatches(x, { batchSize: 64, seed: 2 })];
    expect(batches.map((b) => b.users.length)).toEqual([...Array(Math.floor(600 / 64)).fill(64), 600 % 64]);
    const seen = batches.flatMap((b) => Array.from(b.users, (u, j) => `${u}:${b.pos[j]}`)).sort();
    expect(seen).toEqual(Array.from(x.user, (u, i) => `${u}:${x.item[i]}`).sort());
    for (const b of batches) b.neg.forEach((n, j) => expect(pos.has(b.users[j], n)).toBe(false));
    const again = [...bprBatches(x, { batchSize: 64, seed: 2 })];
    expect(again.map((b) => Array.from(b.neg))).toEqual(batches.map((b) => Array.from(b.neg)));
    expect(() => [...bprBatches(x, { batchSize: 0 })]).toThrow('batchSize: expected an integer >= 1, got 0');
  });
});
