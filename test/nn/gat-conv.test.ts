import { expect, test } from 'vitest';
import { GATConv, freeGatGraph, type GatActivation } from '../../src/nn/gat-conv.js';
import { prepareGatGraph } from '../../src/graph/upload.js';
import { withSelfLoops } from '../../src/graph/gat-edges.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Csr } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { randomF32 } from '../util/random-csr.js';
import { matmul64, moduleGradCheck, type Params } from './conv-gradcheck.js';

/** A square graph of n nodes: node `isolated` has no edges, node `hub` is joined to all others, the rest to a few. */
function awkwardGraph(rng: Rng, n: number, isolated: number, hub: number): Csr {
  const adj = Array.from({ length: n }, () => new Set<number>());
  const link = (a: number, b: number) => {
    if (a === b || a === isolated || b === isolated) return;
    adj[a].add(b);
    adj[b].add(a);
  };
  for (let v = 0; v < n; v++) link(hub, v);
  for (let k = 0; k < n; k++) link(rng.int(n), rng.int(n));
  const rows = adj.map((s) => [...s].sort((a, b) => a - b));
  const rowPtr = new Int32Array(n + 1);
  rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i] + r.length));
  return { nRows: n, nCols: n, rowPtr, colIdx: Int32Array.from(rows.flat()), values: new Float32Array(rowPtr[n]).fill(1) };
}

interface RefOpts {
  inF: number;
  f: number;
  heads: number;
  concat: boolean;
  slope: number;
  activation: GatActivation;
}

const lrelu = (z: number, s: number) => (z > 0 ? z : s * z);

/** Plain float64 multi-head GAT layer over `csr` (self-loops already in it). */
function gatRef(csr: Csr, x: Float64Array, p: Params, o: RefOpts): Float64Array {
  const n = csr.nRows;
  const w = o.heads * o.f;
  const h = matmul64(x, p.weight, n, o.inF, w);
  const el = new Float64Array(n * o.heads);
  const er = new Float64Array(n * o.heads);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < w; c++) {
      const k = Math.floor(c / o.f);
      el[i * o.heads + k] += h[i * w + c] * p.attnL[c];
      er[i * o.heads + k] += h[i * w + c] * p.attnR[c];
    }
  }
  const agg = new Float64Array(n * w);
  for (let i = 0; i < n; i++) {
    const e0 = csr.rowPtr[i];
    const e1 = csr.rowPtr[i + 1];
    for (let k = 0; k < o.heads; k++) {
      const z = [];
      for (let e = e0; e < e1; e++) z.push(lrelu(el[i * o.heads + k] + er[csr.colIdx[e] * o.heads + k], o.slope));
      const m = Math.max(...z);
      const ex = z.map((v) => Math.exp(v - m));
      const tot = ex.reduce((a, b) => a + b, 0);
      for (let e = e0; e < e1; e++) {
        const a = ex[e - e0] / tot;
        for (let f = 0; f < o.f; f++) agg[i * w + k * o.f + f] += a * h[csr.colIdx[e] * w + k * o.f + f];
      }
    }
  }
  const width = o.concat ? w : o.f;
  const out = new Float64Array(n * width);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < width; c++) {
      let v: number;
      if (o.concat) v = agg[i * w + c];
      else {
        v = 0;
        for (let k = 0; k < o.heads; k++) v += agg[i * w + k * o.f + c] / o.heads;
      }
      v += p.bias[c];
      out[i * width + c] = o.activation === 'relu' ? Math.max(0, v) : o.activation === 'leakyRelu' ? lrelu(v, 0.2) : v;
    }
  }
  return out;
}

const CASES: Omit<RefOpts, 'inF' | 'slope'>[] = [
  { heads: 3, f: 5, concat: true, activation: 'leakyRelu' },
  { heads: 4, f: 3, concat: false, activation: 'none' },
  { heads: 1, f: 6, concat: false, activation: 'relu' },
];

forEachBackend('GATConv', (b) => {
  for (const c of CASES) {
    const label = `${c.heads} head${c.heads > 1 ? 's' : ''} of ${c.f}, ${c.concat ? 'concatenated' : 'averaged'}, σ=${c.activation}`;
    test(`${label}: forward matches a float64 reference and gradients of x and every parameter match finite differences`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const n = 11;
      const raw = awkwardGraph(rng, n, 3, 7);
      const csr = withSelfLoops(raw);
      const g = prepareGatGraph(engine, raw, { selfLoops: true });
      const o: RefOpts = { ...c, inF: 7, slope: 0.2 };
      const conv = new GATConv(engine, o.inF, o.f, { rng: seed, heads: c.heads, concat: c.concat, activation: c.activation });
      engine.write(conv.bias.data, randomF32(rng, conv.bias.size, -0.3, 0.3));
      try {
        await moduleGradCheck(
          engine,
          { name: `GATConv ${label}`, module: conv, x: randomF32(rng, n * o.inF), xShape: [n, o.inF], forward: (x) => conv.forward(g, x), ref: (x, p) => gatRef(csr, x, p, o) },
          seed,
        );
      } finally {
        freeGatGraph(engine, g);
        conv.dispose();
      }
    });
  }

  test('a node without neighbours attends only to itself (its self-loop), and input shapes are checked', async (ctx) => {
    const engine = b.engine(ctx);
    const raw: Csr = { nRows: 3, nCols: 3, rowPtr: Int32Array.from([0, 1, 2, 2]), colIdx: Int32Array.from([1, 0]), values: Float32Array.from([1, 1]) };
    const g = prepareGatGraph(engine, raw, { selfLoops: true });
    const conv = new GATConv(engine, 2, 2, { rng: 5, heads: 2, concat: false });
    expect(conv.outWidth).toBe(2);
    const y = (await conv.forward(g, Tensor.fromArray(engine, Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2])).read()) as Float32Array;
    const W = (await conv.weight.read()) as Float32Array; // [2, 4]: head 0 in columns 0..1, head 1 in 2..3
    // Node 2: softmax over its self-loop alone is 1, so each head returns x2·W^k; the average of the heads.
    for (let f = 0; f < 2; f++) {
      const h0 = 5 * W[f] + 6 * W[4 + f];
      const h1 = 5 * W[2 + f] + 6 * W[6 + f];
      expect(y[4 + f]).toBeCloseTo((h0 + h1) / 2, 5);
    }
    expect(() => conv.forward(g, Tensor.fromArray(engine, new Float32Array(6), [2, 3]))).toThrow(/x is 2×3, expected 3×2/);
    freeGatGraph(engine, g);
    conv.dispose();
  });
});
