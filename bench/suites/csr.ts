/**
 * Graph build (COO -> user-item CSR + transpose + symmetric-normalised bipartite
 * adjacency, duplicates summed) on seeded power-law interactions: the native builder on
 * 1 and 2 threads, the TypeScript twin, and a naive Map-of-arrays builder as baseline.
 * Every impl produces the same three matrices (the naive one skips nothing either).
 */
import { buildGraph } from '../../src/graph/build.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import type { Csr } from '../../src/graph/types.js';
import { loadNative } from '../../src/native.js';
import type { Suite } from '../harness.js';

/** The obvious JS approach: a Map per user, sort keys, then transpose and normalise. */
function jsMapBuild(users: Int32Array, items: Int32Array, w: Float32Array, nUsers: number, nItems: number) {
  const rows: Map<number, number>[] = Array.from({ length: nUsers }, () => new Map());
  for (let k = 0; k < users.length; k++) {
    const row = rows[users[k]];
    row.set(items[k], (row.get(items[k]) ?? 0) + w[k]);
  }
  const cols: number[][] = Array.from({ length: nItems }, () => []);
  const userItem: [number, number][][] = rows.map((row, u) => {
    const e = [...row.entries()].sort((a, b) => a[0] - b[0]);
    for (const [i] of e) cols[i].push(u);
    return e;
  });
  const N = nUsers + nItems;
  const deg = new Float64Array(N);
  userItem.forEach((e, u) => (deg[u] = e.length));
  cols.forEach((c, i) => (deg[nUsers + i] = c.length));
  const rowPtr = new Int32Array(N + 1);
  const colIdx: number[] = [];
  const values: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    for (const [i] of userItem[u]) {
      colIdx.push(nUsers + i);
      values.push(1 / Math.sqrt(deg[u] * deg[nUsers + i]));
    }
    rowPtr[u + 1] = colIdx.length;
  }
  for (let i = 0; i < nItems; i++) {
    for (const u of cols[i]) {
      colIdx.push(u);
      values.push(1 / Math.sqrt(deg[nUsers + i] * deg[u]));
    }
    rowPtr[nUsers + i + 1] = colIdx.length;
  }
  const adj: Csr = { nRows: N, nCols: N, rowPtr, colIdx: Int32Array.from(colIdx), values: Float32Array.from(values) };
  return { userItem, cols, adj };
}

export const suite: Suite = {
  name: 'csr',
  baseline: 'js-map',
  async run(ctx) {
    const native = loadNative();
    if (!native) ctx.log('native addon not loaded: native rows skipped (npm run build:native)');
    const sizes = [{ name: 'gsyn 100k x 50k x 2M', nUsers: 100_000, nItems: 50_000, nnz: 2_000_000, big: false }];
    if (ctx.quick) sizes[0] = { name: 'gsyn-quick 10k x 5k x 200k', nUsers: 10_000, nItems: 5_000, nnz: 200_000, big: false };
    else sizes.push({ name: 'gsyn 1M x 500k x 20M', nUsers: 1_000_000, nItems: 500_000, nnz: 20_000_000, big: true });
    for (const s of sizes) {
      const d = powerLawInteractions({ nUsers: s.nUsers, nItems: s.nItems, nnz: s.nnz, seed: 42 });
      const input = { users: d.users, items: d.items, weights: d.ratings, nUsers: s.nUsers, nItems: s.nItems };
      const opts = { policy: 'sum' as const, adjacency: { norm: 'sym' as const } };
      // Bytes every build must at least read (COO) and write (three CSRs, ~nnz entries each).
      const bytes = s.nnz * 12 + 3 * s.nnz * 8;
      const m = { bytes, minSamples: s.big ? 3 : ctx.quick ? 3 : 7, maxTime: s.big ? 1 : ctx.quick ? 1 : 5 };
      if (native) {
        await ctx.measure('csr', s.name, 'native-1t', () => buildGraph(input, { ...opts, impl: 'native', threads: 1 }), m);
        await ctx.measure('csr', s.name, 'native-2t', () => buildGraph(input, { ...opts, impl: 'native', threads: 2 }), m);
      }
      await ctx.measure('csr', s.name, 'ts', () => buildGraph(input, { ...opts, impl: 'ts' }), m);
      // The naive builder needs ~100 bytes per entry in Maps; at 20M rows that is minutes and GBs.
      if (!s.big) await ctx.measure('csr', s.name, 'js-map', () => jsMapBuild(d.users, d.items, d.ratings, s.nUsers, s.nItems), m);
    }
  },
};
