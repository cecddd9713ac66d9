/** Every op's backward against float64 central differences, on both backends. */
import { test } from 'vitest';
import { binaryReference, unaryReference, type BinaryOp, type UnaryOp } from '../../src/kernels/elementwise.js';
import { reduceReference } from '../../src/kernels/reduce.js';
import { matmulReference } from '../../src/kernels/matmul.js';
import { softmaxReference } from '../../src/kernels/softmax.js';
import { crossEntropyReference } from '../../src/kernels/loss.js';
import { copy2dReference, gatherReference } from '../../src/kernels/gather.js';
import { broadcast2d, view2d } from '../../src/tensor/shape.js';
import * as T from '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';
import type { Csr } from '../../src/graph/types.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { randomCsr } from '../util/random-csr.js';
import { gradCheck, type GradCase } from './gradcheck.js';
import { randAway } from './helpers.js';

const u = (op: UnaryOp, prm = {}) => (xs: Float64Array[]) => unaryReference(op, xs[0], new Float64Array(xs[0].length), prm);

function bin(op: BinaryOp, sa: number[], sb: number[], prm = {}) {
  return (xs: Float64Array[]) => {
    const { shape, bc } = broadcast2d(op, sa, sb);
    return binaryReference(op, xs[0], xs[1], new Float64Array(shape.reduce((a, b) => a * b, 1)), bc, prm);
  };
}

function meanOf(y: Float64Array, sumOnly = false): Float64Array {
  const out = new Float64Array(1);
  reduceReference('sum', y, 1, y.length, 'all', sumOnly ? 1 : 1 / y.length, out);
  return out;
}

function transposeCsr(a: Csr): Csr {
  const counts = new Int32Array(a.nCols + 1);
  for (const c of a.colIdx) counts[c + 1]++;
  for (let i = 0; i < a.nCols; i++) counts[i + 1] += counts[i];
  const fill = counts.slice(0, a.nCols);
  const colIdx = new Int32Array(a.colIdx.length);
  const values = new Float32Array(a.colIdx.length);
  for (let r = 0; r < a.nRows; r++)
    for (let e = a.rowPtr[r]; e < a.rowPtr[r + 1]; e++) {
      const k = fill[a.colIdx[e]]++;
      colIdx[k] = r;
      values[k] = a.values[e];
    }
  return { nRows: a.nCols, nCols: a.nRows, rowPtr: counts, colIdx, values };
}

function spmm64(a: Csr, x: Float64Array, d: number): Float64Array {
  const out = new Float64Array(a.nRows * d);
  for (let r = 0; r < a.nRows; r++)
    for (let e = a.rowPtr[r]; e < a.rowPtr[r + 1]; e++) for (let c = 0; c < d; c++) out[r * d + c] += a.values[e] * x[a.colIdx[e] * d + c];
  return out;
}

/** Magnitudes away from a kink (relu at 0, huber at ±delta) so differences stay on one side. */
const awayFromZero = (rng: Rng, n: number) => randAway(rng, n, 0.05, 1.5);

function cases(): GradCase[] {
  const list: GradCase[] = [];
  // Broadcasting binary ops: full, row, column, scalar and row-against-column.
  const pairs: [number[], number[]][] = [
    [[7, 13], [7, 13]],
    [[7, 13], [13]],
    [[7, 13], [7, 1]],
    [[7, 13], []],
    [[7, 1], [1, 13]],
    [[1], [65, 3]],
  ];
  for (const [sa, sb] of pairs) {
    list.push({ name: `add ${sa}+${sb}`, inputs: [{ shape: sa }, { shape: sb }], ref: bin('lincomb', sa, sb, { alpha: 1, beta: 1 }), op: ([a, b]) => T.add(a, b) });
    list.push({ name: `sub ${sa}-${sb}`, inputs: [{ shape: sa }, { shape: sb }], ref: bin('lincomb', sa, sb, { alpha: 1, beta: -1 }), op: ([a, b]) => T.sub(a, b) });
    list.push({ name: `mul ${sa}*${sb}`, inputs: [{ shape: sa }, { shape: sb }], ref: bin('mul', sa, sb), op: ([a, b]) => T.mul(a, b) });
    list.push({ name: `div ${sa}/${sb}`, inputs: [{ shape: sa }, { shape: sb, make: (r, n) => randAway(r, n, 0.5, 2) }], ref: bin('div', sa, sb), op: ([a, b]) => T.div(a, b) });
  }
  const s = [7, 13];
  list.push({ name: 'add scalar', inputs: [{ shape: s }], ref: u('affine', { alpha: 1, beta: 2.5 }), op: ([x]) => T.add(x, 2.5) });
  list.push({ name: 'sub scalar', inputs: [{ shape: s }], ref: u('affine', { alpha: 1, beta: -2.5 }), op: ([x]) => T.sub(x, 2.5) });
  list.push({ name: 'mul scalar', inputs: [{ shape: s }], ref: u('affine', { alpha: -3, beta: 0 }), op: ([x]) => T.mul(x, -3) });
  list.push({ name: 'div scalar', inputs: [{ shape: s }], ref: u('affine', { alpha: 0.25, beta: 0 }), op: ([x]) => T.div(x, 4) });
  list.push({ name: 'neg', inputs: [{ shape: s }], ref: u('affine', { alpha: -1, beta: 0 }), op: ([x]) => x.neg() });
  list.push({ name: 'relu', inputs: [{ shape: s, make: awayFromZero }], ref: u('relu'), op: ([x]) => T.relu(x) });
  list.push({ name: 'leakyRelu', inputs: [{ shape: s, make: awayFromZero }], ref: u('leakyRelu', { alpha: 0.1 }), op: ([x]) => T.leakyRelu(x, 0.1) });
  list.push({ name: 'sigmoid', inputs: [{ shape: s, lo: -6, hi: 6 }], ref: u('sigmoid'), op: ([x]) => T.sigmoid(x) });
  list.push({ name: 'tanh', inputs: [{ shape: s, lo: -3, hi: 3 }], ref: u('tanh'), op: ([x]) => T.tanh(x) });
  list.push({ name: 'exp', inputs: [{ shape: s, lo: -2, hi: 2 }], ref: u('exp'), op: ([x]) => T.exp(x) });
  list.push({ name: 'log', inputs: [{ shape: s, lo: 0.2, hi: 3 }], ref: u('log'), op: ([x]) => T.log(x) });
  list.push({ name: 'softplus', inputs: [{ shape: s, lo: -6, hi: 6 }], ref: u('softplus'), op: ([x]) => T.softplus(x) });
  list.push({ name: 'logSigmoid', inputs: [{ shape: s, lo: -6, hi: 6 }], ref: u('logSigmoid'), op: ([x]) => T.logSigmoid(x) });
  list.push({ name: 'sqrt', inputs: [{ shape: s, lo: 0.2, hi: 3 }], ref: u('sqrt'), op: ([x]) => T.sqrt(x) });
  list.push({ name: 'square', inputs: [{ shape: s }], ref: u('square'), op: ([x]) => T.square(x) });
  list.push({ name: 'dropout', inputs: [{ shape: [65, 3] }], ref: u('dropout', { p: 0.4, seed: 77, alpha: 1 / 0.6 }), op: ([x]) => T.dropout(x, 0.4, { seed: 77 }) });

  for (const [name, shape] of [
    ['7×13', [7, 13]],
    ['1×300', [1, 300]],
    ['300×1', [300, 1]],
  ] as [string, number[]][]) {
    const [R, C] = view2d(shape);
    const red = (axis: 'all' | 'rows' | 'cols', mean: boolean) => (xs: Float64Array[]) => {
      const n = axis === 'all' ? 1 : axis === 'rows' ? R : C;
      const cnt = axis === 'all' ? R * C : axis === 'rows' ? C : R;
      return reduceReference('sum', xs[0], R, C, axis, mean ? 1 / cnt : 1, new Float64Array(n));
    };
    list.push({ name: `sum ${name}`, inputs: [{ shape }], ref: red('all', false), op: ([x]) => T.sum(x) });
    list.push({ name: `sum axis 0 ${name}`, inputs: [{ shape }], ref: red('cols', false), op: ([x]) => T.sum(x, 0) });
    list.push({ name: `sum axis 1 ${name}`, inputs: [{ shape }], ref: red('rows', false), op: ([x]) => T.sum(x, 1) });
    list.push({ name: `mean ${name}`, inputs: [{ shape }], ref: red('all', true), op: ([x]) => T.mean(x) });
    list.push({ name: `mean axis 0 ${name}`, inputs: [{ shape }], ref: red('cols', true), op: ([x]) => T.mean(x, 0) });
    list.push({ name: `mean axis -1 ${name}`, inputs: [{ shape }], ref: red('rows', true), op: ([x]) => T.mean(x, -1) });
    list.push({ name: `softmax ${name}`, inputs: [{ shape, lo: -3, hi: 3 }], ref: (xs) => softmaxReference(xs[0], R, C, false, new Float64Array(R * C)), op: ([x]) => T.softmax(x) });
    list.push({ name: `logSoftmax ${name}`, inputs: [{ shape, lo: -3, hi: 3 }], ref: (xs) => softmaxReference(xs[0], R, C, true, new Float64Array(R * C)), op: ([x]) => T.logSoftmax(x) });
  }

  for (const [M, K, N] of [
    [7, 13, 5],
    [1, 9, 1],
    [33, 600, 40], // long K, few tiles: the split-K path on the GPU
  ]) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const sa = tA ? [K, M] : [M, K];
      const sb = tB ? [N, K] : [K, N];
      list.push({
        name: `matmul ${M}×${K}×${N} tA=${tA} tB=${tB}`,
        inputs: [{ shape: sa }, { shape: sb }],
        ref: (xs) => matmulReference(xs[0], xs[1], { M, K, N, transA: tA, transB: tB }, new Float64Array(M * N)),
        op: ([a, b]) => T.matmul(a, b, { transA: tA, transB: tB }),
      });
    }
  }

  const idx = new Int32Array([3, 0, 3, 12, 5, 3, 0, 7, 7, 11, 2, 3, 9, 12, 1, 3, 4, 6, 0, 10]);
  list.push({ name: 'gather with repeats', inputs: [{ shape: [13, 5] }], ref: (xs) => gatherReference(xs[0], idx, 5, new Float64Array(idx.length * 5)), op: ([t]) => T.gather(t, idx) });
  list.push({
    name: 'slice',
    inputs: [{ shape: [7, 13] }],
    ref: (xs) => copy2dReference(xs[0], new Float64Array(7 * 6), { rows: 7, width: 6, srcCols: 13, srcOff: 4, dstCols: 6, dstOff: 0 }),
    op: ([x]) => T.slice(x, 4, 10),
  });
  list.push({
    name: 'concat',
    inputs: [{ shape: [7, 3] }, { shape: [7, 1] }, { shape: [7, 5] }],
    ref: (xs) => {
      const out = new Float64Array(7 * 9);
      copy2dReference(xs[0], out, { rows: 7, width: 3, srcCols: 3, srcOff: 0, dstCols: 9, dstOff: 0 });
      copy2dReference(xs[1], out, { rows: 7, width: 1, srcCols: 1, srcOff: 0, dstCols: 9, dstOff: 3 });
      copy2dReference(xs[2], out, { rows: 7, width: 5, srcCols: 5, srcOff: 0, dstCols: 9, dstOff: 4 });
      return out;
    },
    op: (xs) => T.concat(xs),
  });
  list.push({
    name: 'reshape',
    inputs: [{ shape: [6, 4] }, { shape: [6] }],
    ref: (xs) => binaryReference('mul', xs[0], xs[1], new Float64Array(24), { rows: 4, cols: 6, aRs: 6, aCs: 1, bRs: 0, bCs: 1 }),
    op: ([x, r]) => T.mul(x.reshape([4, 6]), r),
  });

  const lossIn = [{ shape: [7, 13] }, { shape: [7, 13] }];
  list.push({ name: 'mseLoss', inputs: lossIn, ref: (xs) => meanOf(binaryReference('sqDiff', xs[0], xs[1], new Float64Array(91), broadcast2d('', [91], [91]).bc)), op: ([a, b]) => T.mseLoss(a, b) });
  list.push({
    name: 'huberLoss',
    inputs: [{ shape: [7, 13], lo: -2, hi: 2 }, { shape: [7, 13], lo: -2, hi: 2 }],
    ref: (xs) => meanOf(binaryReference('huber', xs[0], xs[1], new Float64Array(91), broadcast2d('', [91], [91]).bc, { alpha: 0.7 })),
    op: ([a, b]) => T.huberLoss(a, b, { delta: 0.7 }),
  });
  list.push({
    name: 'bprLoss (sum)',
    inputs: [{ shape: [50], lo: -8, hi: 8 }, { shape: [50], lo: -8, hi: 8 }],
    ref: (xs) => meanOf(binaryReference('bpr', xs[0], xs[1], new Float64Array(50), broadcast2d('', [50], [50]).bc), true),
    op: ([a, b]) => T.bprLoss(a, b, { reduction: 'sum' }),
  });
  const labels = Int32Array.from({ length: 7 }, (_, i) => (i * 5) % 13);
  list.push({
    name: 'crossEntropy',
    inputs: [{ shape: [7, 13], lo: -4, hi: 4 }],
    ref: (xs) => {
      const loss = new Float64Array(7);
      crossEntropyReference(xs[0], labels, 7, 13, loss, new Float64Array(7));
      return meanOf(loss);
    },
    op: ([x]) => T.crossEntropy(x, labels),
  });

  const csr = randomCsr(new Rng(5), 40, 30, 200, 'empty-rows');
  const csrT = transposeCsr(csr);
  list.push({
    name: 'sparseMatmul',
    inputs: [{ shape: [30, 6] }],
    ref: (xs) => spmm64(csr, xs[0], 6),
    op: ([x]) => T.sparseMatmul(x.engine.uploadCsr(csr), x, x.engine.uploadCsr(csrT)),
  });
  // Composite: a shared input feeding two paths (gradient summation in the tape).
  list.push({
    name: 'shared input: x·x + sigmoid(x)',
    inputs: [{ shape: [5, 5] }],
    ref: (xs) => {
      const mm = matmulReference(xs[0], xs[0], { M: 5, K: 5, N: 5 }, new Float64Array(25));
      const sg = unaryReference('sigmoid', xs[0], new Float64Array(25));
      return mm.map((v, i) => v + sg[i]);
    },
    op: ([x]) => T.add(T.matmul(x, x), T.sigmoid(x)),
  });
  return list;
}

forEachBackend('gradients', (b) => {
  for (const c of cases()) {
    test(`${c.name} passes a float64 finite-difference check`, async (ctx) => {
      await gradCheck(b.engine(ctx), c, testSeed());
    });
  }
});
