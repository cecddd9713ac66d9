/** Forward kernels against their CPU references: reductions, softmax, cross-entropy, matmul, gather, copy. */
import { expect, test } from 'vitest';
import { reduceKernel, reduceReference, reduceOutLength, type ReduceAxis, type ReduceOp } from '../../src/kernels/reduce.js';
import { softmaxKernel, softmaxReference, softmaxBackwardKernel, softmaxBackwardReference } from '../../src/kernels/softmax.js';
import { crossEntropyKernel, crossEntropyReference, crossEntropyBackwardKernel, crossEntropyBackwardReference } from '../../src/kernels/loss.js';
import { matmulKernel, matmulReference, matmulVariant, matmulVariantsFor, matmulWith, splitKFor, thinSplitKFor, type MatmulShape } from '../../src/kernels/matmul.js';
import { buildIndexCsr, copy2dKernel, copy2dReference, gatherKernel, gatherReference, segmentSumKernel, segmentSumReference } from '../../src/kernels/gather.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { SHAPES, poisoned, randArr } from './helpers.js';

function absReduceScale(x: Float32Array, rows: number, cols: number, axis: ReduceAxis, op: ReduceOp, scale: number): Float64Array {
  const ax = Float32Array.from(x, Math.abs);
  const out = new Float64Array(reduceOutLength(axis, rows, cols));
  reduceReference(op === 'max' ? 'max' : op, ax, rows, cols, axis, Math.abs(scale), out);
  return out;
}

const MATMUL_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [65, 129, 33],
  [1, 300, 257],
  [300, 1, 257],
  [257, 300, 1],
  [300, 257, 129],
  [64, 4096, 64], // split-K: few output tiles, long K (a weight gradient)
  [33, 1000, 70], // split-K with ragged slices
  [5, 0, 7], // K = 0: zeros
  [36, 68, 100], // aligned: the vec4 paths under every transpose
  [65, 128, 64], // M odd: vec4 without transA, scalar with it
  [64, 130, 64], // K % 4 = 2: vec4 only for transA without transB
  [33, 64, 30], // N % 4 = 2: scalar
  [64, 4096, 4], // thin, split-K
];

/**
 * Shapes for every strategy: aligned and unaligned K and N, thin N = 1, 3, 4, 8 (with
 * rows not a multiple of 4), split-K under both tilings.
 */
const MATMUL_STRATEGY_SHAPES: [number, number, number][] = [
  [4, 4, 4],
  [68, 100, 36],
  [300, 128, 260],
  [65, 132, 64],
  [64, 130, 68],
  [33, 64, 30],
  [1001, 64, 4],
  [1000, 64, 4],
  [300, 67, 3],
  [257, 64, 8],
  [128, 33, 1],
  [12, 20, 8],
  [68, 1000, 8], // thin split-K, aligned
  [6, 1000, 5], // thin split-K, ragged rows and slices
  [64, 4096, 64], // tiled split-K, aligned
];

forEachBackend('kernels', (b) => {
  for (const op of ['sum', 'sumsq', 'max'] as ReduceOp[]) {
    for (const axis of ['all', 'rows', 'cols'] as ReduceAxis[]) {
      if (op !== 'sum' && axis === 'cols') continue;
      test(`reduce ${op} over ${axis}`, async (ctx) => {
        const engine = b.engine(ctx);
        const seed = testSeed();
        const rng = new Rng(seed);
        // Row reductions take one invocation per row up to 256 columns and a workgroup per row past it: both sides of the switch.
        const extra: [number, number][] = [[3000, 70], [70000, 3], [0, 4], [300, 256], [301, 257], [5, 1000]];
        for (const [r, c] of [...SHAPES, ...extra]) {
          const x = randArr(rng, r * c);
          const scale = axis === 'cols' ? 1 / Math.max(1, r) : 0.5;
          const n = reduceOutLength(axis, r, c);
          const expected = reduceReference(op, x, r, c, axis, scale, new Float64Array(n));
          const out = poisoned(engine, n);
          reduceKernel(engine, op, engine.array(x), r, c, axis, scale, out);
          expectAllClose(await engine.read(out), expected, { scale: absReduceScale(x, r, c, axis, op, scale), context: `(${r}×${c}, seed ${seed})` });
        }
      });
    }
  }

  for (const log of [false, true]) {
    test(`${log ? 'log_' : ''}softmax forward and backward`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      for (const [r, c] of [...SHAPES, [3, 5000] as [number, number]]) {
        const x = randArr(rng, r * c, -20, 20);
        const y = softmaxReference(x, r, c, log, new Float32Array(r * c));
        const out = poisoned(engine, r * c);
        softmaxKernel(engine, engine.array(x), r, c, log, out);
        const got = await engine.read(out);
        // log-softmax subtracts the log-sum-exp: its error is relative to |x| + |lse|.
        const scale = log ? Float64Array.from(x, (v, i) => Math.abs(v) + Math.abs(v - y[i])) : undefined;
        expectAllClose(got, softmaxReference(x, r, c, log, new Float64Array(r * c)), { scale, context: `(forward ${r}×${c}, seed ${seed})` });

        const g = randArr(rng, r * c);
        const expected = softmaxBackwardReference(y, g, r, c, log, new Float64Array(r * c));
        const bscale = new Float64Array(r * c);
        for (let i = 0; i < r; i++) {
          let s = 0;
          for (let j = 0; j < c; j++) s += Math.abs(g[i * c + j] * (log ? 1 : y[i * c + j]));
          for (let j = 0; j < c; j++) bscale[i * c + j] = Math.abs(g[i * c + j]) + (log ? Math.exp(y[i * c + j]) : Math.abs(y[i * c + j])) * s;
        }
        const gout = poisoned(engine, r * c);
        softmaxBackwardKernel(engine, engine.array(y), engine.array(g), r, c, log, gout);
        expectAllClose(await engine.read(gout), expected, { scale: bscale, context: `(backward ${r}×${c}, seed ${seed})` });
      }
    });
  }

  test('cross-entropy forward and backward', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    for (const [r, c] of SHAPES) {
      const x = randArr(rng, r * c, -10, 10);
      const labels = Int32Array.from({ length: r }, () => rng.int(c));
      const loss = new Float64Array(r);
      const lse = new Float64Array(r);
      crossEntropyReference(x, labels, r, c, loss, lse);
      const L = poisoned(engine, r);
      const S = poisoned(engine, r);
      crossEntropyKernel(engine, engine.array(x), engine.array(labels), r, c, L, S);
      const [gotL, gotS] = await engine.readMany([L, S]);
      const scale = Float64Array.from(lse, (v, i) => Math.abs(v) + Math.abs(x[i * c + labels[i]]));
      expectAllClose(gotL, loss, { scale, context: `(loss ${r}×${c}, seed ${seed})` });
      expectAllClose(gotS, lse, { scale, context: `(lse ${r}×${c}, seed ${seed})` });

      const g = new Float32Array([rng.uniform(0.5, 2)]);
      const lse32 = Float32Array.from(lse);
      const expected = crossEntropyBackwardReference(x, labels, lse32, g, r, c, 1 / r, new Float64Array(r * c));
      const out = poisoned(engine, r * c);
      crossEntropyBackwardKernel(engine, engine.array(x), engine.array(labels), engine.array(lse32), engine.array(g), r, c, 1 / r, out);
      expectAllClose(await engine.read(out), expected, { scale: new Float64Array(r * c).fill(g[0] / r), context: `(backward ${r}×${c}, seed ${seed})` });
    }
  });

  for (const [tA, tB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    test(`matmul transA=${tA} transB=${tB} on awkward shapes`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      for (const [M, K, N] of MATMUL_SHAPES) {
        const s: MatmulShape = { M, K, N, transA: tA, transB: tB };
        const a = randArr(rng, M * K);
        const bm = randArr(rng, K * N);
        const expected = matmulReference(a, bm, s, new Float64Array(M * N));
        const scale = matmulReference(Float32Array.from(a, Math.abs), Float32Array.from(bm, Math.abs), s, new Float64Array(M * N));
        const out = poisoned(engine, M * N);
        matmulKernel(engine, engine.array(a), engine.array(bm), s, out);
        expectAllClose(await engine.read(out), expected, { scale, context: `(${M}×${K}·${K}×${N}, seed ${seed})` });
      }
    });
  }

  test('matmul: every strategy on every shape it accepts, under every transpose', async (ctx) => {
    const engine = b.engine(ctx);
    if (b.kind !== 'webgpu') return; // strategies are WebGPU entry points; the CPU path is the oracle above
    const seed = testSeed();
    const rng = new Rng(seed);
    const seen = new Set<string>();
    for (const [M, K, N] of MATMUL_STRATEGY_SHAPES) {
      for (const [tA, tB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const s: MatmulShape = { M, K, N, transA: tA, transB: tB };
        const a = randArr(rng, M * K);
        const bm = randArr(rng, K * N);
        const expected = matmulReference(a, bm, s, new Float64Array(M * N));
        const scale = matmulReference(Float32Array.from(a, Math.abs), Float32Array.from(bm, Math.abs), s, new Float64Array(M * N));
        const A = engine.array(a);
        const B = engine.array(bm);
        for (const v of matmulVariantsFor(s)) {
          seen.add(v);
          const out = poisoned(engine, M * N);
          matmulWith(engine, v, A, B, s, out);
          expectAllClose(await engine.read(out), expected, { scale, context: `(${v} ${M}×${K}·${K}×${N} tA=${tA} tB=${tB}, seed ${seed})` });
        }
      }
    }
    expect([...seen].sort()).toEqual(['thin', 'thin_vec4', 'tiled', 'tiled_vec4']);
  });

  test('matmul strategy choice: vec4 by alignment, thin for N ≤ 8, split-K for few tiles over a long K; new shapes reuse pipelines', async (ctx) => {
    const engine = b.engine(ctx);
    expect(splitKFor({ M: 64, K: 4096, N: 64 }, 1 << 27)).toBeGreaterThan(1);
    expect(splitKFor({ M: 4096, K: 64, N: 50000 }, 1 << 27)).toBe(1);
    expect(splitKFor({ M: 64, K: 100, N: 64 }, 1 << 27)).toBe(1);
    expect(thinSplitKFor({ M: 64, K: 50000, N: 4 }, 1 << 27)).toBeGreaterThan(1);
    expect(thinSplitKFor({ M: 50000, K: 64, N: 4 }, 1 << 27)).toBe(1);
    expect(matmulVariantsFor({ M: 7, K: 64, N: 64 })).toEqual(['tiled', 'tiled_vec4']);
    expect(matmulVariantsFor({ M: 7, K: 64, N: 64, transA: true })).toEqual(['tiled']);
    expect(matmulVariantsFor({ M: 8, K: 63, N: 64, transA: true })).toEqual(['tiled', 'tiled_vec4']);
    expect(matmulVariantsFor({ M: 8, K: 63, N: 64, transA: true, transB: true })).toEqual(['tiled']);
    expect(matmulVariantsFor({ M: 8, K: 64, N: 6 })).toEqual(['tiled', 'thin']);
    expect(matmulVariantsFor({ M: 8, K: 64, N: 8 })).toEqual(['tiled', 'tiled_vec4', 'thin', 'thin_vec4']);
    if (b.kind !== 'webgpu') return;
    if (!process.env.GNNRL_KERNEL_VARIANT) {
      expect(matmulVariant(engine, { M: 5000, K: 64, N: 4 })).toBe('thin_vec4');
      expect(matmulVariant(engine, { M: 5000, K: 63, N: 3 })).toBe('thin');
      expect(matmulVariant(engine, { M: 5000, K: 64, N: 64 })).toBe('tiled_vec4');
      expect(matmulVariant(engine, { M: 5000, K: 63, N: 64 })).toBe('tiled');
    }
    const rng = new Rng(testSeed());
    const run = (M: number, K: number, N: number) => matmulKernel(engine, engine.array(randArr(rng, M * K)), engine.array(randArr(rng, K * N)), { M, K, N }, engine.empty('f32', M * N));
    // One shape per strategy compiles its pipeline; other shapes of the same strategy reuse it.
    run(9, 10, 11);
    run(9, 12, 16);
    run(9, 10, 3);
    run(9, 12, 4);
    await engine.sync();
    const before = engine.gpu.pipelineCount;
    run(40, 17, 90);
    run(40, 64, 256);
    run(3, 50, 2);
    run(300, 128, 4);
    await engine.sync();
    expect(engine.gpu.pipelineCount).toBe(before);
  });

  test('gather, its index CSR and segment-sum backward, and copy2d', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    for (const [V, d, B] of [
      [1, 1, 1],
      [13, 7, 50],
      [1000, 65, 300],
      [50, 129, 0],
    ]) {
      const table = randArr(rng, V * d);
      // Skewed indices: some rows hit many times, many never.
      const idx = Int32Array.from({ length: B }, () => (rng.next() < 0.5 ? rng.int(Math.min(3, V)) : rng.int(V)));
      const out = poisoned(engine, B * d);
      gatherKernel(engine, engine.array(table), V, engine.array(idx), d, out);
      expectAllClose(await engine.read(out), gatherReference(table, idx, d, new Float64Array(B * d)), { context: `(gather ${V}×${d} by ${B}, seed ${seed})` });

      const csr = buildIndexCsr(idx, V);
      for (let r = 0; r < V; r++) for (let e = csr.ptr[r]; e < csr.ptr[r + 1]; e++) expect(idx[csr.pos[e]]).toBe(r);
      const g = randArr(rng, B * d);
      const expected = segmentSumReference(csr, g, V, d, new Float64Array(V * d));
      const scale = segmentSumReference(csr, Float32Array.from(g, Math.abs), V, d, new Float64Array(V * d));
      const gout = poisoned(engine, V * d);
      segmentSumKernel(engine, engine.array(csr.ptr), engine.array(csr.pos), engine.array(g), V, d, gout);
      expectAllClose(await engine.read(gout), expected, { scale, context: `(segment sum, seed ${seed})` });
    }
    for (const [rows, srcCols, dstCols, width, srcOff, dstOff] of [
      [1, 1, 1, 1, 0, 0],
      [7, 13, 20, 5, 8, 15],
      [300, 257, 129, 100, 157, 29],
    ]) {
      const src = randArr(rng, rows * srcCols);
      const init = randArr(rng, rows * dstCols);
      const spec = { rows, width, srcCols, srcOff, dstCols, dstOff };
      const dst = engine.array(init);
      copy2dKernel(engine, engine.array(src), dst, spec);
      expectAllClose(await engine.read(dst), copy2dReference(src, Float64Array.from(init), spec), { context: `(copy2d, seed ${seed})` });
    }
  });
});
