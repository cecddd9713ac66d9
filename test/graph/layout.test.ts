import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/graph/build.js';
import { degreeLayout } from '../../src/graph/layout.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import { Rng } from '../../src/util/rng.js';

describe('degree-aware segment layout', () => {
  for (const [seed, maxSegment] of [[1, 1], [2, 7], [3, 64], [4, 100000]]) {
    it(`covers every nnz exactly once (seed ${seed}, maxSegment ${maxSegment})`, () => {
      const rng = new Rng(seed);
      const nUsers = 50 + rng.int(200);
      const d = powerLawInteractions({ nUsers, nItems: 80, nnz: 3000, seed, alpha: 1.1 });
      const a = buildGraph({ users: d.users, items: d.items, nUsers: nUsers + 5, nItems: 80 }, { impl: 'ts', adjacency: {} }).adjacency!;
      const l = degreeLayout(a, { maxSegment });
      const nnz = a.rowPtr[a.nRows];
      const covered = new Uint8Array(nnz);
      const deg = (r: number) => a.rowPtr[r + 1] - a.rowPtr[r];
      // order: a permutation, degrees non-increasing, ties in row order
      expect([...l.order].sort((x, y) => x - y)).toEqual(Array.from({ length: a.nRows }, (_, i) => i));
      for (let p = 1; p < a.nRows; p++) {
        const d0 = deg(l.order[p - 1]);
        const d1 = deg(l.order[p]);
        expect(d0 >= d1).toBe(true);
        if (d0 === d1) expect(l.order[p - 1]).toBeLessThan(l.order[p]);
      }
      expect(l.rowSegPtr[a.nRows]).toBe(l.segRow.length);
      for (let p = 0; p < a.nRows; p++) {
        const r = l.order[p];
        const segs = l.rowSegPtr[p + 1] - l.rowSegPtr[p];
        expect(segs).toBe(deg(r) === 0 ? 1 : Math.ceil(deg(r) / maxSegment));
        for (let s = l.rowSegPtr[p]; s < l.rowSegPtr[p + 1]; s++) {
          expect(l.segRow[s]).toBe(r);
          expect(l.segStart[s]).toBeGreaterThanOrEqual(a.rowPtr[r]);
          expect(l.segEnd[s]).toBeLessThanOrEqual(a.rowPtr[r + 1]);
          expect(l.segEnd[s] - l.segStart[s]).toBeLessThanOrEqual(maxSegment);
          for (let j = l.segStart[s]; j < l.segEnd[s]; j++) covered[j]++;
        }
      }
      expect(covered.every((c) => c === 1)).toBe(true);
      // a segmented sum equals the row sum
      const x = Float64Array.from({ length: nnz }, () => rng.next());
      const part = Array.from(l.segRow, (_, s) => x.slice(l.segStart[s], l.segEnd[s]).reduce((q, v) => q + v, 0));
      for (let p = 0; p < a.nRows; p++) {
        const r = l.order[p];
        const viaSegs = part.slice(l.rowSegPtr[p], l.rowSegPtr[p + 1]).reduce((q, v) => q + v, 0);
        const direct = x.slice(a.rowPtr[r], a.rowPtr[r + 1]).reduce((q, v) => q + v, 0);
        expect(viaSegs).toBeCloseTo(direct, 9);
      }
    });
  }

  it('can leave empty rows without segments', () => {
    const a = { nRows: 3, nCols: 2, rowPtr: Int32Array.from([0, 0, 2, 2]), colIdx: Int32Array.from([0, 1]), values: new Float32Array(2) };
    const l = degreeLayout(a, { maxSegment: 1, emptyRowSegments: false });
    expect(Array.from(l.order)).toEqual([1, 0, 2]);
    expect(Array.from(l.segRow)).toEqual([1, 1]);
    expect(Array.from(l.rowSegPtr)).toEqual([0, 2, 2, 2]);
    expect(() => degreeLayout(a, { maxSegment: 0 })).toThrow('maxSegment: expected an integer in [1, 2147483647], got 0');
  });
});
