/**
 * Generic delimited-text loaders (CSV, TSV, any one- or two-character delimiter) with a
 * column map: which columns hold the user, the item and optionally the rating and the
 * timestamp. Streaming, constant memory per row; see io/scanner.ts for the tokenizer.
 */
import { basename, resolve } from 'node:path';
import { GnnrlError } from '../errors.js';
import { BadLines, InteractionsBuilder, type BadLinePolicy, type LoadedInteractions } from './io/builder.js';
import { idAt, numberAt, shown, timestampAt } from './io/fields.js';
import { formatError, scanFile, type Progress, type Row, type TextEncoding } from './io/scanner.js';
import { cachedLoad, type CacheOption } from './cache.js';

/** A column by header name, or by 0-based index. */
export type ColumnRef = string | number;

export interface ColumnMap {
  user: ColumnRef;
  item: ColumnRef;
  /** Omit for implicit feedback: the result's `rating` is null. */
  rating?: ColumnRef;
  /** Omit when there is none: the result's `ts` is null. Numbers or ISO-8601 dates. */
  ts?: ColumnRef;
}

export interface CsvOptions {
  columns: ColumnMap;
  /** Default ','. Up to two characters ('::'). */
  delimiter?: string;
  /** Whether the first record names the columns. Default: true when any column is given by name. */
  header?: boolean;
  /** RFC 4180 quoting. Default true (false for `loadTsv`). */
  quote?: boolean;
  /** Default 'utf8' (validated); 'latin1' for old MovieLens-style files. */
  encoding?: TextEncoding;
  /** What a malformed record does: throw (default), drop silently, or drop with a warning. */
  onBadLine?: BadLinePolicy;
  /** Receives each warning under onBadLine 'warn' (default: process.emitWarning). */
  onWarning?: (err: GnnrlError) => void;
  onProgress?: (p: Progress) => void;
  /** Binary cache: true (next to the file, in .gnnrl-cache/) or a directory. See cache.ts. */
  cache?: CacheOption;
  /** Read size in bytes (default 4 MiB). */
  chunkSize?: number;
}

type Role = 'user' | 'item' | 'rating' | 'ts';
const ROLES: Role[] = ['user', 'item', 'rating', 'ts'];

/** Loads an interaction log from delimited text. */
export async function loadCsv(file: string, opts: CsvOptions): Promise<LoadedInteractions> {
  const o = normalizeOptions(opts, ',', true);
  return cachedLoad(file, opts.cache, { kind: 'delimited', ...o.key }, () => parseDelimited(file, o, opts));
}

/** `loadCsv` with a tab delimiter and quoting off by default. */
export async function loadTsv(file: string, opts: CsvOptions): Promise<LoadedInteractions> {
  return loadCsv(file, { ...opts, delimiter: opts.delimiter ?? '\t', quote: opts.quote ?? false });
}

interface Normalized {
  delimiter: string;
  header: boolean;
  quote: boolean;
  encoding: TextEncoding;
  policy: BadLinePolicy;
  columns: ColumnMap;
  key: Record<string, unknown>;
}

function normalizeOptions(opts: CsvOptions, defaultDelimiter: string, defaultQuote: boolean): Normalized {
  if (!opts || typeof opts !== 'object' || !opts.columns) {
    throw new GnnrlError('input', 'options.columns: expected { user, item, rating?, ts? } naming the columns', { arg: 'columns' });
  }
  const columns = opts.columns;
  for (const role of ROLES) {
    const c = columns[role];
    if (c === undefined && (role === 'rating' || role === 'ts')) continue;
    const ok = (typeof c === 'string' && c.length > 0) || (typeof c === 'number' && Number.isInteger(c) && c >= 0);
    if (!ok) throw new GnnrlError('input', `columns.${role}: expected a column name or a 0-based index, got ${JSON.stringify(c)}`, { arg: `columns.${role}` });
  }
  const byName = ROLES.some((r) => typeof columns[r] === 'string');
  const header = opts.header ?? byName;
  if (byName && !header) throw new GnnrlError('input', 'header: columns are given by name, so the file needs a header (header: true) or give 0-based indices', { arg: 'header' });
  const delimiter = opts.delimiter ?? defaultDelimiter;
  if (delimiter.length === 0 || delimiter.length > 2 || /["\r\n]/.test(delimiter)) {
    throw new GnnrlError('input', `delimiter: expected one or two characters other than quote, CR, LF; got ${JSON.stringify(delimiter)}`, { arg: 'delimiter' });
  }
  const encoding = opts.encoding ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'latin1') throw new GnnrlError('input', `encoding: expected 'utf8' or 'latin1', got ${JSON.stringify(encoding)}`, { arg: 'encoding' });
  const quote = opts.quote ?? defaultQuote;
  const policy = opts.onBadLine ?? 'error';
  const cols = { user: columns.user, item: columns.item, rating: columns.rating, ts: columns.ts };
  return { delimiter, header, quote, encoding, policy, columns: cols, key: { delimiter, header, quote, encoding, policy, columns: cols } };
}

async function parseDelimited(file: string, o: Normalized, opts: CsvOptions): Promise<LoadedInteractions> {
  const label = basename(file);
  const cols = o.columns;
  const b = new InteractionsBuilder(cols.rating !== undefined, cols.ts !== undefined);
  const bad = new BadLines(o.policy, opts.onWarning);
  // Resolved 0-based indices and the names messages use, per role (-1 = absent).
  const idx = { user: -1, item: -1, rating: -1, ts: -1 };
  const names = { user: '', item: '', rating: '', ts: '' };
  let headerFields = -1;
  let need = 0;
  const resolveIndices = (headerNames: string[] | null): void => {
    for (const role of ROLES) {
      const c = cols[role];
      if (c === undefined) continue;
      if (typeof c === 'number') {
        idx[role] = c;
        names[role] = headerNames && c < headerNames.length ? `"${headerNames[c]}"` : `${c + 1} (${role})`;
      } else {
        const k = headerNames!.indexOf(c);
        if (k < 0) {
          throw formatError(label, file, 1, `header has no column ${JSON.stringify(c)} for ${role} (columns: ${headerNames!.map((h) => JSON.stringify(h)).join(', ')})`, c);
        }
        idx[role] = k;
        names[role] = JSON.stringify(c);
      }
      need = Math.max(need, idx[role] + 1);
    }
  };
  if (!o.header) resolveIndices(null);
  let headerPending = o.header;
  const fail = (row: Row, message: string, field?: string): void => {
    bad.report(formatError(label, file, row.line, message, field));
  };

  const onRow = (row: Row): void => {
    if (headerPending) {
      headerPending = false;
      const hn: string[] = [];
      for (let k = 0; k < row.count; k++) hn.push(row.text(k).trim());
      headerFields = hn.length;
      resolveIndices(hn);
      return;
    }
    if (row.error) return fail(row, row.error);
    if (headerFields > 0 && row.count !== headerFields) {
      return fail(row, `expected ${headerFields} fields as in the header, got ${row.count}`);
    }
    if (row.count < need) return fail(row, `expected at least ${need} fields, got ${row.count}`);
    let r = 0;
    if (idx.rating >= 0) {
      r = numberAt(row, idx.rating);
      if (r !== r) return fail(row, `column ${names.rating}: expected a number, got ${shown(row.text(idx.rating))}`, 'rating');
    }
    let t = 0;
    if (idx.ts >= 0) {
      t = timestampAt(row, idx.ts);
      if (t !== t) return fail(row, `column ${names.ts}: expected a number or an ISO-8601 date, got ${shown(row.text(idx.ts))}`, 'ts');
    }
    const u = idAt(row, idx.user);
    if (u === undefined) return fail(row, `column ${names.user}: expected a user id, got an empty field`, 'user');
    const it = idAt(row, idx.item);
    if (it === undefined) return fail(row, `column ${names.item}: expected an item id, got an empty field`, 'item');
    b.user.push(typeof u === 'number' ? b.userIds.getOrAddInt(u) : b.userIds.getOrAdd(u));
    b.item.push(typeof it === 'number' ? b.itemIds.getOrAddInt(it) : b.itemIds.getOrAdd(it));
    if (b.rating) b.rating.push(r);
    if (b.ts) b.ts.push(t);
  };

  const summary = await scanFile(
    file,
    { delimiter: o.delimiter, quote: o.quote, encoding: o.encoding, chunkSize: opts.chunkSize, onProgress: opts.onProgress, rows: () => b.rows, label },
    onRow,
  );
  if (headerPending) throw formatError(label, file, undefined, 'no header line found');
  if (b.rows === 0 && bad.skipped === 0) throw formatError(label, file, undefined, 'no data rows (only a header)');
  return {
    ...b.finish(),
    report: { file: resolve(file), rows: b.rows, skipped: bad.skipped, skippedMessages: bad.messages, bytes: summary.bytes, fromCache: false },
  };
}
