import { describe, expect, it } from 'vitest';
import { IdMap, fromExternal, groupByUser, interactionCount, normalizeId, selectInteractions, validateInteractions } from '../../src/data/index.js';

describe('IdMap', () => {
  it('normalises ids, assigns dense indices in first-appearance order and round-trips through JSON', () => {
    expect([normalizeId('42'), normalizeId(42), normalizeId('042'), normalizeId('-5'), normalizeId(''), normalizeId(1.5)]).toEqual([42, 42, '042', '-5', undefined, '1.5']);
    const m = new IdMap();
    expect([m.getOrAdd(7), m.getOrAdd('x'), m.getOrAdd(7), m.getOrAdd(2 ** 40), m.getOrAddInt(3)]).toEqual([0, 1, 0, 2, 3]);
    expect([m.get('7'), m.get('x'), m.get('nope'), m.get(2 ** 40)]).toEqual([0, 1, -1, 2]);
    const back = IdMap.fromJSON(JSON.parse(JSON.stringify(m)));
    expect(back.ids()).toEqual([7, 'x', 2 ** 40, 3]);
    expect(back.get(3)).toBe(3);
    expect(() => IdMap.fromIds([1, '1'])).toThrow('IdMap.fromIds: duplicate id 1 at ids[1]');
    expect(() => m.id(9)).toThrow('IdMap.id: index 9 out of range [0, 4)');
  });
});

describe('Interactions helpers', () => {
  const x = fromExternal({ user: ['a', 'b', 'a', 'a'], item: [1, 2, 3, 4], rating: [1, 2, 3, 4], ts: [30, 5, 10, 10] });

  it('select copies the chosen rows and shares id maps', () => {
    const s = selectInteractions(x, [3, 0]);
    expect(interactionCount(s)).toBe(2);
    expect(Array.from(s.rating!)).toEqual([4, 1]);
    expect(Array.from(s.ts!)).toEqual([10, 30]);
    expect(s.userIds).toBe(x.userIds);
    expect(() => selectInteractions(x, [4])).toThrow('selectInteractions: indices[0] = 4 is outside [0, 4)');
  });

  it('groups by user, sorted by ts with ties in row order', () => {
    const g = groupByUser(x);
    expect(Array.from(g.offsets)).toEqual([0, 3, 4]);
    expect(Array.from(g.order)).toEqual([2, 3, 0, 1]);
    // A long unsorted segment takes the comparator path.
    const n = 100;
    const y = fromExternal({ user: new Array(n).fill('u'), item: Array.from({ length: n }, (_, i) => i), ts: Array.from({ length: n }, (_, i) => (i * 37) % 10) });
    const order = Array.from(groupByUser(y).order);
    const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => y.ts![a] - y.ts![b] || a - b);
    expect(order).toEqual(expected);
  });

  it('validation names the bad field and index', () => {
    expect(() => validateInteractions({ ...x, item: Int32Array.from([0, 1, 9, 0]) })).toThrow('interactions.item[2]: expected an index in [0, 4), got 9');
    expect(() => validateInteractions({ ...x, ts: new Float64Array(2) })).toThrow('interactions.ts: expected length 4 or null');
  });
});
