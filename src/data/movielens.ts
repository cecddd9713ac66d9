/**
 * MovieLens loaders: 100K (u.data, u.user, u.item), 1M/10M (ratings.dat, users.dat,
 * movies.dat with "::") and latest/20M/25M (ratings.csv, movies.csv with a header and
 * RFC 4180 quoting). `loadMovieLens(dir)` tells them apart by the files present.
 *
 * Dense ids follow the first appearance in the ratings file; users or movies that only
 * the side files mention are appended after them (they are real catalogue entries with
 * no interactions yet). Side columns are aligned with those dense ids.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GnnrlError } from '../errors.js';
import { loadCsv } from './csv.js';
import type { CacheOption } from './cache.js';
import { movieLensFeatures, type MovieLensFeatureOptions } from './features.js';
import type { IdMap } from './idmap.js';
import { BadLines, type BadLinePolicy, type LoadedInteractions } from './io/builder.js';
import { idAt, numberAt, shown } from './io/fields.js';
import { formatError, scanFile, type Progress, type Row, type TextEncoding } from './io/scanner.js';
import type { ItemSide, UserSide } from './movielens-types.js';

export type { ItemSide, UserSide } from './movielens-types.js';
export type MovieLensFormat = '100k' | '1m' | 'latest';

export interface MovieLensOptions {
  /** Skip detection. */
  format?: MovieLensFormat;
  onBadLine?: BadLinePolicy;
  onWarning?: (err: GnnrlError) => void;
  /** Progress of the ratings file (the side files are small). */
  onProgress?: (p: Progress) => void;
  /** Build userFeatures/itemFeatures from the side files (default true); options pass through. */
  features?: boolean | MovieLensFeatureOptions;
  /** Binary cache for the ratings file (see cache.ts). */
  cache?: CacheOption;
}

export type MovieLensData = LoadedInteractions & {
  format: MovieLensFormat;
  users?: UserSide;
  items?: ItemSide;
  /** Malformed side-file lines dropped under onBadLine 'skip' | 'warn'. */
  sideSkipped: number;
};

/** The 19 genres of ML-100K in u.item column order (used when u.genre is absent). */
export const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

/** ML-1M occupation codes 0..20 (users.dat stores the code). */
export const ML1M_OCCUPATIONS = [
  'other', 'academic/educator', 'artist', 'clerical/admin', 'college/grad student', 'customer service',
  'doctor/health care', 'executive/managerial', 'farmer', 'homemaker', 'K-12 student', 'lawyer', 'programmer',
  'retired', 'sales/marketing', 'scientist', 'self-employed', 'technician/engineer', 'tradesman/craftsman',
  'unemployed', 'writer',
];

const MONTHS = /-(\d{4})$/;
const TITLE_YEAR = /\((\d{4})\)\s*$/;

/** Which MovieLens release a folder holds, from the files in it. */
export function detectMovieLens(dir: string): MovieLensFormat {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new GnnrlError('input', `loadMovieLens: ${dir} is not a directory`, { arg: 'dir', file: dir });
  }
  if (existsSync(join(dir, 'u.data'))) return '100k';
  if (existsSync(join(dir, 'ratings.dat'))) return '1m';
  if (existsSync(join(dir, 'ratings.csv'))) return 'latest';
  const found = readdirSync(dir).slice(0, 20).join(', ') || 'nothing';
  throw new GnnrlError(
    'input',
    `loadMovieLens: ${dir} holds no MovieLens ratings (expected u.data for 100K, ratings.dat for 1M, ratings.csv for latest/25M; found ${found})`,
    { arg: 'dir', file: dir },
  );
}

export async function loadMovieLens(dir: string, opts: MovieLensOptions = {}): Promise<MovieLensData> {
  const format = opts.format ?? detectMovieLens(dir);
  const common = { onBadLine: opts.onBadLine, onWarning: opts.onWarning, onProgress: opts.onProgress, cache: opts.cache };
  const policy = opts.onBadLine ?? 'error';
  let log: LoadedInteractions;
  let users: UserSide | undefined;
  let items: ItemSide | undefined;
  const bad = new BadLines(policy, opts.onWarning);
  if (format === '100k') {
    log = await loadCsv(join(dir, 'u.data'), {
      ...common,
      columns: { user: 0, item: 1, rating: 2, ts: 3 },
      delimiter: '\t',
      header: false,
      quote: false,
      encoding: 'latin1',
    });
    const occupations = await readVocab(join(dir, 'u.occupation'), false);
    const genres = (await readVocab(join(dir, 'u.genre'), true)) ?? ML100K_GENRES;
    const uf = join(dir, 'u.user');
    if (existsSync(uf)) users = await readUsers(uf, '|', 'latin1', log.userIds, bad, { occupationVocab: occupations, ageIsCode: false });
    const itf = join(dir, 'u.item');
    if (existsSync(itf)) items = await readItems100k(itf, log.itemIds, genres, bad);
  } else if (format === '1m') {
    log = await loadCsv(join(dir, 'ratings.dat'), {
      ...common,
      columns: { user: 0, item: 1, rating: 2, ts: 3 },
      delimiter: '::',
      header: false,
      quote: false,
      encoding: 'latin1',
    });
    const uf = join(dir, 'users.dat');
    if (existsSync(uf)) users = await readUsers(uf, '::', 'latin1', log.userIds, bad, { occupationVocab: ML1M_OCCUPATIONS, ageIsCode: true });
    const mf = join(dir, 'movies.dat');
    if (existsSync(mf)) items = await readMovies(mf, '::', 'latin1', false, log.itemIds, bad);
  } else if (format === 'latest') {
    log = await loadCsv(join(dir, 'ratings.csv'), {
      ...common,
      columns: { user: 'userId', item: 'movieId', rating: 'rating', ts: 'timestamp' },
    });
    const mf = join(dir, 'movies.csv');
    if (existsSync(mf)) items = await readMovies(mf, ',', 'utf8', true, log.itemIds, bad);
  } else {
    throw new GnnrlError('input', `format: expected '100k' | '1m' | 'latest', got ${JSON.stringify(format)}`, { arg: 'format' });
  }
  // Side files may have appended ids; every side column is then padded to the final size.
  const nUsers = log.userIds.size;
  const nItems = log.itemIds.size;
  const out: MovieLensData = { ...log, nUsers, nItems, format, sideSkipped: bad.skipped };
  if (users) out.users = padUsers(users, nUsers);
  if (items) out.items = padItems(items, nItems);
  if (opts.features !== false) {
    const f = movieLensFeatures(out, typeof opts.features === 'object' ? opts.features : {});
    if (f.userFeatures) out.userFeatures = f.userFeatures;
    if (f.itemFeatures) out.itemFeatures = f.itemFeatures;
  }
  return out;
}

/** u.occupation (one name a line) or u.genre (name|index); null when the file is absent. */
async function readVocab(file: string, pipe: boolean): Promise<string[] | null> {
  if (!existsSync(file)) return null;
  const names: string[] = [];
  await scanFile(file, { delimiter: pipe ? '|' : '', quote: false, encoding: 'latin1' }, (row) => {
    const name = row.text(0).trim();
    if (name) names.push(name);
  });
  return names;
}

/** Per-dense-id slots filled by a side file; a second row for the same id is a bad line. */
class Slots {
  readonly seenLine = new Map<number, number>();
  claim(id: number, row: Row, label: string, file: string, bad: BadLines, what: string): boolean {
    const prev = this.seenLine.get(id);
    if (prev !== undefined) {
      bad.report(formatError(label, file, row.line, `duplicate ${what} (first on line ${prev})`, 'id'));
      return false;
    }
    this.seenLine.set(id, row.line);
    return true;
  }
}

function denseId(ids: IdMap, row: Row, k: number): number {
  const v = idAt(row, k)!;
  return typeof v === 'number' ? ids.getOrAddInt(v) : ids.getOrAdd(v);
}

async function readUsers(
  file: string,
  delimiter: string,
  encoding: TextEncoding,
  userIds: IdMap,
  bad: BadLines,
  o: { occupationVocab: string[] | null; ageIsCode: boolean },
): Promise<UserSide> {
  const label = basename(file);
  const rows: { id: number; age: number; gender: string; occupation: string; zip: string }[] = [];
  const slots = new Slots();
  // 100K: id|age|gender|occupation|zip ; 1M: id::gender::age::occupation::zip
  const [ageCol, genderCol] = o.ageIsCode ? [2, 1] : [1, 2];
  await scanFile(file, { delimiter, quote: false, encoding, label }, (row) => {
    const fail = (msg: string, field?: string) => bad.report(formatError(label, file, row.line, msg, field));
    if (row.count !== 5) return fail(`expected 5 fields (id${delimiter}${o.ageIsCode ? 'gender' : 'age'}${delimiter}…${delimiter}zip), got ${row.count}`);
    if (row.fieldLength(0) === 0) return fail('column 1 (user id): expected an id, got an empty field', 'user');
    const age = numberAt(row, ageCol);
    if (age !== age) return fail(`column ${ageCol + 1} (age): expected a number, got ${shown(row.text(ageCol))}`, 'age');
    const gender = row.text(genderCol).trim();
    if (!gender) return fail(`column ${genderCol + 1} (gender): expected a value, got an empty field`, 'gender');
    const occupation = row.text(3).trim();
    if (o.ageIsCode) {
      const code = numberAt(row, 3);
      if (!(Number.isInteger(code) && code >= 0 && code < ML1M_OCCUPATIONS.length)) {
        return fail(`column 4 (occupation): expected a code 0..${ML1M_OCCUPATIONS.length - 1}, got ${shown(occupation)}`, 'occupation');
      }
    } else if (o.occupationVocab && !o.occupationVocab.includes(occupation)) {
      return fail(`column 4 (occupation): expected one of u.occupation, got ${shown(occupation)}`, 'occupation');
    }
    const id = denseId(userIds, row, 0);
    if (!slots.claim(id, row, label, file, bad, 'user id')) return;
    rows.push({ id, age, gender, occupation, zip: row.text(4).trim() });
  });
  const n = userIds.size;
  const genderVocab = [...new Set(rows.map((r) => r.gender))].sort();
  const occupationVocab = o.ageIsCode ? ML1M_OCCUPATIONS : (o.occupationVocab ?? [...new Set(rows.map((r) => r.occupation))].sort());
  const side: UserSide = {
    age: new Float32Array(n).fill(NaN),
    gender: new Int32Array(n).fill(-1),
    genderVocab,
    occupation: new Int32Array(n).fill(-1),
    occupationVocab,
    zip: new Array<string>(n).fill(''),
  };
  for (const r of rows) {
    side.age[r.id] = r.age;
    side.gender[r.id] = genderVocab.indexOf(r.gender);
    side.occupation[r.id] = o.ageIsCode ? Number(r.occupation) : occupationVocab.indexOf(r.occupation);
    side.zip[r.id] = r.zip;
  }
  return side;
}

async function readItems100k(file: string, itemIds: IdMap, genreVocab: string[], bad: BadLines): Promise<ItemSide> {
  const label = basename(file);
  const nGenres = genreVocab.length;
  const want = 5 + nGenres;
  const rows: { id: number; title: string; year: number; genres: number[] }[] = [];
  const slots = new Slots();
  await scanFile(file, { delimiter: '|', quote: false, encoding: 'latin1', label }, (row) => {
    const fail = (msg: string, field?: string) => bad.report(formatError(label, file, row.line, msg, field));
    if (row.count !== want) return fail(`expected ${want} fields (id|title|release date|video date|URL|${nGenres} genre flags), got ${row.count}`);
    if (row.fieldLength(0) === 0) return fail('column 1 (movie id): expected an id, got an empty field', 'item');
    const genres: number[] = [];
    for (let g = 0; g < nGenres; g++) {
      const f = numberAt(row, 5 + g);
      if (f !== 0 && f !== 1) return fail(`column ${6 + g} (genre ${genreVocab[g]}): expected 0 or 1, got ${shown(row.text(5 + g))}`, `genre=${genreVocab[g]}`);
      if (f === 1) genres.push(g);
    }
    const m = MONTHS.exec(row.text(2).trim());
    const id = denseId(itemIds, row, 0);
    if (!slots.claim(id, row, label, file, bad, 'movie id')) return;
    rows.push({ id, title: row.text(1), year: m ? Number(m[1]) : NaN, genres });
  });
  return buildItems(rows, itemIds.size, genreVocab);
}

async function readMovies(file: string, delimiter: string, encoding: TextEncoding, header: boolean, itemIds: IdMap, bad: BadLines): Promise<ItemSide> {
  const label = basename(file);
  const rows: { id: number; title: string; year: number; genreNames: string[] }[] = [];
  const slots = new Slots();
  let headerPending = header;
  await scanFile(file, { delimiter, quote: header, encoding, label }, (row) => {
    if (headerPending) {
      headerPending = false;
      return;
    }
    const fail = (msg: string, field?: string) => bad.report(formatError(label, file, row.line, msg, field));
    if (row.error) return fail(row.error);
    if (row.count !== 3) return fail(`expected 3 fields (movieId${delimiter}title${delimiter}genres), got ${row.count}`);
    if (row.fieldLength(0) === 0) return fail('column 1 (movie id): expected an id, got an empty field', 'item');
    const title = row.text(1);
    const g = row.text(2).trim();
    const genreNames = g === '' || g === '(no genres listed)' ? [] : g.split('|');
    const m = TITLE_YEAR.exec(title);
    const id = denseId(itemIds, row, 0);
    if (!slots.claim(id, row, label, file, bad, 'movie id')) return;
    rows.push({ id, title, year: m ? Number(m[1]) : NaN, genreNames });
  });
  const vocab = [...new Set(rows.flatMap((r) => r.genreNames))].sort();
  const index = new Map(vocab.map((v, k) => [v, k]));
  return buildItems(
    rows.map((r) => ({ ...r, genres: [...new Set(r.genreNames.map((n) => index.get(n)!))].sort((a, b) => a - b) })),
    itemIds.size,
    vocab,
  );
}

function buildItems(rows: { id: number; title: string; year: number; genres: number[] }[], n: number, genreVocab: string[]): ItemSide {
  const byId: ({ title: string; year: number; genres: number[] } | undefined)[] = new Array(n);
  for (const r of rows) byId[r.id] = r;
  const title = new Array<string>(n).fill('');
  const year = new Float32Array(n).fill(NaN);
  const genreOffsets = new Int32Array(n + 1);
  const genres: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = byId[i];
    if (r) {
      title[i] = r.title;
      year[i] = r.year;
      genres.push(...r.genres);
    }
    genreOffsets[i + 1] = genres.length;
  }
  return { title, year, genreOffsets, genres: Int32Array.from(genres), genreVocab };
}

function padUsers(u: UserSide, n: number): UserSide {
  if (u.age.length === n) return u;
  const age = new Float32Array(n).fill(NaN);
  age.set(u.age);
  const gender = new Int32Array(n).fill(-1);
  gender.set(u.gender);
  const occupation = new Int32Array(n).fill(-1);
  occupation.set(u.occupation);
  const zip = u.zip.concat(new Array<string>(n - u.zip.length).fill(''));
  return { ...u, age, gender, occupation, zip };
}

function padItems(it: ItemSide, n: number): ItemSide {
  const m = it.year.length;
  if (m === n) return it;
  const year = new Float32Array(n).fill(NaN);
  year.set(it.year);
  const genreOffsets = new Int32Array(n + 1).fill(it.genreOffsets[m]);
  genreOffsets.set(it.genreOffsets);
  return { ...it, title: it.title.concat(new Array<string>(n - m).fill('')), year, genreOffsets };
}
