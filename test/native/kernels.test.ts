/**
 * The native backend's C++ kernels against the TypeScript CPU references: awkward shapes
 * (zero sizes, sizes that are multiples of no tile, widths that are not whole SIMD
 * vectors, empty rows, one huge row), NaN-poisoned outputs, relative error ≤ 1e-4, and
 * results identical bit for bit for 1, 2 and 7 pool threads.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { findKernel } from '../../src/backend/kernel-table.js';
import { nativeKernels } from '../../src/native.js';
import { matmulKernel, matmulReference, type MatmulShape } from '../../src/kernels/matmul.js';
import { qTargets, qTargetsReference } from '../../src/kernels/qtarget.js';
import { topK, topKReference } from '../../src/kernels/topk.js';
import { spmm, spmmReference } from '../../src/kernels/spmm.js';
import { adamKernel, adamReference, type AdamHyper } from '../../src/kernels/optim.js';
import { buildIndexCsr, copy2dKernel, copy2dReference, gatherKernel, gatherReference, segmentSumKernel, segmentSumReference } from '../../src/kernels/gather.js';
import { reduceIntoKernel, reduceKernel, reduceOutLength, reduceReference, type ReduceAxis, type ReduceOp } from '../../src/kernels/reduce.js';
import { softmaxBackwardKernel, softmaxBackwardReference, softmaxKernel, softmaxReference } from '../../src/kernels/softmax.js';
import { BINARY, UNARY, binaryKernel, binaryReference, fullBroadcast, unaryKernel, unaryReference, type BinaryOp, type Broadcast, type UnaryOp } from '../../src/kernels/elementwise.js';
import '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';
import type { Csr } from '../../src/backend/arrays.js';
import { testSeed } from '../util/backends.js';
import { expectAllClose, poisonF32 } from '../util/close.js';
import { randomCsr, randomExclusions, randomF32, type CsrPattern } from '../util/random-csr.js';
import { describeNative } from './native-env.js';

const THREADS = [1, 2, 7];

describeNative('native kernels', () => {
  let engine: Engine;
  let threadsBefore = 1;
  beforeAll(async () => {
    // The CPU pass of CI sets GNNRL_BACKEND=cpu, which would turn this engine into a CPU one.
    const forced = process.env.GNNRL_BACKEND;
    delete process.env.GNNRL_BACKEND;
    try {
      engine = await Engine.create({ backend: 'native', quiet: true });
    } finally {
      if (forced !== undefined) process.env.GNNRL_BACKEND = forced;
    }
    threadsBefore = nativeKernels().threads();
  });
  afterAll(async () => {
    nativeKernels().setThreads(threadsBefore);
    await engine?.dispose();
  });

  /** Runs `f` on 1, 2 and 7 threads and asserts the outputs are identical bit for bit. */
  function sameForThreads<T extends ArrayLike<number>[]>(what: string, f: () => T): T {
    let first: T | undefined;
    for (const t of THREADS) {
      nativeKernels().setThreads(t);
      const out = f();
      if (!first) first = out;
      else out.forEach((o, i) => expect(Buffer.from(new Uint8Array((o as Float32Array).buffer, (o as Float32Array).byteOffset, (o as Float32Array).byteLength)).equals(Buffer.from(new Uint8Array((first![i] as Float32Array).buffer, (first![i] as Float32Array).byteOffset, (first![i] as Float32Array).byteLength))), `${what}: output ${i} on ${t} threads differs from 1 thread`).toBe(true));
    }
    nativeKernels().setThreads(threadsBefore);
    return first!;
  }

  test('is the native backend, and ops without a native kernel fall back to the CPU one', () => {
    expect(engine.backend).toBe('native');
    expect(findKernel('sgd', 'native')).toBe(findKernel('sgd', 'cpu'));
    expect(findKernel('matmul', 'native')).not.toBe(findKernel('matmul', 'cpu'));
  });

  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [0, 3, 4],
    [4, 3, 0],
    [5, 0, 3],
    [7, 13, 33],
    [37, 300, 65],
    [130, 257, 1030],
    [64, 600, 17],
  ];
  for (const [M, K, N] of shapes)
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      test(`matmul ${M}×${K}·${K}×${N}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''} matches the reference on 1, 2 and 7 threads`, () => {
        const seed = testSeed();
        const rng = new Rng(seed);
        const a = randomF32(rng, M * K);
        const b = randomF32(rng, K * N);
        const s: MatmulShape = { M, K, N, transA, transB };
        const want = matmulReference(a, b, s, new Float64Array(M * N));
        const scale = matmulReference(a.map(Math.abs), b.map(Math.abs), s, new Float64Array(M * N));
        const [got] = sameForThreads(`matmul seed ${seed}`, () => {
          const out = engine.array(poisonF32(M * N));
          matmulKernel(engine, engine.array(a), engine.array(b), s, out);
          return [(out as { data: Float32Array }).data];
        });
        expectAllClose(got, want, { scale, context: `(seed ${seed})` });
      });
    }

  const spmmCases: [CsrPattern, number, number, number, number][] = [
    ['uniform', 1, 1, 1, 1],
    ['all-empty', 5, 4, 0, 3],
    ['empty-rows', 301, 77, 2_000, 17],
    ['one-huge-row', 500, 400, 30_000, 64],
    ['uniform', 1_000, 2_000, 20_000, 32],
    ['uniform', 257, 90, 3_000, 100],
    ['one-huge-row', 40, 3_000, 9_000, 128],
    ['empty-rows', 70, 50, 600, 256],
    ['uniform', 3, 0, 0, 5],
  ];
  for (const [pattern, nRows, nCols, nnz, d] of spmmCases) {
    test(`spmm ${pattern} ${nRows}×${nCols}, nnz ${nnz}, d ${d} matches the reference on 1, 2 and 7 threads`, () => {
      const seed = testSeed();
      const rng = new Rng(seed);
      const a = randomCsr(rng, nRows, nCols, nnz, pattern);
      const x = randomF32(rng, nCols * d);
      const want = spmmReference(a, x, d);
      const absA: Csr = { ...a, values: a.values.map(Math.abs) };
      const scale = spmmReference(absA, x.map(Math.abs), d);
      const dev = engine.uploadCsr(a);
      const [got] = sameForThreads(`spmm seed ${seed}`, () => {
        const out = engine.array(poisonF32(nRows * d));
        spmm(engine, dev, engine.array(x), d, out);
        return [(out as { data: Float32Array }).data];
      });
      expectAllClose(got, want, { scale, context: `(seed ${seed})` });
    });
  }

  test('spmm refuses a column outside the matrix (an input error, not a stray read)', () => {
    const dev = engine.uploadCsr({ nRows: 2, nCols: 3, rowPtr: new Int32Array([0, 1, 2]), colIdx: new Int32Array([0, 3]), values: new Float32Array([1, 1]) });
    const err = (() => {
      try {
        spmm(engine, dev, engine.array(new Float32Array(6)), 2);
      } catch (e) {
        return e as GnnrlError;
      }
    })();
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err!.code).toBe('input');
    expect(err!.message).toBe('a.colIdx[1]: expected a column in [0, 3), got 3');
  });

  interface ScoreCase {
    batch: number;
    nItems: number;
    dim: number;
    bias: boolean;
    mask: boolean;
    k: number;
  }
  const scoreCases: ScoreCase[] = [
    { batch: 1, nItems: 1, dim: 1, bias: false, mask: false, k: 1 },
    { batch: 3, nItems: 5, dim: 4, bias: true, mask: true, k: 10 },
    { batch: 65, nItems: 63, dim: 17, bias: true, mask: true, k: 20 },
    { batch: 130, nItems: 1_037, dim: 64, bias: true, mask: true, k: 128 },
    { batch: 97, nItems: 2_100, dim: 33, bias: false, mask: true, k: 7 },
    { batch: 7, nItems: 200, dim: 3, bias: false, mask: false, k: 100 },
  ];

  function scoringData(c: ScoreCase, rng: Rng) {
    return {
      next: randomF32(rng, c.batch * c.dim),
      online: randomF32(rng, c.nItems * c.dim),
      target: randomF32(rng, c.nItems * c.dim),
      onlineBias: c.bias ? randomF32(rng, c.nItems) : undefined,
      targetBias: c.bias ? randomF32(rng, c.nItems) : undefined,
      reward: randomF32(rng, c.batch, 0, 1),
      done: Float32Array.from({ length: c.batch }, () => (rng.next() < 0.2 ? 1 : 0)),
      // Row 1 excludes every item (the all-masked case).
      exclude: c.mask ? randomExclusions(rng, c.batch, c.nItems, { fullRow: 1, maxPerRow: 30 }) : undefined,
    };
  }

  for (const c of scoreCases)
    for (const double of [false, true]) {
      test(`qTargets B ${c.batch}, I ${c.nItems}, d ${c.dim}, ${double ? 'double' : 'plain'} DQN${c.bias ? ', bias' : ''}${c.mask ? ', masked' : ''} matches the reference`, () => {
        const seed = testSeed();
        const rng = new Rng(seed);
        const h = scoringData(c, rng);
        const host = { ...h, batch: c.batch, dim: c.dim, nItems: c.nItems, gamma: 0.9, double };
        const ref = qTargetsReference(host);
        // Poisoned outputs through the addon itself (the kernel wrapper allocates its own).
        const [y, arg] = sameForThreads(`qtarget seed ${seed}`, () => {
          const y = poisonF32(c.batch);
          const arg = new Int32Array(c.batch).fill(-7);
          nativeKernels().qtarget(
            {
              next: h.next,
              batch: c.batch,
              dim: c.dim,
              nItems: c.nItems,
              chooser: double ? h.online : h.target,
              chooserBias: double ? h.onlineBias : h.targetBias,
              value: double ? h.target : undefined,
              valueBias: double ? h.targetBias : undefined,
              reward: h.reward,
              done: h.done,
              excludeRowPtr: h.exclude?.rowPtr,
              excludeColIdx: h.exclude?.colIdx,
              gamma: 0.9,
            },
            y,
            arg,
          );
          return [y, arg];
        });
        const chooser = double ? h.online : h.target;
        const cb = double ? h.onlineBias : h.targetBias;
        const score = (row: number, item: number) => {
          let s = 0;
          let abs = 0;
          for (let k = 0; k < c.dim; k++) {
            s += h.next[row * c.dim + k] * chooser[item * c.dim + k];
            abs += Math.abs(h.next[row * c.dim + k] * chooser[item * c.dim + k]);
          }
          return { s: cb ? s + cb[item] : s, abs: abs + (cb ? Math.abs(cb[item]) : 0) };
        };
        for (let row = 0; row < c.batch; row++) {
          const want = ref.argmax[row];
          const got = arg[row];
          const where = `row ${row} (seed ${seed})`;
          if (want < 0) {
            expect(got, where).toBe(-1);
            expect(y[row], where).toBe(h.reward[row]);
            continue;
          }
          expect(got, where).toBeGreaterThanOrEqual(0);
          if (h.exclude) expect(h.exclude.colIdx.subarray(h.exclude.rowPtr[row], h.exclude.rowPtr[row + 1]).includes(got), `${where}: chose an excluded item`).toBe(false);
          if (got !== want) {
            // fp32 and fp64 may resolve a near-tie differently.
            const g = score(row, got);
            const w = score(row, want);
            expect(Math.abs(g.s - w.s) / Math.max(g.abs, w.abs), `${where}: chose ${got} over ${want}`).toBeLessThan(1e-5);
          }
        }
        const agree = [...ref.argmax.keys()].filter((r) => ref.argmax[r] === arg[r]);
        expect(agree.length).toBeGreaterThan(c.batch * 0.9);
        expectAllClose(
          agree.map((r) => y[r]),
          agree.map((r) => ref.y[r]),
          { scale: agree.map((r) => 1 + Math.abs(ref.y[r]) + c.dim), context: `(seed ${seed})` },
        );
        // The kernel-table path gives the same.
        const res = qTargets(engine, {
          next: engine.array(h.next),
          batch: c.batch,
          dim: c.dim,
          nItems: c.nItems,
          online: engine.array(h.online),
          target: engine.array(h.target),
          onlineBias: h.onlineBias && engine.array(h.onlineBias),
          targetBias: h.targetBias && engine.array(h.targetBias),
          reward: engine.array(h.reward),
          done: engine.array(h.done),
          exclude: h.exclude && { rowPtr: engine.array(h.exclude.rowPtr), colIdx: engine.array(h.exclude.colIdx) },
          gamma: 0.9,
          double,
        });
        expect((res.argmax as { data: Int32Array }).data).toEqual(arg);
        expect((res.y as { data: Float32Array }).data).toEqual(y);
      });
    }

  test('qTargets: ties go to the lower item index; unsorted and repeated exclusions are honoured', () => {
    const dim = 4;
    const nItems = 150;
    const table = new Float32Array(nItems * dim);
    for (const i of [7, 70, 140]) table.set([1, 1, 1, 1], i * dim); // 70 and 140 in later tiles
    const res = qTargets(engine, {
      next: engine.array(new Float32Array([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1])),
      batch: 3,
      dim,
      nItems,
      online: engine.array(table),
      target: engine.array(table),
      reward: engine.array(new Float32Array([0.5, 0, 1])),
      done: engine.array(new Float32Array([0, 1, 0])),
      exclude: { rowPtr: engine.array(new Int32Array([0, 0, 1, 4])), colIdx: engine.array(new Int32Array([7, 70, 7, 70])) },
      gamma: 0.5,
      double: true,
    });
    expect([...(res.argmax as { data: Int32Array }).data]).toEqual([7, 70, 140]);
    expect([...(res.y as { data: Float32Array }).data]).toEqual([0.5 + 0.5 * 4, 0, 1 + 0.5 * 4]);
  });

  test('exclusions whose rows use none of colIdx (a one-element placeholder) exclude nothing', () => {
    // What rank/'s native path passes for a chunk of users without exclusions: an empty
    // Int32Array has no storage to point at, so colIdx is a placeholder of length 1.
    const rng = new Rng(testSeed());
    const queries = randomF32(rng, 3 * 4);
    const items = randomF32(rng, 9 * 4);
    const want = topKReference({ queries, batch: 3, dim: 4, items, nItems: 9, k: 4 });
    const idx = new Int32Array(12).fill(-7);
    const val = poisonF32(12);
    nativeKernels().topk({ queries, batch: 3, dim: 4, items, nItems: 9, k: 4, excludeRowPtr: new Int32Array(4), excludeColIdx: new Int32Array(1) }, idx, val);
    expect(Array.from(idx)).toEqual(Array.from(want.indices));
    // A colIdx shorter than the rows use is still refused.
    expect(() => nativeKernels().topk({ queries, batch: 3, dim: 4, items, nItems: 9, k: 4, excludeRowPtr: Int32Array.of(0, 1, 2, 3), excludeColIdx: Int32Array.of(0, 1) }, idx, val)).toThrow(
      /exclude.rowPtr\[3\]: expected a value in \[rowPtr\[2\] = 2, 2\], got 3/,
    );
  });

  test('an exclusion outside the catalogue is an input error naming it', () => {
    const f = (n: number) => engine.array(new Float32Array(n));
    const args = { next: f(8), batch: 2, dim: 4, nItems: 3, online: f(12), target: f(12), reward: f(2), done: f(2), gamma: 0.9, double: false };
    expect(() => qTargets(engine, { ...args, exclude: { rowPtr: engine.array(new Int32Array([0, 1, 2])), colIdx: engine.array(new Int32Array([0, 3])) } })).toThrow(
      'exclude.colIdx[1]: expected a column in [0, 3), got 3',
    );
    expect(() => topK(engine, { queries: f(8), batch: 2, dim: 4, items: f(12), nItems: 3, k: 2, exclude: { rowPtr: engine.array(new Int32Array([0, 2, 1])), colIdx: engine.array(new Int32Array([0, 1])) } })).toThrow(
      /exclude.rowPtr\[2\]: expected a value in \[rowPtr\[1\] = 2, 2\], got 1/,
    );
  });

  for (const c of scoreCases) {
    test(`topK B ${c.batch}, I ${c.nItems}, d ${c.dim}, k ${c.k}${c.bias ? ', bias' : ''}${c.mask ? ', masked' : ''} matches the reference`, () => {
      const seed = testSeed();
      const rng = new Rng(seed);
      const h = scoringData(c, rng);
      const host = { queries: h.next, batch: c.batch, dim: c.dim, items: h.online, nItems: c.nItems, bias: h.onlineBias, exclude: h.exclude, k: c.k };
      const ref = topKReference(host);
      const [idx, val] = sameForThreads(`topk seed ${seed}`, () => {
        const idx = new Int32Array(c.batch * c.k).fill(-7);
        const val = poisonF32(c.batch * c.k);
        nativeKernels().topk({ ...host, excludeRowPtr: h.exclude?.rowPtr, excludeColIdx: h.exclude?.colIdx }, idx, val);
        return [idx, val];
      });
      const k = c.k;
      for (let row = 0; row < c.batch; row++) {
        const want = ref.indices.subarray(row * k, row * k + k);
        const got = idx.subarray(row * k, row * k + k);
        const where = `row ${row} (seed ${seed})`;
        const valid = want.filter((x) => x >= 0).length;
        expect(got.filter((x) => x < 0).length, where).toBe(k - valid);
        for (let j = valid; j < k; j++) expect(val[row * k + j], where).toBe(-Infinity);
        expect(new Set(got.subarray(0, valid)).size, `${where}: duplicates`).toBe(valid);
        if (valid === 0) continue;
        const kth = ref.exact[row * c.nItems + want[valid - 1]];
        const tol = 1e-5 * (1 + c.dim);
        for (let j = 0; j < valid; j++) {
          const item = got[j];
          expect(ref.exact[row * c.nItems + item], `${where}: item ${item} at rank ${j}`).toBeGreaterThanOrEqual(kth - tol);
          expect(Math.abs(val[row * k + j] - ref.exact[row * c.nItems + item]), where).toBeLessThan(tol);
          if (j > 0) expect(val[row * k + j], `${where}: order`).toBeLessThanOrEqual(val[row * k + j - 1]);
          if (h.exclude) expect(h.exclude.colIdx.subarray(h.exclude.rowPtr[row], h.exclude.rowPtr[row + 1]).includes(item), `${where}: excluded item ${item}`).toBe(false);
        }
        expect(got.subarray(0, valid).filter((x, j) => x === want[j]).length, `${where}: agreement`).toBeGreaterThanOrEqual(valid - 2);
      }
      const res = topK(engine, { ...host, queries: engine.array(h.next), items: engine.array(h.online), bias: h.onlineBias && engine.array(h.onlineBias), exclude: h.exclude && { rowPtr: engine.array(h.exclude.rowPtr), colIdx: engine.array(h.exclude.colIdx) } });
      expect((res.indices as { data: Int32Array }).data).toEqual(idx);
    });
  }

  test('topK: equal scores come out lowest index first, across tiles', () => {
    const nItems = 600;
    const items = new Float32Array(nItems);
    for (const i of [599, 3, 300]) items[i] = 1;
    const res = topK(engine, { queries: engine.array(new Float32Array([1])), batch: 1, dim: 1, items: engine.array(items), nItems, k: 100 });
    const zeros = [...Array(nItems).keys()].filter((i) => i !== 3 && i !== 300 && i !== 599).slice(0, 97);
    expect([...(res.indices as { data: Int32Array }).data]).toEqual([3, 300, 599, ...zeros]);
  });
  // ------------------------------------------------------------ element-wise

  /** Inputs each op is defined on (log and sqrt of positives; div by values away from 0). */
  function unaryInput(rng: Rng, op: UnaryOp, n: number): Float32Array {
    const x = randomF32(rng, n, -3, 3);
    if (op === 'log' || op === 'sqrt') for (let i = 0; i < n; i++) x[i] = Math.abs(x[i]) + 0.05;
    return x;
  }

  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    for (const n of [0, 1, 17, 70_001]) {
      test(`unary ${op}, n ${n}, matches the reference on 1, 2 and 7 threads`, () => {
        const seed = testSeed();
        const rng = new Rng(seed);
        const x = unaryInput(rng, op, n);
        const prm = { alpha: 0.7, beta: -0.3, seed: 12345, p: 0.3 };
        // axpy accumulates into out: start both from the same values, not NaN.
        const start = op === 'axpy' ? randomF32(rng, n) : poisonF32(n);
        const want = unaryReference(op, x, new Float64Array(start), prm);
        const [got] = sameForThreads(`unary ${op}`, () => {
          const out = engine.array(start.slice());
          unaryKernel(engine, op, engine.array(x), out, prm);
          return [(out as { data: Float32Array }).data];
        });
        expectAllClose(got, want, { context: `(seed ${seed})` });
      });
    }
  }

  const grids: { name: string; rows: number; cols: number; a: 'full' | 'row' | 'col' | 'scalar'; b: 'full' | 'row' | 'col' | 'scalar' }[] = [
    { name: 'full 37×129', rows: 37, cols: 129, a: 'full', b: 'full' },
    { name: 'full 300×301 (several parts)', rows: 300, cols: 301, a: 'full', b: 'full' },
    { name: 'matrix ⊙ row vector 65×3', rows: 65, cols: 3, a: 'full', b: 'row' },
    { name: 'column vector ⊙ matrix 5×1000', rows: 5, cols: 1000, a: 'col', b: 'full' },
    { name: 'matrix ⊙ scalar 1×7', rows: 1, cols: 7, a: 'full', b: 'scalar' },
    { name: 'empty 0×9', rows: 0, cols: 9, a: 'full', b: 'full' },
  ];
  const strides = (kind: 'full' | 'row' | 'col' | 'scalar', cols: number): [number, number] => (kind === 'full' ? [cols, 1] : kind === 'row' ? [0, 1] : kind === 'col' ? [1, 0] : [0, 0]);
  const lengthOf = (kind: 'full' | 'row' | 'col' | 'scalar', rows: number, cols: number) => (kind === 'full' ? rows * cols : kind === 'row' ? cols : kind === 'col' ? rows : 1);

  for (const op of Object.keys(BINARY) as BinaryOp[]) {
    for (const g of grids) {
      test(`binary ${op}, ${g.name}, matches the reference on 1, 2 and 7 threads`, () => {
        const seed = testSeed();
        const rng = new Rng(seed);
        const [aRs, aCs] = strides(g.a, g.cols);
        const [bRs, bCs] = strides(g.b, g.cols);
        const bc: Broadcast = { rows: g.rows, cols: g.cols, aRs, aCs, bRs, bCs };
        const a = randomF32(rng, lengthOf(g.a, g.rows, g.cols), -2, 2);
        const b = randomF32(rng, lengthOf(g.b, g.rows, g.cols), -2, 2);
        // Ops dividing by b (div, sqrtBw) or reading it as a probability stay away from 0.
        if (op === 'div' || op === 'sqrtBw') for (let i = 0; i < b.length; i++) b[i] = Math.sign(b[i] || 1) * (Math.abs(b[i]) + 0.2);
        const prm = { alpha: 0.8, beta: 1.3 };
        const want = binaryReference(op, a, b, new Float64Array(g.rows * g.cols), bc, prm);
        const [got] = sameForThreads(`binary ${op}`, () => {
          const out = engine.array(poisonF32(g.rows * g.cols));
          binaryKernel(engine, op, engine.array(a), engine.array(b), out, bc, prm);
          return [(out as { data: Float32Array }).data];
        });
        expectAllClose(got, want, { context: `(seed ${seed})` });
      });
    }
  }

  test('element-wise: dropout keeps exactly the elements the TypeScript hash keeps', () => {
    const x = new Float32Array(5000).fill(1);
    const prm = { alpha: 2, seed: 99, p: 0.5 };
    const out = engine.array(poisonF32(x.length));
    unaryKernel(engine, 'dropout', engine.array(x), out, prm);
    expect([...(out as { data: Float32Array }).data]).toEqual([...unaryReference('dropout', x, new Float32Array(x.length), prm)]);
  });

  test('element-wise: strides reaching past an operand are an input error, not a stray read', () => {
    const bc: Broadcast = { ...fullBroadcast(3, 4), bRs: 5 };
    const err = (() => {
      try {
        binaryKernel(engine, 'mul', engine.array(new Float32Array(12)), engine.array(new Float32Array(12)), engine.array(new Float32Array(12)), bc);
      } catch (e) {
        return e as GnnrlError;
      }
    })();
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err!.code).toBe('input');
    expect(err!.message).toMatch(/^b: expected at least 14 elements, got 12/);
  });
  for (const log of [false, true]) {
    for (const [rows, cols] of [[0, 5], [1, 1], [7, 1031], [300, 129], [3, 40_000]] as const) {
      test(`${log ? 'log-' : ''}softmax ${rows}×${cols}, forward and backward, match the reference on 1, 2 and 7 threads`, () => {
        const seed = testSeed();
        const rng = new Rng(seed);
        const x = randomF32(rng, rows * cols, -6, 6);
        // Masked entries as the catalogue softmax writes them: a very negative logit.
        for (let i = 0; i < x.length; i += 11) x[i] = -1e30;
        const g = randomF32(rng, rows * cols);
        const y = softmaxReference(x, rows, cols, log, new Float64Array(rows * cols));
        const [got] = sameForThreads('softmax', () => {
          const out = engine.array(poisonF32(rows * cols));
          softmaxKernel(engine, engine.array(x), rows, cols, log, out);
          return [(out as { data: Float32Array }).data];
        });
        expectAllClose(got, y, { context: `(seed ${seed})` });
        const y32 = Float32Array.from(got);
        const want = softmaxBackwardReference(y32, g, rows, cols, log, new Float64Array(rows * cols));
        const [gx] = sameForThreads('softmax backward', () => {
          const out = engine.array(poisonF32(rows * cols));
          softmaxBackwardKernel(engine, engine.array(y32), engine.array(g), rows, cols, log, out);
          return [(out as { data: Float32Array }).data];
        });
        expectAllClose(gx, want, { context: `(seed ${seed})` });
      });
    }
  }

  test('softmax: a NaN in a row makes that row NaN and leaves the others alone, as the reference', () => {
    const x = new Float32Array([1, Number.NaN, 2, 0.5, 0.25, 3]);
    const out = engine.array(poisonF32(6));
    softmaxKernel(engine, engine.array(x), 2, 3, false, out);
    const got = (out as { data: Float32Array }).data;
    expect([...got.subarray(0, 3)].every(Number.isNaN)).toBe(true);
    expectAllClose(got.subarray(3), softmaxReference(x.subarray(3), 1, 3, false, new Float64Array(3)));
  });
  for (const decoupled of [false, true]) {
    for (const n of [0, 1, 33, 100_003]) {
      test(`${decoupled ? 'AdamW' : 'Adam'} n ${n}: five steps equal the reference bit for bit on 1, 2 and 7 threads`, () => {
        const seed = testSeed();
        const rng = new Rng(seed);
        const w0 = randomF32(rng, n);
        const grads = Array.from({ length: 5 }, () => randomF32(rng, n, -3, 3));
        const h = (step: number): AdamHyper => ({ lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, decoupled, step });
        const ref = { w: w0.slice(), m: new Float32Array(n), v: new Float32Array(n) };
        // The kernels read the clip scale from a float32 array: the reference gets the same float.
        grads.forEach((g, s) => adamReference(ref.w, g, ref.m, ref.v, Math.fround(0.7), h(s + 1)));
        const [w, m, v] = sameForThreads('adam', () => {
          const W = engine.array(w0.slice());
          const M = engine.array(new Float32Array(n));
          const V = engine.array(new Float32Array(n));
          const clip = engine.array(new Float32Array([0.7]));
          grads.forEach((g, s) => adamKernel(engine, W, engine.array(g), M, V, clip, h(s + 1)));
          return [W, M, V].map((a) => (a as { data: Float32Array }).data);
        });
        expect(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(ref.w.buffer)), `w (seed ${seed})`).toBe(true);
        expect(Buffer.from(m.buffer, m.byteOffset, m.byteLength).equals(Buffer.from(ref.m.buffer)), `m (seed ${seed})`).toBe(true);
        expect(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(ref.v.buffer)), `v (seed ${seed})`).toBe(true);
      });
    }
  }
  for (const op of ['sum', 'sumsq', 'max'] as ReduceOp[]) {
    for (const axis of ['all', 'rows', 'cols'] as ReduceAxis[]) {
      for (const [rows, cols] of [[0, 4], [1, 1], [37, 129], [3, 70_001], [5000, 3]] as const) {
        test(`reduce ${op} over ${axis}, ${rows}×${cols}, matches the reference on 1, 2 and 7 threads`, () => {
          const seed = testSeed();
          const rng = new Rng(seed);
          const x = randomF32(rng, rows * cols, -2, 2);
          const n = reduceOutLength(axis, rows, cols);
          const want = reduceReference(op, x, rows, cols, axis, 0.5, new Float64Array(n));
          const [got] = sameForThreads(`reduce ${op}`, () => {
            const out = engine.array(poisonF32(n));
            reduceKernel(engine, op, engine.array(x), rows, cols, axis, 0.5, out);
            return [(out as { data: Float32Array }).data];
          });
          // Per row and per column the order is the reference's; over everything, blocks of
          // double partial sums (far inside float32's rounding of the result).
          expectAllClose(got, want, { context: `(seed ${seed})` });
        });
      }
    }
  }
  for (const n of [0, 1, 17, 4099, 200_003]) {
    test(`reduce_into (the gradient norm's slots) over ${n} values at an offset, sum and sumsq, matches the reference`, () => {
      const seed = testSeed();
      const x = randomF32(new Rng(seed), n + 5);
      for (const op of ['sum', 'sumsq'] as const) {
        const want = reduceReference(op, x.subarray(0, n), 1, n, 'all', 1, new Float64Array(1))[0];
        const [got] = sameForThreads(`reduce_into ${op}`, () => {
          const out = engine.array(poisonF32(4));
          reduceIntoKernel(engine, op, engine.array(x), n, out, 2);
          return [(out as { data: Float32Array }).data];
        });
        // Only the slot is written (the rest stays poisoned); it reduces x[0..n), not the whole array.
        expect(Number.isNaN(got[0]) && Number.isNaN(got[1]) && Number.isNaN(got[3]), `untouched slots (seed ${seed})`).toBe(true);
        expectAllClose(got.subarray(2, 3), Float64Array.of(want), { context: `${op} (seed ${seed})` });
      }
    });
  }
  for (const [tableRows, n, cols] of [[1, 0, 4], [7, 1, 1], [1000, 3001, 17], [50, 20_000, 64]] as const) {
    test(`gather ${n} rows of ${cols} from ${tableRows} (some indices outside the table) and its segment-sum backward match the reference bit for bit`, () => {
      const seed = testSeed();
      const rng = new Rng(seed);
      const table = randomF32(rng, tableRows * cols);
      // Mostly valid indices, a few outside the table (zero rows, as the reference).
      const idx = Int32Array.from({ length: n }, () => (rng.next() < 0.05 ? (rng.next() < 0.5 ? -1 : tableRows + 2) : rng.int(tableRows)));
      const want = gatherReference(table, idx, cols, new Float32Array(n * cols));
      const [got] = sameForThreads('gather', () => {
        const out = engine.array(poisonF32(n * cols));
        gatherKernel(engine, engine.array(table), tableRows, engine.array(idx), cols, out);
        return [(out as { data: Float32Array }).data];
      });
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer)), `gather (seed ${seed})`).toBe(true);
      const valid = Int32Array.from(idx, (t) => (t >= 0 && t < tableRows ? t : 0));
      const csr = buildIndexCsr(valid, tableRows);
      const g = randomF32(rng, n * cols);
      const wantSum = segmentSumReference(csr, g, tableRows, cols, new Float32Array(tableRows * cols));
      const [gotSum] = sameForThreads('segment sum', () => {
        const out = engine.array(poisonF32(tableRows * cols));
        segmentSumKernel(engine, engine.array(csr.ptr), engine.array(csr.pos), engine.array(g), tableRows, cols, out);
        return [(out as { data: Float32Array }).data];
      });
      expect(Buffer.from(gotSum.buffer, gotSum.byteOffset, gotSum.byteLength).equals(Buffer.from(wantSum.buffer)), `segment sum (seed ${seed})`).toBe(true);
    });
  }

  test('copy2d: column blocks move as the reference moves them; an extent past an operand is an input error', () => {
    const rng = new Rng(testSeed());
    const src = randomF32(rng, 37 * 20);
    const shape = { rows: 37, width: 7, srcCols: 20, srcOff: 11, dstCols: 9, dstOff: 1 };
    const want = copy2dReference(src, new Float32Array(37 * 9).fill(5), shape);
    const dst = engine.array(new Float32Array(37 * 9).fill(5));
    copy2dKernel(engine, engine.array(src), dst, shape);
    expect([...(dst as { data: Float32Array }).data]).toEqual([...want]);
    expect(() => copy2dKernel(engine, engine.array(src), engine.array(new Float32Array(10)), shape)).toThrow(/dst: expected at least 332 elements, got 10/);
    expect(() => copy2dKernel(engine, engine.array(src), dst, { ...shape, srcOff: 14 })).toThrow(/srcOff/);
  });

  test('segment sum refuses a position outside the gradient rows (an input error, not a stray read)', () => {
    const ptr = engine.array(new Int32Array([0, 1, 2]));
    const pos = engine.array(new Int32Array([0, 5]));
    expect(() => segmentSumKernel(engine, ptr, pos, engine.array(new Float32Array(4)), 2, 2, engine.array(new Float32Array(4)))).toThrow(/segment\.colIdx\[1\]: expected a column in \[0, 2\), got 5/);
  });
});
