import { expect, test } from 'vitest';
import { binaryKernel, binaryReference, unaryKernel, unaryReference, BINARY, UNARY, type BinaryOp, type Broadcast, type UnaryOp } from '../../src/kernels/elementwise.js';
import { hashUniform, Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { SHAPES, poisoned, randArr, randAway } from './helpers.js';

/** Input range per unary op (log and sqrt need positive inputs). */
const UNARY_CASES: { op: UnaryOp; lo: number; hi: number; alpha?: number; beta?: number; absScale?: boolean }[] = [
  { op: 'affine', lo: -2, hi: 2, alpha: -1.5, beta: 0.25, absScale: true },
  { op: 'relu', lo: -2, hi: 2 },
  { op: 'leakyRelu', lo: -2, hi: 2, alpha: 0.1 },
  { op: 'sigmoid', lo: -30, hi: 30 },
  { op: 'tanh', lo: -20, hi: 20 },
  { op: 'exp', lo: -10, hi: 10 },
  // log near 1 is near 0: its fp32 error is absolute (about one ulp of 1), so scale 1.
  { op: 'log', lo: 0.01, hi: 10, absScale: true },
  { op: 'softplus', lo: -30, hi: 30 },
  { op: 'logSigmoid', lo: -30, hi: 30 },
  { op: 'square', lo: -3, hi: 3 },
  { op: 'sqrt', lo: 0, hi: 10 },
  { op: 'fill', lo: -1, hi: 1, beta: 3.5 },
];

const BINARY_CASES: { op: BinaryOp; alpha?: number; beta?: number; divisor?: boolean }[] = [
  { op: 'lincomb', alpha: 1, beta: 1 },
  { op: 'lincomb', alpha: 1, beta: -1 },
  { op: 'mul', alpha: 1 },
  { op: 'div', alpha: 1, divisor: true },
  { op: 'reluBw' },
  { op: 'leakyBw', alpha: 0.2 },
  { op: 'sigmoidBw' },
  { op: 'tanhBw' },
  { op: 'softplusBw' },
  { op: 'logSigmoidBw' },
  { op: 'sqDiff' },
  { op: 'huber', alpha: 0.5 },
  { op: 'huberBw', alpha: 0.5 },
  { op: 'bpr' },
  { op: 'bprBw' },
  { op: 'rhs', alpha: 2, beta: -1 },
  { op: 'sqrtBw', divisor: true },
];

type Mode = 'full' | 'row' | 'col' | 'scalar';
function plan(mode: Mode, rows: number, cols: number): { bc: Broadcast; bLen: number } {
  switch (mode) {
    case 'full':
      return { bc: { rows, cols, aRs: cols, aCs: 1, bRs: cols, bCs: 1 }, bLen: rows * cols };
    case 'row':
      return { bc: { rows, cols, aRs: cols, aCs: 1, bRs: 0, bCs: 1 }, bLen: cols };
    case 'col':
      return { bc: { rows, cols, aRs: cols, aCs: 1, bRs: 1, bCs: 0 }, bLen: rows };
    case 'scalar':
      return { bc: { rows, cols, aRs: cols, aCs: 1, bRs: 0, bCs: 0 }, bLen: 1 };
  }
}

forEachBackend('elementwise', (b) => {
  test('every unary op code is covered', () => {
    const covered = new Set([...UNARY_CASES.map((c) => c.op), 'dropout', 'axpy']);
    expect([...covered].sort()).toEqual(Object.keys(UNARY).sort());
    expect(new Set(BINARY_CASES.map((c) => c.op)).size).toBe(Object.keys(BINARY).length);
  });

  for (const c of UNARY_CASES) {
    test(`unary ${c.op} matches the reference on awkward shapes`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      for (const [r, k] of [...SHAPES, [0, 5] as [number, number]]) {
        const n = r * k;
        const x = randArr(rng, n, c.lo, c.hi);
        const prm = { alpha: c.alpha, beta: c.beta };
        const expected = unaryReference(c.op, x, new Float64Array(n), prm);
        const out = poisoned(engine, n);
        unaryKernel(engine, c.op, engine.array(x), out, prm);
        const got = await engine.read(out);
        const scale = c.absScale ? Float64Array.from(x, (v) => Math.max(1, Math.abs(v * (c.alpha ?? 1)) + Math.abs(c.beta ?? 0))) : undefined;
        expectAllClose(got, expected, { scale, context: `(${c.op} ${r}×${k}, seed ${seed})` });
      }
    });
  }

  test('dropout draws the same mask as hashUniform on the host, scaled by 1/(1−p)', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    for (const n of [1, 13, 1000, 4099]) {
      const x = randAway(rng, n, 0.5, 1);
      const p = 0.3;
      const maskSeed = rng.nextU32();
      const out = poisoned(engine, n);
      unaryKernel(engine, 'dropout', engine.array(x), out, { p, seed: maskSeed, alpha: 1 / (1 - p) });
      const got = await engine.read(out);
      let dropped = 0;
      for (let i = 0; i < n; i++) {
        const keep = hashUniform(maskSeed, i) >= p;
        if (!keep) dropped++;
        expect(got[i], `element ${i} (seed ${seed})`).toBeCloseTo(keep ? x[i] / (1 - p) : 0, 5);
      }
      if (n >= 1000) expect(Math.abs(dropped / n - p)).toBeLessThan(0.05);
    }
  });

  test('axpy accumulates in place', async (ctx) => {
    const engine = b.engine(ctx);
    const rng = new Rng(testSeed());
    for (const n of [1, 7, 1001, 4096]) {
      const x = randArr(rng, n);
      const y = randArr(rng, n);
      const Y = engine.array(y);
      unaryKernel(engine, 'axpy', engine.array(x), Y, { alpha: 0.5 });
      expectAllClose(await engine.read(Y), Float64Array.from(y, (v, i) => v + 0.5 * x[i]), { scale: Float64Array.from(y, (v, i) => Math.abs(v) + Math.abs(0.5 * x[i])) });
    }
  });

  for (const c of BINARY_CASES) {
    test(`binary ${c.op}${c.beta !== undefined ? ` β=${c.beta}` : ''} matches the reference with every broadcast`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      for (const [r, k] of [...SHAPES, [0, 5] as [number, number]]) {
        for (const mode of ['full', 'row', 'col', 'scalar'] as Mode[]) {
          const { bc, bLen } = plan(mode, r, k);
          const n = r * k;
          const a = randArr(rng, n, -3, 3);
          const bb = c.divisor ? randAway(rng, bLen, 0.5, 2).map(Math.abs) : randArr(rng, bLen, -3, 3);
          const prm = { alpha: c.alpha, beta: c.beta };
          const expected = binaryReference(c.op, a, bb, new Float64Array(n), bc, prm);
          // Sums can cancel: the error is relative to the magnitude of the terms.
          const scale = Float64Array.from(expected, (_, i) => {
            const bi = bb[Math.floor(i / Math.max(1, k)) * bc.bRs + (i % Math.max(1, k)) * bc.bCs];
            return Math.abs(a[i] * (c.alpha ?? 1)) + Math.abs(bi * (c.beta ?? 1));
          });
          const out = poisoned(engine, n);
          binaryKernel(engine, c.op, engine.array(a), engine.array(bb), out, bc, prm);
          expectAllClose(await engine.read(out), expected, { scale, context: `(${c.op} ${r}×${k} ${mode}, seed ${seed})` });
        }
      }
    });
  }
});
