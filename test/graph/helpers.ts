/** Shared test helpers for the graph layer: seeded random COO, exact Csr comparison, a naive oracle. */
import { expect } from 'vitest';
import type { Csr } from '../../src/graph/types.js';
import type { BuiltGraph, CooInput, MergePolicy } from '../../src/native.js';
import { Rng } from '../../src/util/rng.js';

/** Float32 bits, so comparisons are bit-exact (and -0 differs from 0). */
export function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

const raw = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export function expectSameCsr(a: Csr, b: Csr, what = 'csr'): void {
  expect([a.nRows, a.nCols], `${what} shape`).toEqual([b.nRows, b.nCols]);
  // Fast path for big matrices: equal bytes mean equal everything; otherwise fall
  // through to element-wise comparisons that show where they differ.
  if (raw(a.rowPtr).equals(raw(b.rowPtr)) && raw(a.colIdx).equals(raw(b.colIdx)) && raw(a.values).equals(raw(b.values))) {
    return;
  }
  expect(Array.from(a.rowPtr), `${what}.rowPtr`).toEqual(Array.from(b.rowPtr));
  expect(Array.from(a.colIdx), `${what}.colIdx`).toEqual(Array.from(b.colIdx));
  expect(bits(a.values), `${what}.values bits`).toEqual(bits(b.values));
}

export function expectSameGraph(a: BuiltGraph, b: BuiltGraph): void {
  expectSameCsr(a.userItem, b.userItem, 'userItem');
  expectSameCsr(a.itemUser, b.itemUser, 'itemUser');
  expect(Array.from(a.userDegree)).toEqual(Array.from(b.userDegree));
  expect(Array.from(a.itemDegree)).toEqual(Array.from(b.itemDegree));
  expect(a.adjacency === undefined).toBe(b.adjacency === undefined);
  if (a.adjacency && b.adjacency) expectSameCsr(a.adjacency, b.adjacency, 'adjacency');
}

/** A random valid COO with many duplicates, empty rows and (optionally) weights and timestamps. */
export function randomCoo(rng: Rng, maxUsers = 30, maxItems = 30, maxN = 300): CooInput {
  const nUsers = rng.int(maxUsers + 1);
  const nItems = rng.int(maxItems + 1);
  const n = nUsers && nItems ? rng.int(maxN + 1) : 0;
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  // Draw from a small active subset so rows repeat items (duplicates) and some rows stay empty.
  const uSpan = Math.max(1, rng.int(nUsers + 1));
  const iSpan = Math.max(1, rng.int(nItems + 1));
  for (let k = 0; k < n; k++) {
    users[k] = rng.int(uSpan);
    items[k] = rng.int(iSpan);
  }
  const coo: CooInput = { users, items, nUsers, nItems };
  if (rng.next() < 0.7) {
    // Mixed magnitudes make float32 rounding and summation order matter.
    coo.weights = Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? rng.int(5) + 1 : rng.normal() * 10 ** rng.int(6)));
  }
  const r = rng.next();
  if (r < 0.4) coo.ts = Float64Array.from({ length: n }, () => rng.int(8) + (rng.next() < 0.3 ? 0.5 : 0));
  else if (r < 0.7) coo.ts = Int32Array.from({ length: n }, () => rng.int(5) - 2);
  return coo;
}

/** Naive reference merge with a Map, independent of both builders' algorithms. */
export function naiveUserItem(coo: CooInput, policy: MergePolicy): Map<number, Map<number, number>> {
  const rows = new Map<number, Map<number, { sum: number; n: number; max: number; lastTs: number; last: number }>>();
  for (let k = 0; k < coo.users.length; k++) {
    const u = coo.users[k];
    const i = coo.items[k];
    const w = coo.weights ? coo.weights[k] : 1;
    const t = coo.ts ? coo.ts[k] : 0;
    let row = rows.get(u);
    if (!row) rows.set(u, (row = new Map()));
    const e = row.get(i);
    if (!e) row.set(i, { sum: w, n: 1, max: w, lastTs: t, last: w });
    else {
      e.sum += w;
      e.n++;
      e.max = Math.max(e.max, w);
      if (t >= e.lastTs) {
        e.lastTs = t;
        e.last = w;
      }
    }
  }
  const out = new Map<number, Map<number, number>>();
  for (const [u, row] of rows) {
    const m = new Map<number, number>();
    for (const [i, e] of row) {
      const v = { sum: e.sum, mean: e.sum / e.n, max: e.max, last: e.last, count: e.n }[policy];
      m.set(i, Math.fround(v));
    }
    out.set(u, m);
  }
  return out;
}
