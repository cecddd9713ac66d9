/** GCNConv: forward against a float64 reference on a tiny graph with self-loops, gradients of x, W and b by finite differences. */
import { expect, test } from 'vitest';
import { GCNConv, type GraphActivation } from '../../src/nn/gcn-conv.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Csr } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { randomF32 } from '../util/random-csr.js';
import { expectAllClose } from '../util/close.js';
import { matmul64, moduleGradCheck, type Params } from './conv-gradcheck.js';
import { spmm64, tinyGraph } from './graph-fixture.js';

function act64(v: number, act: GraphActivation, slope: number): number {
  if (act === 'relu') return Math.max(0, v);
  if (act === 'leakyRelu') return v >= 0 ? v : slope * v;
  if (act === 'tanh') return Math.tanh(v);
  return v;
}

/** σ(Â·x·W + b) in float64. */
function gcnRef(a: Csr, x: Float64Array, p: Params, inF: number, outF: number, act: GraphActivation, slope: number): Float64Array {
  const h = spmm64(a, matmul64(x, p.weight, a.nCols, inF, outF), outF);
  return h.map((v, k) => act64(v + (p.bias ? p.bias[k % outF] : 0), act, slope));
}

/** Inputs away from 0, so few products sit near the activation's kink. */
function awayFromKinks(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.2, 1));
}

forEachBackend('GCNConv', (b) => {
  test('self-loop adjacency: each row is σ(Σ_j Â_ij (x_j·W) + b) with Â_ii = 1/(deg_i + 1)', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const g = tinyGraph(seed);
    const a = g.adjacency({ selfLoops: true });
    const n = g.nUsers + g.nItems;
    // The diagonal the builder wrote is what Kipf & Welling's renormalisation gives.
    for (let u = 0; u < g.nUsers; u++) {
      const e = Array.from(a.colIdx.subarray(a.rowPtr[u], a.rowPtr[u + 1])).indexOf(u);
      expect(a.values[a.rowPtr[u] + e]).toBeCloseTo(1 / (g.userDegree[u] + 1), 6);
    }
    const rng = new Rng(seed);
    for (const [inF, outF, act] of [
      [3, 5, 'leakyRelu'],
      [5, 2, 'tanh'],
      [4, 4, 'relu'],
    ] as const) {
      const conv = new GCNConv(engine, inF, outF, { rng, activation: act });
      conv.bias!.engine.write(conv.bias!.data, randomF32(rng, outF) as never);
      const x = randomF32(rng, n * inF);
      const p = Object.fromEntries(Object.entries(await conv.state()).map(([k, v]) => [k, Float64Array.from(v)]));
      const want = gcnRef(a, Float64Array.from(x), p, inF, outF, act, 0.2);
      const got = await engine.scopeAsync(async () => conv.forward(g.adjacencyOnDevice(engine, { selfLoops: true }), Tensor.fromArray(engine, x, [n, inF])).read());
      expectAllClose(got, want, { rtol: 1e-5, scale: want.map(() => 1), context: `${inF}→${outF} ${act}, seed ${seed}` });
      conv.dispose();
    }
    g.releaseDevice(engine);
  });

  for (const [inF, outF, act] of [
    [3, 5, 'leakyRelu'],
    [5, 3, 'tanh'],
    [4, 4, 'none'],
  ] as const) {
    test(`gradients of x, W and b (${inF}→${outF}, ${act}) match finite differences`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const g = tinyGraph(seed, 6, 5);
      const a = g.adjacency({ selfLoops: true });
      const n = g.nUsers + g.nItems;
      const rng = new Rng(seed);
      const conv = new GCNConv(engine, inF, outF, { rng, activation: act, negativeSlope: 0.1 });
      conv.bias!.engine.write(conv.bias!.data, randomF32(rng, outF) as never);
      const adj = g.adjacencyOnDevice(engine, { selfLoops: true });
      // A probe whose difference step crosses the kink is skipped by moduleGradCheck
      // (its one-sided differences disagree), so no retry is needed.
      await moduleGradCheck(
        engine,
        {
          name: `gcn-conv ${inF}→${outF} ${act}`,
          module: conv,
          x: awayFromKinks(rng, n * inF),
          xShape: [n, inF],
          forward: (x) => conv.forward(adj, x),
          ref: (x, p) => gcnRef(a, x, p, inF, outF, act, 0.1),
        },
        seed,
      );
      conv.dispose();
      g.releaseDevice(engine);
    });
  }
});

test('GCNConv rejects bad sizes, activations and inputs, naming them', async () => {
  const { Engine } = await import('../../src/engine.js');
  const engine = await Engine.create({ backend: 'cpu', quiet: true });
  expect(() => new GCNConv(engine, 0, 4, { rng: 1 })).toThrow(/inFeatures: expected a positive integer, got 0/);
  expect(() => new GCNConv(engine, 4, 4, { rng: 1, activation: 'gelu' as never })).toThrow(/activation: expected one of relu, leakyRelu, tanh, none/);
  const conv = new GCNConv(engine, 4, 2, { rng: 1 });
  const g = tinyGraph(1);
  const x = Tensor.fromArray(engine, new Float32Array((g.nUsers + g.nItems) * 3), [g.nUsers + g.nItems, 3]);
  expect(() => conv.forward(g.adjacencyOnDevice(engine, { selfLoops: true }), x)).toThrow(/GCNConv\(4→2\): x is .*expected nodes×4/);
  await engine.dispose();
});
