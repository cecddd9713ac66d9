/**
 * LSTM / RLSTM (src/nn/lstm.ts) on every backend: against a float64 reference written
 * here from the equations in the file header, RLSTM with κ = 0 against the plain LSTM,
 * finite-difference gradients of inputs and every parameter, and the option errors.
 */
import { expect, test, type TestContext } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import * as T from '../../src/tensor/index.js';
import { LSTM, RLSTM, lstmForward, type LSTMOptions } from '../../src/nn/lstm.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, uniformScale } from '../util/close.js';
import { gradCheck } from '../tensor/gradcheck.js';
import { randArr } from '../tensor/helpers.js';


interface RefOpts {
  B: number;
  L: number;
  I: number;
  H: number;
  /** κ per unit (length H), or null for a plain LSTM. */
  kappa: ArrayLike<number> | null;
  carry?: boolean;
  lengths?: Int32Array;
  output: 'last' | 'all';
}

const sig = (z: number) => 1 / (1 + Math.exp(-z));

/** Float64 LSTM/RLSTM straight from the equations: gates i, f, g, o; h_t = o ⊙ tanh(c + κ ⊙ tanh c). */
function refLstm(x: ArrayLike<number>, wx: ArrayLike<number>, wh: ArrayLike<number>, bias: ArrayLike<number>, o: RefOpts): Float64Array {
  const { B, L, I, H } = o;
  const G = 4 * H;
  const out = new Float64Array(o.output === 'all' ? B * L * H : B * H);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    let c = new Float64Array(H);
    const n = o.lengths ? o.lengths[b] : L;
    for (let t = 0; t < L; t++) {
      if (t < n) {
        const z = new Float64Array(G);
        for (let j = 0; j < G; j++) {
          let s = bias[j];
          for (let a = 0; a < I; a++) s += x[(b * L + t) * I + a] * wx[a * G + j];
          for (let a = 0; a < H; a++) s += h[a] * wh[a * G + j];
          z[j] = s;
        }
        const h2 = new Float64Array(H);
        const c2 = new Float64Array(H);
        for (let u = 0; u < H; u++) {
          const [ig, fg, gg, og] = [sig(z[u]), sig(z[H + u]), Math.tanh(z[2 * H + u]), sig(z[3 * H + u])];
          const cn = fg * c[u] + ig * gg;
          const ce = o.kappa ? cn + o.kappa[u] * Math.tanh(cn) : cn;
          h2[u] = og * Math.tanh(ce);
          c2[u] = o.carry ? ce : cn;
        }
        h = h2;
        c = c2;
      }
      if (o.output === 'all') out.set(h, (b * L + t) * H);
    }
    if (o.output === 'last') out.set(h, b * H);
  }
  return out;
}

/** Module state as plain arrays, and the reference's κ for it. */
async function weightsOf(m: LSTM): Promise<{ wx: Float32Array; wh: Float32Array; bias: Float32Array; kappa: Float64Array | null }> {
  const s = await m.state();
  const kappa = m.enhancement === 'learned' ? Float64Array.from(s.kappa) : m.enhancement === 'fixed' && m.fixedKappa !== 0 ? new Float64Array(m.hidden).fill(m.fixedKappa) : null;
  return { wx: s.wx, wh: s.wh, bias: s.bias, kappa };
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

forEachBackend('LSTM / RLSTM', (b) => {
  const engineFor = (ctx: TestContext) => b.engine(ctx);
  // Awkward sizes: nothing a multiple of a tile or workgroup width; ragged lengths including 0 and full.
  const cases: { name: string; opts: Omit<LSTMOptions, 'rng'>; B: number; L: number; I: number; H: number; ragged: boolean }[] = [
    { name: 'plain LSTM', opts: {}, B: 7, L: 9, I: 13, H: 11, ragged: false },
    { name: 'plain LSTM, ragged lengths', opts: {}, B: 33, L: 6, I: 29, H: 17, ragged: true },
    { name: 'RLSTM fixed κ = 0.5', opts: { enhancement: 'fixed', kappa: 0.5 }, B: 7, L: 9, I: 13, H: 11, ragged: true },
    { name: 'RLSTM learned κ = 1.3', opts: { enhancement: 'learned', kappa: 1.3 }, B: 5, L: 7, I: 3, H: 19, ragged: false },
    { name: 'RLSTM fixed κ = 2, enhanced carry', opts: { enhancement: 'fixed', kappa: 2, enhanceCarry: true }, B: 6, L: 8, I: 10, H: 9, ragged: true },
  ];
  for (const c of cases) {
    test(`${c.name} (${c.B}×${c.L}×${c.I} → ${c.H}) matches the float64 reference, last and all (rel err ≤ 1e-4)`, async (ctx) => {
      const engine = engineFor(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const x = randArr(rng, c.B * c.L * c.I, -2, 2);
      const lengths = c.ragged ? Int32Array.from({ length: c.B }, (_, b) => (b === 0 ? 0 : b === 1 ? c.L : rng.int(c.L + 1))) : undefined;
      for (const output of ['last', 'all'] as const) {
        const m = new LSTM(engine, c.I, c.H, { ...c.opts, rng: seed, output });
        const w = await weightsOf(m);
        const want = refLstm(x, w.wx, w.wh, w.bias, { B: c.B, L: c.L, I: c.I, H: c.H, kappa: w.kappa, carry: c.opts.enhanceCarry, lengths, output });
        const got = await engine.scopeAsync(async () => T.noGrad(() => m.forward(T.tensor(engine, x, [c.B, c.L, c.I]), { lengths })).read());
        expect(got.length).toBe(want.length);
        expectAllClose(got, want, { scale: uniformScale(want), context: `(${c.name}, ${output}, seed ${seed})` });
        m.dispose();
      }
    });
  }

  test('RLSTM with κ = 0 (fixed and learned) gives exactly the plain LSTM, in forward and gradients', async (ctx) => {
    const engine = engineFor(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const [B, L, I, H] = [9, 7, 6, 13];
    const x = randArr(rng, B * L * I);
    const lengths = Int32Array.from({ length: B }, () => 1 + rng.int(L));
    const plain = new LSTM(engine, I, H, { rng: seed, output: 'all' });
    const state = await plain.state();
    const run = async (m: LSTM) =>
      engine.scopeAsync(async () => {
        m.zeroGrad();
        const y = m.forward(T.tensor(engine, x, [B, L, I]), { lengths });
        T.sum(T.mul(y, y)).backward();
        const [wx, wh, bias] = await T.readAll([m.wx.grad!, m.wh.grad!, m.bias.grad!]);
        return { y: Array.from(await y.read()), wx: Array.from(wx), wh: Array.from(wh), bias: Array.from(bias) };
      });
    const want = await run(plain);
    const fixed = new RLSTM(engine, I, H, { rng: seed + 1, kappa: 0, output: 'all' });
    fixed.load(state);
    const learned = new RLSTM(engine, I, H, { rng: seed + 2, enhancement: 'learned', kappa: 0, output: 'all' });
    learned.load({ ...state, kappa: new Float32Array(H) });
    expect(await run(fixed)).toEqual(want);
    expect(await run(learned)).toEqual(want);
    for (const m of [plain, fixed, learned]) m.dispose();
  });

  // Finite differences w.r.t. x, W_x, W_h, b (and κ when learned) through lstmForward, the layer's own step.
  const fd: { name: string; kappa: 'none' | 'fixed' | 'learned'; carry?: boolean; output: 'last' | 'all'; ragged?: boolean }[] = [
    { name: 'LSTM', kappa: 'none', output: 'all' },
    { name: 'RLSTM fixed κ', kappa: 'fixed', output: 'last', ragged: true },
    { name: 'RLSTM learned κ', kappa: 'learned', output: 'all' },
    { name: 'RLSTM fixed κ, enhanced carry', kappa: 'fixed', carry: true, output: 'last', ragged: true },
  ];
  for (const c of fd) {
    test(`${c.name} (${c.output}) backward matches finite differences for the input and every parameter`, async (ctx) => {
      const engine = engineFor(ctx);
      const seed = testSeed();
      const [B, L, I, H] = [3, 4, 5, 3];
      const lengths = c.ragged ? Int32Array.from([4, 1, 3]) : undefined;
      const kappaFixed = 0.7;
      const inputs = [{ shape: [B, L, I] }, { shape: [I, 4 * H], lo: -0.8, hi: 0.8 }, { shape: [H, 4 * H], lo: -0.8, hi: 0.8 }, { shape: [4 * H] }];
      if (c.kappa === 'learned') inputs.push({ shape: [H], lo: 0.2, hi: 1.5 });
      await gradCheck(
        engine,
        {
          name: c.name,
          inputs,
          ref: ([x, wx, wh, b, k]) =>
            refLstm(x, wx, wh, b, { B, L, I, H, kappa: c.kappa === 'learned' ? k : c.kappa === 'fixed' ? new Float64Array(H).fill(kappaFixed) : null, carry: c.carry, lengths, output: c.output }),
          op: ([x, wx, wh, b, k]) => lstmForward(x, { wx, wh, bias: b, kappa: c.kappa === 'learned' ? k : c.kappa === 'fixed' ? kappaFixed : null }, { lengths, output: c.output, enhanceCarry: c.carry }),
        },
        seed,
      );
    });
  }

  test('the module gives every parameter a finite, non-zero gradient (learned κ included)', async (ctx) => {
    const engine = engineFor(ctx);
    const seed = testSeed();
    const m = new RLSTM(engine, 4, 6, { rng: seed, enhancement: 'learned' });
    expect(m.namedParameters().map(([n]) => n).sort()).toEqual(['bias', 'kappa', 'wh', 'wx']);
    const grads = await engine.scopeAsync(async () => {
      const y = m.forward(T.tensor(engine, randArr(new Rng(seed), 2 * 5 * 4), [2, 5, 4]));
      expect(y.shape).toEqual([2, 6]);
      T.sum(y).backward();
      return T.readAll(m.parameters().map((p) => p.grad!));
    });
    for (const g of grads) {
      expect(g.every((v) => Number.isFinite(v))).toBe(true);
      expect(g.some((v) => v !== 0)).toBe(true);
    }
    m.dispose();
  });

  test('bad options and inputs are coded input errors naming the argument', async (ctx) => {
    const engine = engineFor(ctx);
    const bad: [() => unknown, string][] = [
      [() => new LSTM(engine, 0, 4, { rng: 1 }), 'inFeatures'],
      [() => new LSTM(engine, 3, 2.5, { rng: 1 }), 'hidden'],
      [() => new RLSTM(engine, 3, 4, { rng: 1, kappa: -1 }), 'kappa'],
      [() => new LSTM(engine, 3, 4, { rng: 1, enhancement: 'cubic' as never }), 'enhancement'],
      [() => new LSTM(engine, 3, 4, { rng: 1, output: 'first' as never }), 'output'],
    ];
    for (const [f, arg] of bad) {
      const e = errorOf(f);
      expect(e.code).toBe('input');
      expect(e.details.arg).toBe(arg);
    }
    const m = new LSTM(engine, 3, 4, { rng: 1 });
    engine.scope(() => {
      expect(errorOf(() => m.forward(T.zeros(engine, [2, 5, 4]))).details.arg).toBe('x');
      expect(errorOf(() => m.forward(T.zeros(engine, [10, 3]))).details.arg).toBe('x');
      expect(errorOf(() => m.forward(T.zeros(engine, [2, 5, 3]), { lengths: Int32Array.from([1]) })).details.arg).toBe('lengths');
      expect(errorOf(() => m.forward(T.zeros(engine, [2, 5, 3]), { lengths: Int32Array.from([1, 6]) })).message).toMatch(/lengths\[1\] = 6 is outside \[0, 5\]/);
    });
    m.dispose();
  });
});
