/**
 * The pooled history states (WindowStateEncoder `pool: 'mean' | 'attention'`): their
 * values against a float64 host reference on every backend, on awkward sizes with empty,
 * partial and full windows; finite-difference gradients through both pools (what the TD
 * loss follows into fine-tuned tables); bad options.
 */
import { describe, expect, test } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { WindowStateEncoder, type StateTables } from '../../src/rl/state/window-state.js';
import { attentionPool, meanPool } from '../../src/rl/state/history-pool.js';
import { Engine } from '../../src/engine.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, uniformScale } from '../util/close.js';
import { gradCheck } from '../tensor/gradcheck.js';
import { randArr } from '../tensor/helpers.js';

function tables(rng: Rng, nUsers: number, nItems: number, dim: number): StateTables {
  return { dim, nUsers, nItems, users: randArr(rng, nUsers * dim), items: randArr(rng, nItems * dim), source: 'test' };
}

/** Left-padded windows: slot b holds b mod (H + 1) real items (empty, partial and full windows all occur). */
function windows(rng: Rng, B: number, H: number, nItems: number): Int32Array {
  const h = new Int32Array(B * H).fill(-1);
  for (let b = 0; b < B; b++) {
    const n = b % (H + 1);
    for (let j = H - n; j < H; j++) h[b * H + j] = rng.int(nItems);
  }
  return h;
}

/** Float64 [u | p] from the encoder's (scaled) tables. */
function referenceStates(ut: ArrayLike<number>, it: ArrayLike<number>, users: Int32Array, history: Int32Array, H: number, d: number, pool: 'mean' | 'attention'): Float64Array {
  const B = users.length;
  const out = new Float64Array(B * 2 * d);
  for (let b = 0; b < B; b++) {
    const u = Array.from({ length: d }, (_, c) => ut[users[b] * d + c]);
    const xs: number[][] = pool === 'attention' ? [u] : [];
    for (let j = 0; j < H; j++) {
      const i = history[b * H + j];
      if (i >= 0) xs.push(Array.from({ length: d }, (_, c) => it[i * d + c]));
    }
    const p = new Array(d).fill(0);
    if (pool === 'mean') {
      for (const x of xs) for (let c = 0; c < d; c++) p[c] += x[c] / xs.length;
    } else {
      const s = xs.map((x) => x.reduce((acc, v, c) => acc + v * u[c], 0) / Math.sqrt(d));
      const m = Math.max(...s);
      const e = s.map((v) => Math.exp(v - m));
      const z = e.reduce((a, v) => a + v, 0);
      xs.forEach((x, j) => {
        for (let c = 0; c < d; c++) p[c] += (e[j] / z) * x[c];
      });
    }
    for (let c = 0; c < d; c++) {
      out[b * 2 * d + c] = u[c];
      out[b * 2 * d + d + c] = p[c];
    }
  }
  return out;
}

forEachBackend('pooled history states', (backend) => {
  for (const pool of ['mean', 'attention'] as const) {
    test(`'${pool}' states equal the float64 reference (awkward sizes, empty to full windows)`, async (ctx) => {
      const engine = backend.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const [nUsers, nItems, d, H, B] = [11, 37, 7, 5, 23];
      const enc = new WindowStateEncoder(engine, tables(rng, nUsers, nItems, d), H, { pool });
      expect(enc.outDim).toBe(2 * d);
      const users = Int32Array.from({ length: B }, () => rng.int(nUsers));
      const history = windows(rng, B, H, nItems);
      const got = (await engine.scopeAsync(async () => (await enc.encode(users, history).read()) as Float32Array));
      const [ut, it] = (await Promise.all([enc.userTable.read(), enc.itemTable.read()])) as Float32Array[];
      const want = referenceStates(ut, it, users, history, H, d, pool);
      expectAllClose(got, want, { scale: uniformScale(want), rtol: 1e-4, context: `(${pool}, seed ${seed})` });
      // An empty window pools to 0 (mean) or to the user's own vector (attention).
      const empty = got.subarray(d, 2 * d);
      if (pool === 'mean') expect(Array.from(empty).every((v) => v === 0)).toBe(true);
      else expectAllClose(empty, got.subarray(0, d), { rtol: 1e-5, context: `(empty window, seed ${seed})` });
      enc.dispose();
    });
  }

  test('both pools differentiate correctly (finite differences through the tables)', async (ctx) => {
    const engine = backend.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const [nItems, d, H, B] = [6, 5, 3, 5];
    const history = windows(rng, B, H, nItems);
    const rows = history.map((i) => (i < 0 ? nItems : i));
    const zeroRow = (t: Float64Array) => {
      // The padding row of the table is zero in the encoder; the check keeps it so.
      t.fill(0, nItems * d);
      return t;
    };
    await gradCheck(
      engine,
      {
        name: 'mean pool',
        inputs: [{ shape: [nItems + 1, d], make: (r, n) => randArr(r, n).fill(0, nItems * d) }],
        ref: ([t]) => {
          const tt = zeroRow(Float64Array.from(t));
          const out = new Float64Array(B * d);
          for (let b = 0; b < B; b++) {
            const real = Array.from(history.subarray(b * H, (b + 1) * H)).filter((i) => i >= 0);
            for (const i of real) for (let c = 0; c < d; c++) out[b * d + c] += tt[i * d + c] / real.length;
          }
          return out;
        },
        op: ([t]) => meanPool(t, rows, history, B, H),
      },
      seed,
    );
    await gradCheck(
      engine,
      {
        name: 'attention pool',
        inputs: [{ shape: [B, d] }, { shape: [nItems + 1, d], make: (r, n) => randArr(r, n).fill(0, nItems * d) }],
        ref: ([u, t]) => {
          const full = referenceStates(u, zeroRow(Float64Array.from(t)), Int32Array.from({ length: B }, (_, b) => b), history, H, d, 'attention');
          const out = new Float64Array(B * d);
          for (let b = 0; b < B; b++) for (let c = 0; c < d; c++) out[b * d + c] = full[b * 2 * d + d + c];
          return out;
        },
        op: ([u, t]) => attentionPool(u, t, rows, history, B, H),
      },
      seed,
    );
  });
});

describe('pool options', () => {
  test('an unknown pool, or attention beyond the kernel limits, is a coded input error naming pool', async () => {
    const engine = await Engine.create({ backend: 'cpu', quiet: true });
    try {
      const rng = new Rng(3);
      const bad = (f: () => unknown) => {
        try {
          f();
        } catch (err) {
          expect(err).toBeInstanceOf(GnnrlError);
          expect((err as GnnrlError).code).toBe('input');
          expect((err as GnnrlError).details.arg).toBe('pool');
          return (err as Error).message;
        }
        throw new Error('expected an error');
      };
      expect(bad(() => new WindowStateEncoder(engine, tables(rng, 2, 3, 4), 2, { pool: 'max' as never }))).toMatch(/'window', 'mean', 'attention'/);
      expect(bad(() => new WindowStateEncoder(engine, tables(rng, 2, 3, 130), 2, { pool: 'attention' }))).toMatch(/dim <= 128/);
      const ok = new WindowStateEncoder(engine, tables(rng, 2, 3, 130), 2, { pool: 'mean' });
      expect(ok.outDim).toBe(260);
      ok.dispose();
    } finally {
      await engine.dispose();
    }
  });
});
