/**
 * JSON Lines loader: one JSON object per line, fields picked by a column map.
 * Shares the chunked scanner (each line is one record) and the bad-line policy with
 * the CSV loader.
 */
import { basename, resolve } from 'node:path';
import { GnnrlError } from '../errors.js';
import { normalizeId } from './idmap.js';
import { cachedLoad, type CacheOption } from './cache.js';
import { BadLines, InteractionsBuilder, type BadLinePolicy, type LoadedInteractions } from './io/builder.js';
import { parseIsoSeconds, shown } from './io/fields.js';
import { formatError, scanFile, type Progress, type Row } from './io/scanner.js';

export interface JsonlOptions {
  /** Keys of each object; a dotted path ("event.user") reaches into nested objects. */
  columns: { user: string; item: string; rating?: string; ts?: string };
  onBadLine?: BadLinePolicy;
  onWarning?: (err: GnnrlError) => void;
  onProgress?: (p: Progress) => void;
  cache?: CacheOption;
  chunkSize?: number;
}

const NUMERIC = /^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$/;

export async function loadJsonl(file: string, opts: JsonlOptions): Promise<LoadedInteractions> {
  const c = opts?.columns;
  if (!c || typeof c.user !== 'string' || typeof c.item !== 'string') {
    throw new GnnrlError('input', 'options.columns: expected { user, item, rating?, ts? } naming object keys', { arg: 'columns' });
  }
  const policy = opts.onBadLine ?? 'error';
  const key = { kind: 'jsonl', columns: { user: c.user, item: c.item, rating: c.rating, ts: c.ts }, policy };
  return cachedLoad(file, opts.cache, key, () => parseJsonl(file, opts, policy));
}

function getter(path: string): (o: Record<string, unknown>) => unknown {
  const parts = path.split('.');
  return (o) => {
    if (path in o) return o[path];
    let v: unknown = o;
    for (const p of parts) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[p];
    }
    return v;
  };
}

function asNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
  return NaN;
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing (missing key)' : typeof v === 'string' ? shown(v) : shown(JSON.stringify(v));
}

async function parseJsonl(file: string, opts: JsonlOptions, policy: BadLinePolicy): Promise<LoadedInteractions> {
  const label = basename(file);
  const c = opts.columns;
  const b = new InteractionsBuilder(c.rating !== undefined, c.ts !== undefined);
  const bad = new BadLines(policy, opts.onWarning);
  const gUser = getter(c.user);
  const gItem = getter(c.item);
  const gRating = c.rating ? getter(c.rating) : null;
  const gTs = c.ts ? getter(c.ts) : null;
  const fail = (row: Row, msg: string, field?: string): void => bad.report(formatError(label, file, row.line, msg, field));
  const onRow = (row: Row): void => {
    const text = row.text(0);
    if (text.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (err) {
      return fail(row, `expected a JSON object, got invalid JSON (${(err as Error).message})`);
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return fail(row, `expected a JSON object, got ${shown(text)}`);
    const obj = o as Record<string, unknown>;
    let r = 0;
    if (gRating) {
      const v = gRating(obj);
      r = asNumber(v);
      if (r !== r) return fail(row, `field "${c.rating}": expected a number, got ${describe(v)}`, c.rating);
    }
    let t = 0;
    if (gTs) {
      const v = gTs(obj);
      t = typeof v === 'string' && !NUMERIC.test(v) ? parseIsoSeconds(v) : asNumber(v);
      if (t !== t) return fail(row, `field "${c.ts}": expected a number or an ISO-8601 date, got ${describe(v)}`, c.ts);
    }
    const uv = gUser(obj);
    const u = normalizeId(uv);
    if (u === undefined) return fail(row, `field "${c.user}": expected a user id (string or number), got ${describe(uv)}`, c.user);
    const iv = gItem(obj);
    const it = normalizeId(iv);
    if (it === undefined) return fail(row, `field "${c.item}": expected an item id (string or number), got ${describe(iv)}`, c.item);
    b.user.push(b.userIds.getOrAdd(u));
    b.item.push(b.itemIds.getOrAdd(it));
    if (b.rating) b.rating.push(r);
    if (b.ts) b.ts.push(t);
  };
  const summary = await scanFile(
    file,
    { delimiter: '', quote: false, encoding: 'utf8', chunkSize: opts.chunkSize, onProgress: opts.onProgress, rows: () => b.rows, label },
    onRow,
  );
  return {
    ...b.finish(),
    report: { file: resolve(file), rows: b.rows, skipped: bad.skipped, skippedMessages: bad.messages, bytes: summary.bytes, fromCache: false },
  };
}
