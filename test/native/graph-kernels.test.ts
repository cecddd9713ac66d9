/**
 * The native graph kernels (native/kern_graph_core.cc: max aggregation, graph attention,
 * forward and backward) called straight on the addon, against the TypeScript references:
 * awkward shapes (empty rows, one huge row, duplicate-free random graphs with rectangular
 * sides, widths that are whole SIMD vectors and widths that are not), NaN-poisoned
 * outputs, relative error ≤ 1e-4, bit-identical results on 1, 2 and 7 pool threads, and
 * bad inputs (a transpose of another graph, an argmax out of range) refused with the
 * argument named.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { nativeKernels, type NativeGatArgs } from '../../src/native.js';
import { maxAggregateBackwardReference, maxAggregateReference } from '../../src/kernels/spmm-max.js';
import { gatBackwardReference, gatForwardReference } from '../../src/kernels/gat.js';
import { seqAttentionBackwardReference, seqAttentionReference } from '../../src/kernels/seq-attention.js';
import { gatEdgeArrays, withSelfLoops } from '../../src/graph/gat-edges.js';
import { Rng } from '../../src/util/rng.js';
import { testSeed } from '../util/backends.js';
import { expectAllClose, poisonF32 } from '../util/close.js';
import { randomCsr, randomF32, type CsrPattern } from '../util/random-csr.js';
import { describeNative } from './native-env.js';

const THREADS = [1, 2, 7];
const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describeNative('native graph kernels', () => {
  let before = 1;
  beforeAll(() => {
    before = nativeKernels().threads();
  });
  afterAll(() => {
    nativeKernels().setThreads(before);
  });

  /** Runs `f` on each thread count; every output must be identical to the 1-thread one. */
  function sameForThreads<T extends (Float32Array | Int32Array)[]>(what: string, f: () => T): T {
    let first: T | undefined;
    for (const t of THREADS) {
      nativeKernels().setThreads(t);
      const out = f();
      if (!first) first = out;
      else out.forEach((o, i) => expect(bytes(o).equals(bytes(first![i])), `${what}: output ${i} on ${t} threads`).toBe(true));
    }
    nativeKernels().setThreads(before);
    return first!;
  }

  const seed = testSeed();
  const cases: [number, number, number, number, CsrPattern][] = [
    [1, 1, 1, 1, 'uniform'],
    [67, 45, 300, 3, 'empty-rows'],
    [129, 1100, 2000, 17, 'one-huge-row'],
    [300, 257, 6000, 64, 'uniform'],
  ];

  test.each(cases)(`maxAggregate ${'%i×%i'}, nnz %i, d %i, %s (seed ${seed})`, (nRows, nCols, nnz, d, pattern) => {
    const rng = new Rng(seed + nRows);
    const a = randomCsr(rng, nRows, nCols, nnz, pattern);
    const x = randomF32(rng, nCols * d);
    const want = maxAggregateReference(a, x, d);
    const k = nativeKernels();
    const [y, argmax] = sameForThreads('maxAggregate', () => {
      const y = poisonF32(nRows * d);
      const am = new Int32Array(nRows * d).fill(-7);
      k.maxAggregate!({ nRows, nCols, rowPtr: a.rowPtr, colIdx: a.colIdx, x, d }, y, am);
      return [y, am];
    });
    expectAllClose(y, want.y, { context: 'y' });
    expect(Array.from(argmax)).toEqual(Array.from(want.argmax));
    const dy = randomF32(rng, nRows * d);
    const [dx] = sameForThreads('maxAggregateBackward', () => {
      const dx = poisonF32(nCols * d);
      k.maxAggregateBackward!({ nRows, nSrc: nCols, argmax, dy, d }, dx);
      return [dx];
    });
    expectAllClose(dx, maxAggregateBackwardReference(nCols, want.argmax, dy, d), { context: 'dx', scale: new Float64Array(dx.length).fill(1) });
  });

  const gatCases: [number, number, number, number, CsrPattern, boolean][] = [
    [1, 1, 1, 1, 'uniform', false],
    [67, 400, 3, 5, 'empty-rows', false],
    [130, 1500, 2, 16, 'one-huge-row', true],
    [257, 3000, 4, 17, 'uniform', true],
  ];

  test.each(gatCases)(`gatForward/gatBackward n %i, nnz %i, %i heads × %i, %s, self-loops %s (seed ${seed})`, (n, nnz, heads, f, pattern, loops) => {
    const rng = new Rng(seed + 31 * n);
    const base = randomCsr(rng, n, n, nnz, pattern);
    const g = loops ? withSelfLoops(base) : base;
    const w = heads * f;
    const h = randomF32(rng, n * w);
    const el = randomF32(rng, n * heads, -2, 2);
    const er = randomF32(rng, n * heads, -2, 2);
    const dOut = randomF32(rng, n * w);
    const s = { heads, f, slope: 0.2 };
    const args: NativeGatArgs = { nDst: n, nSrc: n, heads, f, slope: 0.2, rowPtr: g.rowPtr, colIdx: g.colIdx, h, el, er };
    const k = nativeKernels();
    const [out, stat] = sameForThreads('gatForward', () => {
      const out = poisonF32(n * w);
      const stat = poisonF32(2 * n * heads);
      k.gatForward!(args, out, stat);
      return [out, stat];
    });
    const want = gatForwardReference(g, h, el, er, s);
    expectAllClose(out, want.out, { context: 'out', scale: new Float64Array(out.length).fill(1) });
    const lse = Float64Array.from(want.lse, (v) => (Number.isFinite(v) ? v : -3e38));
    expectAllClose(Float32Array.from(stat.filter((_, i) => i % 2 === 0)), lse, { context: 'log-sum-exp' });
    const e = gatEdgeArrays(g);
    const [dH, dEl, dEr] = sameForThreads('gatBackward', () => {
      const dH = poisonF32(n * w);
      const dEl = poisonF32(n * heads);
      const dEr = poisonF32(n * heads);
      k.gatBackward!({ ...args, tRowPtr: e.tRowPtr, tDst: e.tDst, tEdge: e.tEdge, dOut }, dH, dEl, dEr);
      return [dH, dEl, dEr];
    });
    const ref = gatBackwardReference(g, h, el, er, dOut, s);
    const ones = (m: number) => new Float64Array(m).fill(1);
    expectAllClose(dH, ref.dH, { context: 'dH', scale: ones(dH.length) });
    expectAllClose(dEl, ref.dEl, { context: 'dEl', scale: ones(dEl.length) });
    expectAllClose(dEr, ref.dEr, { context: 'dEr', scale: ones(dEr.length) });
  });

  test('bad inputs are refused with the argument named, before anything is written', () => {
    const k = nativeKernels();
    const rng = new Rng(5);
    const g = randomCsr(rng, 6, 6, 14, 'uniform');
    const e = gatEdgeArrays(g);
    const args: NativeGatArgs = { nDst: 6, nSrc: 6, heads: 1, f: 2, slope: 0.2, rowPtr: g.rowPtr, colIdx: g.colIdx, h: randomF32(rng, 12), el: randomF32(rng, 6), er: randomF32(rng, 6) };
    const swapped = e.tEdge.slice();
    [swapped[0], swapped[swapped.length - 1]] = [swapped[swapped.length - 1], swapped[0]];
    const dH = poisonF32(12);
    expect(() => k.gatBackward!({ ...args, tRowPtr: e.tRowPtr, tDst: e.tDst, tEdge: swapped, dOut: randomF32(rng, 12) }, dH, poisonF32(6), poisonF32(6))).toThrow(/tEdge\[0\]/);
    expect(dH.every(Number.isNaN)).toBe(true);
    expect(() => k.gatForward!({ ...args, h: new Float32Array(11) }, new Float32Array(12), new Float32Array(12))).toThrow(/h: expected 12 elements, got 11/);
    const am = new Int32Array(6 * 2).fill(0);
    am[5] = 6;
    expect(() => k.maxAggregateBackward!({ nRows: 6, nSrc: 6, argmax: am, dy: new Float32Array(12), d: 2 }, new Float32Array(12))).toThrow(/argmax.*5.*\[0, 6\)/);
    const bad = g.colIdx.slice();
    bad[3] = 9;
    expect(() => k.maxAggregate!({ nRows: 6, nCols: 6, rowPtr: g.rowPtr, colIdx: bad, x: new Float32Array(12), d: 2 }, new Float32Array(12), new Int32Array(12))).toThrow(/colIdx/);
  });
});

describeNative('native sequence self-attention', () => {
  const seed = testSeed();
  const cases: [number, number, number, number, boolean, boolean, boolean][] = [
    [1, 1, 1, 1, false, false, false],
    [7, 5, 16, 16, false, true, true],
    [33, 13, 17, 9, true, true, false],
    [64, 32, 64, 64, true, false, true],
  ];
  test.each(cases)(`batch %i, len %i, d %i, dv %i, causal %s, ragged %s, pooled %s (seed ${seed})`, (batch, len, d, dv, causal, ragged, pooled) => {
    const rng = new Rng(seed + batch * 7 + len);
    const lengths = ragged ? Int32Array.from({ length: batch }, () => rng.int(len + 1)) : undefined;
    const weights = pooled ? Float32Array.from({ length: len }, (_, i) => (i + 1) / ((len * (len + 1)) / 2)) : undefined;
    const q = randomF32(rng, batch * len * d);
    const k = randomF32(rng, batch * len * d);
    const v = randomF32(rng, batch * len * dv);
    const s = { batch, len, d, dv, causal, lengths, weights };
    const want = seqAttentionReference(s, { q, k, v });
    const kk = nativeKernels();
    const results: Float32Array[][] = [];
    const before = kk.threads();
    for (const t of [1, 2, 7]) {
      kk.setThreads(t);
      const z = poisonF32(batch * len * dv);
      const pool = pooled ? poisonF32(batch * dv) : null;
      const stat = poisonF32(2 * batch * len);
      kk.seqAttention!({ ...s, q, k, v }, z, pool, stat);
      const dOut = randomF32(new Rng(seed + 1), pooled ? batch * dv : batch * len * dv);
      const dq = poisonF32(q.length);
      const dk = poisonF32(k.length);
      const dV = poisonF32(v.length);
      kk.seqAttentionBackward!({ ...s, q, k, v, dOut }, dq, dk, dV);
      results.push([z, ...(pool ? [pool] : []), stat, dq, dk, dV, dOut]);
    }
    kk.setThreads(before);
    for (const r of results.slice(1)) r.forEach((o, i) => expect(bytes(o).equals(bytes(results[0][i])), `output ${i}`).toBe(true));
    const [z, ...rest] = results[0];
    const ones = (m: number) => new Float64Array(m).fill(1);
    expectAllClose(z, want.z, { context: 'z', scale: ones(z.length) });
    let at = 0;
    if (pooled) expectAllClose(rest[at++], want.pooled!, { context: 'pooled', scale: ones(batch * dv) });
    const stat = rest[at++];
    expectAllClose(Float32Array.from(stat.filter((_, i) => i % 2 === 0)), Float64Array.from(want.lse, (x) => (Number.isFinite(x) ? x : -3e38)), { context: 'lse' });
    const [dq, dk, dV, dOut] = rest.slice(at);
    const g = seqAttentionBackwardReference(s, { q, k, v }, dOut);
    expectAllClose(dq, g.dq, { context: 'dq', scale: ones(dq.length) });
    expectAllClose(dk, g.dk, { context: 'dk', scale: ones(dk.length) });
    expectAllClose(dV, g.dv, { context: 'dv', scale: ones(dV.length) });
  });

  test('bad lengths and operand sizes are refused with the argument named', () => {
    const kk = nativeKernels();
    const base = { batch: 2, len: 3, d: 2, dv: 2, q: new Float32Array(12), k: new Float32Array(12), v: new Float32Array(12) };
    expect(() => kk.seqAttention!({ ...base, lengths: Int32Array.of(3, 4) }, new Float32Array(12), null, new Float32Array(12))).toThrow(/lengths\[1\].*\[0, 3\]/);
    expect(() => kk.seqAttention!({ ...base, v: new Float32Array(11) }, new Float32Array(12), null, new Float32Array(12))).toThrow(/v: expected 12 elements/);
  });
});
