import { expect, test } from 'vitest';
import { qTargets, qTargetsReference, QTARGET_VARIANTS, tuneQTargets, qTargetVariant } from '../../src/kernels/qtarget.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { randomExclusions, randomF32 } from '../util/random-csr.js';

interface Case {
  batch: number;
  nItems: number;
  dim: number;
  double: boolean;
  bias: boolean;
  mask: boolean;
}

const cases: Case[] = [
  { batch: 1, nItems: 1, dim: 1, double: false, bias: false, mask: false },
  { batch: 65, nItems: 63, dim: 17, double: true, bias: true, mask: true },
  { batch: 130, nItems: 1_000, dim: 64, double: false, bias: true, mask: true },
  { batch: 7, nItems: 200, dim: 3, double: true, bias: false, mask: false },
  { batch: 64, nItems: 129, dim: 33, double: true, bias: true, mask: true },
  // tile_max's edges: 32-row and 32-item tiles, 16+ tiles per workgroup, 64-deep slabs.
  { batch: 33, nItems: 31, dim: 64, double: true, bias: true, mask: true }, // I < one tile, states staged once
  { batch: 31, nItems: 513, dim: 65, double: false, bias: true, mask: true }, // 17 tiles: a 1-tile second chunk; d > one slab
  { batch: 97, nItems: 2_049, dim: 128, double: true, bias: false, mask: true }, // several chunks, two full slabs
  { batch: 3, nItems: 100, dim: 5, double: false, bias: false, mask: true }, // d tail inside one vec4 step
];

forEachBackend('qTargets', (b) => {
  for (const variant of b.kind === 'webgpu' ? QTARGET_VARIANTS : (['cpu'] as const))
  for (const c of cases) {
    test(`${variant}: matches the reference: B ${c.batch}, I ${c.nItems}, d ${c.dim}, ${c.double ? 'double' : 'plain'} DQN${c.bias ? ', bias' : ''}${c.mask ? ', masked' : ''}`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const host = {
        next: randomF32(rng, c.batch * c.dim),
        batch: c.batch,
        dim: c.dim,
        nItems: c.nItems,
        online: randomF32(rng, c.nItems * c.dim),
        target: randomF32(rng, c.nItems * c.dim),
        onlineBias: c.bias ? randomF32(rng, c.nItems) : undefined,
        targetBias: c.bias ? randomF32(rng, c.nItems) : undefined,
        reward: randomF32(rng, c.batch, 0, 1),
        done: Float32Array.from({ length: c.batch }, () => (rng.next() < 0.2 ? 1 : 0)),
        exclude: c.mask ? randomExclusions(rng, c.batch, c.nItems, { fullRow: 0, maxPerRow: 20 }) : undefined,
        gamma: 0.9,
        double: c.double,
      };
      const ref = qTargetsReference(host);
      const dev = (x: Float32Array | undefined) => (x ? engine.array(x) : undefined);
      const res = qTargets(engine, {
        ...host,
        next: dev(host.next)!,
        online: dev(host.online)!,
        target: dev(host.target)!,
        onlineBias: dev(host.onlineBias) as never,
        targetBias: dev(host.targetBias) as never,
        reward: dev(host.reward)!,
        done: dev(host.done)!,
        exclude: host.exclude ? { rowPtr: engine.array(host.exclude.rowPtr), colIdx: engine.array(host.exclude.colIdx) } : undefined,
        variant: variant === 'cpu' ? undefined : variant,
      });
      const [y, arg] = await engine.readMany<'f32' | 'i32'>([res.y, res.argmax]);
      // Near-ties may resolve differently in fp32 and fp64: accept any item whose exact
      // score equals the best within tolerance, never an excluded one.
      const chooser = c.double ? host.online : host.target;
      const cb = c.double ? host.onlineBias : host.targetBias;
      const score = (row: number, item: number) => {
        let s = 0;
        let abs = 0;
        for (let k = 0; k < c.dim; k++) {
          s += host.next[row * c.dim + k] * chooser[item * c.dim + k];
          abs += Math.abs(host.next[row * c.dim + k] * chooser[item * c.dim + k]);
        }
        return { s: cb ? s + cb[item] : s, abs: abs + (cb ? Math.abs(cb[item]) : 0) };
      };
      for (let row = 0; row < c.batch; row++) {
        const want = ref.argmax[row];
        const got = arg[row];
        if (want < 0) {
          expect(got, `row ${row} is all excluded (seed ${seed})`).toBe(-1);
          expect(y[row]).toBe(host.reward[row]);
          continue;
        }
        expect(got, `row ${row} (seed ${seed})`).toBeGreaterThanOrEqual(0);
        if (host.exclude) {
          const ex = host.exclude.colIdx.subarray(host.exclude.rowPtr[row], host.exclude.rowPtr[row + 1]);
          expect(ex.includes(got), `row ${row} chose excluded item ${got} (seed ${seed})`).toBe(false);
        }
        if (got !== want) {
          const g = score(row, got);
          const w = score(row, want);
          expect(Math.abs(g.s - w.s) / Math.max(g.abs, w.abs), `row ${row}: chose ${got} over ${want} (seed ${seed})`).toBeLessThan(1e-5);
        }
      }
      // Compare y where the choices agree (a near-tie choice changes Q_target legitimately).
      const agree = [...ref.argmax.keys()].filter((r) => ref.argmax[r] === arg[r]);
      expectAllClose(
        agree.map((r) => y[r]),
        agree.map((r) => ref.y[r]),
        { scale: agree.map((r) => 1 + Math.abs(ref.y[r]) + c.dim), context: `(seed ${seed})` },
      );
      expect(agree.length).toBeGreaterThan(c.batch * 0.9);
    });
  }

  test('ties go to the lower item index', async (ctx) => {
    const engine = b.engine(ctx);
    const dim = 4;
    const nItems = 150;
    const table = new Float32Array(nItems * dim);
    // Items 7, 70 and 140 share the best score; 70 and 140 sit in later item tiles.
    for (const i of [7, 70, 140]) table.set([1, 1, 1, 1], i * dim);
    const res = qTargets(engine, {
      next: engine.array(new Float32Array([1, 1, 1, 1, 2, 2, 2, 2])),
      batch: 2,
      dim,
      nItems,
      online: engine.array(table),
      target: engine.array(table),
      reward: engine.array(new Float32Array([0.5, 0])),
      done: engine.array(new Float32Array([0, 1])),
      exclude: { rowPtr: engine.array(new Int32Array([0, 0, 1])), colIdx: engine.array(new Int32Array([7])) },
      gamma: 0.5,
      double: true,
    });
    expect([...(await engine.read(res.argmax))]).toEqual([7, 70]);
    expect([...(await engine.read(res.y))]).toEqual([0.5 + 0.5 * 4, 0]);
  });

  if (b.kind === 'webgpu')
    test('autotune times both strategies and its choice serves later calls', async (ctx) => {
      const engine = b.engine(ctx);
      process.env.GNNRL_CACHE_DIR = (await import('node:fs')).mkdtempSync('/tmp/gnnrl-tune-');
      const rng = new Rng(testSeed());
      const args = {
        next: engine.array(randomF32(rng, 100 * 16)),
        batch: 100,
        dim: 16,
        nItems: 300,
        online: engine.array(randomF32(rng, 300 * 16)),
        target: engine.array(randomF32(rng, 300 * 16)),
        reward: engine.array(randomF32(rng, 100)),
        done: engine.array(new Float32Array(100)),
        gamma: 0.9,
        double: true,
      };
      const r = await tuneQTargets(engine, args);
      expect(Object.keys(r!.medians).sort()).toEqual([...QTARGET_VARIANTS].sort());
      expect(qTargetVariant(engine, args)).toBe(r!.variant);
    });

  test('rejects inconsistent sizes naming the argument', (ctx) => {
    const engine = b.engine(ctx);
    const f = (n: number) => engine.array(new Float32Array(n));
    const base = { next: f(8), batch: 2, dim: 4, nItems: 3, online: f(12), target: f(12), reward: f(2), done: f(2), gamma: 0.9, double: false };
    expect(() => qTargets(engine, { ...base, target: f(11) })).toThrow(/qTargets: target: expected 12 elements, got 11/);
    expect(() => qTargets(engine, { ...base, gamma: 1.5 })).toThrow(/gamma: expected a number in \[0, 1\], got 1.5/);
    expect(() => qTargets(engine, { ...base, reward: f(3) })).toThrow(/reward: expected 2 elements, got 3/);
  });
});
