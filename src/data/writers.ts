/**
 * Writers for the formats the loaders read (CSV/TSV/JSONL and the three MovieLens
 * layouts). Tests build their fixtures with them and the bench writes its large CSV
 * with them. Every file is written atomically (temporary file, then rename).
 */
import { join } from 'node:path';
import { GnnrlError } from '../errors.js';
import type { ExternalId } from './idmap.js';
import type { Interactions } from './interactions.js';
import { AtomicWriter } from './io/atomic.js';
import type { ItemSide, UserSide } from './movielens-types.js';
import { ML100K_GENRES, ML1M_OCCUPATIONS, type MovieLensFormat } from './movielens.js';

export interface CsvWriteOptions {
  delimiter?: string;
  /** Write a header line (default true). */
  header?: boolean;
  /** Header names (defaults user,item,rating,ts). */
  columns?: { user?: string; item?: string; rating?: string; ts?: string };
  /** 'number' (default) writes ts as is; 'iso' writes ISO-8601 UTC from seconds. */
  tsFormat?: 'number' | 'iso';
  /** RFC 4180 quoting where a field needs it (default true; false makes such a field an error). */
  quote?: boolean;
  encoding?: 'utf8' | 'latin1';
}

/** Shortest decimal that reads back as the same float32 (3.5, not 3.5000000000). */
export function formatFloat32(v: number): string {
  if (Number.isInteger(v)) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

function isoFromSeconds(t: number): string {
  return new Date(t * 1000).toISOString();
}

function fieldWriter(delimiter: string, quote: boolean, file: string): (v: string, what: string) => string {
  return (v, what) => {
    if (v.includes(delimiter) || v.includes('"') || v.includes('\n') || v.includes('\r')) {
      if (!quote) {
        throw new GnnrlError('input', `${file}: ${what} ${JSON.stringify(v)} contains the delimiter, a quote or a newline and quoting is off`, { file, field: what });
      }
      return `"${v.replace(/"/g, '""')}"`;
    }
    return v;
  };
}

export async function writeCsv(file: string, x: Interactions, opts: CsvWriteOptions = {}): Promise<void> {
  const d = opts.delimiter ?? ',';
  const q = fieldWriter(d, opts.quote ?? true, file);
  const names = { user: 'user', item: 'item', rating: 'rating', ts: 'ts', ...opts.columns };
  const w = await AtomicWriter.open(file, opts.encoding ?? 'utf8');
  try {
    if (opts.header ?? true) {
      const h = [q(names.user, 'header'), q(names.item, 'header')];
      if (x.rating) h.push(q(names.rating, 'header'));
      if (x.ts) h.push(q(names.ts, 'header'));
      await w.write(h.join(d) + '\n');
    }
    const uid = idTexts(x.userIds.ids(), q, 'user id');
    const iid = idTexts(x.itemIds.ids(), q, 'item id');
    const iso = opts.tsFormat === 'iso';
    const n = x.user.length;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      let line = uid[x.user[i]] + d + iid[x.item[i]];
      if (x.rating) line += d + formatFloat32(x.rating[i]);
      if (x.ts) line += d + (iso ? isoFromSeconds(x.ts[i]) : String(x.ts[i]));
      lines.push(line);
      if (lines.length === 4096) {
        await w.write(lines.join('\n') + '\n');
        lines.length = 0;
      }
    }
    if (lines.length) await w.write(lines.join('\n') + '\n');
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}

export async function writeTsv(file: string, x: Interactions, opts: CsvWriteOptions = {}): Promise<void> {
  return writeCsv(file, x, { ...opts, delimiter: opts.delimiter ?? '\t', quote: opts.quote ?? false });
}

function idTexts(ids: ExternalId[], q: (v: string, what: string) => string, what: string): string[] {
  return ids.map((v) => q(String(v), what));
}

export async function writeJsonl(
  file: string,
  x: Interactions,
  opts: { columns?: { user?: string; item?: string; rating?: string; ts?: string }; tsFormat?: 'number' | 'iso' } = {},
): Promise<void> {
  const names = { user: 'user', item: 'item', rating: 'rating', ts: 'ts', ...opts.columns };
  const w = await AtomicWriter.open(file);
  try {
    const uid = x.userIds.ids();
    const iid = x.itemIds.ids();
    for (let i = 0; i < x.user.length; i++) {
      const o: Record<string, unknown> = { [names.user]: uid[x.user[i]], [names.item]: iid[x.item[i]] };
      if (x.rating) o[names.rating] = Number(formatFloat32(x.rating[i]));
      if (x.ts) o[names.ts] = opts.tsFormat === 'iso' ? isoFromSeconds(x.ts[i]) : x.ts[i];
      await w.write(JSON.stringify(o) + '\n');
    }
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}

export interface MovieLensWriteOptions {
  format: MovieLensFormat;
  users?: UserSide;
  items?: ItemSide;
}

/**
 * Writes `x` (and side data, when given) in a MovieLens layout. Ratings need a
 * timestamp column; a log without ts gets 0. 100K/1M files are latin-1 like the
 * originals, so text outside latin-1 is refused.
 */
export async function writeMovieLens(dir: string, x: Interactions, opts: MovieLensWriteOptions): Promise<void> {
  const { format } = opts;
  if (format !== '100k' && format !== '1m' && format !== 'latest') {
    throw new GnnrlError('input', `format: expected '100k' | '1m' | 'latest', got ${JSON.stringify(format)}`, { arg: 'format' });
  }
  const uid = x.userIds.ids();
  const iid = x.itemIds.ids();
  const latin1 = format !== 'latest';
  const enc = latin1 ? 'latin1' : 'utf8';
  const d = format === '100k' ? '\t' : format === '1m' ? '::' : ',';
  const plain = (v: string, what: string, delim: string): string => {
    if (v.includes(delim) || v.includes('\n') || v.includes('\r')) {
      throw new GnnrlError('input', `writeMovieLens: ${what} ${JSON.stringify(v)} contains ${JSON.stringify(delim)} or a newline`, { field: what });
    }
    if (latin1 && /[^\u0000-\u00ff]/.test(v)) {
      throw new GnnrlError('input', `writeMovieLens: ${what} ${JSON.stringify(v)} is not latin-1 (the ${format} format is latin-1)`, { field: what });
    }
    return v;
  };
  const csvq = fieldWriter(',', true, 'movies.csv');
  const lines: string[] = [];
  if (format === 'latest') lines.push('userId,movieId,rating,timestamp');
  for (let i = 0; i < x.user.length; i++) {
    const r = x.rating ? formatFloat32(x.rating[i]) : '1';
    const t = x.ts ? String(x.ts[i]) : '0';
    const u = format === 'latest' ? csvq(String(uid[x.user[i]]), 'user id') : plain(String(uid[x.user[i]]), 'user id', d);
    const it = format === 'latest' ? csvq(String(iid[x.item[i]]), 'item id') : plain(String(iid[x.item[i]]), 'item id', d);
    lines.push([u, it, r, t].join(d));
  }
  const ratingsFile = format === '100k' ? 'u.data' : format === '1m' ? 'ratings.dat' : 'ratings.csv';
  await writeLines(join(dir, ratingsFile), lines, enc);

  if (opts.users && format !== 'latest') {
    const u = opts.users;
    if (format === '1m' && u.occupationVocab.length > ML1M_OCCUPATIONS.length) {
      throw new GnnrlError('input', 'writeMovieLens: ML-1M users.dat stores occupation codes 0..20', { field: 'occupation' });
    }
    const out: string[] = [];
    for (let k = 0; k < u.age.length && k < uid.length; k++) {
      if (u.gender[k] < 0) continue; // no side row for this user
      const gender = plain(u.genderVocab[u.gender[k]], 'gender', d === '\t' ? '|' : d);
      const age = Number.isNaN(u.age[k]) ? '0' : String(u.age[k]);
      if (format === '100k') {
        const occ = plain(u.occupationVocab[u.occupation[k]] ?? 'other', 'occupation', '|');
        out.push([uid[k], age, gender, occ, plain(u.zip[k], 'zip', '|')].join('|'));
      } else {
        out.push([uid[k], gender, age, String(Math.max(0, u.occupation[k])), plain(u.zip[k], 'zip', '::')].join('::'));
      }
    }
    await writeLines(join(dir, format === '100k' ? 'u.user' : 'users.dat'), out, enc);
    if (format === '100k') await writeLines(join(dir, 'u.occupation'), u.occupationVocab, enc);
  }
  if (opts.items) {
    const it = opts.items;
    const out: string[] = [];
    if (format === 'latest') out.push('movieId,title,genres');
    const genreVocab = it.genreVocab;
    for (let k = 0; k < it.title.length && k < iid.length; k++) {
      const g: number[] = Array.from(it.genres.subarray(it.genreOffsets[k], it.genreOffsets[k + 1]));
      if (format === '100k') {
        const flags = genreVocab.map((_, j) => (g.includes(j) ? '1' : '0'));
        const date = Number.isNaN(it.year[k]) ? '' : `01-Jan-${it.year[k]}`;
        out.push([String(iid[k]), plain(it.title[k], 'title', '|'), date, '', '', ...flags].join('|'));
      } else {
        const names = g.map((j) => genreVocab[j]).join('|');
        if (format === '1m') out.push([String(iid[k]), plain(it.title[k], 'title', '::'), names].join('::'));
        else out.push([csvq(String(iid[k]), 'movie id'), csvq(it.title[k], 'title'), csvq(names || '(no genres listed)', 'genres')].join(','));
      }
    }
    const name = format === '100k' ? 'u.item' : format === '1m' ? 'movies.dat' : 'movies.csv';
    await writeLines(join(dir, name), out, enc);
    if (format === '100k' && genreVocab !== ML100K_GENRES) {
      await writeLines(join(dir, 'u.genre'), genreVocab.map((gname, j) => `${gname}|${j}`), enc);
    }
  }
}

async function writeLines(file: string, lines: string[], encoding: 'utf8' | 'latin1'): Promise<void> {
  const w = await AtomicWriter.open(file, encoding);
  try {
    for (let i = 0; i < lines.length; i += 4096) await w.write(lines.slice(i, i + 4096).join('\n') + '\n');
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}
