import { expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { uploadCsrForSpmm } from '../../src/graph/upload.js';
import { spmm, spmmReference, spmmVariantsFor, SPMM_VARIANTS, tuneSpmm, spmmVariant, type SpmmVariant } from '../../src/kernels/spmm.js';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, poisonF32 } from '../util/close.js';
import { randomCsr, randomF32, type CsrPattern } from '../util/random-csr.js';
import type { Csr } from '../../src/graph/types.js';

/** Σ|a_ij·x_jc| per output: the scale fp32 summation error is relative to. */
function absScale(a: Csr, x: Float32Array, d: number): Float64Array {
  const s = new Float64Array(a.nRows * d);
  for (let r = 0; r < a.nRows; r++)
    for (let e = a.rowPtr[r]; e < a.rowPtr[r + 1]; e++)
      for (let c = 0; c < d; c++) s[r * d + c] += Math.abs(a.values[e] * x[a.colIdx[e] * d + c]);
  return s;
}

const cases: { nRows: number; nCols: number; nnz: number; d: number; pattern: CsrPattern }[] = [
  { nRows: 1, nCols: 1, nnz: 1, d: 1, pattern: 'uniform' },
  { nRows: 67, nCols: 45, nnz: 300, d: 3, pattern: 'empty-rows' },
  { nRows: 129, nCols: 1_077, nnz: 2_000, d: 17, pattern: 'one-huge-row' },
  { nRows: 1_001, nCols: 513, nnz: 9_000, d: 64, pattern: 'empty-rows' },
  { nRows: 333, nCols: 3_000, nnz: 5_000, d: 100, pattern: 'one-huge-row' },
  { nRows: 301, nCols: 2_000, nnz: 4_000, d: 64, pattern: 'one-huge-row' },
  { nRows: 65, nCols: 31, nnz: 500, d: 256, pattern: 'uniform' },
  { nRows: 40, nCols: 10, nnz: 0, d: 5, pattern: 'all-empty' },
  { nRows: 0, nCols: 10, nnz: 0, d: 8, pattern: 'uniform' },
];

forEachBackend('spmm', (b) => {
  for (const c of cases) {
    test(`matches the reference: ${c.nRows}×${c.nCols}, nnz ${c.nnz}, d ${c.d}, ${c.pattern}`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const a = randomCsr(rng, c.nRows, c.nCols, c.nnz, c.pattern);
      const x = randomF32(rng, c.nCols * c.d);
      const expected = spmmReference(a, x, c.d);
      const A = engine.uploadCsr(a);
      const X = engine.array(x);
      const out = engine.array(poisonF32(c.nRows * c.d));
      const y = spmm(engine, A, X, c.d, out);
      expect(y).toBe(out);
      const got = await engine.read(y);
      expectAllClose(got, expected, { scale: absScale(a, x, c.d), context: `(seed ${seed})` });
      engine.freeCsr(A);
      engine.free(X);
      engine.free(out);
    });
  }

  // The tuned variants over the segmented plan (small maxSegment so rows really split).
  for (const variant of b.kind === 'webgpu' ? SPMM_VARIANTS : []) {
    test(`variant ${variant} matches the reference on every awkward shape`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      for (const c of cases) {
        const a = randomCsr(rng, c.nRows, c.nCols, c.nnz, c.pattern);
        const x = randomF32(rng, c.nCols * c.d);
        const A = uploadCsrForSpmm(engine, a, { maxSegment: 37 });
        if (!spmmVariantsFor(A, c.d).includes(variant)) continue;
        const out = engine.array(poisonF32(c.nRows * c.d));
        spmm(engine, A, engine.array(x), c.d, out, variant as SpmmVariant);
        expectAllClose(await engine.read(out), spmmReference(a, x, c.d), {
          scale: absScale(a, x, c.d),
          context: `(${variant}, ${c.nRows}×${c.nCols}, d ${c.d}, ${c.pattern}, seed ${seed})`,
        });
      }
    });
  }

  if (b.kind === 'webgpu') test('autotune picks a variant that then serves later calls', async (ctx) => {
    const engine = b.engine(ctx);
    const dir = await import('node:fs').then((fs) => fs.mkdtempSync(`${(process.env.TMPDIR ?? '/tmp')}/gnnrl-tune-`));
    process.env.GNNRL_CACHE_DIR = dir;
    const rng = new Rng(testSeed());
    const a = randomCsr(rng, 500, 400, 5_000, 'one-huge-row');
    const A = uploadCsrForSpmm(engine, a);
    const r = await tuneSpmm(engine, A, 16);
    expect(Object.keys(r!.medians).sort()).toEqual([...spmmVariantsFor(A, 16)].sort());
    expect(spmmVariant(engine, A, 16)).toBe(r!.variant);
    const saved = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(`${dir}/autotune.json`, 'utf8')));
    expect(Object.values(saved)).toContain(r!.variant);
    process.env.GNNRL_KERNEL_VARIANT = 'spmm=lanes';
    try {
      expect(spmmVariant(engine, A, 16)).toBe('lanes');
    } finally {
      delete process.env.GNNRL_KERNEL_VARIANT;
    }
  });

  if (b.kind === 'webgpu')
    test('splits products larger than one storage binding into blocks of rows and columns', async (ctx) => {
      b.engine(ctx);
      // A 32 KiB binding limit: every case below exceeds it in X, Y or the CSR arrays.
      const small = await Engine.create({ backend: 'webgpu', maxBindingBytes: 32 << 10 });
      try {
        const seed = testSeed();
        const rng = new Rng(seed);
        for (const c of [
          { nRows: 1_000, nCols: 900, nnz: 20_000, d: 24, pattern: 'uniform' as const },
          { nRows: 700, nCols: 3_000, nnz: 12_000, d: 3, pattern: 'one-huge-row' as const },
          { nRows: 333, nCols: 200, nnz: 3_000, d: 64, pattern: 'empty-rows' as const },
          { nRows: 129, nCols: 129, nnz: 900, d: 128, pattern: 'uniform' as const },
        ]) {
          const a = randomCsr(rng, c.nRows, c.nCols, c.nnz, c.pattern);
          const x = randomF32(rng, c.nCols * c.d);
          const A = uploadCsrForSpmm(small, a);
          const out = small.array(poisonF32(c.nRows * c.d));
          spmm(small, A, small.array(x), c.d, out);
          expectAllClose(await small.read(out), spmmReference(a, x, c.d), {
            scale: absScale(a, x, c.d),
            context: `(split, ${c.nRows}×${c.nCols}, nnz ${c.nnz}, d ${c.d}, ${c.pattern}, seed ${seed})`,
          });
        }
        // A matrix uploaded without its host copy cannot be split: a clear limit error.
        const a = randomCsr(rng, 300, 300, 2_000);
        const plain = small.uploadCsr(a);
        expect(() => spmm(small, plain, small.array(randomF32(rng, 300 * 64)), 64)).toThrow(/upload the matrix with uploadCsrForSpmm so it can be split/);
      } finally {
        await small.dispose();
      }
    });

  test('allocates its output when none is given, and reuses the pipeline across shapes', async (ctx) => {
    const engine = b.engine(ctx);
    const rng = new Rng(testSeed());
    for (const [n, d] of [
      [50, 64],
      [70, 64],
      [33, 64],
    ]) {
      const a = randomCsr(rng, n, n, n * 4);
      const x = randomF32(rng, n * d);
      const y = spmm(engine, engine.uploadCsr(a), engine.array(x), d);
      expectAllClose(await engine.read(y), spmmReference(a, x, d), { scale: absScale(a, x, d) });
    }
    if (b.kind === 'webgpu') {
      // Shapes travel in uniforms: three sizes at d = 64 share one compiled pipeline.
      const before = engine.gpu.pipelineCount;
      const a = randomCsr(rng, 10, 10, 20);
      spmm(engine, engine.uploadCsr(a), engine.array(randomF32(rng, 10 * 64)), 64);
      expect(engine.gpu.pipelineCount).toBe(before);
    }
  });

  test('rejects mismatched shapes with coded errors naming the argument', (ctx) => {
    const engine = b.engine(ctx);
    const a = engine.uploadCsr({ nRows: 2, nCols: 3, rowPtr: new Int32Array([0, 1, 2]), colIdx: new Int32Array([0, 2]), values: new Float32Array([1, 1]) });
    const x = engine.array(new Float32Array(3 * 4));
    expect(() => spmm(engine, a, x, 5)).toThrowError(/spmm: x: expected 3×5 = 15 elements \(A has 3 columns\), got 12/);
    expect(() => spmm(engine, a, x, 0)).toThrowError(/spmm: d: expected an integer in \[1, 256\], got 0/);
    expect(() => spmm(engine, a, engine.array(new Float32Array(3 * 257)), 257)).toThrowError(GnnrlError);
    expect(() => spmm(engine, a, x, 4, engine.array(new Float32Array(7)))).toThrowError(/out: expected 2×4 = 8 elements, got 7/);
    try {
      spmm(engine, a, x, 5);
    } catch (err) {
      expect((err as GnnrlError).code).toBe('input');
      expect((err as GnnrlError).details.arg).toBe('x');
    }
  });
});
