import { describe, expect, it } from 'vitest';
import { buildGraph } from '../../src/graph/build.js';
import { cooccurrence } from '../../src/graph/cooccurrence.js';

describe('item-item co-occurrence (TS)', () => {
  // users: u0 {0,1,2}, u1 {0,1}, u2 {1,2}, u3 {3}
  const ui = buildGraph(
    { users: Int32Array.from([0, 0, 0, 1, 1, 2, 2, 3]), items: Int32Array.from([0, 1, 2, 0, 1, 1, 2, 3]), nUsers: 4, nItems: 4 },
    { impl: 'ts' },
  ).userItem;

  it('counts shared users and keeps the top N (ties to the lower id), columns ascending', () => {
    const c = cooccurrence(ui, { topN: 1, impl: 'ts' });
    // item 0: c(0,1)=2, c(0,2)=1 -> 1; item 1: c(1,0)=2, c(1,2)=2 -> tie -> 0; item 2: c(2,1)=2; item 3: none
    expect(Array.from(c.rowPtr)).toEqual([0, 1, 2, 3, 3]);
    expect(Array.from(c.colIdx)).toEqual([1, 0, 1]);
    expect(Array.from(c.values)).toEqual([2, 2, 2]);
    const all = cooccurrence(ui, { topN: 5, impl: 'ts' });
    expect(Array.from(all.colIdx.subarray(all.rowPtr[1], all.rowPtr[2]))).toEqual([0, 2]);
  });

  it('scores binary cosine', () => {
    const c = cooccurrence(ui, { topN: 2, measure: 'cosine', impl: 'ts' });
    // deg: i0 = 2, i1 = 3, i2 = 2. cos(0,1) = 2/sqrt(6), cos(0,2) = 1/sqrt(4)
    expect(Array.from(c.colIdx.subarray(0, 2))).toEqual([1, 2]);
    expect(Array.from(c.values.subarray(0, 2))).toEqual([Math.fround(2 / Math.sqrt(6)), 0.5]);
  });
});
