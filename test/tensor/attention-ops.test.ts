import { expect, test } from 'vitest';
import { graphAttention, maxAggregate, selfAttention } from '../../src/tensor/ops/attention.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { mul, sum } from '../../src/tensor/index.js';
import { gatBackwardReference, gatForwardReference } from '../../src/kernels/gat.js';
import { prepareGatGraph } from '../../src/graph/upload.js';
import { withSelfLoops } from '../../src/graph/gat-edges.js';
import { maxAggregateBackwardReference, maxAggregateReference } from '../../src/kernels/spmm-max.js';
import { recencyWeights, seqAttentionBackwardReference, seqAttentionReference } from '../../src/kernels/seq-attention.js';
import { transposeCsr } from '../../src/graph/build.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, uniformScale } from '../util/close.js';
import { randomCsr, randomF32 } from '../util/random-csr.js';

/** A leaf that wants a gradient. */
function leaf(engine: import('../../src/engine.js').Engine, data: Float32Array, shape: number[]): Tensor {
  const t = Tensor.fromArray(engine, data, shape);
  t.requiresGrad = true;
  return t;
}

forEachBackend('attention ops on the tape', (b) => {
  test('graphAttention: forward and every input gradient match the references', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const n = 70;
    const s = { heads: 2, f: 5, slope: 0.2 };
    const raw = randomCsr(rng, n, n, 400, 'empty-rows');
    const csr = withSelfLoops(raw);
    const g = prepareGatGraph(engine, raw, { selfLoops: true });
    const [h, el, er, w] = [randomF32(rng, n * 10), randomF32(rng, n * 2), randomF32(rng, n * 2), randomF32(rng, n * 10)];
    const H = leaf(engine, h, [n, 10]);
    const EL = leaf(engine, el, [n, 2]);
    const ER = leaf(engine, er, [n, 2]);
    const out = graphAttention(g, H, EL, ER, s);
    const loss = sum(mul(out, Tensor.fromArray(engine, w, [n, 10])));
    loss.backward();
    const ref = gatForwardReference(csr, h, el, er, s);
    const want = gatBackwardReference(csr, h, el, er, w, s);
    expectAllClose(await out.read(), ref.out, { scale: uniformScale(ref.out), context: `(seed ${seed})` });
    expectAllClose(await H.grad!.read(), want.dH, { scale: uniformScale(want.dH), context: `dH (seed ${seed})` });
    expectAllClose(await EL.grad!.read(), want.dEl, { scale: uniformScale(want.dEl), context: `dEl (seed ${seed})` });
    expectAllClose(await ER.grad!.read(), want.dEr, { scale: uniformScale(want.dEr), context: `dEr (seed ${seed})` });
  });

  test('maxAggregate: forward and gradient match the references', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const a = randomCsr(rng, 50, 40, 300, 'empty-rows');
    const d = 6;
    const x = randomF32(rng, 40 * d);
    const w = randomF32(rng, 50 * d);
    const X = leaf(engine, x, [40, d]);
    const y = maxAggregate(engine.uploadCsr(a), X, engine.uploadCsr(transposeCsr(a, { impl: 'ts' })));
    sum(mul(y, Tensor.fromArray(engine, w, [50, d]))).backward();
    const ref = maxAggregateReference(a, x, d);
    expectAllClose(await y.read(), ref.y, { scale: uniformScale(ref.y), context: `(seed ${seed})` });
    const want = maxAggregateBackwardReference(40, ref.argmax, w, d);
    expectAllClose(await X.grad!.read(), want, { scale: uniformScale(want), context: `dX (seed ${seed})` });
  });

  for (const pooled of [false, true]) {
    test(`selfAttention${pooled ? ' (T-self-attention pooling)' : ''}: forward and gradients match the references`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const shape = { batch: 9, len: 6, d: 8, dv: 4, causal: true, lengths: Int32Array.from({ length: 9 }, (_, i) => 1 + (i % 6)), weights: pooled ? recencyWeights(6) : undefined };
      const rows = 54;
      const [q, k, v] = [randomF32(rng, rows * 8), randomF32(rng, rows * 8), randomF32(rng, rows * 4)];
      const outRows = pooled ? 9 : rows;
      const w = randomF32(rng, outRows * 4);
      const [Q, K, V] = [leaf(engine, q, [rows, 8]), leaf(engine, k, [rows, 8]), leaf(engine, v, [rows, 4])];
      const out = selfAttention(Q, K, V, shape);
      expect(out.shape).toEqual([outRows, 4]);
      sum(mul(out, Tensor.fromArray(engine, w, [outRows, 4]))).backward();
      const ref = seqAttentionReference(shape, { q, k, v });
      const fwd = pooled ? ref.pooled! : ref.z;
      expectAllClose(await out.read(), fwd, { scale: uniformScale(fwd), context: `(seed ${seed})` });
      const want = seqAttentionBackwardReference(shape, { q, k, v }, w);
      expectAllClose(await Q.grad!.read(), want.dq, { scale: uniformScale(want.dq), context: `dq (seed ${seed})` });
      expectAllClose(await K.grad!.read(), want.dk, { scale: uniformScale(want.dk), context: `dk (seed ${seed})` });
      expectAllClose(await V.grad!.read(), want.dv, { scale: uniformScale(want.dv), context: `dv (seed ${seed})` });
    });
  }

  test('the saved forward state is freed by engine.scope (no growth over repeated steps)', async (ctx) => {
    const engine = b.engine(ctx);
    const rng = new Rng(testSeed());
    const shape = { batch: 4, len: 5, d: 4, dv: 4, weights: recencyWeights(5) };
    const Q = leaf(engine, randomF32(rng, 80), [20, 4]);
    engine.keep(Q);
    const step = () =>
      engine.scope(() => {
        sum(selfAttention(Q, Q.detach(), Q.detach(), shape)).backward();
      });
    step();
    await engine.sync();
    const base = engine.memoryStats().liveBytes;
    for (let i = 0; i < 20; i++) step();
    await engine.sync();
    expect(engine.memoryStats().liveBytes).toBe(base);
  });
});
