import { expect, test } from 'vitest';
import { maxAggregate, maxAggregateBackward, maxAggregateBackwardReference, maxAggregateReference } from '../../src/kernels/spmm-max.js';
import { transposeCsr } from '../../src/graph/build.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, poisonPool } from '../util/close.js';
import { randomCsr, randomF32, type CsrPattern } from '../util/random-csr.js';

const cases: { nRows: number; nCols: number; nnz: number; d: number; pattern: CsrPattern }[] = [
  { nRows: 1, nCols: 1, nnz: 1, d: 1, pattern: 'uniform' },
  { nRows: 67, nCols: 45, nnz: 300, d: 3, pattern: 'empty-rows' },
  { nRows: 129, nCols: 1_100, nnz: 2_000, d: 17, pattern: 'one-huge-row' },
  { nRows: 500, nCols: 300, nnz: 6_000, d: 64, pattern: 'uniform' },
];

forEachBackend('maxAggregate', (b) => {
  for (const c of cases) {
    test(`forward and backward match the reference: ${c.nRows}×${c.nCols}, nnz ${c.nnz}, d ${c.d}, ${c.pattern}`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const a = randomCsr(rng, c.nRows, c.nCols, c.nnz, c.pattern);
      // Values on a coarse grid so that exact ties occur and the lowest-index rule is tested.
      const x = Float32Array.from(randomF32(rng, c.nCols * c.d), (v) => Math.round(v * 4) / 4);
      const ref = maxAggregateReference(a, x, c.d);
      await poisonPool(engine, [c.nRows * c.d, c.nRows * c.d]);
      const fwd = maxAggregate(engine, engine.uploadCsr(a), engine.array(x), c.d);
      const [y, arg] = await engine.readMany<'f32' | 'i32'>([fwd.y, fwd.argmax]);
      expect([...arg], `argmax (seed ${seed})`).toEqual([...ref.argmax]);
      expectAllClose(y, ref.y, { context: `(seed ${seed})`, scale: new Float64Array(y.length).fill(1) });
      const dy = randomF32(rng, c.nRows * c.d);
      const aT = engine.uploadCsr(transposeCsr(a, { impl: 'ts' }));
      await poisonPool(engine, [c.nCols * c.d]);
      const dx = maxAggregateBackward(engine, aT, fwd, engine.array(dy), c.d, c.nCols);
      const want = maxAggregateBackwardReference(c.nCols, ref.argmax, dy, c.d);
      expectAllClose(await engine.read(dx), want, { context: `dx (seed ${seed})`, scale: new Float64Array(want.length).fill(c.nRows) });
    });
  }
});
