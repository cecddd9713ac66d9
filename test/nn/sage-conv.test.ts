import { expect, test } from 'vitest';
import { SAGEConv, freeSageBlock, uploadSageBlock, type SageAggregator } from '../../src/nn/sage-conv.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Csr } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { randomF32 } from '../util/random-csr.js';
import { matmul64, moduleGradCheck, type Params } from './conv-gradcheck.js';

/**
 * A block with the shapes that break aggregation code: `nDst` destinations over `nSrc`
 * sources, row `empty` without neighbours, row `hub` connected to every source, the
 * others to 1–4 random sources; values 1/k (what the sampler and a row-normalised
 * adjacency give).
 */
function awkwardBlock(rng: Rng, nDst: number, nSrc: number, empty: number, hub: number): Csr {
  const rows: number[][] = [];
  for (let r = 0; r < nDst; r++) {
    if (r === empty) rows.push([]);
    else if (r === hub) rows.push([...Array(nSrc).keys()]);
    else {
      const s = new Set<number>();
      const k = 1 + rng.int(4);
      while (s.size < k) s.add(rng.int(nSrc));
      rows.push([...s].sort((a, b) => a - b));
    }
  }
  const rowPtr = new Int32Array(nDst + 1);
  rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i] + r.length));
  const values = Float32Array.from(rows.flatMap((r) => r.map(() => 1 / r.length)));
  return { nRows: nDst, nCols: nSrc, rowPtr, colIdx: Int32Array.from(rows.flat()), values };
}

interface RefOpts {
  aggregator: SageAggregator;
  activation: 'relu' | 'none';
  normalize: boolean;
  inF: number;
  outF: number;
  poolF: number;
}

/** Plain float64 SAGEConv: h = σ(x_dst·W_self + b + AGG(x)·W_neigh), optionally row-normalised. */
function sageRef(csr: Csr, x: Float64Array, p: Params, o: RefOpts): Float64Array {
  const nDst = csr.nRows;
  const aw = o.aggregator === 'max' ? o.poolF : o.inF;
  const agg = new Float64Array(nDst * aw);
  if (o.aggregator === 'max') {
    const pooled = matmul64(x, p['pool.weight'], csr.nCols, o.inF, o.poolF);
    for (let k = 0; k < pooled.length; k++) pooled[k] = Math.max(0, pooled[k] + p['pool.bias'][k % o.poolF]);
    for (let i = 0; i < nDst; i++) {
      for (let c = 0; c < aw; c++) {
        let m = -Infinity;
        for (let e = csr.rowPtr[i]; e < csr.rowPtr[i + 1]; e++) m = Math.max(m, pooled[csr.colIdx[e] * aw + c]);
        agg[i * aw + c] = m === -Infinity ? 0 : m;
      }
    }
  } else {
    for (let i = 0; i < nDst; i++) {
      for (let e = csr.rowPtr[i]; e < csr.rowPtr[i + 1]; e++) {
        for (let c = 0; c < aw; c++) agg[i * aw + c] += csr.values[e] * x[csr.colIdx[e] * aw + c];
      }
    }
  }
  const selfPart = matmul64(x.subarray(0, nDst * o.inF), p['self.weight'], nDst, o.inF, o.outF);
  const neigh = matmul64(agg, p['neigh.weight'], nDst, aw, o.outF);
  const h = new Float64Array(nDst * o.outF);
  for (let k = 0; k < h.length; k++) {
    const v = selfPart[k] + neigh[k] + p['self.bias'][k % o.outF];
    h[k] = o.activation === 'relu' ? Math.max(0, v) : v;
  }
  if (o.normalize) {
    for (let i = 0; i < nDst; i++) {
      let s = 0;
      for (let c = 0; c < o.outF; c++) s += h[i * o.outF + c] ** 2;
      const n = Math.sqrt(s + 1e-12);
      for (let c = 0; c < o.outF; c++) h[i * o.outF + c] /= n;
    }
  }
  return h;
}

const CASES: { aggregator: SageAggregator; activation: 'relu' | 'none'; normalize: boolean; square: boolean }[] = [
  { aggregator: 'mean', activation: 'relu', normalize: false, square: false },
  { aggregator: 'mean', activation: 'none', normalize: true, square: true },
  { aggregator: 'max', activation: 'relu', normalize: true, square: false },
  { aggregator: 'max', activation: 'none', normalize: false, square: true },
];

forEachBackend('SAGEConv', (b) => {
  for (const c of CASES) {
    const label = `${c.aggregator}, σ=${c.activation}${c.normalize ? ', L2-normalised' : ''}, ${c.square ? 'full square graph' : 'sampled-style block (destinations a prefix of sources)'}`;
    test(`${label}: forward matches a float64 reference and gradients of x and every parameter match finite differences`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const [nDst, nSrc] = c.square ? [9, 9] : [7, 13];
      const csr = awkwardBlock(rng, nDst, nSrc, 2, 4);
      const o: RefOpts = { ...c, inF: 5, outF: 3, poolF: 6 };
      const conv = new SAGEConv(engine, o.inF, o.outF, { rng: seed, aggregator: c.aggregator, activation: c.activation, normalize: c.normalize, poolFeatures: o.poolF });
      // Non-zero biases, so that their gradients and the ReLU's both sides are exercised.
      for (const [, p] of conv.namedParameters()) if (p.shape.length === 1) engine.write(p.data, randomF32(rng, p.size, -0.3, 0.3));
      const block = uploadSageBlock(engine, csr, { planned: c.square });
      try {
        await moduleGradCheck(
          engine,
          { name: `SAGEConv ${label}`, module: conv, x: randomF32(rng, nSrc * o.inF), xShape: [nSrc, o.inF], forward: (x) => conv.forward(block, x), ref: (x, p) => sageRef(csr, x, p, o) },
          seed,
        );
      } finally {
        freeSageBlock(engine, block);
        conv.dispose();
      }
    });
  }

  test('the max aggregator gives a node without neighbours only its self term, and x of the wrong shape is an input error', async (ctx) => {
    const engine = b.engine(ctx);
    const csr: Csr = { nRows: 2, nCols: 3, rowPtr: Int32Array.from([0, 0, 2]), colIdx: Int32Array.from([1, 2]), values: Float32Array.from([0.5, 0.5]) };
    const block = uploadSageBlock(engine, csr);
    const conv = new SAGEConv(engine, 2, 2, { rng: 3, aggregator: 'max', activation: 'none' });
    const x = Tensor.fromArray(engine, Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]);
    const y = (await conv.forward(block, x).read()) as Float32Array;
    const [ws] = await Promise.all([conv.self.weight.read()]);
    // Row 0 has no neighbours: its output is x0·W_self + b (b = 0), nothing from the aggregator.
    expect(y[0]).toBeCloseTo(1 * ws[0] + 2 * ws[2], 5);
    expect(y[1]).toBeCloseTo(1 * ws[1] + 2 * ws[3], 5);
    expect(() => conv.forward(block, Tensor.fromArray(engine, new Float32Array(4), [2, 2]))).toThrow(/x is 2×2, expected 3×2/);
    freeSageBlock(engine, block);
    conv.dispose();
  });
});
