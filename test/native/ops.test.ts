import { expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { buildGraph } from '../../src/graph/build.js';
import { cooccurrence } from '../../src/graph/cooccurrence.js';
import { IdMap } from '../../src/graph/id-map.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import { randomWalkNeighbors, sampleNeighbors } from '../../src/graph/sampling.js';
import type { Csr } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';
import { expectSameCsr, randomCoo } from '../graph/helpers.js';
import { describeNative } from './native-env.js';

function errorOf(f: () => unknown): { code: string; message: string } | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof GnnrlError)) throw e;
    return { code: e.code, message: e.message };
  }
}

function adjacency(seed: number, nUsers = 300, nItems = 200, nnz = 4000): Csr {
  const d = powerLawInteractions({ nUsers, nItems, nnz, seed });
  return buildGraph({ users: d.users, items: d.items, nUsers, nItems }, { impl: 'ts', adjacency: { norm: 'none' } }).adjacency!;
}

describeNative('native vs TS graph operations', () => {
  it('co-occurrence agrees (count and cosine, several topN) on random graphs', () => {
    const rng = new Rng(21);
    for (let c = 0; c < 60; c++) {
      const ui = buildGraph(randomCoo(rng, 40, 25, 400), { impl: 'ts' }).userItem;
      const opts = { topN: 1 + rng.int(6), measure: c % 2 ? ('cosine' as const) : ('count' as const), threads: 1 + (c % 3) };
      expectSameCsr(cooccurrence(ui, { ...opts, impl: 'native' }), cooccurrence(ui, { ...opts, impl: 'ts' }));
    }
  });

  it('neighbour sampling agrees and is deterministic', () => {
    for (let c = 0; c < 10; c++) {
      const g = adjacency(c);
      const seeds = new Rng(c).shuffle(Int32Array.from({ length: g.nRows }, (_, i) => i)).slice(0, 20 + c * 5);
      const fan = [1 + c, 3, 2];
      const a = sampleNeighbors(g, seeds, fan, { seed: 100 + c, impl: 'native' });
      const b = sampleNeighbors(g, seeds, fan, { seed: 100 + c, impl: 'ts' });
      expect(a.layers.map((x) => Array.from(x))).toEqual(b.layers.map((x) => Array.from(x)));
      a.blocks.forEach((blk, l) => expectSameCsr(blk, b.blocks[l], `block ${l}`));
    }
  });

  it('random walks agree for 1 and several threads', () => {
    const g = adjacency(5);
    const seeds = Int32Array.from({ length: 120 }, (_, i) => (i * 7) % g.nRows);
    const opts = { walks: 30, length: 6, topK: 8, stride: 2, seed: 77 };
    const ts = randomWalkNeighbors(g, seeds, { ...opts, impl: 'ts' });
    expectSameCsr(randomWalkNeighbors(g, seeds, { ...opts, impl: 'native', threads: 1 }), ts);
    expectSameCsr(randomWalkNeighbors(g, seeds, { ...opts, impl: 'native', threads: 3 }), ts);
  });

  it('id encoding agrees for numbers and strings', () => {
    const rng = new Rng(8);
    const nums = Array.from({ length: 20000 }, () => rng.int(3000) * 1e6 - 7);
    nums.push(-0, 0);
    const a = IdMap.fromIds(nums, { impl: 'native' });
    const b = IdMap.fromIds(nums, { impl: 'ts' });
    expect(Array.from(a.dense)).toEqual(Array.from(b.dense));
    expect(a.map.toJSON()).toEqual(b.map.toJSON());
    const strs = nums.map((n) => `id:${n}`.repeat(1 + (Math.abs(n) % 40))); // some longer than 256 bytes
    strs.push('ünïcødé', 'ünïcødé', '');
    const c = IdMap.fromIds(strs, { impl: 'native' });
    const d = IdMap.fromIds(strs, { impl: 'ts' });
    expect(Array.from(c.dense)).toEqual(Array.from(d.dense));
    expect(c.map.toJSON()).toEqual(d.map.toJSON());
    expect(c.map.get('ünïcødé')).toBe(d.map.get('ünïcødé'));
    // An id holding the join separator takes the per-element path and still agrees.
    const nul = ['a\0b', 'a', 'b', 'a\0b', '', '\0'];
    expect(Array.from(IdMap.fromIds(nul, { impl: 'native' }).dense)).toEqual([0, 1, 2, 0, 3, 4]);
    expect(Array.from(IdMap.fromIds(nul, { impl: 'ts' }).dense)).toEqual([0, 1, 2, 0, 3, 4]);
  });

  it('reports the same errors for bad operation arguments', () => {
    const g = adjacency(1, 20, 10, 100);
    const bad: [string, (impl: 'native' | 'ts') => unknown][] = [
      ['dup seed', (impl) => sampleNeighbors(g, Int32Array.of(3, 3), [2], { impl })],
      ['seed range', (impl) => sampleNeighbors(g, Int32Array.of(30), [2], { impl })],
      ['fanout', (impl) => sampleNeighbors(g, Int32Array.of(3), [0], { impl })],
      ['seed opt', (impl) => sampleNeighbors(g, Int32Array.of(3), [1], { impl, seed: -1 })],
      ['not square', (impl) => sampleNeighbors({ ...g, nCols: 31 }, Int32Array.of(3), [1], { impl })],
      ['colIdx range', (impl) => sampleNeighbors({ ...g, colIdx: g.colIdx.map((c, j) => (j === 5 ? 99 : c)) }, Int32Array.of(3), [1], { impl })],
      ['rowPtr shape', (impl) => cooccurrence({ ...g, rowPtr: g.rowPtr.subarray(1) }, { topN: 2, impl })],
      ['rowPtr decreasing', (impl) => cooccurrence({ ...g, rowPtr: g.rowPtr.map((v, r) => (r === 4 ? 0 : v)) }, { topN: 2, impl })],
      ['rowPtr past nnz', (impl) => cooccurrence({ ...g, rowPtr: g.rowPtr.map((v, r) => (r === 2 ? 1e6 : v)) }, { topN: 2, impl })],
      ['NaN value', (impl) => cooccurrence({ ...g, values: g.values.map((v, j) => (j === 3 ? NaN : v)) }, { topN: 2, impl })],
      ['topN', (impl) => cooccurrence(g, { topN: 0, impl })],
      ['measure', (impl) => cooccurrence(g, { topN: 1, measure: 'jaccard' as never, impl })],
      ['walk length', (impl) => randomWalkNeighbors(g, Int32Array.of(1), { walks: 1, length: 0, topK: 1, impl })],
      ['walk seed range', (impl) => randomWalkNeighbors(g, Int32Array.of(-1), { walks: 1, length: 2, topK: 1, impl })],
      ['ids mixed', (impl) => IdMap.fromIds(['a', 'b', 1] as never, { impl })],
    ];
    for (const [name, f] of bad) {
      const n = errorOf(() => f('native'));
      expect(n, name).not.toBe('ok');
      expect(errorOf(() => f('ts')), name).toEqual(n);
    }
    expect(errorOf(() => sampleNeighbors(g, Int32Array.of(3, 3), [2], { impl: 'native' }))).toEqual({
      code: 'input',
      message: 'seeds[1]: expected unique node ids, got 3 again (first at 0)',
    });
  });
});
