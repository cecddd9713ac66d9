import { describe, expect, it } from 'vitest';
import { bipartiteAdjacency, buildGraph } from '../../src/graph/build.js';
import { InteractionGraph } from '../../src/graph/interaction-graph.js';
import { expectSameCsr, expectSameGraph } from './helpers.js';
import { syntheticWorld } from '../../src/data/synthetic.js';

describe('InteractionGraph', () => {
  const users = ['alice', 'bob', 'alice', 'carol', 'bob'];
  const items = [10, 20, 20, 30, 20];
  const ratings = Float32Array.from([5, 3, 4, 1, 2]);
  const ts = Float64Array.from([1, 2, 3, 4, 5]);

  it('maps external ids and builds CSR views in one call', () => {
    const g = InteractionGraph.fromInteractions({ users, items, ratings, ts }, { impl: 'ts' });
    expect([g.nUsers, g.nItems]).toEqual([3, 3]);
    expect(g.userIds!.toJSON()).toEqual({ kind: 'string', ids: ['alice', 'bob', 'carol'] });
    expect(g.itemIds!.toJSON()).toEqual({ kind: 'number', ids: [10, 20, 30] });
    expect(g.policy).toBe('last'); // ts given
    expect(Array.from(g.userItem.rowPtr)).toEqual([0, 2, 3, 4]);
    expect(Array.from(g.userItem.values)).toEqual([5, 4, 2, 1]); // bob-20 twice: the later (ts 5) rating 2
    expect(Array.from(g.userDegree)).toEqual([2, 1, 1]);
    expect(Array.from(g.itemDegree)).toEqual([1, 2, 1]);
  });

  it("takes a data-layer log as is: its dense indices and counts, trailing users and items without events included", () => {
    const log = syntheticWorld({ preset: 'tiny', seed: 3 }).interactions;
    // Two extra users and items with no events: the counts must come from the log, not from max id + 1.
    const padded = { ...log, nUsers: log.nUsers + 2, nItems: log.nItems + 2 };
    const g = InteractionGraph.fromInteractions(padded, { impl: 'ts' });
    const ref = InteractionGraph.fromInteractions(
      { users: log.user, items: log.item, ratings: log.rating!, ts: log.ts!, nUsers: log.nUsers + 2, nItems: log.nItems + 2 },
      { impl: 'ts' },
    );
    expect([g.nUsers, g.nItems]).toEqual([log.nUsers + 2, log.nItems + 2]);
    expect(g.userIds).toBeUndefined();
    expectSameCsr(g.userItem, ref.userItem);
    expectSameCsr(g.itemUser, ref.itemUser);
    expect(() => InteractionGraph.fromInteractions({ ...log, user: Array.from(log.user) } as never)).toThrow(/user: expected an Int32Array/);
  });

  it('builds each adjacency kind once and caches it', () => {
    const g = InteractionGraph.fromInteractions({ users, items }, { impl: 'ts' });
    const a = g.adjacency();
    expect(g.adjacency({ norm: 'sym' })).toBe(a);
    const r = g.adjacency({ norm: 'row', selfLoops: true });
    expect(r).not.toBe(a);
    expectSameCsr(r, bipartiteAdjacency(g.userItem, { norm: 'row', selfLoops: true, impl: 'ts' }));
    const before = g.memoryBytes();
    g.layout({ norm: 'row', selfLoops: true }, 2);
    expect(g.memoryBytes()).toBeGreaterThan(before);
  });

  it('takes dense ids as they are', () => {
    const g = InteractionGraph.fromInteractions(
      { users: Int32Array.from([0, 2]), items: Int32Array.from([1, 1]), nItems: 4 },
      { impl: 'ts' },
    );
    expect([g.nUsers, g.nItems, g.userIds]).toEqual([3, 4, undefined]);
  });

  it('withInteractions equals building from the whole log', () => {
    const g = InteractionGraph.fromInteractions({ users: users.slice(0, 3), items: items.slice(0, 3), ratings: ratings.slice(0, 3), ts: ts.slice(0, 3) }, { impl: 'ts' });
    const grown = g.withInteractions({ users: users.slice(3), items: items.slice(3), ratings: ratings.slice(3), ts: ts.slice(3) });
    const whole = InteractionGraph.fromInteractions({ users, items, ratings, ts }, { impl: 'ts' });
    expect(grown.userIds!.toJSON()).toEqual(whole.userIds!.toJSON());
    expectSameCsr(grown.userItem, whole.userItem);
    expect(g.nUsers).toBe(2); // the original is unchanged
    expect(() => g.withInteractions({ users: ['x'], items: [10] })).toThrow('more.ratings: expected a Float32Array (the graph has ratings)');
  });

  it('subgraph keeps the chosen users, renumbered, with their merged rows', () => {
    const g = InteractionGraph.fromInteractions({ users, items, ratings }, { impl: 'ts', policy: 'sum' });
    const s = g.subgraph(Int32Array.of(1, 2));
    expect(Array.from(s.userIndex)).toEqual([1, 2]);
    const ref = buildGraph(
      { users: Int32Array.of(0, 1), items: Int32Array.of(1, 2), weights: Float32Array.of(5, 1), nUsers: 2, nItems: 3 },
      { impl: 'ts' },
    );
    expectSameGraph(
      { userItem: s.userItem, itemUser: s.itemUser, userDegree: s.userDegree, itemDegree: s.itemDegree },
      ref,
    );
    expect(() => g.subgraph(Int32Array.of(1, 1))).toThrow('userIds[1]: expected unique ids, got 1 again');
  });
});
