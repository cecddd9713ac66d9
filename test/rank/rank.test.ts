import { describe, expect, test } from 'vitest';
import { PositiveIndex } from '../../src/data/negatives.js';
import { GnnrlError } from '../../src/errors.js';
import type { Engine } from '../../src/engine.js';
import { TOPK_MAX } from '../../src/kernels/topk.js';
import { exclusionRows, recommendFromDense, recommendFromFactors, resolveExclusions, selectTopK } from '../../src/rank/rank.js';
import type { ExcludeRows, FactorScores, Recommendations } from '../../src/rank/types.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { randomExclusions, randomF32 } from '../util/random-csr.js';
import { log } from '../eval/logs.js';

interface HostFactors {
  dim: number;
  users: Float32Array;
  items: Float32Array;
  itemBias?: Float32Array;
}

/** Brute force: float64 scores of every item, full sort by (score desc, index asc), excluded items dropped. */
function bruteForce(f: HostFactors, nItems: number, users: Int32Array, k: number, ex: ExcludeRows | null) {
  const items = new Int32Array(users.length * k).fill(-1);
  const exact: Float64Array[] = [];
  const eligible: number[] = [];
  users.forEach((u, r) => {
    const s = new Float64Array(nItems);
    for (let i = 0; i < nItems; i++) {
      let v = f.itemBias ? f.itemBias[i] : 0;
      for (let c = 0; c < f.dim; c++) v += f.users[u * f.dim + c] * f.items[i * f.dim + c];
      s[i] = v;
    }
    const banned = new Uint8Array(nItems);
    if (ex) for (let e = ex.rowPtr[r]; e < ex.rowPtr[r + 1]; e++) banned[ex.colIdx[e]] = 1;
    const order = Int32Array.from({ length: nItems }, (_, i) => i)
      .filter((i) => !banned[i])
      .sort((a, b) => s[b] - s[a] || a - b);
    order.slice(0, k).forEach((i, j) => (items[r * k + j] = i));
    exact.push(s);
    eligible.push(order.length);
  });
  return { items, exact, eligible };
}

/**
 * Checks `got` against the brute force. fp32 scoring (GPU, or the f32 rows of the host
 * path) may order near-ties differently from fp64, so an item need only score within
 * tolerance of the reference's k-th best; agreement must still be near total.
 */
function expectMatches(got: Recommendations, f: HostFactors, nItems: number, users: Int32Array, k: number, ex: ExcludeRows | null, where: string): void {
  const ref = bruteForce(f, nItems, users, k, ex);
  expect(got.k, where).toBe(k);
  expect(got.items.length, where).toBe(users.length * k);
  expect(got.scores.length, where).toBe(users.length * k);
  const tol = 1e-5 * (1 + f.dim);
  // Problems are collected and asserted once: thousands of expect() calls would dominate the run time.
  const problems: string[] = [];
  let disagree = 0;
  for (let r = 0; r < users.length && problems.length < 10; r++) {
    const at = `row ${r} (user ${users[r]})`;
    const valid = Math.min(k, ref.eligible[r]);
    const row = got.items.subarray(r * k, (r + 1) * k);
    const sc = got.scores.subarray(r * k, (r + 1) * k);
    // Padding exactly past the eligible items, and nowhere before.
    for (let j = 0; j < k; j++) {
      if (j < valid && !(row[j] >= 0 && row[j] < nItems && Number.isFinite(sc[j]))) problems.push(`${at}: slot ${j} of ${valid} eligible holds ${row[j]} (${sc[j]})`);
      if (j >= valid && !(row[j] === -1 && sc[j] === -Infinity)) problems.push(`${at}: slot ${j} past ${valid} eligible holds ${row[j]} (${sc[j]}), expected −1 (−∞)`);
    }
    if (valid === 0) continue;
    const banned = new Set(ex ? ex.colIdx.subarray(ex.rowPtr[r], ex.rowPtr[r + 1]) : []);
    if (new Set(row.subarray(0, valid)).size !== valid) problems.push(`${at}: duplicate items`);
    const s = ref.exact[r];
    const kth = s[ref.items[r * k + valid - 1]];
    for (let j = 0; j < valid; j++) {
      const item = row[j];
      if (banned.has(item)) problems.push(`${at}: excluded item ${item} at rank ${j}`);
      if (!(s[item] >= kth - tol)) problems.push(`${at}: item ${item} at rank ${j} scores ${s[item]}, below the k-th best ${kth}`);
      if (!(Math.abs(sc[j] - s[item]) < tol)) problems.push(`${at}: item ${item} reported score ${sc[j]}, exact ${s[item]}`);
      if (j > 0 && !(sc[j] <= sc[j - 1])) problems.push(`${at}: scores rise at rank ${j}`);
      if (item !== ref.items[r * k + j]) disagree++;
    }
  }
  expect(problems, where).toEqual([]);
  // Near-ties are rare among random floats: only a handful of swapped places in all rows.
  expect(disagree, `${where}: places that differ from the brute force`).toBeLessThanOrEqual(4);
}

function randomFactors(rng: Rng, nUsers: number, nItems: number, dim: number, bias: boolean): HostFactors {
  return {
    dim,
    users: randomF32(rng, nUsers * dim),
    items: randomF32(rng, nItems * dim),
    itemBias: bias ? randomF32(rng, nItems) : undefined,
  };
}

/** Query rows: every user once in a shuffled order, then some repeated. */
function queryUsers(rng: Rng, nUsers: number, extra: number): Int32Array {
  const all = rng.shuffle(Int32Array.from({ length: nUsers }, (_, i) => i));
  const more = Int32Array.from({ length: extra }, () => rng.int(nUsers));
  const out = new Int32Array(nUsers + extra);
  out.set(all);
  out.set(more, nUsers);
  return out;
}

const NU = 37;
const NI = 1003;
const shapes = [
  { dim: 0, bias: true },
  { dim: 17, bias: true },
  { dim: 17, bias: false },
];
const ks = [1, 20, 130]; // 130 > TOPK_MAX takes the host path even with an engine

forEachBackend('recommendFromFactors', (b) => {
  for (const shape of shapes) {
    for (const k of ks) {
      test(`matches brute force: ${NU} users, ${NI} items, dim ${shape.dim}${shape.bias ? ' + bias' : ''}, k ${k}, one user fully excluded`, async (ctx) => {
        const engine = b.engine(ctx);
        const seed = testSeed();
        const rng = new Rng(seed);
        const f = randomFactors(rng, NU, NI, shape.dim, shape.bias);
        const users = queryUsers(rng, NU, 5);
        const ex = randomExclusions(rng, users.length, NI, { fullRow: 3, maxPerRow: 40 });
        const got = await recommendFromFactors(f, NU, NI, users, k, ex, engine);
        expectMatches(got, f, NI, users, k, ex, `seed ${seed}`);
        // The fully excluded row is all padding.
        expect([...got.items.subarray(3 * k, 4 * k)]).toEqual(new Array(k).fill(-1));
      });
    }
  }

  test('device-resident factors give the same lists as host ones (kernel and host paths)', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const f = randomFactors(rng, NU, NI, 17, true);
    const users = queryUsers(rng, NU, 0);
    const ex = randomExclusions(rng, users.length, NI, { fullRow: 0, maxPerRow: 40 });
    const dev: FactorScores = { dim: f.dim, users: engine.array(f.users), items: engine.array(f.items), itemBias: engine.array(f.itemBias!) };
    try {
      for (const k of [20, TOPK_MAX + 2]) {
        const host = await recommendFromFactors(f, NU, NI, users, k, ex, engine);
        const onDevice = await recommendFromFactors(dev, NU, NI, users, k, ex, engine);
        expect(onDevice.items, `k ${k}, seed ${seed}`).toEqual(host.items);
        expect(onDevice.scores, `k ${k}, seed ${seed}`).toEqual(host.scores);
      }
    } finally {
      for (const a of [dev.users, dev.items, dev.itemBias!]) engine.free(a as Parameters<Engine['free']>[0]);
    }
  });

  test('more users than one launch holds: exclusions stay with their rows across chunks', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const nUsers = 2100; // USERS_PER_CHUNK is 2048
    const nItems = 97;
    const f = randomFactors(rng, nUsers, nItems, 5, true);
    const users = Int32Array.from({ length: nUsers }, (_, i) => nUsers - 1 - i);
    const ex = randomExclusions(rng, nUsers, nItems, { fullRow: 2060, maxPerRow: 30 });
    const got = await recommendFromFactors(f, nUsers, nItems, users, 10, ex, engine);
    expectMatches(got, f, nItems, users, 10, ex, `seed ${seed}`);
  });

  test('bias-only scores with many ties (host and device bias) match brute force', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    // Three levels over 1003 items: almost every comparison is a tie, broken by index.
    const itemBias = Float32Array.from({ length: NI }, () => [0, 0.5, 1][Math.floor(rng.next() * 3)]);
    const f = { dim: 0, users: new Float32Array(0), items: new Float32Array(0), itemBias };
    const users = queryUsers(rng, NU, 4);
    const ex = randomExclusions(rng, users.length, NI, { fullRow: 2, maxPerRow: 400 });
    for (const k of [1, 25, 130]) {
      const got = await recommendFromFactors(f, NU, NI, users, k, ex, engine);
      expectMatches(got, f, NI, users, k, ex, `k ${k}, seed ${seed}`);
      const dev = engine.array(itemBias);
      try {
        const onDevice = await recommendFromFactors({ ...f, itemBias: dev }, NU, NI, users, k, ex, engine);
        expect(onDevice.items).toEqual(got.items);
      } finally {
        engine.free(dev);
      }
    }
  });

  test('all-equal scores (dim 0, no bias) come out in index order, skipping exclusions', async (ctx) => {
    const engine = b.engine(ctx);
    const f = { dim: 0, users: new Float32Array(0), items: new Float32Array(0) };
    const users = new Int32Array([1, 0]);
    // Row 0 excludes 0, 2, 3; row 1 nothing.
    const ex = { rowPtr: new Int32Array([0, 3, 3]), colIdx: new Int32Array([0, 2, 3]) };
    const got = await recommendFromFactors(f, 2, 6, users, 4, ex, engine);
    expect([...got.items]).toEqual([1, 4, 5, -1, 0, 1, 2, 3]);
    expect([...got.scores]).toEqual([0, 0, 0, -Infinity, 0, 0, 0, 0]);
  });
});

describe('recommendFromFactors on the host (no engine)', () => {
  for (const k of ks) {
    test(`matches brute force, k ${k}`, async () => {
      const seed = testSeed();
      const rng = new Rng(seed);
      const f = randomFactors(rng, NU, NI, 17, true);
      const users = queryUsers(rng, NU, 3);
      const ex = randomExclusions(rng, users.length, NI, { fullRow: 7, maxPerRow: 40 });
      expectMatches(await recommendFromFactors(f, NU, NI, users, k, ex), f, NI, users, k, ex, `seed ${seed}`);
    });
  }

  test('rejects bad k, out-of-range users and device factors without their engine', async () => {
    const f = { dim: 1, users: new Float32Array([1, 2]), items: new Float32Array([1, 2, 3]) };
    await expect(recommendFromFactors(f, 2, 3, new Int32Array([0]), 0, null)).rejects.toThrow(/k: expected a positive integer, got 0/);
    await expect(recommendFromFactors(f, 2, 3, new Int32Array([0, 2]), 1, null)).rejects.toThrow(/users\[1\]: expected a user index in \[0, 2\), got 2/);
    const fake = { ...f, users: { length: 2 } as unknown as FactorScores['users'] };
    await expect(recommendFromFactors(fake, 2, 3, new Int32Array([0]), 1, null)).rejects.toBeInstanceOf(GnnrlError);
  });
});

describe('recommendFromDense', () => {
  test('ties go to the lower index; exclusions, NaN and padding', () => {
    const nItems = 6;
    // prettier-ignore
    const scores = new Float32Array([
      // row 0: 0.5 three times (items 1, 3, 4), 0.9 at item 5, NaN at item 2 (never ranked)
      0.1, 0.5, NaN, 0.5, 0.5, 0.9,
      // row 1: all equal, items 0 and 4 excluded
      2, 2, 2, 2, 2, 2,
      // row 2: every item excluded
      1, 2, 3, 4, 5, 6,
    ]);
    const ex = { rowPtr: new Int32Array([0, 0, 2, 8]), colIdx: new Int32Array([0, 4, 0, 1, 2, 3, 4, 5]) };
    const got = recommendFromDense(scores, 3, nItems, 6, ex);
    // row 0: 5 (0.9), then the 0.5 tie as 1, 3, 4, then 0 (0.1); NaN item 2 dropped → one −1
    // row 1: 1, 2, 3, 5 in index order, then two −1
    // row 2: all −1
    expect([...got.items]).toEqual([5, 1, 3, 4, 0, -1, 1, 2, 3, 5, -1, -1, -1, -1, -1, -1, -1, -1]);
    const s = Math.fround(0.5);
    expect([...got.scores]).toEqual([Math.fround(0.9), s, s, s, Math.fround(0.1), -Infinity, 2, 2, 2, 2, -Infinity, -Infinity, ...new Array(6).fill(-Infinity)]);
    // k = 2 cuts the tie after its lowest index.
    expect([...recommendFromDense(scores, 3, nItems, 2, null).items]).toEqual([5, 1, 0, 1, 5, 4]);
  });

  test('selectTopK writes exactly its k slots, padding past the eligible items', () => {
    const outI = new Int32Array(10).fill(777);
    const outS = new Float32Array(10).fill(777);
    const mask = new Uint8Array([1, 0, 1, 0]);
    selectTopK(new Float32Array([4, 3, 2, 1]), 4, mask, outI, outS, 3);
    expect([...outI]).toEqual([777, 777, 777, 1, 3, -1, -1, 777, 777, 777]);
    expect([...outS]).toEqual([777, 777, 777, 3, 1, -Infinity, -Infinity, 777, 777, 777]);
  });
});

describe('exclusion rows', () => {
  test('exclusionRows copies each queried user\'s seen items, in query order', () => {
    const seen = PositiveIndex.of(log(3, 5, [[0, 4], [0, 1], [2, 3], [0, 1]]));
    const ex = exclusionRows(seen, new Int32Array([2, 1, 0, 2]));
    expect([...ex.rowPtr]).toEqual([0, 1, 1, 3, 4]);
    expect([...ex.colIdx]).toEqual([3, 1, 4, 3]);
  });

  test('resolveExclusions: train by default, none, explicit rows checked', () => {
    const seen = PositiveIndex.of(log(2, 3, [[1, 2]]));
    const users = new Int32Array([1]);
    expect([...resolveExclusions(undefined, seen, users)!.colIdx]).toEqual([2]);
    expect(resolveExclusions({ exclude: 'none' }, seen, users)).toBeNull();
    expect(resolveExclusions({ exclude: 'train' }, null, users)).toBeNull();
    expect(() => resolveExclusions({ exclude: { rowPtr: new Int32Array([0]), colIdx: new Int32Array(0) } }, seen, users)).toThrow(/exclude\.rowPtr: expected 2 entries/);
  });
});
