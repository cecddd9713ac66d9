import { describe, expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { buildGraph, symNormAdjacency } from '../../src/graph/build.js';
import type { MergePolicy } from '../../src/native.js';
import { Rng } from '../../src/util/rng.js';
import { naiveUserItem, randomCoo } from './helpers.js';

const POLICIES: MergePolicy[] = ['sum', 'mean', 'max', 'last', 'count'];

describe('TypeScript CSR builder', () => {
  it('sym-normalises a hand-checked bipartite graph', () => {
    // users 0,1; items 0,1,2. Edges: u0-i0, u0-i1 (twice: merged), u1-i1, u1-i2.
    // Degrees (distinct neighbours): u0 = 2, u1 = 2, i0 = 1, i1 = 2, i2 = 1.
    const a = symNormAdjacency(Int32Array.from([0, 0, 0, 1, 1]), Int32Array.from([0, 1, 1, 1, 2]), undefined, 2, 3, {
      impl: 'ts',
    });
    expect(a.nRows).toBe(5);
    expect(Array.from(a.rowPtr)).toEqual([0, 2, 4, 5, 7, 8]);
    expect(Array.from(a.colIdx)).toEqual([2, 3, 3, 4, 0, 0, 1, 1]);
    const s = (du: number, di: number) => Math.fround(1 / Math.sqrt(du * di));
    expect(Array.from(a.values)).toEqual([s(2, 1), s(2, 2), s(2, 2), s(2, 1), s(1, 2), s(2, 2), s(2, 2), s(1, 2)]);
    expect(a.values[0]).toBeCloseTo(0.70710678, 6);
    expect(a.values[1]).toBe(0.5);
  });

  it('adds self-loops counted in the degree, and row/col normalisation', () => {
    const users = Int32Array.from([0, 0]);
    const items = Int32Array.from([0, 1]);
    const g = buildGraph(
      { users, items, nUsers: 1, nItems: 2 },
      { impl: 'ts', adjacency: { norm: 'row', selfLoops: true } },
    );
    // node 0 (user): [0 self, 1, 2], degree 3; nodes 1, 2 (items): [0, self], degree 2.
    expect(Array.from(g.adjacency!.colIdx)).toEqual([0, 1, 2, 0, 1, 0, 2]);
    expect(Array.from(g.adjacency!.values)).toEqual([1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, 0.5, 0.5].map(Math.fround));
    const c = buildGraph({ users, items, nUsers: 1, nItems: 2 }, { impl: 'ts', adjacency: { norm: 'col' } });
    // user row: entries toward items of degree 1; item rows: toward the user of degree 2.
    expect(Array.from(c.adjacency!.values)).toEqual([1, 1, 0.5, 0.5]);
  });

  it('merges duplicates by each policy (hand example)', () => {
    const users = Int32Array.from([0, 0, 0, 0]);
    const items = Int32Array.from([1, 1, 1, 0]);
    const weights = Float32Array.from([2, 5, 3, 7]);
    const ts = Float64Array.from([10, 30, 30, 1]);
    const want: Record<MergePolicy, number[]> = {
      sum: [7, 10],
      mean: [7, 10 / 3],
      max: [7, 5],
      last: [7, 3], // ts tie 30/30: the later row wins
      count: [1, 3],
    };
    for (const policy of POLICIES) {
      const g = buildGraph({ users, items, weights, ts, nUsers: 1, nItems: 2 }, { impl: 'ts', policy });
      expect(Array.from(g.userItem.colIdx), policy).toEqual([0, 1]);
      expect(Array.from(g.userItem.values), policy).toEqual(want[policy].map(Math.fround));
    }
  });

  it('matches a naive Map-based merge on seeded random inputs, every policy', () => {
    const rng = new Rng(2024);
    for (let c = 0; c < 150; c++) {
      const coo = randomCoo(rng);
      const policy = POLICIES[c % POLICIES.length];
      if (policy === 'last' && !coo.ts) coo.ts = Float64Array.from(coo.users, () => rng.int(4));
      const g = buildGraph(coo, { impl: 'ts', policy });
      const ref = naiveUserItem(coo, policy);
      const { rowPtr, colIdx, values } = g.userItem;
      expect(rowPtr.length).toBe(coo.nUsers + 1);
      for (let u = 0; u < coo.nUsers; u++) {
        const row = ref.get(u) ?? new Map<number, number>();
        const cols = Array.from(colIdx.subarray(rowPtr[u], rowPtr[u + 1]));
        expect(cols).toEqual([...row.keys()].sort((a, b) => a - b));
        // The naive merge also sums in input order in float64, so values match exactly.
        for (let j = rowPtr[u]; j < rowPtr[u + 1]; j++) expect(values[j]).toBe(row.get(colIdx[j]));
        expect(g.userDegree[u]).toBe(cols.length);
      }
      // transpose holds the same entries
      const { itemUser } = g;
      let count = 0;
      for (let i = 0; i < coo.nItems; i++) {
        for (let j = itemUser.rowPtr[i]; j < itemUser.rowPtr[i + 1]; j++) {
          expect(ref.get(itemUser.colIdx[j])!.get(i)).toBe(itemUser.values[j]);
          if (j > itemUser.rowPtr[i]) expect(itemUser.colIdx[j]).toBeGreaterThan(itemUser.colIdx[j - 1]);
          count++;
        }
        expect(g.itemDegree[i]).toBe(itemUser.rowPtr[i + 1] - itemUser.rowPtr[i]);
      }
      expect(count).toBe(colIdx.length);
    }
  });

  it('gives an empty graph with the right rowPtr for empty input', () => {
    const g = buildGraph(
      { users: new Int32Array(0), items: new Int32Array(0), nUsers: 3, nItems: 2 },
      { impl: 'ts', adjacency: { norm: 'sym', selfLoops: true } },
    );
    expect(Array.from(g.userItem.rowPtr)).toEqual([0, 0, 0, 0]);
    expect(Array.from(g.itemUser.rowPtr)).toEqual([0, 0, 0]);
    expect(g.userItem.colIdx.length).toBe(0);
    expect(Array.from(g.adjacency!.rowPtr)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(g.adjacency!.values)).toEqual([1, 1, 1, 1, 1]);
  });

  it('throws coded errors that name the argument and index', () => {
    const ok = { users: Int32Array.from([0, 1]), items: Int32Array.from([0, 0]), nUsers: 2, nItems: 1 };
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(GnnrlError);
        return e as GnnrlError;
      }
      throw new Error('did not throw');
    };
    const e = err(() => buildGraph({ ...ok, items: Int32Array.from([0, 73]), nItems: 50 }, { impl: 'ts' }));
    expect(e.code).toBe('input');
    expect(e.message).toBe('items[1]: expected an id in [0, 50), got 73');
    expect(e.details).toEqual({ arg: 'items', index: 1 });
  });
});
