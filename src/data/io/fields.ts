/**
 * Field decoding for the loaders: numbers, timestamps and ids straight from the bytes
 * of a `Row` where the field is plain ASCII (the common case, no string is built), and
 * through a string otherwise.
 */
import type { ExternalId } from '../idmap.js';
import type { Row } from './scanner.js';

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const NUMBER_TEXT = /^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$/;
const ISO_DATE = /^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$/i;

/**
 * Decimal number in field k, or NaN. The fast path handles `-?digits(.digits)?` with at
 * most 15 significant digits exactly (integer / power of ten is one correctly rounded
 * division, the same double `Number()` gives); anything else goes through a strict
 * regular expression (no hex, no "Infinity", no empty field) and `Number()`.
 */
export function numberAt(row: Row, k: number): number {
  const buf = row.buf;
  let i = row.starts[k];
  const e = row.ends[k];
  if (i < e && row.flags[k] !== 2) {
    let neg = false;
    if (buf[i] === 45) {
      neg = true;
      i++;
    }
    let v = 0;
    let digits = 0;
    let frac = -1;
    for (; i < e; i++) {
      const c = buf[i] - 48;
      if (c >= 0 && c <= 9) {
        v = v * 10 + c;
        digits++;
        if (frac >= 0) frac++;
      } else if (c === -2 && frac < 0) {
        frac = 0; // '.'
      } else break;
    }
    if (i === e && digits > 0 && digits <= 15 && frac !== 0) {
      if (frac > 0) v /= POW10[frac];
      return neg ? -v : v;
    }
  }
  const s = row.text(k);
  return NUMBER_TEXT.test(s) ? Number(s) : NaN;
}

/**
 * Timestamp in field k, in seconds: a number is taken as is (MovieLens files hold unix
 * seconds); an ISO-8601 date or date-time becomes seconds since the epoch. A date-time
 * without a zone is read as UTC (JavaScript would read it as local time, which would
 * make the same file load differently on different machines). NaN when neither.
 */
export function timestampAt(row: Row, k: number): number {
  const v = numberAt(row, k);
  if (v === v) return v;
  return parseIsoSeconds(row.text(k));
}

export function parseIsoSeconds(s: string): number {
  const m = ISO_DATE.exec(s);
  if (!m) return NaN;
  let t = s.trim().replace(' ', 'T');
  if (t.length > 10 && m[1] === undefined) t += 'Z';
  const ms = Date.parse(t);
  return ms === ms ? ms / 1000 : NaN;
}

/**
 * Id in field k, normalised like `normalizeId`: a canonical non-negative integer comes
 * back as a number (parsed from bytes), anything else as its text; `undefined` when
 * the field is empty.
 */
export function idAt(row: Row, k: number): ExternalId | undefined {
  const buf = row.buf;
  const s = row.starts[k];
  const e = row.ends[k];
  const len = e - s;
  if (len === 0) return undefined;
  if (len <= 15 && row.flags[k] !== 2 && (buf[s] !== 48 || len === 1)) {
    let v = 0;
    let i = s;
    for (; i < e; i++) {
      const c = buf[i] - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
    }
    if (i === e) return v;
  }
  return row.text(k);
}

/** Text of a field for an error message: quoted, shortened past 40 characters. */
export function shown(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}
