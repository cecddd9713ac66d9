/** LightGCN propagation: forward against a hand-built two-layer reference, gradient by finite differences, option checks. */
import { expect, test } from 'vitest';
import { LightGCNPropagation } from '../../src/nn/lightgcn-propagation.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { gradCheck } from '../tensor/gradcheck.js';
import { spmm64, tinyGraph } from './graph-fixture.js';

forEachBackend('LightGCNPropagation', (b) => {
  test('two layers match (E + ÂE + ÂÂE)/3 written out by hand from the degrees', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const g = tinyGraph(seed);
    const n = g.nUsers + g.nItems;
    const d = 3;
    const rng = new Rng(seed);
    const x = Float32Array.from({ length: n * d }, () => rng.uniform(-1, 1));
    // Â from the log itself, not from the graph's adjacency: 1/√(deg_u·deg_i) per edge.
    const step = (h: Float64Array): Float64Array => {
      const out = new Float64Array(n * d);
      for (let u = 0; u < g.nUsers; u++) {
        for (let e = g.userItem.rowPtr[u]; e < g.userItem.rowPtr[u + 1]; e++) {
          const i = g.nUsers + g.userItem.colIdx[e];
          const w = 1 / Math.sqrt(g.userDegree[u] * g.itemDegree[i - g.nUsers]);
          for (let c = 0; c < d; c++) {
            out[u * d + c] += w * h[i * d + c];
            out[i * d + c] += w * h[u * d + c];
          }
        }
      }
      return out;
    };
    const e0 = Float64Array.from(x);
    const e1 = step(e0);
    const e2 = step(e1);
    const want = e0.map((v, k) => (v + e1[k] + e2[k]) / 3);
    // The error fp32 sums can make is relative to the sum of |terms|, not to |want|, which
    // can cancel towards 0 (a seed in CI hit 1.03e-5 relative to a cancelled 0.0012).
    const a0 = e0.map(Math.abs);
    const a1 = step(a0);
    const a2 = step(a1);
    const scale = a0.map((v, k) => (v + a1[k] + a2[k]) / 3);
    const prop = new LightGCNPropagation({ layers: 2 });
    const got = await engine.scopeAsync(async () => prop.forward(g.adjacencyOnDevice(engine), Tensor.fromArray(engine, x, [n, d])).read());
    expectAllClose(got, want, { scale, context: `seed ${seed}` });
    // The item nobody chose keeps only its own third.
    const lone = n - 1;
    for (let c = 0; c < d; c++) expect(got[lone * d + c]).toBeCloseTo(x[lone * d + c] / 3, 6);
    g.releaseDevice(engine);
  });

  test('custom layer weights, and K = 0 is the identity', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const g = tinyGraph(seed);
    const a = g.adjacency();
    const n = g.nUsers + g.nItems;
    const rng = new Rng(seed + 1);
    const x = Float32Array.from({ length: n * 2 }, () => rng.uniform(-1, 1));
    const w = [0.5, 0.2, 0.3];
    const e1 = spmm64(a, x, 2);
    const e2 = spmm64(a, e1, 2);
    const want = Float64Array.from(x, (v, k) => w[0] * v + w[1] * e1[k] + w[2] * e2[k]);
    const ax = Float32Array.from(x, Math.abs);
    const a1 = spmm64(a, ax, 2);
    const a2 = spmm64(a, a1, 2);
    const scale = Float64Array.from(ax, (v, k) => w[0] * v + w[1] * a1[k] + w[2] * a2[k]);
    const got = await engine.scopeAsync(async () => new LightGCNPropagation({ layers: 2, layerWeights: w }).forward(g.adjacencyOnDevice(engine), Tensor.fromArray(engine, x, [n, 2])).read());
    expectAllClose(got, want, { scale, context: `seed ${seed}` });
    const same = await engine.scopeAsync(async () => new LightGCNPropagation({ layers: 0 }).forward(g.adjacencyOnDevice(engine), Tensor.fromArray(engine, x, [n, 2])).read());
    expect(Array.from(same)).toEqual(Array.from(x));
    g.releaseDevice(engine);
  });

  test('gradient through three layers matches finite differences', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const g = tinyGraph(seed, 6, 5);
    const a = g.adjacency();
    const n = g.nUsers + g.nItems;
    const d = 4;
    const prop = new LightGCNPropagation({ layers: 3, layerWeights: [0.1, 0.2, 0.3, 0.4] });
    const adj = g.adjacencyOnDevice(engine);
    await gradCheck(
      engine,
      {
        name: 'lightgcn-propagation',
        inputs: [{ shape: [n, d] }],
        op: ([x]) => prop.forward(adj, x),
        ref: ([x]) => {
          const e1 = spmm64(a, x, d);
          const e2 = spmm64(a, e1, d);
          const e3 = spmm64(a, e2, d);
          return x.map((v, k) => 0.1 * v + 0.2 * e1[k] + 0.3 * e2[k] + 0.4 * e3[k]);
        },
      },
      seed,
    );
    g.releaseDevice(engine);
  });
});

test('LightGCNPropagation rejects bad layer counts and weights, naming the option', () => {
  expect(() => new LightGCNPropagation({ layers: -1 })).toThrow(/layers: expected a non-negative integer, got -1/);
  expect(() => new LightGCNPropagation({ layers: 2, layerWeights: [1, 1] })).toThrow(/layerWeights: expected 3 finite numbers/);
  expect(() => new LightGCNPropagation({ layers: 1, layerWeights: [1, NaN] })).toThrow(/layerWeights/);
});
