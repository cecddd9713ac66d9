/**
 * Pretrained vectors ("large-model features": text or image embeddings of items, profile
 * embeddings of users) from the files other tools write: NumPy `.npy`, `.safetensors`
 * and JSON lines. `readVectors` parses a file into one float32 table; `alignVectors`
 * puts its rows in the order of an environment's ids; `writeNpy` exports a table.
 *
 * Errors: a file that does not parse is a `format` error whose message starts with the
 * file's name (and line, for JSON lines), details `{ file, line?, field? }`. A file that
 * parses but does not fit what it is used for (duplicate ids, ids missing, row counts
 * that differ, an unknown extension, an option that does not apply) is an `input` error,
 * also naming the file, details `{ file, field?, arg? }`.
 *
 * Conventions:
 * - ids of a `.safetensors` file: a `__metadata__` entry `"ids"` whose value is a JSON
 *   array of strings (safetensors metadata values are strings, so the array is itself
 *   JSON text: `{"__metadata__": {"ids": "[\"a\",\"b\"]"}}`). Numbers in it are taken
 *   as `String(n)`. `opts.idsFile` overrides it.
 * - big-endian `.npy` data (`>f4`, `>f8`, `>f2`) is converted, not refused.
 * - non-finite values (NaN, ±Infinity) are refused in every format, naming row and column.
 * - `.npy` / `.safetensors` data is read as a typed-array view of the file where its
 *   offset is aligned and no conversion is needed (float32, host byte order), and copied
 *   into an aligned buffer otherwise; no JS array of numbers is ever built for it.
 */
import { createInterface } from 'node:readline';
import { basename, extname } from 'node:path';
import { endianness } from 'node:os';
import { GnnrlError, check } from '../errors.js';
import { AtomicWriter } from './io/atomic.js';
import { formatError, openForRead } from './io/scanner.js';

export type VectorFormat = 'npy' | 'safetensors' | 'jsonl';

export interface VectorTable {
  /** The path as given to `readVectors`. */
  file: string;
  dim: number;
  /** Row ids, or null when the file carries none (rows are then matched by position). */
  ids: string[] | null;
  /** rows × dim, row-major. */
  vectors: Float32Array;
  format: VectorFormat;
}

export interface ReadVectorsOptions {
  /** The tensor to read from a `.safetensors` file holding several. */
  tensor?: string;
  /** A text file with one id per line, for `.npy` / `.safetensors` (count must equal the rows). */
  idsFile?: string;
}

export interface AlignWant {
  /** The environment's ids, in its index order. */
  ids: ArrayLike<string>;
  /** Names the ids in messages. */
  what: 'items' | 'users';
  /** Leave rows of ids the file lacks zero (their indices come back in `missing`) instead of failing. */
  allowMissing?: boolean;
}

const EXTENSIONS: Record<string, VectorFormat> = { '.npy': 'npy', '.safetensors': 'safetensors', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };
const SHOW = 5;
const HOST_LE = endianness() === 'LE';

/** Reads pretrained vectors; the format comes from the extension (.npy, .safetensors, .jsonl / .ndjson). */
export async function readVectors(file: string, opts: ReadVectorsOptions = {}): Promise<VectorTable> {
  const label = basename(file);
  const format = EXTENSIONS[extname(file).toLowerCase()];
  if (!format) {
    throw new GnnrlError(
      'input',
      `${label}: unknown vector file extension ${JSON.stringify(extname(file))}; expected .npy, .safetensors, .jsonl or .ndjson`,
      { file, arg: 'file' },
    );
  }
  if (opts.tensor !== undefined && format !== 'safetensors') {
    throw new GnnrlError('input', `${label}: option tensor applies only to .safetensors files`, { file, arg: 'tensor' });
  }
  if (opts.idsFile !== undefined && format === 'jsonl') {
    throw new GnnrlError('input', `${label}: option idsFile applies only to .npy and .safetensors files (JSON lines carry their ids)`, { file, arg: 'idsFile' });
  }

  let table: VectorTable;
  if (format === 'jsonl') {
    table = await readJsonl(file, label);
  } else {
    const bytes = await readWhole(file, label);
    const parsed = format === 'npy' ? parseNpy(bytes, file, label) : parseSafetensors(bytes, file, label, opts.tensor);
    table = { file, dim: parsed.dim, ids: parsed.ids, vectors: parsed.vectors, format };
  }
  checkFinite(table, label);

  if (opts.idsFile !== undefined) {
    const { ids, lines } = await readIdsFile(opts.idsFile);
    const rows = rowCount(table);
    if (ids.length !== rows) {
      throw new GnnrlError(
        'input',
        `${label}: has ${rows} rows but ids file ${basename(opts.idsFile)} has ${ids.length} ids; they must match one to one`,
        { file, field: 'ids', arg: 'idsFile' },
      );
    }
    checkUnique(ids, (i) => `line ${lines[i]}`, `${label}: ids file ${basename(opts.idsFile)}`, opts.idsFile);
    table.ids = ids;
  } else if (table.ids) {
    const rows = rowCount(table);
    if (table.ids.length !== rows) {
      throw new GnnrlError('input', `${label}: __metadata__ "ids" has ${table.ids.length} ids but the tensor has ${rows} rows`, { file, field: 'ids' });
    }
    if (format === 'safetensors') checkUnique(table.ids, (i) => `row ${i}`, `${label}: __metadata__ "ids"`, file);
  }
  return table;
}

/**
 * Returns the table's rows in the order of `want.ids` (want.ids.length × dim, a new array).
 * With ids, rows are matched by id; without, the row count must equal want.ids.length and
 * rows are taken in order.
 */
export function alignVectors(table: VectorTable, want: AlignWant): { vectors: Float32Array; missing: number[] } {
  const { file, dim } = table;
  const label = basename(file);
  check(Number.isInteger(dim) && dim > 0, 'table.dim', 'a positive integer');
  check(table.vectors.length % dim === 0, 'table.vectors', `a length that is a multiple of dim ${dim}, got ${table.vectors.length}`);
  const rows = table.vectors.length / dim;
  const n = want.ids.length;
  const what = want.what;

  if (!table.ids) {
    if (rows !== n) {
      const extra = n > rows ? ` ${n - rows} ${what} have no row: ${listIds(want.ids, range(rows, Math.min(n, rows + SHOW)), n - rows)};` : '';
      throw new GnnrlError(
        'input',
        `${label}: has ${rows} rows and no ids, but there are ${n} ${what};${extra} without ids the rows are taken in order, so the counts must match (give an ids file to match by id)`,
        { file, field: 'rows', arg: 'want.ids' },
      );
    }
    return { vectors: table.vectors.slice(), missing: [] };
  }

  check(table.ids.length === rows, 'table.ids', `${rows} ids (one per row), got ${table.ids.length}`);
  const index = checkUnique(table.ids, (i) => `row ${i}`, label, file);
  const out = new Float32Array(n * dim);
  const missing: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = index.get(String(want.ids[i]));
    if (r === undefined) missing.push(i);
    else out.set(table.vectors.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  if (missing.length > 0 && !want.allowMissing) {
    throw new GnnrlError(
      'input',
      `${label}: ${missing.length} of ${n} ${what} have no vector: ${listIds(want.ids, missing)} (every one needs a row; alignVectors({ allowMissing: true }) leaves theirs zero)`,
      { file, field: 'id', arg: 'want.ids' },
    );
  }
  return { vectors: out, missing };
}

/** Writes a rows × dim float32 table as a version 1.0 `<f4` .npy file, atomically (temp file, fsync, rename). */
export async function writeNpy(file: string, vectors: Float32Array, rows: number, dim: number): Promise<void> {
  check(Number.isInteger(rows) && rows >= 0, 'rows', 'a non-negative integer');
  check(Number.isInteger(dim) && dim > 0, 'dim', 'a positive integer');
  check(vectors instanceof Float32Array && vectors.length === rows * dim, 'vectors', `a Float32Array of rows × dim = ${rows * dim} values`);
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  // Magic (6) + version (2) + header length (2) + dict + padding + '\n' is a multiple of 64.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  head.writeUInt16LE(dict.length, 8);
  let data = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  if (!HOST_LE) {
    data = new Uint8Array(vectors.byteLength);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < vectors.length; i++) dv.setFloat32(i * 4, vectors[i], true);
  }
  const w = await AtomicWriter.open(file, 'latin1');
  try {
    await w.writeBytes(Buffer.concat([head, Buffer.from(dict, 'latin1')]));
    await w.writeBytes(data);
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}

// ---------------------------------------------------------------------------------------
// .npy

interface Parsed {
  dim: number;
  ids: string[] | null;
  vectors: Float32Array;
}

function parseNpy(b: Buffer, file: string, label: string): Parsed {
  const fail = (msg: string, field?: string): GnnrlError => formatError(label, file, undefined, msg, field);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (b.length < 10 || magic.some((m, i) => b[i] !== m)) throw fail('not a .npy file (no \\x93NUMPY magic at the start)');
  const major = b[6];
  const minor = b[7];
  if (major !== 1 && major !== 2 && major !== 3) throw fail(`.npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (b.length < 8 + lenBytes) throw fail(`truncated header: the file has ${b.length} bytes`);
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const dataStart = 8 + lenBytes + hlen;
  if (dataStart > b.length) throw fail(`truncated header: it declares ${hlen} bytes after byte ${8 + lenBytes} but the file has ${b.length} bytes`);
  const text = b.toString(major === 3 ? 'utf8' : 'latin1', 8 + lenBytes, dataStart);

  let header: unknown;
  try {
    header = parsePyLiteral(text);
  } catch (err) {
    throw fail(`header is not a Python dict literal: ${(err as Error).message}: ${JSON.stringify(text.trim())}`, 'header');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail(`header is not a dict: ${JSON.stringify(text.trim())}`, 'header');
  const h = header as Record<string, unknown>;
  for (const k of ['descr', 'fortran_order', 'shape']) if (!(k in h)) throw fail(`header has no '${k}' key: ${JSON.stringify(text.trim())}`, k);

  if (typeof h.descr !== 'string') throw fail(`dtype ${JSON.stringify(h.descr)} is not supported (structured dtypes are not); expected '<f4', '<f8' or '<f2'`, 'descr');
  const dt = /^([<>|=])f([248])$/.exec(h.descr);
  if (!dt || dt[1] === '|') throw fail(`dtype '${h.descr}' is not supported; expected a float: '<f4', '<f8' or '<f2' (or big-endian '>…')`, 'descr');
  const itemsize = Number(dt[2]);
  const littleEndian = dt[1] === '=' ? HOST_LE : dt[1] === '<';

  if (h.fortran_order !== false) {
    throw fail(`fortran_order is ${pyRepr(h.fortran_order)}; only C order (fortran_order False) is supported (save with np.ascontiguousarray)`, 'fortran_order');
  }
  const shape = h.shape;
  if (!Array.isArray(shape) || !shape.every((s) => typeof s === 'number' && Number.isInteger(s) && s >= 0)) {
    throw fail(`shape ${pyRepr(shape)} is not a tuple of non-negative integers`, 'shape');
  }
  if (shape.length !== 2) throw fail(`shape ${pyRepr(shape)} is ${shape.length}-D; expected a 2-D array (rows, dim)`, 'shape');
  const [rows, dim] = shape as number[];
  if (dim === 0) throw fail(`shape ${pyRepr(shape)} has dimension 0`, 'shape');

  const expected = dataStart + rows * dim * itemsize;
  if (b.length !== expected) {
    throw fail(
      `${b.length < expected ? 'truncated' : 'trailing bytes'}: shape ${pyRepr(shape)} of ${itemsize}-byte floats needs ${expected} bytes (${dataStart} header + ${rows * dim * itemsize} data), the file has ${b.length}`,
      'shape',
    );
  }
  const kind = itemsize === 2 ? 'f16' : itemsize === 4 ? 'f32' : 'f64';
  return { dim, ids: null, vectors: toFloat32(b, dataStart, rows * dim, kind, littleEndian) };
}

function pyRepr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null) return 'None';
  if (Array.isArray(v)) return v.length === 1 ? `(${pyRepr(v[0])},)` : `(${v.map(pyRepr).join(', ')})`;
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/**
 * Parses the Python literal of a .npy header: dicts, tuples, lists, strings, integers
 * (with Python 2's `L` suffix), True / False / None. Tuples and lists become arrays.
 */
function parsePyLiteral(s: string): unknown {
  let i = 0;
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const expect = (c: string): void => {
    ws();
    if (s[i] !== c) throw new Error(`expected '${c}' at offset ${i}`);
    i++;
  };
  // Reads items until `close`, allowing a trailing comma.
  const seq = (close: string, item: () => void): void => {
    ws();
    while (s[i] !== close) {
      item();
      ws();
      if (s[i] === ',') i++;
      else if (s[i] !== close) throw new Error(`expected ',' or '${close}' at offset ${i}`);
      ws();
    }
    i++;
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      seq('}', () => {
        const k = value();
        if (typeof k !== 'string') throw new Error(`dict key at offset ${i} is not a string`);
        expect(':');
        o[k] = value();
      });
      return o;
    }
    if (c === '(' || c === '[') {
      i++;
      const a: unknown[] = [];
      seq(c === '(' ? ')' : ']', () => a.push(value()));
      return a;
    }
    if (c === "'" || c === '"') {
      let out = '';
      i++;
      while (i < s.length && s[i] !== c) {
        if (s[i] === '\\') i++;
        out += s[i++];
      }
      if (i >= s.length) throw new Error('unterminated string');
      i++;
      return out;
    }
    const m = /^(?:[+-]?\d+[lL]?|True|False|None)/.exec(s.slice(i));
    if (!m) throw new Error(`unexpected ${c === undefined ? 'end' : JSON.stringify(c)} at offset ${i}`);
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace(/[lL]$/, ''));
  };
  const v = value();
  ws();
  if (i !== s.length) throw new Error(`unexpected text after the literal at offset ${i}`);
  return v;
}

// ---------------------------------------------------------------------------------------
// .safetensors

const ST_DTYPES: Record<string, { size: number; kind: FloatKind }> = {
  F32: { size: 4, kind: 'f32' },
  F64: { size: 8, kind: 'f64' },
  F16: { size: 2, kind: 'f16' },
  BF16: { size: 2, kind: 'bf16' },
};

function parseSafetensors(b: Buffer, file: string, label: string, tensor: string | undefined): Parsed {
  const fail = (msg: string, field?: string): GnnrlError => formatError(label, file, undefined, msg, field);
  if (b.length < 8) throw fail(`truncated: ${b.length} bytes, less than the 8-byte header length`);
  const n64 = b.readBigUInt64LE(0);
  if (n64 > BigInt(b.length - 8)) throw fail(`header length ${n64} runs past the end of the file (${b.length} bytes)`, 'header');
  const n = Number(n64);
  const dataStart = 8 + n;
  let header: unknown;
  try {
    header = JSON.parse(b.toString('utf8', 8, dataStart));
  } catch (err) {
    throw fail(`header is not valid JSON (${(err as Error).message})`, 'header');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header is not a JSON object', 'header');
  const h = header as Record<string, unknown>;
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  const list = names.map((x) => JSON.stringify(x)).join(', ');

  let name: string;
  if (tensor !== undefined) {
    if (!names.includes(tensor)) {
      throw new GnnrlError('input', `${label}: no tensor ${JSON.stringify(tensor)}; the file holds ${names.length ? list : 'no tensors'}`, { file, field: tensor, arg: 'tensor' });
    }
    name = tensor;
  } else if (names.length === 1) {
    name = names[0];
  } else if (names.length === 0) {
    throw fail('holds no tensors', 'header');
  } else {
    throw new GnnrlError('input', `${label}: holds ${names.length} tensors (${list}); name one with the tensor option`, { file, arg: 'tensor' });
  }

  const t = h[name] as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  const where = `tensor ${JSON.stringify(name)}`;
  if (typeof t !== 'object' || t === null) throw fail(`${where}: entry is not an object`, name);
  const dt = typeof t.dtype === 'string' ? ST_DTYPES[t.dtype] : undefined;
  if (!dt) throw fail(`${where}: dtype ${JSON.stringify(t.dtype)} is not supported; expected F32, F64, F16 or BF16`, name);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) throw fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`, name);
  if (shape.length !== 2) throw fail(`${where}: shape ${JSON.stringify(shape)} is ${shape.length}-D; expected a 2-D tensor [rows, dim]`, name);
  const [rows, dim] = shape as number[];
  if (dim === 0) throw fail(`${where}: shape ${JSON.stringify(shape)} has dimension 0`, name);
  const off = t.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0)) {
    throw fail(`${where}: data_offsets ${JSON.stringify(off)} is not [begin, end] of non-negative integers`, name);
  }
  const [begin, end] = off as number[];
  const dataBytes = b.length - dataStart;
  if (begin > end || end > dataBytes) {
    throw fail(`${where}: data_offsets [${begin}, ${end}] do not lie inside the data area (${dataBytes} bytes after the ${n}-byte header)`, name);
  }
  const need = rows * dim * dt.size;
  if (end - begin !== need) {
    throw fail(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${t.dtype} needs ${need}`, name);
  }

  let ids: string[] | null = null;
  const meta = h.__metadata__;
  if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) throw fail('__metadata__ is not a JSON object', '__metadata__');
  const rawIds = meta ? (meta as Record<string, unknown>).ids : undefined;
  if (rawIds !== undefined) {
    let arr: unknown = rawIds;
    if (typeof rawIds === 'string') {
      try {
        arr = JSON.parse(rawIds);
      } catch (err) {
        throw fail(`__metadata__ "ids" is not a JSON array (${(err as Error).message})`, 'ids');
      }
    }
    if (!Array.isArray(arr)) throw fail('__metadata__ "ids" is not a JSON array of strings', 'ids');
    ids = arr.map((x, i) => {
      if (typeof x === 'string') return x;
      if (typeof x === 'number' && Number.isFinite(x)) return String(x);
      throw fail(`__metadata__ "ids"[${i}] is not a string: ${JSON.stringify(x)}`, 'ids');
    });
  }
  return { dim, ids, vectors: toFloat32(b, dataStart + begin, rows * dim, dt.kind, true) };
}

// ---------------------------------------------------------------------------------------
// .jsonl

async function readJsonl(file: string, label: string): Promise<VectorTable> {
  const { fh } = await openForRead(file, label);
  let out = new Float32Array(1024);
  let used = 0;
  let dim = -1;
  let dimLine = 0;
  const ids: string[] = [];
  const lines: number[] = [];
  const input = fh.createReadStream({ encoding: 'utf8', autoClose: false });
  try {
    const rl = createInterface({ input, crlfDelay: Infinity });
    let line = 0;
    for await (let text of rl) {
      line++;
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') continue;
      const fail = (msg: string, field?: string): GnnrlError => formatError(label, file, line, msg, field);
      let o: unknown;
      try {
        o = JSON.parse(text);
      } catch (err) {
        throw fail(`expected a JSON object, got invalid JSON (${(err as Error).message})`);
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw fail(`expected a JSON object {"id": …, "vector": [...]}, got ${clip(text)}`);
      const r = o as Record<string, unknown>;
      const id = r.id;
      if (!(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)))) {
        throw fail(`field "id": expected a string or number, got ${id === undefined ? 'nothing (missing key)' : clip(JSON.stringify(id))}`, 'id');
      }
      const key = 'vector' in r ? 'vector' : 'embedding' in r ? 'embedding' : null;
      if (key === null) throw fail('no "vector" (or "embedding") field', 'vector');
      const v = r[key];
      if (!Array.isArray(v)) throw fail(`field "${key}": expected an array of numbers, got ${clip(JSON.stringify(v))}`, key);
      if (dim < 0) {
        if (v.length === 0) throw fail(`field "${key}": empty vector`, key);
        dim = v.length;
        dimLine = line;
      } else if (v.length !== dim) {
        throw fail(`field "${key}": vector has ${v.length} values but line ${dimLine} has ${dim}; every vector must have the same length`, key);
      }
      if (used + dim > out.length) {
        const grown = new Float32Array(Math.max(out.length * 2, used + dim));
        grown.set(out.subarray(0, used));
        out = grown;
      }
      for (let j = 0; j < dim; j++) {
        const x = v[j];
        if (typeof x !== 'number' || !Number.isFinite(x)) throw fail(`field "${key}"[${j}]: expected a finite number, got ${clip(JSON.stringify(x) ?? String(x))}`, key);
        out[used + j] = x;
      }
      used += dim;
      ids.push(String(id));
      lines.push(line);
    }
  } finally {
    input.destroy();
    await fh.close().catch(() => undefined);
  }
  if (dim < 0) throw formatError(label, file, undefined, 'no vectors (the file has no non-blank lines)');
  checkUnique(ids, (i) => `line ${lines[i]}`, label, file);
  return { file, dim, ids, vectors: out.slice(0, used), format: 'jsonl' };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// ---------------------------------------------------------------------------------------
// shared

type FloatKind = 'f16' | 'bf16' | 'f32' | 'f64';

/**
 * `count` floats of `kind` at byte `off` of `b`, as float32. A view of `b` when nothing
 * needs converting and `off` is aligned; otherwise the bytes are copied to an aligned
 * buffer (byte-swapped when the file's order is not the host's) and converted from there.
 */
function toFloat32(b: Buffer, off: number, count: number, kind: FloatKind, littleEndian: boolean): Float32Array {
  const size = kind === 'f64' ? 8 : kind === 'f32' ? 4 : 2;
  const at = b.byteOffset + off;
  const swap = littleEndian !== HOST_LE;
  let bytes: Uint8Array;
  if (at % size === 0 && !swap) {
    bytes = new Uint8Array(b.buffer, at, count * size);
  } else {
    bytes = new Uint8Array(count * size);
    bytes.set(b.subarray(off, off + count * size));
    if (swap) {
      for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
    }
  }
  if (kind === 'f32') return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  if (kind === 'f64') return new Float32Array(new Float64Array(bytes.buffer, bytes.byteOffset, count));
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  if (kind === 'bf16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = u16[i] << 16;
  } else {
    const table = halfTable();
    for (let i = 0; i < count; i++) out[i] = table[u16[i]];
  }
  return out;
}

let HALF: Float32Array | null = null;

/** float32 of every IEEE half-precision bit pattern. */
function halfTable(): Float32Array {
  if (HALF) return HALF;
  HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    HALF[h] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity) : sign * 2 ** (e - 15) * (1 + f / 1024);
  }
  return HALF;
}

function checkFinite(t: VectorTable, label: string): void {
  const v = t.vectors;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      const row = Math.floor(i / t.dim);
      throw formatError(label, t.file, undefined, `row ${row}${t.ids ? ` (id ${JSON.stringify(t.ids[row])})` : ''}, column ${i % t.dim}: value ${v[i]} is not finite`);
    }
  }
}

function rowCount(t: VectorTable): number {
  return t.vectors.length / t.dim;
}

async function readWhole(file: string, label: string): Promise<Buffer> {
  const { fh } = await openForRead(file, label);
  try {
    return await fh.readFile();
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function readIdsFile(file: string): Promise<{ ids: string[]; lines: number[] }> {
  const label = basename(file);
  const { fh } = await openForRead(file, label);
  let text: string;
  try {
    text = await fh.readFile('utf8');
  } finally {
    await fh.close().catch(() => undefined);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const ids: string[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const id = raw.trim();
    if (id === '') return;
    ids.push(id);
    lines.push(i + 1);
  });
  return { ids, lines };
}

/** id → row; throws an `input` error listing the first duplicated ids and where each occurs. */
function checkUnique(ids: readonly string[], where: (i: number) => string, label: string, file: string): Map<string, number> {
  const index = new Map<string, number>();
  const dups: string[] = [];
  let count = 0;
  for (let i = 0; i < ids.length; i++) {
    const first = index.get(ids[i]);
    if (first === undefined) {
      index.set(ids[i], i);
    } else {
      count++;
      if (dups.length < SHOW) dups.push(`${JSON.stringify(ids[i])} at ${where(first)} and ${where(i)}`);
    }
  }
  if (count > 0) {
    throw new GnnrlError('input', `${label}: ${count} duplicated id${count === 1 ? '' : 's'}: ${dups.join('; ')}${count > SHOW ? '; …' : ''}`, { file, field: 'id' });
  }
  return index;
}

/** The first few ids at `which` (of `total` offending), quoted. */
function listIds(ids: ArrayLike<string>, which: readonly number[], total = which.length): string {
  const shown = which.slice(0, SHOW).map((i) => JSON.stringify(String(ids[i])));
  return shown.join(', ') + (total > SHOW ? `, … (${total - SHOW} more)` : '');
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
