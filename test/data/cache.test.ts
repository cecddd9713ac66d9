import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachePath, loadCsv, loadJsonl } from '../../src/data/index.js';
import { fixture, rows, tempDir } from './helpers.js';

const dir = tempDir();
const columns = { user: 'u', item: 'i', rating: 'r', ts: 't' };

function csv(n: number, salt = 0): string {
  const out = ['u,i,r,t'];
  for (let k = 0; k < n; k++) out.push(`user${(k * 7 + salt) % 13},${(k * 11) % 29},${(k % 5) + 1},${1e9 + k}`);
  return out.join('\n') + '\n';
}

describe('binary cache', () => {
  it('misses, then hits with identical data', async () => {
    const f = fixture(dir, 'a.csv', csv(200));
    const first = await loadCsv(f, { columns, cache: true });
    expect(first.report.cache).toMatchObject({ status: 'miss' });
    expect(first.report.fromCache).toBe(false);
    const path = first.report.cache!.path!;
    expect(path).toBe(cachePath(f, true, { kind: 'delimited', delimiter: ',', header: true, quote: true, encoding: 'utf8', policy: 'error', columns: { ...columns } }));
    expect(readdirSync(join(dir, '.gnnrl-cache'))).toHaveLength(1);
    const second = await loadCsv(f, { columns, cache: true });
    expect(second.report.cache).toMatchObject({ status: 'hit', path });
    expect(second.report.fromCache).toBe(true);
    expect(second.report.rows).toBe(200);
    expect(rows(second)).toEqual(rows(first));
    expect(second.userIds.ids()).toEqual(first.userIds.ids());
    expect(second.user).toBeInstanceOf(Int32Array);
    expect(second.ts).toBeInstanceOf(Float64Array);
  });

  it('detects a changed source even with the same size and mtime', async () => {
    const f = fixture(dir, 'b.csv', csv(100));
    await loadCsv(f, { columns, cache: true });
    const st = readFileSync(f, 'utf8');
    const edited = st.replace('user0,0,1', 'user9,0,1');
    expect(edited.length).toBe(st.length);
    writeFileSync(f, edited);
    const when = new Date(1_600_000_000_000);
    utimesSync(f, when, when);
    const x = await loadCsv(f, { columns, cache: true });
    expect(x.report.cache).toMatchObject({ status: 'stale', reason: 'source file changed (size or SHA-256 differs)' });
    expect(x.userIds.id(x.user[0])).toBe('user9');
    expect((await loadCsv(f, { columns, cache: true })).report.cache!.status).toBe('hit');
  });

  it('detects a corrupt or truncated cache and rebuilds it', async () => {
    const f = fixture(dir, 'c.csv', csv(300));
    const ref = await loadCsv(f, { columns, cache: dir + '/cc' });
    const path = ref.report.cache!.path!;
    expect(path.startsWith(join(dir, 'cc'))).toBe(true);
    const bytes = readFileSync(path);
    bytes[bytes.length - 5] ^= 0xff; // flip a payload byte
    writeFileSync(path, bytes);
    const a = await loadCsv(f, { columns, cache: dir + '/cc' });
    expect(a.report.cache).toMatchObject({ status: 'corrupt', reason: 'payload checksum mismatch' });
    expect(rows(a)).toEqual(rows(ref));
    truncateSync(path, 100);
    const b = await loadCsv(f, { columns, cache: dir + '/cc' });
    expect(b.report.cache!.status).toBe('corrupt');
    writeFileSync(path, 'not a cache');
    expect((await loadCsv(f, { columns, cache: dir + '/cc' })).report.cache).toMatchObject({ status: 'corrupt', reason: 'bad magic bytes' });
    expect((await loadCsv(f, { columns, cache: dir + '/cc' })).report.cache!.status).toBe('hit');
  });

  it('keys the cache on loader options and works for JSONL', async () => {
    const f = fixture(dir, 'd.csv', csv(50));
    const a = await loadCsv(f, { columns, cache: true });
    const b = await loadCsv(f, { columns: { user: 'u', item: 'i' }, cache: true });
    expect(b.report.cache!.path).not.toBe(a.report.cache!.path);
    expect(b.rating).toBeNull();
    expect((await loadCsv(f, { columns: { user: 'u', item: 'i' }, cache: true })).rating).toBeNull();
    const j = fixture(dir, 'e.jsonl', '{"u":1,"i":2}\n{"u":2,"i":2}\n');
    await loadJsonl(j, { columns: { user: 'u', item: 'i' }, cache: true });
    const hit = await loadJsonl(j, { columns: { user: 'u', item: 'i' }, cache: true });
    expect(hit.report.cache!.status).toBe('hit');
    expect(Array.from(hit.user)).toEqual([0, 1]);
  });

  it('a file with skipped lines caches its skip count, and a failing parse writes no cache', async () => {
    const f = fixture(dir, 'g.csv', 'u,i,r,t\n1,2,3,4\n1,2,x,4\n');
    await loadCsv(f, { columns, cache: dir + '/gg', onBadLine: 'skip' });
    const hit = await loadCsv(f, { columns, cache: dir + '/gg', onBadLine: 'skip' });
    expect(hit.report).toMatchObject({ fromCache: true, skipped: 1, rows: 1 });
    await expect(loadCsv(f, { columns, cache: dir + '/gg' })).rejects.toThrow('g.csv:3:');
    expect(readdirSync(join(dir, 'gg'))).toHaveLength(1);
  });
});
