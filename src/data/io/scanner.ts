/**
 * The byte-level record scanner every text loader shares. It reads a file in chunks
 * (constant memory: one chunk plus the longest record), splits records and fields
 * without building strings, and hands each record to a callback as offsets into the
 * chunk. Field values are decoded lazily by the caller (`Row`), so numeric columns are
 * parsed straight from bytes.
 *
 * Quoting follows RFC 4180 when enabled: a field that starts with `"` runs to the next
 * lone `"`, `""` inside it is one quote, and delimiters, CR and LF inside are data.
 * Records end at LF; a CR right before it is dropped. Blank lines are skipped (they
 * still count for line numbers).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { basename } from 'node:path';
import { GnnrlError } from '../../errors.js';

export type TextEncoding = 'utf8' | 'latin1';

export interface Progress {
  /** Bytes read from the file so far. */
  bytes: number;
  totalBytes: number;
  /** Records accepted so far. */
  rows: number;
}

export interface ScanOptions {
  /** Field delimiter; '' reads each line as one field (JSONL). May be several bytes ('::'). */
  delimiter: string;
  /** RFC 4180 quoting; off for the MovieLens 100K/1M formats, whose titles hold stray quotes. */
  quote: boolean;
  encoding: TextEncoding;
  /** Read size in bytes (default 4 MiB); records longer than this grow the buffer. */
  chunkSize?: number;
  onProgress?: (p: Progress) => void;
  /** Current accepted-row count, for progress reports. */
  rows?: () => number;
  /** Name used by messages (default: the file's base name). */
  label?: string;
}

const LF = 10;
const CR = 13;
const QUOTE = 34;

/** One record: fields are byte ranges into `buf`, valid only during the callback. */
export class Row {
  buf: Buffer = Buffer.alloc(0);
  starts = new Int32Array(16);
  ends = new Int32Array(16);
  /** 0 plain, 1 quoted, 2 quoted with escaped quotes inside. */
  flags = new Uint8Array(16);
  count = 0;
  /** 1-based line on which the record starts. */
  line = 0;
  /** Set when the record is malformed at the token level (stray quote). */
  error: string | null = null;

  constructor(readonly encoding: TextEncoding) {}

  text(k: number): string {
    const s = this.buf.toString(this.encoding, this.starts[k], this.ends[k]);
    return this.flags[k] === 2 ? s.replace(/""/g, '"') : s;
  }

  /** Byte length of field k (quotes excluded). */
  fieldLength(k: number): number {
    return this.ends[k] - this.starts[k];
  }

  push(s: number, e: number, flag: number): void {
    const k = this.count;
    if (k === this.starts.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, C: new (n: number) => T): T => {
        const b = new C(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts, Int32Array);
      this.ends = grow(this.ends, Int32Array);
      this.flags = grow(this.flags, Uint8Array);
    }
    this.starts[k] = s;
    this.ends[k] = e;
    this.flags[k] = flag;
    this.count = k + 1;
  }
}

/** Where the file ended: byte and line counts, for reports. */
export interface ScanSummary {
  bytes: number;
  lines: number;
}

export function formatError(label: string, file: string, line: number | undefined, message: string, field?: string): GnnrlError {
  const where = line === undefined ? label : `${label}:${line}`;
  return new GnnrlError('format', `${where}: ${message}`, { file, line, field });
}

/** Opens `file` for reading, turning the usual failures into messages that say what to do. */
export async function openForRead(file: string, what: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GnnrlError('input', `${what}: file not found: ${file}`, { file, arg: 'file', cause: err });
    if (code === 'EACCES') throw new GnnrlError('input', `${what}: permission denied reading ${file}`, { file, arg: 'file', cause: err });
    throw new GnnrlError('input', `${what}: cannot open ${file}: ${(err as Error).message}`, { file, arg: 'file', cause: err });
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new GnnrlError('input', `${what}: ${file} is not a regular file${st.isDirectory() ? ' (it is a directory)' : ''}`, { file, arg: 'file' });
  }
  return { fh, size: st.size };
}

/**
 * Scans `file`, calling `onRow` for every non-blank record. Throws `format` errors for
 * an empty file, a UTF-16 file, invalid UTF-8 (when encoding is utf8) and an
 * unterminated quote; everything row-level is left to the caller via `row.error`.
 */
export async function scanFile(file: string, opts: ScanOptions, onRow: (row: Row) => void): Promise<ScanSummary> {
  const label = opts.label ?? basename(file);
  const { fh, size } = await openForRead(file, label);
  try {
    if (size === 0) throw formatError(label, file, undefined, 'empty file (0 bytes)');
    const scanner = new Scanner(opts, label, file, onRow);
    let buf = Buffer.allocUnsafe(Math.max(64, opts.chunkSize ?? 4 << 20));
    let filled = 0;
    let start = 0;
    let validated = 0;
    let total = 0;
    let first = true;
    for (;;) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, null);
      const eof = bytesRead === 0;
      filled += bytesRead;
      total += bytesRead;
      if (first) {
        if (filled < 3 && !eof) continue; // need the first bytes to look for a BOM
        first = false;
        start = skipBom(buf, filled, label, file);
        validated = start;
      }
      if (opts.encoding === 'utf8') {
        // Validate up to the last LF: UTF-8 sequences never contain 0x0A, so that cut is
        // always on a character boundary.
        const lim = eof ? filled : buf.lastIndexOf(LF, filled - 1) + 1;
        if (lim > validated) {
          if (!isUtf8(buf.subarray(validated, lim))) throw await locateBadUtf8(file, label);
          validated = lim;
        }
      }
      const next = scanner.scan(buf, start, filled, eof);
      opts.onProgress?.({ bytes: total, totalBytes: size, rows: opts.rows ? opts.rows() : scanner.records });
      if (eof) break;
      buf.copy(buf, 0, next, filled);
      filled -= next;
      validated = Math.max(0, validated - next);
      start = 0;
    }
    if (scanner.records === 0) {
      throw formatError(label, file, undefined, 'empty file (no records, only blank lines or a byte-order mark)');
    }
    return { bytes: total, lines: scanner.line - 1 };
  } finally {
    await fh.close();
  }
}

function skipBom(buf: Buffer, filled: number, label: string, file: string): number {
  if (filled >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) return 3;
  if (filled >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) {
    throw formatError(label, file, 1, 'the file is UTF-16 (byte-order mark found); save it as UTF-8');
  }
  return 0;
}

/** Slow path, taken only after validation failed: finds the first bad line and byte. */
async function locateBadUtf8(file: string, label: string): Promise<GnnrlError> {
  const { fh } = await openForRead(file, label);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let carry = Buffer.alloc(0);
    let line = 1;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      const data = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      let s = 0;
      for (;;) {
        const nl = data.indexOf(LF, s);
        const e = nl < 0 ? (bytesRead === 0 ? data.length : -1) : nl;
        if (e < 0) break;
        const lineBytes = data.subarray(s, e);
        if (!isUtf8(lineBytes)) {
          let col = 0;
          while (col < lineBytes.length && isUtf8(lineBytes.subarray(0, col + 1))) col++;
          // `col` stops at the first byte that cannot start or continue a valid prefix.
          const bad = lineBytes[Math.min(col, lineBytes.length - 1)];
          return formatError(
            label,
            file,
            line,
            `invalid UTF-8 (byte 0x${bad.toString(16).toUpperCase().padStart(2, '0')} at byte ${col + 1} of the line); ` +
              `the file is not UTF-8 — if it is latin-1 (ISO-8859-1), pass { encoding: 'latin1' }`,
          );
        }
        line++;
        s = e + 1;
        if (nl < 0) break;
      }
      if (bytesRead === 0) break;
      carry = Buffer.from(data.subarray(s));
    }
    return formatError(label, file, undefined, 'invalid UTF-8');
  } finally {
    await fh.close();
  }
}

class Scanner {
  /** Line number of the next record's first byte. */
  line = 1;
  records = 0;
  private readonly row: Row;
  private readonly d0: number;
  private readonly d1: number;
  private readonly dlen: number;

  constructor(
    private readonly opts: ScanOptions,
    private readonly label: string,
    private readonly file: string,
    private readonly onRow: (row: Row) => void,
  ) {
    this.row = new Row(opts.encoding);
    const d = Buffer.from(opts.delimiter, 'latin1');
    if (d.length > 2) throw new GnnrlError('input', `delimiter: expected at most 2 characters, got ${JSON.stringify(opts.delimiter)}`, { arg: 'delimiter' });
    this.dlen = d.length;
    this.d0 = d.length > 0 ? d[0] : -1;
    this.d1 = d.length > 1 ? d[1] : -1;
  }

  /**
   * Scans complete records in buf[pos, end). Returns the offset of the first record that
   * is not complete yet (to be carried into the next chunk); at eof, everything is used.
   */
  scan(buf: Buffer, pos: number, end: number, eof: boolean): number {
    const row = this.row;
    row.buf = buf;
    const quote = this.opts.quote;
    const d0 = this.d0;
    const d1 = this.d1;
    const two = this.dlen === 2;
    while (pos < end) {
      const rowStart = pos;
      let i = pos;
      let fieldStart = pos;
      let inner = 0; // LFs inside quoted fields of this record
      let qs = -1; // quoted field's content range, when the current field was quoted
      let qe = -1;
      let qflag = 0;
      row.count = 0;
      row.error = null;
      let done = false;
      while (!done) {
        if (i >= end) {
          if (!eof) return rowStart;
          // Last record without a trailing newline.
          if (qs >= 0) row.push(qs, qe, qflag);
          else row.push(fieldStart, i, 0);
          pos = end;
          done = true;
          break;
        }
        const c = buf[i];
        if (c === LF) {
          if (qs >= 0) row.push(qs, qe, qflag);
          else row.push(fieldStart, i > fieldStart && buf[i - 1] === CR ? i - 1 : i, 0);
          pos = i + 1;
          done = true;
        } else if (c === d0 && (!two || i + 1 >= end || buf[i + 1] === d1)) {
          if (two && i + 1 >= end) {
            if (!eof) return rowStart; // cannot tell "::" from ":" yet
            i++; // a lone first delimiter byte at the very end is data
            continue;
          }
          if (qs >= 0) row.push(qs, qe, qflag);
          else row.push(fieldStart, i, 0);
          qs = -1;
          i += two ? 2 : 1;
          fieldStart = i;
        } else if (qs >= 0) {
          // Only CR (before LF) may follow a closing quote.
          if (c !== CR && !row.error) {
            row.error = `unexpected character ${JSON.stringify(String.fromCharCode(c))} after a closing quote (a quote inside a quoted field must be doubled: "")`;
          }
          i++;
        } else if (c === QUOTE && quote && i === fieldStart) {
          let j = i + 1;
          let flag = 1;
          for (;;) {
            if (j >= end) {
              if (!eof) return rowStart;
              throw formatError(this.label, this.file, this.line, 'unterminated quoted field (a field opened with " never closes)');
            }
            const cj = buf[j];
            if (cj === QUOTE) {
              if (j + 1 >= end && !eof) return rowStart; // "" or a closing quote? need the next byte
              if (j + 1 < end && buf[j + 1] === QUOTE) {
                flag = 2;
                j += 2;
                continue;
              }
              break;
            }
            if (cj === LF) inner++;
            j++;
          }
          qs = i + 1;
          qe = j;
          qflag = flag;
          i = j + 1;
        } else {
          i++;
        }
      }
      const line = this.line;
      this.line += 1 + inner;
      // A blank line is one empty unquoted field: skip it.
      if (row.count === 1 && row.flags[0] === 0 && row.ends[0] === row.starts[0]) continue;
      row.line = line;
      this.records++;
      this.onRow(row);
    }
    return pos;
  }
}
