import { describe, expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { IdMap } from '../../src/graph/id-map.js';
import { Rng } from '../../src/util/rng.js';

describe('IdMap (TS)', () => {
  it('numbers first-appearance dense ids and round-trips through JSON', () => {
    const ids = [1e12, -5, 1e12, 7, -0, 0, 7];
    const { map, dense } = IdMap.fromIds(ids, { impl: 'ts' });
    expect(Array.from(dense)).toEqual([0, 1, 0, 2, 3, 3, 2]);
    expect(map.size).toBe(4);
    expect(map.decode(dense)).toEqual([1e12, -5, 1e12, 7, 0, 0, 7]);
    const back = IdMap.fromJSON(JSON.parse(JSON.stringify(map)));
    expect(Array.from(back.encode(ids))).toEqual(Array.from(dense));
    expect(back.get(12345)).toBe(-1);
    expect(back.add(12345)).toBe(4);
  });

  it('maps strings, grows with missing: add, and reports unknown ids', () => {
    const rng = new Rng(5);
    const ids = Array.from({ length: 5000 }, () => `user-${rng.int(700)}`);
    const { map, dense } = IdMap.fromIds(ids, { impl: 'ts' });
    expect(map.decode(dense)).toEqual(ids);
    expect(map.kind).toBe('string');
    const more = map.clone();
    expect(Array.from(more.encode(['user-1', 'new'], { missing: 'add' }))).toEqual([map.get('user-1'), map.size]);
    expect(map.get('new')).toBe(-1);
    expect(Array.from(map.encode(['new'], { missing: -1 }))).toEqual([-1]);
    let err: unknown;
    try {
      map.encode(['x', 'new']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err).toMatchObject({ code: 'input', message: 'ids[0]: unknown id "x"', details: { arg: 'ids', index: 0 } });
  });

  it('rejects ids that cannot be keys', () => {
    expect(() => IdMap.fromIds([1, 2.5], { impl: 'ts' })).toThrow('ids[1]: expected a safe integer or a string, got 2.5');
    expect(() => IdMap.fromIds([1, NaN], { impl: 'ts' })).toThrow('ids[1]: expected a safe integer or a string, got NaN');
    expect(() => IdMap.fromIds([2 ** 53], { impl: 'ts' })).toThrow('ids[0]: expected a safe integer or a string, got 9007199254740992');
    expect(() => IdMap.fromIds(['a', 3] as never, { impl: 'ts' })).toThrow('ids[1]: expected a string (ids are strings), got number');
    expect(() => IdMap.fromJSON({ kind: 'string', ids: ['a', 'a'] })).toThrow('json.ids[1]: duplicate id "a"');
  });
});
