/**
 * T-self-attention (src/nn/time-self-attention.ts) on every backend: the time weights'
 * formulas, the forward against a float64 reference written here from the file header's
 * equations (per-position and shared projections), plain mode against the unweighted
 * mean of the kernel's unpooled Z, finite-difference gradients, option errors.
 */
import { describe, expect, test, type TestContext } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import * as T from '../../src/tensor/index.js';
import { TimeSelfAttention, timeSelfAttentionForward, timeWeights, type TimeWeighting } from '../../src/nn/time-self-attention.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, uniformScale } from '../util/close.js';
import { gradCheck } from '../tensor/gradcheck.js';
import { randArr } from '../tensor/helpers.js';


interface Dims {
  B: number;
  w: number;
  I: number;
  dk: number;
  dv: number;
  perPosition: boolean;
}

/** Float64 from the equations: q_i = x_i·W_Q^i (…), Z = softmax(QKᵀ/√dk)·V, out = Σ α_i Z_i; `alpha` null → Z itself. */
function refTsa(x: ArrayLike<number>, W: ArrayLike<number>, alpha: ArrayLike<number> | null, d: Dims): Float64Array {
  const { B, w, I, dk, dv } = d;
  const P = 2 * dk + dv;
  const cols = d.perPosition ? w * P : P;
  const out = new Float64Array(alpha ? B * dv : B * w * dv);
  for (let b = 0; b < B; b++) {
    const proj = Array.from({ length: w }, (_, i) => {
      const base = d.perPosition ? i * P : 0;
      const r = new Float64Array(P);
      for (let p = 0; p < P; p++) for (let a = 0; a < I; a++) r[p] += x[(b * w + i) * I + a] * W[a * cols + base + p];
      return r;
    });
    for (let i = 0; i < w; i++) {
      const s = proj.map((pj) => {
        let dot = 0;
        for (let c = 0; c < dk; c++) dot += proj[i][c] * pj[dk + c];
        return dot / Math.sqrt(dk);
      });
      const m = Math.max(...s);
      const e = s.map((v) => Math.exp(v - m));
      const z = e.reduce((u, v) => u + v, 0);
      for (let j = 0; j < w; j++)
        for (let c = 0; c < dv; c++) {
          const zc = (e[j] / z) * proj[j][2 * dk + c];
          if (alpha) out[b * dv + c] += alpha[i] * zc;
          else out[(b * w + i) * dv + c] += zc;
        }
    }
  }
  return out;
}

function errorOf(f: () => unknown): GnnrlError {
  try {
    f();
  } catch (e) {
    if (e instanceof GnnrlError) return e;
    throw e;
  }
  throw new Error('expected a GnnrlError');
}

describe('time weights', () => {
  test('linear and exp weights increase with position and sum to 1; plain and exp with λ = 0 are uniform 1/w', () => {
    for (const w of [1, 2, 5, 9, 64]) {
      const lin = timeWeights(w, { weighting: 'linear' });
      const ex = timeWeights(w, { weighting: 'exp', lambda: 0.8 });
      for (const a of [lin, ex]) {
        expect(a.length).toBe(w);
        expect(Math.abs(a.reduce((s, v) => s + v, 0) - 1)).toBeLessThan(1e-6);
        for (let i = 1; i < w; i++) expect(a[i]).toBeGreaterThan(a[i - 1]);
      }
      // The documented formulas: α_i = (i+1)/(w(w+1)/2) and α_{i+1}/α_i = e^λ.
      lin.forEach((v, i) => expect(v).toBeCloseTo((i + 1) / ((w * (w + 1)) / 2), 7));
      for (let i = 1; i < w; i++) expect(ex[i] / ex[i - 1]).toBeCloseTo(Math.exp(0.8), 5);
      const plain = timeWeights(w, { weighting: 'plain' });
      expect(Array.from(plain)).toEqual(new Array(w).fill(Math.fround(1 / w)));
      expect(Array.from(timeWeights(w, { weighting: 'exp', lambda: 0 }))).toEqual(Array.from(plain));
    }
    expect(Array.from(timeWeights(5))).toEqual(Array.from(timeWeights(5, { weighting: 'linear' })));
    // A steep λ over a long window stays finite (the exponents are shifted).
    expect(timeWeights(64, { weighting: 'exp', lambda: 30 }).every((v) => Number.isFinite(v))).toBe(true);
  });

  test('bad weighting options are coded input errors', () => {
    expect(errorOf(() => timeWeights(0)).details.arg).toBe('window');
    expect(errorOf(() => timeWeights(65)).details.arg).toBe('window');
    expect(errorOf(() => timeWeights(5, { weighting: 'exp', lambda: -1 })).details.arg).toBe('lambda');
    expect(errorOf(() => timeWeights(5, { weighting: 'cubic' as never })).details.arg).toBe('weighting');
  });
});

forEachBackend('T-self-attention', (b) => {
  const engineFor = (ctx: TestContext) => b.engine(ctx);
  const cases: { dims: Dims; weighting: TimeWeighting; lambda?: number }[] = [
    { dims: { B: 13, w: 5, I: 7, dk: 6, dv: 3, perPosition: true }, weighting: 'linear' },
    { dims: { B: 13, w: 5, I: 7, dk: 6, dv: 3, perPosition: true }, weighting: 'exp', lambda: 1.1 },
    { dims: { B: 31, w: 7, I: 19, dk: 9, dv: 11, perPosition: true }, weighting: 'plain' },
    { dims: { B: 31, w: 3, I: 19, dk: 9, dv: 11, perPosition: false }, weighting: 'linear' },
    { dims: { B: 1, w: 5, I: 1, dk: 1, dv: 1, perPosition: false }, weighting: 'exp' },
  ];
  for (const c of cases) {
    const d = c.dims;
    test(`forward (${d.B}×${d.w}×${d.I}, dk ${d.dk}, dv ${d.dv}, ${d.perPosition ? 'per-position' : 'shared'}, ${c.weighting}) matches the float64 reference`, async (ctx) => {
      const engine = engineFor(ctx);
      const seed = testSeed();
      const m = new TimeSelfAttention(engine, d.I, { rng: seed, window: d.w, dk: d.dk, dv: d.dv, projections: d.perPosition ? 'per-position' : 'shared', weighting: c.weighting, lambda: c.lambda });
      expect(m.w.shape).toEqual([d.I, (d.perPosition ? d.w : 1) * (2 * d.dk + d.dv)]);
      const x = randArr(new Rng(seed), d.B * d.w * d.I, -2, 2);
      const W = (await m.state()).w;
      const want = refTsa(x, W, m.alpha, d);
      const got = await engine.scopeAsync(async () => {
        const y = T.noGrad(() => m.forward(T.tensor(engine, x, [d.B, d.w, d.I])));
        expect(y.shape).toEqual([d.B, d.dv]);
        return y.read();
      });
      expectAllClose(got, want, { scale: uniformScale(want), context: `(seed ${seed})` });
      m.dispose();
    });
  }

  test('plain mode equals the unweighted mean of the kernel\'s unpooled Z (and of the reference Z)', async (ctx) => {
    const engine = engineFor(ctx);
    const seed = testSeed();
    const d: Dims = { B: 17, w: 5, I: 8, dk: 4, dv: 6, perPosition: true };
    const m = new TimeSelfAttention(engine, d.I, { rng: seed, window: d.w, dk: d.dk, dv: d.dv, weighting: 'plain' });
    const x = randArr(new Rng(seed), d.B * d.w * d.I);
    const W = (await m.state()).w;
    const [pooled, z] = await engine.scopeAsync(async () => {
      const outs = T.noGrad(() => {
        const X = T.tensor(engine, x, [d.B, d.w, d.I]);
        const y = m.forward(X);
        // The same projections through selfAttention without weights give Z [B·w, dv].
        const P = 2 * d.dk + d.dv;
        const idx = Int32Array.from({ length: d.B * d.w }, (_, r) => Math.floor(r / d.w) * d.w * d.w + (r % d.w) * (d.w + 1));
        const proj = T.gather(T.matmul(X.reshape([d.B * d.w, d.I]), m.w).reshape([d.B * d.w * d.w, P]), idx);
        const zt = T.selfAttention(proj.slice(0, d.dk), proj.slice(d.dk, 2 * d.dk), proj.slice(2 * d.dk, P), { batch: d.B, len: d.w, d: d.dk, dv: d.dv });
        return [y, zt];
      });
      return T.readAll(outs);
    });
    const mean = (zz: ArrayLike<number>) => {
      const out = new Float64Array(d.B * d.dv);
      for (let b = 0; b < d.B; b++) for (let i = 0; i < d.w; i++) for (let c = 0; c < d.dv; c++) out[b * d.dv + c] += zz[(b * d.w + i) * d.dv + c] / d.w;
      return out;
    };
    const fromKernel = mean(z);
    expectAllClose(pooled, fromKernel, { scale: uniformScale(fromKernel), rtol: 1e-5, context: `(kernel Z, seed ${seed})` });
    const fromRef = mean(refTsa(x, W, null, d));
    expectAllClose(pooled, fromRef, { scale: uniformScale(fromRef), context: `(reference Z, seed ${seed})` });
    m.dispose();
  });

  const fd: { perPosition: boolean; weighting: TimeWeighting }[] = [
    { perPosition: true, weighting: 'linear' },
    { perPosition: true, weighting: 'plain' },
    { perPosition: false, weighting: 'exp' },
  ];
  for (const c of fd) {
    test(`backward (${c.perPosition ? 'per-position' : 'shared'}, ${c.weighting}) matches finite differences for the input and the projections`, async (ctx) => {
      const engine = engineFor(ctx);
      const seed = testSeed();
      const d: Dims = { B: 3, w: 5, I: 4, dk: 3, dv: 2, perPosition: c.perPosition };
      const P = 2 * d.dk + d.dv;
      const alpha = timeWeights(d.w, { weighting: c.weighting });
      await gradCheck(
        engine,
        {
          name: `T-self-attention ${c.weighting}`,
          inputs: [{ shape: [d.B, d.w, d.I], lo: -1.5, hi: 1.5 }, { shape: [d.I, (c.perPosition ? d.w : 1) * P] }],
          ref: ([x, W]) => refTsa(x, W, alpha, d),
          op: ([x, W]) => timeSelfAttentionForward(x, { w: W, window: d.w, dk: d.dk, dv: d.dv, perPosition: c.perPosition, alpha }),
        },
        seed,
      );
    });
  }

  test('the module\'s projection gets a finite, non-zero gradient; bad options and inputs are coded input errors', async (ctx) => {
    const engine = engineFor(ctx);
    const seed = testSeed();
    const m = new TimeSelfAttention(engine, 6, { rng: seed, dk: 4 });
    expect(m.window).toBe(5);
    expect(m.dv).toBe(4);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['w']);
    const g = await engine.scopeAsync(async () => {
      T.sum(m.forward(T.tensor(engine, randArr(new Rng(seed), 4 * 5 * 6), [4, 5, 6]))).backward();
      return m.w.grad!.read();
    });
    expect(g.every((v) => Number.isFinite(v)) && g.some((v) => v !== 0)).toBe(true);
    const bad: [() => unknown, string][] = [
      [() => new TimeSelfAttention(engine, 0, { rng: 1 }), 'inFeatures'],
      [() => new TimeSelfAttention(engine, 4, { rng: 1, window: 0 }), 'window'],
      [() => new TimeSelfAttention(engine, 4, { rng: 1, dk: 129 }), 'dk'],
      [() => new TimeSelfAttention(engine, 4, { rng: 1, dv: 0 }), 'dv'],
      [() => new TimeSelfAttention(engine, 4, { rng: 1, projections: 'tied' as never }), 'projections'],
      [() => new TimeSelfAttention(engine, 4, { rng: 1, weighting: 'exp', lambda: Number.NaN }), 'lambda'],
      [() => engine.scope(() => m.forward(T.zeros(engine, [2, 4, 6]))), 'x'],
      [() => engine.scope(() => m.forward(T.zeros(engine, [10, 6]))), 'x'],
    ];
    for (const [f, arg] of bad) {
      const e = errorOf(f);
      expect(e.code, arg).toBe('input');
      expect(e.details.arg, e.message).toBe(arg);
    }
    m.dispose();
  });
});
