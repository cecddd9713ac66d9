import { expect, test } from 'vitest';
import {
  recencyWeights,
  seqAttention,
  seqAttentionBackward,
  seqAttentionBackwardReference,
  seqAttentionReference,
  type SeqAttentionShape,
} from '../../src/kernels/seq-attention.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, poisonPool, uniformScale } from '../util/close.js';
import { randomF32 } from '../util/random-csr.js';

const cases: (Omit<SeqAttentionShape, 'lengths' | 'weights'> & { ragged: boolean; pooled: boolean })[] = [
  { batch: 1, len: 1, d: 1, dv: 1, causal: false, ragged: false, pooled: false },
  { batch: 65, len: 7, d: 13, dv: 5, causal: true, ragged: true, pooled: false },
  { batch: 33, len: 64, d: 64, dv: 64, causal: false, ragged: true, pooled: true },
  { batch: 3, len: 20, d: 128, dv: 100, causal: true, ragged: false, pooled: true },
  // The forward's 4 × 4 tiles over one sequence per workgroup: L and dv not multiples of 4,
  // dv past 64 (two pooled columns per invocation), L = 64 with dv = 128 (8 Z tiles each).
  { batch: 9, len: 37, d: 65, dv: 67, causal: true, ragged: true, pooled: true },
  { batch: 4, len: 3, d: 2, dv: 3, causal: true, ragged: true, pooled: true },
  { batch: 2, len: 64, d: 128, dv: 128, causal: true, ragged: false, pooled: true },
  { batch: 70, len: 5, d: 9, dv: 1, causal: false, ragged: true, pooled: true },
];


forEachBackend('seqAttention', (b) => {
  for (const c of cases) {
    test(`matches the reference: B ${c.batch}, L ${c.len}, d ${c.d}, dv ${c.dv}${c.causal ? ', causal' : ''}${c.ragged ? ', ragged' : ''}${c.pooled ? ', pooled' : ''}`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const shape: SeqAttentionShape = {
        ...c,
        lengths: c.ragged ? Int32Array.from({ length: c.batch }, (_, i) => (i === 0 ? 0 : 1 + rng.int(c.len))) : undefined,
        weights: c.pooled ? recencyWeights(c.len) : undefined,
      };
      const q = randomF32(rng, c.batch * c.len * c.d);
      const k = randomF32(rng, c.batch * c.len * c.d);
      const v = randomF32(rng, c.batch * c.len * c.dv);
      const ref = seqAttentionReference(shape, { q, k, v });
      const [Q, K, V] = [q, k, v].map((x) => engine.array(x));
      await poisonPool(engine, [c.batch * c.len * c.dv, c.batch * c.len * 2, c.batch * c.dv]);
      const fwd = seqAttention(engine, shape, Q, K, V);
      expectAllClose(await engine.read(fwd.z), ref.z, { scale: uniformScale(ref.z), context: `z (seed ${seed})` });
      if (c.pooled) expectAllClose(await engine.read(fwd.pooled!), ref.pooled!, { scale: uniformScale(ref.pooled!), context: `pooled (seed ${seed})` });
      else expect(fwd.pooled).toBeUndefined();
      const dOut = randomF32(rng, c.pooled ? c.batch * c.dv : c.batch * c.len * c.dv);
      const want = seqAttentionBackwardReference(shape, { q, k, v }, dOut);
      await poisonPool(engine, [c.batch * c.len * c.d, c.batch * c.len * c.d, c.batch * c.len * c.dv]);
      const grads = seqAttentionBackward(engine, shape, Q, K, V, fwd, engine.array(dOut));
      const [dq, dk, dv] = await engine.readMany([grads.dq, grads.dk, grads.dv]);
      for (const [name, got, exp] of [
        ['dq', dq, want.dq],
        ['dk', dk, want.dk],
        ['dv', dv, want.dv],
      ] as const) {
        expectAllClose(got, exp, { scale: uniformScale(exp), context: `${name} (seed ${seed})` });
      }
    });
  }

  test('rejects lengths past L and wrong sizes naming the argument', (ctx) => {
    const engine = b.engine(ctx);
    const f = (n: number) => engine.array(new Float32Array(n));
    const s = { batch: 2, len: 3, d: 2, dv: 2 };
    expect(() => seqAttention(engine, { ...s, lengths: new Int32Array([1, 4]) }, f(12), f(12), f(12))).toThrow(/seqAttention: lengths: entry 1: expected an integer in \[0, 3\], got 4/);
    expect(() => seqAttention(engine, s, f(12), f(11), f(12))).toThrow(/seqAttention: k: expected 2×3×2 elements, got 11/);
    expect(() => seqAttention(engine, { ...s, len: 65 }, f(12), f(12), f(12))).toThrow(/len: expected an integer in \[1, 64\], got 65/);
  });
});

test('the reference backward agrees with finite differences (float64)', () => {
  const rng = new Rng(testSeed());
  const shape: SeqAttentionShape = { batch: 2, len: 4, d: 3, dv: 2, causal: true, lengths: new Int32Array([4, 3]), weights: recencyWeights(4) };
  const q = Array.from({ length: 24 }, () => rng.uniform(-1, 1));
  const k = Array.from({ length: 24 }, () => rng.uniform(-1, 1));
  const v = Array.from({ length: 16 }, () => rng.uniform(-1, 1));
  const dOut = Array.from({ length: 4 }, () => rng.uniform(-1, 1));
  const loss = () => seqAttentionReference(shape, { q, k, v }).pooled!.reduce((a, x, i) => a + x * dOut[i], 0);
  const g = seqAttentionBackwardReference(shape, { q, k, v }, dOut);
  const eps = 1e-6;
  for (const [arr, grad, name] of [
    [q, g.dq, 'dq'],
    [k, g.dk, 'dk'],
    [v, g.dv, 'dv'],
  ] as const) {
    for (let i = 0; i < arr.length; i++) {
      const keep = arr[i];
      arr[i] = keep + eps;
      const up = loss();
      arr[i] = keep - eps;
      const down = loss();
      arr[i] = keep;
      expect(Math.abs((up - down) / (2 * eps) - grad[i]), `${name}[${i}]`).toBeLessThan(1e-7);
    }
  }
});
