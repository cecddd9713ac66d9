import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/graph/build.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import { randomWalkNeighbors, sampleNeighbors } from '../../src/graph/sampling.js';
import type { Csr } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';

function graph(seed: number): Csr {
  const d = powerLawInteractions({ nUsers: 400, nItems: 300, nnz: 6000, seed });
  return buildGraph(
    { users: d.users, items: d.items, nUsers: 400, nItems: 300 },
    { impl: 'ts', adjacency: { norm: 'none' } },
  ).adjacency!;
}

function neighbours(g: Csr, v: number): Set<number> {
  return new Set(g.colIdx.subarray(g.rowPtr[v], g.rowPtr[v + 1]));
}

describe('neighbour sampling (TS)', () => {
  const g = graph(3);
  const seeds = Int32Array.from(new Rng(4).shuffle(Int32Array.from({ length: 700 }, (_, i) => i)).subarray(0, 64));

  it('is deterministic for a seed and differs across seeds', () => {
    const a = sampleNeighbors(g, seeds, [10, 5], { seed: 42, impl: 'ts' });
    const b = sampleNeighbors(g, seeds, [10, 5], { seed: 42, impl: 'ts' });
    expect(a).toEqual(b);
    const c = sampleNeighbors(g, seeds, [10, 5], { seed: 43, impl: 'ts' });
    expect(Array.from(c.layers[2])).not.toEqual(Array.from(a.layers[2]));
  });

  it('samples real neighbours, respects fan-outs, and keeps destination nodes as a prefix', () => {
    const fan = [10, 5, 3];
    const s = sampleNeighbors(g, seeds, fan, { seed: 7, impl: 'ts' });
    expect(s.layers).toHaveLength(4);
    expect(s.blocks).toHaveLength(3);
    expect(Array.from(s.layers[0])).toEqual(Array.from(seeds));
    for (let l = 0; l < 3; l++) {
      const rows = s.layers[l];
      const cols = s.layers[l + 1];
      const b = s.blocks[l];
      expect(Array.from(cols.subarray(0, rows.length))).toEqual(Array.from(rows));
      expect(new Set(cols).size).toBe(cols.length);
      expect([b.nRows, b.nCols]).toEqual([rows.length, cols.length]);
      for (let p = 0; p < rows.length; p++) {
        const v = rows[p];
        const deg = g.rowPtr[v + 1] - g.rowPtr[v];
        const k = b.rowPtr[p + 1] - b.rowPtr[p];
        expect(k).toBe(Math.min(deg, fan[l]));
        const nb = neighbours(g, v);
        for (let j = b.rowPtr[p]; j < b.rowPtr[p + 1]; j++) {
          expect(nb.has(cols[b.colIdx[j]])).toBe(true);
          if (j > b.rowPtr[p]) expect(b.colIdx[j]).toBeGreaterThan(b.colIdx[j - 1]);
          expect(b.values[j]).toBe(Math.fround(1 / k));
        }
      }
    }
  });

  it('samples each neighbour about equally often (uniform)', () => {
    // Node with degree >= 20, fan-out 5: each neighbour should appear ~5/deg of the time.
    let v = 0;
    while (g.rowPtr[v + 1] - g.rowPtr[v] < 20) v++;
    const deg = g.rowPtr[v + 1] - g.rowPtr[v];
    const hits = new Map<number, number>();
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      const s = sampleNeighbors(g, Int32Array.of(v), [5], { seed: t, impl: 'ts' });
      for (const c of s.blocks[0].colIdx) hits.set(s.layers[1][c], (hits.get(s.layers[1][c]) ?? 0) + 1);
    }
    expect(hits.size).toBe(deg);
    const expected = (trials * 5) / deg;
    for (const h of hits.values()) expect(Math.abs(h - expected)).toBeLessThan(expected * 0.35);
  });

  it('rejects bad seeds and fan-outs with coded errors', () => {
    expect(() => sampleNeighbors(g, Int32Array.of(1, 1), [2], { impl: 'ts' })).toThrow(
      'seeds[1]: expected unique node ids, got 1 again (first at 0)',
    );
    expect(() => sampleNeighbors(g, Int32Array.of(700), [2], { impl: 'ts' })).toThrow(
      'seeds[0]: expected a node id in [0, 700), got 700',
    );
    expect(() => sampleNeighbors(g, Int32Array.of(1), [2, 0], { impl: 'ts' })).toThrow(
      'fanouts[1]: expected an integer >= 1, got 0',
    );
  });
});

describe('random-walk neighbourhoods (TS)', () => {
  it('counts visits deterministically and keeps the top K', () => {
    // Path 0 - 1 - 2 (symmetric). From 1 every step goes to 0 or 2, then back to 1.
    const g: Csr = {
      nRows: 3,
      nCols: 3,
      rowPtr: Int32Array.from([0, 1, 3, 4]),
      colIdx: Int32Array.from([1, 0, 2, 1]),
      values: new Float32Array(4).fill(1),
    };
    const r = randomWalkNeighbors(g, Int32Array.of(1, 0), { walks: 50, length: 4, topK: 5, seed: 3, impl: 'ts' });
    expect(r).toEqual(randomWalkNeighbors(g, Int32Array.of(1, 0), { walks: 50, length: 4, topK: 5, seed: 3, impl: 'ts' }));
    // Seed 1: odd steps land on 0 or 2 (100 visits in all), even steps on 1 itself (not counted).
    expect(Array.from(r.colIdx.subarray(0, 2))).toEqual([0, 2]);
    expect(r.values[0] + r.values[1]).toBe(100);
    // Seed 0 with stride 2: only even steps count; those land on 0 (excluded) or 2.
    const s = randomWalkNeighbors(g, Int32Array.of(0), { walks: 20, length: 4, topK: 1, stride: 2, seed: 1, impl: 'ts' });
    expect(Array.from(s.colIdx)).toEqual([2]);
  });
});
