/** Fused optimiser kernels against host references, step for step, with on-device clipping. */
import { expect, test } from 'vitest';
import { adamReference, clipScaleReference, sgdReference, type AdamHyper } from '../../src/kernels/optim.js';
import { Rng } from '../../src/util/rng.js';
import * as T from '../../src/tensor/index.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { randArr } from './helpers.js';

type Kind = 'adam' | 'adamw' | 'sgd';

function make(kind: Kind, params: T.Tensor[], clipNorm?: number): T.Optimizer {
  if (kind === 'sgd') return new T.SGD(params, { lr: 0.05, momentum: 0.9, weightDecay: 0.01, clipNorm });
  const o = { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05, clipNorm };
  return kind === 'adam' ? new T.Adam(params, o) : new T.AdamW(params, o);
}

forEachBackend('optimisers', (b) => {
  for (const kind of ['adam', 'adamw', 'sgd'] as Kind[]) {
    for (const clip of [undefined, 0.5]) {
      test(`${kind}${clip ? ' with global-norm clipping' : ''} matches the host reference step for step`, async (ctx) => {
        const engine = b.engine(ctx);
        const seed = testSeed();
        const rng = new Rng(seed);
        const sizes = [1, 37, 1030];
        const w0 = sizes.map((n) => randArr(rng, n));
        const params = w0.map((w) => T.parameter(T.tensor(engine, w)));
        const opt = make(kind, params, clip);
        const host = w0.map((w) => ({ w: w.slice(), m: new Float32Array(w.length), v: new Float32Array(w.length) }));
        for (let step = 1; step <= 6; step++) {
          const grads = sizes.map((n) => randArr(rng, n, -2, 2));
          params.forEach((p, i) => (p.grad = engine.keep(T.tensor(engine, grads[i]))));
          opt.step();
          let scale = 1;
          if (clip) {
            let sq = 0;
            for (const g of grads) for (const v of g) sq += v * v;
            scale = clipScaleReference(sq, clip, 1e-6);
            expect(scale).toBeLessThan(1);
          }
          host.forEach((h, i) => {
            if (kind === 'sgd') sgdReference(h.w, grads[i], h.m, scale, { lr: 0.05, momentum: 0.9, weightDecay: 0.01 });
            else {
              const hyper: AdamHyper = { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05, decoupled: kind === 'adamw', step };
              adamReference(h.w, grads[i], h.m, h.v, scale, hyper);
            }
          });
          const got = await T.readAll(params);
          got.forEach((g, i) => expectAllClose(g, host[i].w, { rtol: 1e-5, scale: new Float64Array(g.length).fill(1), context: `(${kind} step ${step} param ${i}, seed ${seed})` }));
          opt.zeroGrad();
        }
        opt.dispose();
        for (const p of params) p.dispose();
      });
    }
  }

  test('gradNormSquared sums every gradient on the device', async (ctx) => {
    const engine = b.engine(ctx);
    const rng = new Rng(testSeed());
    const gs = [randArr(rng, 5000), randArr(rng, 3), randArr(rng, 1)];
    const ps = gs.map((g) => {
      const p = T.parameter(T.zeros(engine, [g.length]));
      p.grad = engine.keep(T.tensor(engine, g));
      return p;
    });
    let expected = 0;
    for (const g of gs) for (const v of g) expected += v * v;
    expect(await T.gradNormSquared(ps).item()).toBeCloseTo(expected, 2);
    for (const p of ps) p.dispose();
  });
});
