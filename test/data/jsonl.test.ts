import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fromExternal, loadJsonl, writeJsonl } from '../../src/data/index.js';
import { fixture, ids, rows, tempDir } from './helpers.js';

const dir = tempDir();

describe('loadJsonl', () => {
  it('reads mapped fields, nested paths, numeric and ISO timestamps, CRLF and BOM', async () => {
    const f = fixture(
      dir,
      'events.jsonl',
      '\uFEFF{"who":"ü","what":{"sku":"A-1"},"stars":4,"at":"2021-03-04T05:06:07Z"}\r\n' +
        '\r\n' +
        '{"who":12,"what":{"sku":9},"stars":"2.5","at":1600000000}\n',
    );
    const x = await loadJsonl(f, { columns: { user: 'who', item: 'what.sku', rating: 'stars', ts: 'at' } });
    expect(rows(x)).toEqual([
      ['ü', 'A-1', 4, Date.UTC(2021, 2, 4, 5, 6, 7) / 1000],
      [12, 9, 2.5, 1600000000],
    ]);
    expect(x.report.rows).toBe(2);
  });

  it('normalises ids like the CSV loader: "12" and 12 are one id, "012" another', async () => {
    const f = fixture(dir, 'ids.jsonl', '{"u":"12","i":1}\n{"u":12,"i":1}\n{"u":"012","i":1}\n');
    const x = await loadJsonl(f, { columns: { user: 'u', item: 'i' } });
    expect(ids(x.userIds)).toEqual([12, '012']);
    expect(Array.from(x.user)).toEqual([0, 0, 1]);
    expect(x.rating).toBeNull();
    expect(x.ts).toBeNull();
  });

  it.each([
    ['{"u":1,"i":2,"r":3', /^bad\.jsonl:2: expected a JSON object, got invalid JSON \(/],
    ['[1,2,3]', /^bad\.jsonl:2: expected a JSON object, got "\[1,2,3\]"$/],
    ['{"u":1,"r":3}', /^bad\.jsonl:2: field "i": expected an item id \(string or number\), got nothing \(missing key\)$/],
    ['{"u":true,"i":2,"r":3}', /^bad\.jsonl:2: field "u": expected a user id \(string or number\), got "true"$/],
    ['{"u":1,"i":2,"r":"x"}', /^bad\.jsonl:2: field "r": expected a number, got "x"$/],
  ])('bad line %s', async (bad, message) => {
    const f = fixture(dir, 'bad.jsonl', `{"u":1,"i":2,"r":3}\n${bad}\n{"u":1,"i":3,"r":3}\n`);
    await expect(loadJsonl(f, { columns: { user: 'u', item: 'i', rating: 'r' } })).rejects.toThrow(message);
    const skipped = await loadJsonl(f, { columns: { user: 'u', item: 'i', rating: 'r' }, onBadLine: 'skip' });
    expect(skipped.report.skipped).toBe(1);
    expect(rows(skipped)).toEqual([
      [1, 2, 3, null],
      [1, 3, 3, null],
    ]);
  });

  it('round-trips through writeJsonl', async () => {
    const x = fromExternal({ user: ['a', 'b', 'a', '7'], item: [1, 'x"y', 'é', 2], rating: [1, 2.5, 3, 4], ts: [10, 20, 30, 40.5] });
    const f = join(dir, 'rt.jsonl');
    await writeJsonl(f, x);
    expect(rows(await loadJsonl(f, { columns: { user: 'user', item: 'item', rating: 'rating', ts: 'ts' } }))).toEqual(rows(x));
  });
});
