/** Tape semantics: accumulation, noGrad, detach, grad(), scopes, readback and errors. */
import { expect, test } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import * as T from '../../src/tensor/index.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { randArr } from './helpers.js';

forEachBackend('autograd', (b) => {
  test('gradients accumulate across backward calls until zeroed', async (ctx) => {
    const engine = b.engine(ctx);
    const rng = new Rng(testSeed());
    const x = T.tensor(engine, randArr(rng, 12), [3, 4]);
    const w = T.parameter(T.tensor(engine, randArr(rng, 8), [4, 2]));
    const loss = () => engine.scope(() => T.sum(T.sigmoid(T.matmul(x, w))).backward());
    loss();
    const once = await w.grad!.read();
    loss();
    const twice = await w.grad!.read();
    expectAllClose(twice, Float64Array.from(once, (v) => 2 * v));
    const opt = new T.SGD([w], { lr: 0.1 });
    opt.zeroGrad();
    expect(w.grad).toBeNull();
    loss();
    expectAllClose(await w.grad!.read(), once);
    opt.dispose();
    w.dispose();
    x.dispose();
  });

  test('noGrad records nothing; detach cuts the tape; grad() returns without accumulating', async (ctx) => {
    const engine = b.engine(ctx);
    const x = T.parameter(T.tensor(engine, [1, 2, 3]));
    const y = T.noGrad(() => T.mul(x, x));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(() => T.sum(y).backward()).toThrowError(/does not require a gradient/);
    expect(T.noGrad(() => T.isGradEnabled())).toBe(false);
    expect(T.isGradEnabled()).toBe(true);

    // d/dx Σ x·stopgrad(x) = stopgrad(x)
    T.sum(T.mul(x, x.detach())).backward();
    expect(Array.from(await x.grad!.read())).toEqual([1, 2, 3]);

    const [g] = T.grad(() => T.sum(T.mul(x, x)), [x]);
    expect(Array.from(await g.read())).toEqual([2, 4, 6]);
    expect(Array.from(await x.grad!.read())).toEqual([1, 2, 3]); // untouched
    const other = T.parameter(T.tensor(engine, [5]));
    const [g0] = T.grad(() => T.sum(x), [other]);
    expect(Array.from(await g0.read())).toEqual([0]);
    x.dispose();
    other.dispose();
  });

  test('scopes free intermediates and keep what is returned; use after dispose is a clear error', async (ctx) => {
    const engine = b.engine(ctx);
    const x = T.tensor(engine, randArr(new Rng(1), 64), [8, 8]);
    const before = engine.memoryStats().liveBytes;
    let inner: T.Tensor | null = null;
    const kept = engine.scope(() => {
      inner = T.relu(x);
      return T.sum(T.exp(inner)).reshape([1]);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
    expect(await kept.item()).toBeGreaterThan(0);
    expect(() => T.relu(inner!)).toThrowError(/8×8 f32 tensor made by 'relu' was used after dispose/);
    kept.dispose();
    expect(engine.memoryStats().liveBytes).toBe(before);
    x.dispose();
  });

  test('reads batch several tensors; item() needs one element', async (ctx) => {
    const engine = b.engine(ctx);
    const a = T.tensor(engine, [1, 2]);
    const c = T.tensor(engine, new Int32Array([7, 8, 9]));
    const [ra, rc] = await T.readAll([a, c]);
    expect(Array.from(ra)).toEqual([1, 2]);
    expect(rc).toBeInstanceOf(Int32Array);
    expect(Array.from(rc)).toEqual([7, 8, 9]);
    await expect(a.item()).rejects.toThrowError(/item: expected a one-element tensor, got 2/);
    a.dispose();
    c.dispose();
  });

  test('gatherIndices prepares the backward index up front; gather through it gives the same gradient', async (ctx) => {
    const engine = b.engine(ctx);
    const rng = new Rng(testSeed());
    const idx = Int32Array.from({ length: 23 }, () => Math.floor(rng.next() * 7));
    const g = randArr(rng, 23 * 3);
    const grads: Float32Array[] = [];
    for (const indices of [idx, T.gatherIndices(engine, idx, 7)]) {
      const table = T.parameter(T.zeros(engine, [7, 3]));
      const out = T.gather(table, indices);
      out.backward(T.tensor(engine, g, [23, 3]));
      grads.push((await table.grad!.read()) as Float32Array);
    }
    expect(Array.from(grads[1])).toEqual(Array.from(grads[0]));
    // The prepared index is the one gather's backward looks up: nothing is built lazily.
    const prepared = T.gatherIndices(engine, idx, 7);
    let built = false;
    prepared.derivedArrays('csr:7', () => {
      built = true;
      return [];
    });
    expect(built).toBe(false);
  });

  test('shape errors name the op, the arguments and both shapes', (ctx) => {
    const engine = b.engine(ctx);
    const a = T.zeros(engine, [3, 4]);
    const m = T.zeros(engine, [5, 2]);
    const err = (() => {
      try {
        T.matmul(a, m);
      } catch (e) {
        return e as GnnrlError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err!.code).toBe('input');
    expect(err!.message).toBe('matmul: a is 3×4 but b is 5×2 (inner dims 4 ≠ 5)');
    expect(() => T.add(a, T.zeros(engine, [2, 4]))).toThrowError(/add: a is 3×4 but b is 2×4/);
    expect(() => T.mseLoss(a, T.zeros(engine, [4, 3]))).toThrowError(/mseLoss: pred is 3×4 but target is 4×3/);
    expect(() => T.gather(a, new Int32Array([0, 3]))).toThrowError(/gather: indices\[1\] = 3 is outside \[0, 3\)/);
    expect(() => T.gatherIndices(engine, new Int32Array([2, -1]), 3)).toThrowError(/gatherIndices: indices\[1\] = -1 is outside \[0, 3\)/);
    expect(() => T.crossEntropy(a, new Int32Array([0, 1]))).toThrowError(/crossEntropy: logits are 3×4 but labels are 2/);
    expect(() => T.slice(a, 2, 5)).toThrowError(/slice: \[2, 5\) is not a range within the last axis of 3×4/);
    expect(() => T.concat([a, T.zeros(engine, [2, 1])])).toThrowError(/concat: xs\[1\] is 2×1 but xs\[0\] is 3×4/);
    expect(() => a.reshape([5])).toThrowError(/reshape: cannot view 3×4 \(12 elements\) as 5/);
    expect(() => T.dropout(a, 1, { seed: 1 })).toThrowError(/dropout: p must be in \[0, 1\)/);
    const p = T.parameter(T.zeros(engine, [3, 4]));
    expect(() => T.add(p, 1).backward()).toThrowError(/backward: the root is 3×4, not a single value/);
    p.dispose();
  });

  test('a tensor over the binding limit is refused with a limit error naming its shape', (ctx) => {
    const engine = b.engine(ctx);
    if (b.kind !== 'webgpu') return ctx.skip('the CPU backend has no binding limit');
    const limit = engine.gpu.limits.maxStorageBufferBindingSize;
    const rows = Math.floor(limit / 4 / 50_000) + 1;
    try {
      T.Tensor.empty(engine, [rows, 50_000]);
      expect.unreachable();
    } catch (e) {
      expect((e as GnnrlError).code).toBe('limit');
      expect((e as GnnrlError).message).toContain(`${rows}×50000 f32 tensor needs ${rows * 50_000 * 4} bytes`);
      expect((e as GnnrlError).message).toContain(`maxStorageBufferBindingSize of ${limit} bytes`);
    }
  });
});
