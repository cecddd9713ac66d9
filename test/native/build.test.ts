import { expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { buildGraph, buildGraphAsync, bipartiteAdjacency, transposeCsr } from '../../src/graph/build.js';
import { buildGraphTs } from '../../src/graph/build-ts.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import type { BuildOptions, CooInput, MergePolicy, Normalization } from '../../src/native.js';
import { Rng } from '../../src/util/rng.js';
import { expectSameCsr, expectSameGraph, randomCoo } from '../graph/helpers.js';
import { addon, describeNative } from './native-env.js';

const POLICIES: MergePolicy[] = ['sum', 'mean', 'max', 'last', 'count'];
const NORMS: Normalization[] = ['none', 'sym', 'row', 'col'];

/** Runs both builders; both must succeed identically or fail with the same code and message. */
function outcome(f: (impl: 'native' | 'ts') => unknown) {
  const run = (impl: 'native' | 'ts') => {
    try {
      return { ok: true as const, value: f(impl) };
    } catch (e) {
      if (!(e instanceof GnnrlError)) throw new Error(`${impl} threw a non-GnnrlError: ${String(e)}`);
      return { ok: false as const, code: e.code, message: e.message, details: e.details };
    }
  };
  return { native: run('native'), ts: run('ts') };
}

describeNative('native vs TS graph builder', () => {
  it('loads the addon and hands it GnnrlError', () => {
    expect(addon).not.toBeNull();
    expect(addon!.version()).toBe('0.1.0');
  });

  it('agrees bit for bit on seeded random inputs: every policy and normalisation, empty rows, duplicates', () => {
    const rng = new Rng(7);
    for (let c = 0; c < 400; c++) {
      const coo = randomCoo(rng);
      const policy = POLICIES[c % 5];
      const opts: BuildOptions = {
        policy,
        threads: 1 + (c % 3),
        adjacency: { norm: NORMS[(c >> 2) % 4], selfLoops: rng.next() < 0.5, weighted: rng.next() < 0.5 },
      };
      const r = outcome((impl) => buildGraph(coo, { ...opts, impl }));
      if (policy === 'last' && !coo.ts) {
        expect(r.native.ok).toBe(false);
        expect(r.native).toEqual(r.ts);
        continue;
      }
      expect(r.native.ok, JSON.stringify(r.native)).toBe(true);
      expect(r.ts.ok).toBe(true);
      if (r.native.ok && r.ts.ok) expectSameGraph(r.native.value as never, r.ts.value as never);
    }
  });

  it('gives identical output for 1, 2 and 3 threads on a larger power-law graph', () => {
    const d = powerLawInteractions({ nUsers: 3000, nItems: 2000, nnz: 300_000, seed: 5 });
    const coo: CooInput = { users: d.users, items: d.items, weights: d.ratings, ts: d.ts, nUsers: 3000, nItems: 2000 };
    for (const policy of ['mean', 'last'] as const) {
      const opts = { policy, adjacency: { norm: 'sym' as const, weighted: true } };
      const one = buildGraph(coo, { ...opts, impl: 'native', threads: 1 });
      expectSameGraph(buildGraph(coo, { ...opts, impl: 'native', threads: 2 }), one);
      expectSameGraph(buildGraph(coo, { ...opts, impl: 'native', threads: 3 }), one);
      expectSameGraph(buildGraph(coo, { ...opts, impl: 'ts' }), one);
    }
  });

  it('builds the same adjacency and transpose from an existing CSR', () => {
    const rng = new Rng(11);
    for (let c = 0; c < 60; c++) {
      const coo = randomCoo(rng);
      const ui = buildGraph(coo, { impl: 'ts' }).userItem;
      const opts = { norm: NORMS[c % 4], selfLoops: c % 2 === 0, weighted: c % 3 === 0 };
      expectSameCsr(bipartiteAdjacency(ui, { ...opts, impl: 'native' }), bipartiteAdjacency(ui, { ...opts, impl: 'ts' }));
      expectSameCsr(transposeCsr(ui, { impl: 'native' }), transposeCsr(ui, { impl: 'ts' }));
    }
  });

  it('async build matches sync, and copies its inputs before returning', async () => {
    const d = powerLawInteractions({ nUsers: 500, nItems: 300, nnz: 50_000, seed: 9 });
    const coo: CooInput = { users: d.users.slice(), items: d.items.slice(), weights: d.ratings.slice(), nUsers: 500, nItems: 300 };
    const want = buildGraph(coo, { impl: 'native', adjacency: { norm: 'sym' } });
    const p = buildGraphAsync(coo, { impl: 'native', adjacency: { norm: 'sym' }, threads: 2 });
    coo.users.fill(0); // the worker must not see this
    coo.weights!.fill(NaN);
    expectSameGraph(await p, want);
  });

  it('async build rejects with a GnnrlError', async () => {
    const bad = { users: Int32Array.from([0, 9]), items: Int32Array.from([0, 0]), nUsers: 2, nItems: 1 };
    await expect(buildGraphAsync(bad, { impl: 'native' })).rejects.toMatchObject({
      name: 'GnnrlError',
      code: 'input',
      message: 'users[1]: expected an id in [0, 2), got 9',
    });
    await expect(buildGraphAsync({ ...bad, users: [0, 1] as never }, { impl: 'native' })).rejects.toBeInstanceOf(GnnrlError);
  });

  const ok = () => ({
    users: Int32Array.from([0, 1, 1]),
    items: Int32Array.from([0, 0, 1]),
    weights: Float32Array.from([1, 2, 3]),
    ts: Float64Array.from([1, 2, 3]),
    nUsers: 2,
    nItems: 2,
  });
  const cases: [string, () => unknown[], string, string][] = [
    ['id past nItems', () => [{ ...ok(), nItems: 1 }], 'input', 'items[2]: expected an id in [0, 1), got 1'],
    ['negative user id', () => [{ ...ok(), users: Int32Array.from([0, -3, 1]) }], 'input', 'users[1]: expected an id in [0, 2), got -3'],
    ['nUsers past int32', () => [{ ...ok(), nUsers: 2 ** 31 }], 'input', 'nUsers: expected an integer in [0, 2147483647], got 2147483648'],
    ['fractional nItems', () => [{ ...ok(), nItems: 1.5 }], 'input', 'nItems: expected an integer in [0, 2147483647], got 1.5'],
    ['nUsers missing', () => [{ ...ok(), nUsers: undefined }], 'input', 'nUsers: expected an integer in [0, 2147483647], got undefined'],
    ['nodes past int32', () => [{ ...ok(), nUsers: 2 ** 30, nItems: 2 ** 30 }], 'limit', 'nUsers + nItems: 2147483648 nodes exceed the int32 index limit 2147483647'],
    ['lengths disagree', () => [{ ...ok(), items: Int32Array.from([0, 0]) }], 'input', 'items: expected length 3 (users.length), got 2'],
    ['weights length', () => [{ ...ok(), weights: new Float32Array(4) }], 'input', 'weights: expected length 3 (users.length), got 4'],
    ['ts length', () => [{ ...ok(), ts: new Float64Array(1) }], 'input', 'ts: expected length 3 (users.length), got 1'],
    ['NaN weight', () => [{ ...ok(), weights: Float32Array.from([1, NaN, 2]) }], 'input', 'weights[1]: expected a finite number, got NaN'],
    ['Infinity weight', () => [{ ...ok(), weights: Float32Array.from([1, 1, -Infinity]) }], 'input', 'weights[2]: expected a finite number, got -Infinity'],
    ['Infinity ts', () => [{ ...ok(), ts: Float64Array.from([Infinity, 1, 1]) }], 'input', 'ts[0]: expected a finite number, got Infinity'],
    ['users as Array', () => [{ ...ok(), users: [0, 1, 1] }], 'input', 'users: expected an Int32Array, got Array'],
    ['users as Float64Array', () => [{ ...ok(), users: new Float64Array(3) }], 'input', 'users: expected an Int32Array, got Float64Array'],
    ['weights as Float64Array', () => [{ ...ok(), weights: new Float64Array(3) }], 'input', 'weights: expected an Float32Array, got Float64Array'],
    ['ts as string', () => [{ ...ok(), ts: 'x' }], 'input', 'ts: expected a Float64Array or an Int32Array, got string'],
    ['input null', () => [null], 'input', 'input: expected an object, got null'],
    ['bad policy', () => [ok(), { policy: 'median' }], 'input', 'policy: expected one of sum, mean, max, last, count, got "median"'],
    ['bad norm', () => [ok(), { adjacency: { norm: 2 } }], 'input', 'norm: expected one of none, sym, row, col, got 2'],
    ['bad selfLoops', () => [ok(), { adjacency: { selfLoops: 'yes' } }], 'input', 'selfLoops: expected a boolean, got "yes"'],
    ['bad threads', () => [ok(), { threads: -1 }], 'input', 'threads: expected an integer in [0, 256], got -1'],
    ['last without ts', () => [{ ...ok(), ts: undefined }, { policy: 'last' }], 'input', "ts: expected a Float64Array or an Int32Array (policy 'last' needs timestamps), got undefined"],
    ['memory limit', () => [ok(), { memoryLimit: 10 }], 'limit', 'cooToCsr: needs about 1 MiB, over the memoryLimit of 1 MiB'],
    ['options not object', () => [ok(), 3], 'input', 'options: expected an object, got number'],
  ];
  for (const [name, args, code, message] of cases) {
    it(`rejects ${name} identically from both builders`, () => {
      const r = outcome((impl) => {
        const [input, opts] = args() as [CooInput, BuildOptions | undefined];
        return impl === 'native' ? addon!.buildGraph(input, opts) : buildGraphTs(input, opts);
      });
      expect(r.native).toMatchObject({ ok: false, code, message });
      expect(r.ts).toEqual(r.native);
    });
  }

  it('accepts empty input and zero-sized graphs', () => {
    for (const [nUsers, nItems] of [[0, 0], [3, 0], [0, 4], [3, 4]]) {
      const coo = { users: new Int32Array(0), items: new Int32Array(0), nUsers, nItems };
      const g = buildGraph(coo, { impl: 'native', adjacency: { selfLoops: true } });
      expect(Array.from(g.userItem.rowPtr)).toEqual(new Array(nUsers + 1).fill(0));
      expectSameGraph(g, buildGraph(coo, { impl: 'ts', adjacency: { selfLoops: true } }));
    }
  });

  it('fuzz: random garbage gives the same result or the same error from both builders', () => {
    const rng = new Rng(99);
    const pick = <T>(xs: T[]) => xs[rng.int(xs.length)];
    const garbageArray = (n: number) =>
      pick<unknown>([
        Int32Array.from({ length: n }, () => rng.int(12) - 2),
        Int32Array.from({ length: n + rng.int(3) - 1 }, () => rng.int(6)),
        new Float64Array(n),
        Array.from({ length: n }, () => rng.int(5)),
        undefined,
        null,
        'str',
        {},
      ]);
    for (let c = 0; c < 500; c++) {
      const n = rng.int(20);
      const input: Record<string, unknown> = {
        users: rng.next() < 0.8 ? Int32Array.from({ length: n }, () => rng.int(8) - 1) : garbageArray(n),
        items: rng.next() < 0.8 ? Int32Array.from({ length: n }, () => rng.int(8) - 1) : garbageArray(n),
        nUsers: pick<unknown>([rng.int(8), rng.int(8), 7, -1, 2.5, NaN, 2 ** 31, '3', undefined]),
        nItems: pick<unknown>([rng.int(8), rng.int(8), 7, -1, Infinity, 2 ** 31 - 1, null]),
      };
      if (rng.next() < 0.5) {
        input.weights = pick<unknown>([
          Float32Array.from({ length: n }, () => pick([1, 2.5, NaN, Infinity, -0, 1e30])),
          new Float32Array(n + 1),
          new Float64Array(n),
          Float32Array.from({ length: n }, () => rng.normal()),
        ]);
      }
      if (rng.next() < 0.5) {
        input.ts = pick<unknown>([
          Float64Array.from({ length: n }, () => pick([1, 2, NaN, -Infinity])),
          Int32Array.from({ length: n }, () => rng.int(3)),
          new Float32Array(n),
        ]);
      }
      const opts: Record<string, unknown> = {
        policy: pick<unknown>(['sum', 'mean', 'max', 'last', 'count', 'avg', undefined]),
        threads: pick<unknown>([undefined, 1, 2, 0, 300]),
        adjacency: pick<unknown>([undefined, false, { norm: pick(['sym', 'row', 'col', 'none', 'x']), selfLoops: pick([true, false, 1]) }, [], 'sym']),
      };
      const r = outcome((impl) => buildGraph(input as unknown as CooInput, { ...(opts as BuildOptions), impl }));
      if (r.native.ok && r.ts.ok) expectSameGraph(r.native.value as never, r.ts.value as never);
      else expect(r.ts, JSON.stringify({ input: String(input), c })).toEqual(r.native);
    }
  });
});
