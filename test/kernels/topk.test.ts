import { expect, test } from 'vitest';
import { topK, topKReference } from '../../src/kernels/topk.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { randomExclusions, randomF32 } from '../util/random-csr.js';

const cases = [
  { batch: 1, nItems: 1, dim: 1, k: 1, bias: false, mask: false, chunkBytes: undefined },
  { batch: 3, nItems: 5, dim: 4, k: 10, bias: true, mask: true, chunkBytes: undefined },
  { batch: 70, nItems: 1_003, dim: 17, k: 20, bias: true, mask: true, chunkBytes: undefined },
  { batch: 65, nItems: 300, dim: 64, k: 128, bias: false, mask: true, chunkBytes: 300 * 4 * 7 },
  { batch: 9, nItems: 5_000, dim: 8, k: 100, bias: true, mask: false, chunkBytes: 5_000 * 4 * 2 },
];

forEachBackend('topK', (b) => {
  for (const c of cases) {
    test(`matches the reference: B ${c.batch}, I ${c.nItems}, d ${c.dim}, k ${c.k}${c.bias ? ', bias' : ''}${c.mask ? ', masked' : ''}${c.chunkBytes ? ', chunked' : ''}`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const host = {
        queries: randomF32(rng, c.batch * c.dim),
        batch: c.batch,
        dim: c.dim,
        items: randomF32(rng, c.nItems * c.dim),
        nItems: c.nItems,
        bias: c.bias ? randomF32(rng, c.nItems) : undefined,
        exclude: c.mask ? randomExclusions(rng, c.batch, c.nItems, { fullRow: 1, maxPerRow: 30 }) : undefined,
        k: c.k,
      };
      const ref = topKReference(host);
      const res = topK(engine, {
        ...host,
        queries: engine.array(host.queries),
        items: engine.array(host.items),
        bias: host.bias ? engine.array(host.bias) : undefined,
        exclude: host.exclude ? { rowPtr: engine.array(host.exclude.rowPtr), colIdx: engine.array(host.exclude.colIdx) } : undefined,
        chunkBytes: c.chunkBytes,
      });
      const [idx, val] = (await engine.readMany<'i32' | 'f32'>([res.indices, res.scores])) as [Int32Array, Float32Array];
      const k = c.k;
      for (let row = 0; row < c.batch; row++) {
        const want = ref.indices.subarray(row * k, row * k + k);
        const got = idx.subarray(row * k, row * k + k);
        const where = `row ${row} (seed ${seed})`;
        // Same number of eligible items; −1 and −∞ past them.
        expect(got.filter((x) => x < 0).length, where).toBe(want.filter((x) => x < 0).length);
        const valid = want.filter((x) => x >= 0).length;
        for (let j = valid; j < k; j++) expect(val[row * k + j], where).toBe(-Infinity);
        expect(new Set(got.subarray(0, valid)).size, `${where}: duplicates`).toBe(valid);
        if (valid === 0) continue;
        // fp32 scores may order near-ties differently from fp64: every returned item must
        // score at least the reference's k-th best (within tolerance), in order, not excluded.
        const kth = ref.exact[row * c.nItems + want[valid - 1]];
        const tol = 1e-5 * (1 + c.dim);
        for (let j = 0; j < valid; j++) {
          const item = got[j];
          expect(item, where).toBeGreaterThanOrEqual(0);
          expect(ref.exact[row * c.nItems + item], `${where}: item ${item} at rank ${j}`).toBeGreaterThanOrEqual(kth - tol);
          expect(Math.abs(val[row * k + j] - ref.exact[row * c.nItems + item]), where).toBeLessThan(tol);
          if (j > 0) expect(val[row * k + j], `${where}: order`).toBeLessThanOrEqual(val[row * k + j - 1]);
          if (host.exclude) {
            const ex = host.exclude.colIdx.subarray(host.exclude.rowPtr[row], host.exclude.rowPtr[row + 1]);
            expect(ex.includes(item), `${where}: excluded item ${item} returned`).toBe(false);
          }
        }
        const same = got.subarray(0, valid).filter((x, j) => x === want[j]).length;
        expect(same, `${where}: agreement with the reference`).toBeGreaterThanOrEqual(valid - 2);
      }
    });
  }

  test('equal scores come out lowest index first', async (ctx) => {
    const engine = b.engine(ctx);
    const nItems = 600;
    const items = new Float32Array(nItems); // d = 1, all scores 0 except a few
    for (const i of [599, 3, 300]) items[i] = 1;
    // k = 100: the 97 tied zeros span many invocations' index ranges.
    const res = topK(engine, { queries: engine.array(new Float32Array([1])), batch: 1, dim: 1, items: engine.array(items), nItems, k: 100 });
    const zeros = [...Array(nItems).keys()].filter((i) => i !== 3 && i !== 300 && i !== 599).slice(0, 97);
    expect([...(await engine.read(res.indices))]).toEqual([3, 300, 599, ...zeros]);
  });

  test('rejects k outside [1, 128]', (ctx) => {
    const engine = b.engine(ctx);
    const args = { queries: engine.array(new Float32Array(2)), batch: 1, dim: 2, items: engine.array(new Float32Array(4)), nItems: 2 };
    expect(() => topK(engine, { ...args, k: 0 })).toThrow(/topK: k: expected an integer in \[1, 128\], got 0/);
    expect(() => topK(engine, { ...args, k: 129 })).toThrow(/got 129/);
  });
});
