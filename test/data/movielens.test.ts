import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GnnrlError } from '../../src/errors.js';
import {
  ML100K_GENRES,
  ML1M_OCCUPATIONS,
  detectMovieLens,
  fromExternal,
  loadMovieLens,
  writeMovieLens,
  type ItemSide,
  type UserSide,
} from '../../src/data/index.js';
import { fixture, ids, rows, tempDir } from './helpers.js';

const root = tempDir();
function sub(name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

describe('MovieLens 100K', () => {
  const dir = sub('ml-100k');
  const genreFlags = (on: number[]) => ML100K_GENRES.map((_, j) => (on.includes(j) ? '1' : '0')).join('|');
  fixture(dir, 'u.data', '196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881251000\n');
  fixture(dir, 'u.user', '196|49|M|writer|55105\n186|39|F|executive|00000\n300|20|M|writer|12345\n', 'latin1');
  fixture(dir, 'u.occupation', 'executive\nwriter\nother\n');
  fixture(
    dir,
    'u.item',
    `242|Kolya (1996)|24-Jan-1997||http://x|${genreFlags([5])}\n302|L.A. Confidential (1997)|01-Jan-1997||http://y|${genreFlags([6, 10, 16])}\n999|Café Noir|||http://z|${genreFlags([])}\n`,
    'latin1',
  );

  it('is detected and loaded with side data aligned to dense ids', async () => {
    expect(detectMovieLens(dir)).toBe('100k');
    const x = await loadMovieLens(dir);
    expect(x.format).toBe('100k');
    expect(rows(x)).toEqual([
      [196, 242, 3, 881250949],
      [186, 302, 3, 891717742],
      [196, 302, 5, 881251000],
    ]);
    // Users/items only in side files come after the rated ones.
    expect(ids(x.userIds)).toEqual([196, 186, 300]);
    expect(ids(x.itemIds)).toEqual([242, 302, 999]);
    expect([x.nUsers, x.nItems]).toEqual([3, 3]);
    const u = x.users!;
    expect(Array.from(u.age)).toEqual([49, 39, 20]);
    expect(u.genderVocab).toEqual(['F', 'M']);
    expect(Array.from(u.gender)).toEqual([1, 0, 1]);
    expect(u.occupationVocab).toEqual(['executive', 'writer', 'other']);
    expect(Array.from(u.occupation)).toEqual([1, 0, 1]);
    expect(u.zip).toEqual(['55105', '00000', '12345']);
    const it = x.items!;
    expect(it.title).toEqual(['Kolya (1996)', 'L.A. Confidential (1997)', 'Café Noir']);
    expect(Array.from(it.year)).toEqual([1997, 1997, NaN]);
    expect(Array.from(it.genreOffsets)).toEqual([0, 1, 4, 4]);
    expect(Array.from(it.genres)).toEqual([5, 6, 10, 16]);
    expect(it.genreVocab).toEqual(ML100K_GENRES);
  });

  it('builds DDPG-LA features: normalised id and age, one-hot gender and occupation, multi-hot genres', async () => {
    const x = await loadMovieLens(dir);
    const uf = x.userFeatures!;
    expect(uf.names).toEqual(['user_id', 'age', 'gender=F', 'gender=M', 'occupation=executive', 'occupation=writer', 'occupation=other']);
    expect([uf.nRows, uf.dim]).toEqual([3, 7]);
    // ids 196, 186, 300 → min-max over [186, 300]; ages 49, 39, 20 over [20, 49].
    const r = (k: number) => Array.from(uf.data.subarray(k * 7, k * 7 + 7));
    expect(r(0)).toEqual([Math.fround(10 / 114), 1, 0, 1, 0, 1, 0]);
    expect(r(1)).toEqual([0, Math.fround(19 / 29), 1, 0, 1, 0, 0]);
    expect(r(2)).toEqual([1, 0, 0, 1, 0, 1, 0]);
    const itf = x.itemFeatures!;
    expect(itf.dim).toBe(2 + 19);
    expect(itf.names.slice(0, 3)).toEqual(['item_id', 'year', 'genre=unknown']);
    const row1 = Array.from(itf.data.subarray(itf.dim, 2 * itf.dim));
    expect(row1.slice(2)).toEqual(ML100K_GENRES.map((_, j) => ([6, 10, 16].includes(j) ? 1 : 0)));
    // A missing year reads 0 after scaling rather than NaN.
    expect(itf.data[2 * itf.dim + 1]).toBe(0);
    const none = await loadMovieLens(dir, { features: false });
    expect(none.userFeatures).toBeUndefined();
  });

  it('reports a bad u.data line with file, line and column', async () => {
    const bad = sub('ml-100k-bad');
    fixture(bad, 'u.data', '1\t2\t3\t4\n1\t3\tfive\t4\n');
    await expect(loadMovieLens(bad)).rejects.toThrow('u.data:2: column 3 (rating): expected a number, got "five"');
    const skipped = await loadMovieLens(bad, { onBadLine: 'skip' });
    expect(skipped.report.skipped).toBe(1);
    fixture(bad, 'u.user', '1|x|M|writer|1\n');
    const err = await loadMovieLens(bad, { onBadLine: 'error' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GnnrlError);
    expect((err as GnnrlError).message).toBe('u.data:2: column 3 (rating): expected a number, got "five"');
    // Side-file lines follow the same policy and are counted apart.
    const sideSkipped = await loadMovieLens(bad, { onBadLine: 'skip' }).then((x) => x.sideSkipped);
    expect(sideSkipped).toBe(1);
    fixture(bad, 'u.data', '1\t2\t3\t4\n');
    await expect(loadMovieLens(bad)).rejects.toThrow('u.user:1: column 2 (age): expected a number, got "x"');
  });

  it('refuses a folder without ratings, listing what it found', () => {
    const empty = sub('nothing');
    fixture(empty, 'README', 'hi');
    expect(() => detectMovieLens(empty)).toThrow(/holds no MovieLens ratings .*found README/);
  });
});

describe('MovieLens round trips through the writers', () => {
  const x = fromExternal({
    user: [1, 2, 1, 3, 2],
    item: [10, 10, 20, 30, 30],
    rating: [5, 3, 4, 1, 2],
    ts: [978300760, 978302109, 978301968, 978300275, 978824291],
  });
  const users: UserSide = {
    age: Float32Array.from([1, 56, 25]),
    gender: Int32Array.from([0, 1, 1]),
    genderVocab: ['F', 'M'],
    occupation: Int32Array.from([10, 16, 15]),
    occupationVocab: ML1M_OCCUPATIONS,
    zip: ['48067', '70072', '55117'],
  };
  const items: ItemSide = {
    title: ['Toy Story (1995)', 'Amélie, "Le fabuleux destin" (2001)', 'Heat (1995)'],
    year: Float32Array.from([1995, 2001, 1995]),
    genreOffsets: Int32Array.from([0, 3, 4, 6]),
    genres: Int32Array.from([1, 2, 3, 3, 0, 4]),
    genreVocab: ['Action', 'Animation', "Children's", 'Comedy', 'Thriller'],
  };

  it('1M ("::", latin-1, genres A|B, age codes, occupation codes)', async () => {
    const dir = sub('ml-1m');
    await writeMovieLens(dir, x, { format: '1m', users, items });
    expect(detectMovieLens(dir)).toBe('1m');
    const y = await loadMovieLens(dir);
    expect(rows(y)).toEqual(rows(x));
    expect(Array.from(y.users!.age)).toEqual([1, 56, 25]);
    expect(y.users!.occupationVocab).toEqual(ML1M_OCCUPATIONS);
    expect(Array.from(y.users!.occupation)).toEqual([10, 16, 15]);
    expect(y.items!.title).toEqual(items.title);
    expect(Array.from(y.items!.year)).toEqual([1995, 2001, 1995]);
    // Genre vocab of 1M/latest is the sorted set of names seen; codes follow it.
    expect(y.items!.genreVocab).toEqual(['Action', 'Animation', "Children's", 'Comedy', 'Thriller']);
    expect(Array.from(y.items!.genres)).toEqual([1, 2, 3, 3, 0, 4]);
    expect(y.userFeatures!.names).toContain('occupation=self-employed');
  });

  it('latest (CSV with header, quoted titles with commas and quotes, "(no genres listed)")', async () => {
    const dir = sub('ml-latest');
    const noGenre = { ...items, genreOffsets: Int32Array.from([0, 3, 3, 5]), genres: Int32Array.from([1, 2, 3, 0, 4]) };
    await writeMovieLens(dir, x, { format: 'latest', items: noGenre });
    expect(detectMovieLens(dir)).toBe('latest');
    const y = await loadMovieLens(dir);
    expect(rows(y)).toEqual(rows(x));
    expect(y.users).toBeUndefined();
    expect(y.items!.title[1]).toBe('Amélie, "Le fabuleux destin" (2001)');
    expect(Array.from(y.items!.genreOffsets)).toEqual([0, 3, 3, 5]);
  });

  it('100K writer and loader agree', async () => {
    const dir = sub('ml-100k-rt');
    const u100: UserSide = { ...users, age: Float32Array.from([24, 53, 23]), occupationVocab: ['artist', 'doctor', 'writer'], occupation: Int32Array.from([0, 2, 1]) };
    const i100: ItemSide = { ...items, title: ['Toy Story (1995)', 'Amélie (2001)', 'Heat (1995)'], genreVocab: ML100K_GENRES, genres: Int32Array.from([3, 4, 5, 5, 1, 16]) };
    await writeMovieLens(dir, x, { format: '100k', users: u100, items: i100 });
    const y = await loadMovieLens(dir);
    expect(rows(y)).toEqual(rows(x));
    expect(Array.from(y.users!.occupation)).toEqual([0, 2, 1]);
    expect(Array.from(y.items!.genres)).toEqual([3, 4, 5, 5, 1, 16]);
    expect(y.items!.title[1]).toBe('Amélie (2001)');
    await expect(writeMovieLens(dir, x, { format: '1m', items: { ...items, title: ['東京', 'b', 'c'] } })).rejects.toThrow(/is not latin-1/);
  });
});
