import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { fromExternal, loadCsv, loadTsv, writeCsv, writeTsv, type Progress } from '../../src/data/index.js';
import { fixture, ids, rows, tempDir } from './helpers.js';

const dir = tempDir();
const cols = { user: 'userId', item: 'movieId', rating: 'rating', ts: 'timestamp' };

async function formatError(p: Promise<unknown>): Promise<GnnrlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GnnrlError);
  return err as GnnrlError;
}

describe('loadCsv: fields', () => {
  it('reads every column of a plain file with a header', async () => {
    const text = 'userId,movieId,rating,timestamp\n10,200,4,1000\n11,200,3.5,999\n10,201,5,1001\n';
    const f = fixture(dir, 'plain.csv', text);
    const x = await loadCsv(f, { columns: cols });
    expect(Array.from(x.user)).toEqual([0, 1, 0]);
    expect(Array.from(x.item)).toEqual([0, 0, 1]);
    expect(Array.from(x.rating!)).toEqual([4, 3.5, 5]);
    expect(Array.from(x.ts!)).toEqual([1000, 999, 1001]);
    expect(ids(x.userIds)).toEqual([10, 11]);
    expect(ids(x.itemIds)).toEqual([200, 201]);
    expect([x.nUsers, x.nItems]).toEqual([2, 2]);
    expect(x.report).toMatchObject({ rows: 3, skipped: 0, fromCache: false, bytes: Buffer.byteLength(text) });
  });

  it('handles BOM, CRLF, quoted fields with escaped quotes, embedded delimiters and newlines, unicode ids', async () => {
    const text =
      '\uFEFFuser,item,stars,when\r\n' +
      '"ü-1","a,b",4,2020-01-02\r\n' +
      '用户2,"say ""hi""",3,2020-01-02T00:00:10Z\r\n' +
      '"ü-1","multi\r\nline",2,2020-01-02T00:00:20+01:00\r\n' +
      '007,7,1,5\r\n';
    const f = fixture(dir, 'fancy.csv', text);
    const x = await loadCsv(f, { columns: { user: 'user', item: 'item', rating: 'stars', ts: 'when' } });
    const day = Date.UTC(2020, 0, 2) / 1000;
    expect(rows(x)).toEqual([
      ['ü-1', 'a,b', 4, day],
      ['用户2', 'say "hi"', 3, day + 10],
      ['ü-1', 'multi\r\nline', 2, day + 20 - 3600],
      ['007', 7, 1, 5],
    ]);
    // "007" is not the number 7: ids keep their text unless canonical integers.
    expect(ids(x.userIds)).toEqual(['ü-1', '用户2', '007']);
  });

  it('counts lines inside quoted fields for later error messages', async () => {
    const f = fixture(dir, 'lines.csv', 'u,i,r\n1,"a\nb\nc",3\n2,x,oops\n');
    const err = await formatError(loadCsv(f, { columns: { user: 'u', item: 'i', rating: 'r' } }));
    expect(err.message).toBe('lines.csv:5: column "r": expected a number, got "oops"');
    expect(err.details).toMatchObject({ line: 5, field: 'rating' });
  });

  it('reads headerless files by index, implicit feedback, TSV and "::"', async () => {
    const f = fixture(dir, 'nohdr.csv', '5,6\n7,6\n');
    const x = await loadCsv(f, { columns: { user: 0, item: 1 } });
    expect(rows(x)).toEqual([
      [5, 6, null, null],
      [7, 6, null, null],
    ]);
    const t = fixture(dir, 'a.tsv', 'u\ti\tr\n"q\t1\t2\n');
    const y = await loadTsv(t, { columns: { user: 'u', item: 'i', rating: 'r' } });
    expect(rows(y)).toEqual([['"q', 1, 2, null]]); // TSV: quotes are data by default
    const d = fixture(dir, 'a.dat', '1::2::3::4\n1::3::5::6\n');
    const z = await loadCsv(d, { columns: { user: 0, item: 1, rating: 2, ts: 3 }, delimiter: '::' });
    expect(rows(z)).toEqual([
      [1, 2, 3, 4],
      [1, 3, 5, 6],
    ]);
  });

  it('gives the same result for any chunk size (records split across reads)', async () => {
    const rng = new Rng(3);
    const lines = ['a,b,c,d'];
    const alphabet = ['x', 'é', '"', ',', '\n', '用', '1', '0'];
    for (let i = 0; i < 300; i++) {
      const id = Array.from({ length: 1 + rng.int(5) }, () => alphabet[rng.int(alphabet.length)]).join('');
      const q = `"${id.replace(/"/g, '""')}"`;
      lines.push(`${q},${rng.int(50)},${(rng.int(9) + 1) / 2},${1e9 + rng.int(1e6)}`);
    }
    const f = fixture(dir, 'chunks.csv', lines.join('\r\n'));
    const opts = { columns: { user: 'a', item: 'b', rating: 'c', ts: 'd' } };
    const ref = await loadCsv(f, opts);
    expect(ref.user.length).toBe(300);
    for (const chunkSize of [64, 65, 97, 1000]) {
      const x = await loadCsv(f, { ...opts, chunkSize });
      expect(rows(x)).toEqual(rows(ref));
    }
  });

  it('reports progress up to the full size', async () => {
    const lines = ['u,i'];
    for (let i = 0; i < 1000; i++) lines.push(`${i % 17},${i % 31}`);
    const f = fixture(dir, 'progress.csv', lines.join('\n') + '\n');
    const seen: Progress[] = [];
    await loadCsv(f, { columns: { user: 'u', item: 'i' }, chunkSize: 256, onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(5);
    const last = seen[seen.length - 1];
    expect(last.bytes).toBe(last.totalBytes);
    expect(last.rows).toBe(1000);
    for (let k = 1; k < seen.length; k++) expect(seen[k].bytes).toBeGreaterThanOrEqual(seen[k - 1].bytes);
  });

  it('round-trips through the writers (CSV with quoting, TSV, ISO timestamps)', async () => {
    const rng = new Rng(11);
    const n = 500;
    const names = ['ana', 'bo,b', 'c"d', 'é', '東京', 'line\nbreak', '12', '012'];
    const x = fromExternal({
      user: Array.from({ length: n }, () => names[rng.int(names.length)]),
      item: Array.from({ length: n }, () => rng.int(40)),
      rating: Array.from({ length: n }, () => Math.fround(rng.int(10) / 2 + 0.1)),
      ts: Array.from({ length: n }, () => 1.5e9 + rng.int(1e7)),
    });
    const f = join(dir, 'rt.csv');
    await writeCsv(f, x);
    const y = await loadCsv(f, { columns: { user: 'user', item: 'item', rating: 'rating', ts: 'ts' } });
    expect(rows(y)).toEqual(rows(x));
    await writeCsv(f, x, { tsFormat: 'iso', columns: { user: 'u' } });
    const z = await loadCsv(f, { columns: { user: 'u', item: 'item', rating: 'rating', ts: 'ts' } });
    expect(rows(z)).toEqual(rows(x));
    const plain = fromExternal({ user: ['a', 'b'], item: [1, 2], ts: [1, 2.5] });
    const t = join(dir, 'rt.tsv');
    await writeTsv(t, plain);
    expect(rows(await loadTsv(t, { columns: { user: 'user', item: 'item', ts: 'ts' } }))).toEqual(rows(plain));
    await expect(writeTsv(t, fromExternal({ user: ['a\tb'], item: [1] }))).rejects.toThrow(/contains the delimiter/);
  });
});

describe('loadCsv: bad input', () => {
  const ratingsLines = (bad: string): string => {
    const out = ['userId,movieId,rating,timestamp'];
    for (let i = 2; i < 17; i++) out.push(`${i},${i + 1},3,${1000 + i}`);
    out.push(bad);
    out.push('99,100,4,5000');
    return out.join('\n') + '\n';
  };

  it('names file, line, column and what was expected', async () => {
    const f = fixture(dir, 'ratings.csv', ratingsLines('17,18,abc,1017'));
    const err = await formatError(loadCsv(f, { columns: cols }));
    expect(err.code).toBe('format');
    expect(err.message).toBe('ratings.csv:17: column "rating": expected a number, got "abc"');
    expect(err.details).toEqual({ file: f, line: 17, field: 'rating' });
  });

  it.each([
    ['17,18,3', 'ratings.csv:17: expected 4 fields as in the header, got 3'],
    ['17,18,3,yesterday', 'ratings.csv:17: column "timestamp": expected a number or an ISO-8601 date, got "yesterday"'],
    [',18,3,1', 'ratings.csv:17: column "userId": expected a user id, got an empty field'],
    ['17,,3,1', 'ratings.csv:17: column "movieId": expected an item id, got an empty field'],
    ['17,"18"x,3,1', 'ratings.csv:17: unexpected character "x" after a closing quote (a quote inside a quoted field must be doubled: "")'],
    ['17,18,0x10,1', 'ratings.csv:17: column "rating": expected a number, got "0x10"'],
    ['17,18,,1', 'ratings.csv:17: column "rating": expected a number, got ""'],
  ])('bad line %j', async (bad, message) => {
    const f = fixture(dir, 'ratings.csv', ratingsLines(bad));
    const err = await formatError(loadCsv(f, { columns: cols }));
    expect(err.message).toBe(message);
  });

  it('headerless messages name the column by position and role', async () => {
    const f = fixture(dir, 'u.data', '1\t2\t3\t4\n1\t2\tx\t4\n');
    const err = await formatError(loadTsv(f, { columns: { user: 0, item: 1, rating: 2, ts: 3 } }));
    expect(err.message).toBe('u.data:2: column 3 (rating): expected a number, got "x"');
  });

  it('skip and warn drop bad lines, count them and keep the rest; error returns nothing', async () => {
    const f = fixture(dir, 'mixed.csv', 'u,i,r\n1,2,3\n1,2,bad\n2,3\n3,4,5\n');
    const columns = { user: 'u', item: 'i', rating: 'r' };
    const skip = await loadCsv(f, { columns, onBadLine: 'skip' });
    expect(rows(skip)).toEqual([
      [1, 2, 3, null],
      [3, 4, 5, null],
    ]);
    expect(skip.report.skipped).toBe(2);
    expect(skip.report.skippedMessages).toEqual(['mixed.csv:3: column "r": expected a number, got "bad"', 'mixed.csv:4: expected 3 fields as in the header, got 2']);
    // Bad lines never register their ids: user 2 / item 3 only come from line 4, which was dropped.
    expect(ids(skip.userIds)).toEqual([1, 3]);
    const warned: string[] = [];
    const warn = await loadCsv(f, { columns, onBadLine: 'warn', onWarning: (e) => warned.push(e.message) });
    expect(warn.report.skipped).toBe(2);
    expect(warned).toEqual(skip.report.skippedMessages);
    await expect(loadCsv(f, { columns })).rejects.toThrow('mixed.csv:3:');
  });

  it('missing file, directory, empty file, header only, missing column', async () => {
    const missing = await formatError(loadCsv(join(dir, 'nope.csv'), { columns: cols }));
    expect(missing.code).toBe('input');
    expect(missing.message).toBe(`nope.csv: file not found: ${join(dir, 'nope.csv')}`);
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    expect((await formatError(loadCsv(sub, { columns: cols }))).message).toMatch(/is not a regular file \(it is a directory\)/);
    const empty = fixture(dir, 'empty.csv', '');
    expect((await formatError(loadCsv(empty, { columns: cols }))).message).toBe('empty.csv: empty file (0 bytes)');
    const bom = fixture(dir, 'bom.csv', '\uFEFF\r\n\n');
    expect((await formatError(loadCsv(bom, { columns: cols }))).message).toBe('bom.csv: empty file (no records, only blank lines or a byte-order mark)');
    const hdr = fixture(dir, 'hdr.csv', 'userId,movieId,rating,timestamp\n');
    expect((await formatError(loadCsv(hdr, { columns: cols }))).message).toBe('hdr.csv: no data rows (only a header)');
    const other = fixture(dir, 'other.csv', 'customer_id,sku\n1,2\n');
    expect((await formatError(loadCsv(other, { columns: { user: 'customer_id', item: 'sku', rating: 'stars' } }))).message).toBe(
      'other.csv:1: header has no column "stars" for rating (columns: "customer_id", "sku")',
    );
  });

  it('rejects invalid UTF-8 naming the line and suggesting latin-1, and reads it as latin-1 when asked', async () => {
    const bytes = Buffer.concat([Buffer.from('u,i\n1,caf'), Buffer.from([0xe9]), Buffer.from('\n2,b\n')]);
    const f = fixture(dir, 'latin.csv', bytes);
    const err = await formatError(loadCsv(f, { columns: { user: 'u', item: 'i' } }));
    expect(err.message).toBe("latin.csv:2: invalid UTF-8 (byte 0xE9 at byte 6 of the line); the file is not UTF-8 — if it is latin-1 (ISO-8859-1), pass { encoding: 'latin1' }");
    const x = await loadCsv(f, { columns: { user: 'u', item: 'i' }, encoding: 'latin1' });
    expect(ids(x.itemIds)).toEqual(['café', 'b']);
    const utf16 = fixture(dir, 'utf16.csv', Buffer.from('\uFEFFu,i\n1,2\n', 'utf16le'));
    expect((await formatError(loadCsv(utf16, { columns: { user: 'u', item: 'i' } }))).message).toBe(
      'utf16.csv:1: the file is UTF-16 (byte-order mark found); save it as UTF-8',
    );
  });

  it('an unterminated quote is always fatal', async () => {
    const f = fixture(dir, 'unterminated.csv', 'u,i\n1,2\n3,"abc\n4,5\n');
    const err = await formatError(loadCsv(f, { columns: { user: 'u', item: 'i' }, onBadLine: 'skip' }));
    expect(err.message).toBe('unterminated.csv:3: unterminated quoted field (a field opened with " never closes)');
  });

  it('checks its options', async () => {
    const f = fixture(dir, 'opt.csv', 'u,i\n1,2\n');
    await expect(loadCsv(f, { columns: { user: 'u', item: '' } })).rejects.toThrow('columns.item: expected a column name or a 0-based index, got ""');
    await expect(loadCsv(f, { columns: { user: 'u', item: 'i' }, header: false })).rejects.toThrow(/needs a header/);
    await expect(loadCsv(f, { columns: { user: 'u', item: 'i' }, delimiter: '"' })).rejects.toThrow(/delimiter/);
    await expect(loadCsv(f, { columns: { user: 'u', item: 'i' }, onBadLine: 'ignore' as never })).rejects.toThrow(/onBadLine/);
  });
});
