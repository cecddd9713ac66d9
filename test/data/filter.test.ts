import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import { binarize, compactIds, fromExternal, kCore, type Interactions } from '../../src/data/index.js';

function randomLog(seed: number): Interactions {
  const rng = new Rng(seed);
  const n = 400;
  // Skewed degrees so that k-core removals cascade.
  return fromExternal({
    user: Array.from({ length: n }, () => Math.floor(Math.pow(rng.next(), 2) * 60)),
    item: Array.from({ length: n }, () => Math.floor(Math.pow(rng.next(), 2) * 80)),
    rating: Array.from({ length: n }, () => 1 + rng.int(5)),
    ts: Array.from({ length: n }, (_, i) => i),
  });
}

/** Reference k-core: recount degrees from scratch every round until nothing changes. */
function naiveCore(x: Interactions, k: number): Set<number> {
  let alive = new Set(Array.from(x.user, (_, i) => i));
  for (;;) {
    const du = new Map<number, number>();
    const di = new Map<number, number>();
    for (const i of alive) {
      du.set(x.user[i], (du.get(x.user[i]) ?? 0) + 1);
      di.set(x.item[i], (di.get(x.item[i]) ?? 0) + 1);
    }
    const next = new Set([...alive].filter((i) => du.get(x.user[i])! >= k && di.get(x.item[i])! >= k));
    if (next.size === alive.size) return alive;
    alive = next;
  }
}

describe('kCore', () => {
  it.each([1, 2, 3, 4])('matches the reference fixed point and every degree meets k (seed %i)', (seed) => {
    const x = randomLog(seed);
    const k = 3 + (seed % 3);
    const core = kCore(x, { userK: k, itemK: k, compact: false });
    const ref = naiveCore(x, k);
    expect(core.user.length).toBe(ref.size);
    expect(Array.from(core.ts!)).toEqual([...ref].sort((a, b) => a - b)); // ts = original row index
    const c = kCore(x, { userK: k, itemK: k });
    const du = new Int32Array(c.nUsers);
    const di = new Int32Array(c.nItems);
    c.user.forEach((u) => du[u]++);
    c.item.forEach((i) => di[i]++);
    expect(Math.min(...du)).toBeGreaterThanOrEqual(k);
    expect(Math.min(...di)).toBeGreaterThanOrEqual(k);
    // Compaction keeps external ids attached to the same events.
    expect(Array.from(c.user, (u) => c.userIds.id(u))).toEqual(Array.from(core.user, (u) => x.userIds.id(u)));
  });

  it('iterates: removing a user can drop an item below k', () => {
    // Item 100 has 2 events, one from user 'b' who has only 1 event: with k=2 both go.
    const x = fromExternal({ user: ['a', 'a', 'b', 'c', 'c'], item: [100, 200, 100, 200, 300] });
    const c = kCore(x, { userK: 2, itemK: 2 });
    expect(Array.from(c.user, (u) => c.userIds.id(u))).toEqual([]);
    const y = fromExternal({ user: ['a', 'a', 'c', 'c'], item: [100, 200, 100, 200] });
    expect(kCore(y, { userK: 2, itemK: 2 }).user.length).toBe(4);
  });
});

describe('binarize and compactIds', () => {
  it('keeps ratings >= threshold and drops the rating column', () => {
    const x = fromExternal({ user: [1, 1, 2], item: [1, 2, 3], rating: [4, 3.5, 5], ts: [1, 2, 3] });
    const b = binarize(x, 4);
    expect(b.rating).toBeNull();
    expect(Array.from(b.ts!)).toEqual([1, 3]);
    expect(() => binarize(b, 4)).toThrow(/already implicit/);
  });

  it('compacts ids and cuts feature rows to match', () => {
    const x = fromExternal({ user: ['a', 'b', 'c'], item: [1, 2, 3] });
    x.userFeatures = { nRows: 3, dim: 2, data: Float32Array.from([1, 2, 3, 4, 5, 6]), names: ['f', 'g'] };
    const sub = { ...x, user: Int32Array.from([2]), item: Int32Array.from([0]), rating: null, ts: null };
    const c = compactIds(sub);
    expect([c.nUsers, c.nItems]).toEqual([1, 1]);
    expect(c.userIds.ids()).toEqual(['c']);
    expect(c.itemIds.ids()).toEqual([1]);
    expect(Array.from(c.userFeatures!.data)).toEqual([5, 6]);
  });
});
