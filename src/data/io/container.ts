/**
 * The one binary container every gnnrl file format is built from: typed arrays laid out
 * at 8-aligned offsets, little-endian on disk, checked by SHA-256, indexed by JSON.
 *
 * Two levels:
 * - arrays: `layoutArrays` places arrays in a data area (zero padding between, the parts
 *   returned as views so a large payload can be streamed without a second copy) and
 *   `readArray` copies one back out (aligned, byte-swapped on big-endian hosts), checking
 *   its bounds. The data cache (data/cache.ts) and checkpoints (models/checkpoint.ts,
 *   whose version-1 layout stays readable) store their arrays this way.
 * - sections: `encodeSections`/`decodeSections` frame named sections (JSON or an array
 *   set) behind a magic, a version, a JSON header whose SHA-256 is in the preamble, and a
 *   SHA-256 per section, so a damaged file is refused naming the section that is wrong.
 *   Snapshots (serve/snapshot.ts) are this layout:
 *
 * | bytes      | what                                                            |
 * | ---------- | --------------------------------------------------------------- |
 * | 0..8       | magic (8 bytes, the format's own)                               |
 * | 8..12      | u32 format version                                              |
 * | 12..16     | u32 header length H                                             |
 * | 16..48     | SHA-256 of the header bytes                                     |
 * | 48..48+H   | UTF-8 JSON header: the format's fields, plus `sections` (name,  |
 * |            | encoding, offset, length, sha256) and `sectionBytes`            |
 * | pad to 8   | zero bytes, then the sections, each 8-aligned, zero-padded      |
 *
 * An array-set section is: u32 index length L, a JSON index [{ name, dtype, length,
 * offset }], zero padding to 8, then the arrays' data area.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { GnnrlError } from '../../errors.js';

/** Element types files store. */
export type StoredDType = 'f32' | 'f64' | 'i32' | 'u32' | 'u8';
/** Arrays files store. */
export type StoredArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;
/** Named arrays, as an array-set section holds them. */
export type ArraySet = Record<string, StoredArray>;

export const STORED_CTORS = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array } as const;

const LITTLE = endianness() === 'LE';

export const align8 = (n: number): number => (n + 7) & ~7;

export function sha256Hex(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export function dtypeOf(a: unknown): StoredDType | undefined {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Uint8Array) return 'u8';
  return undefined;
}

/** The bytes of `a` in little-endian order: a view on little-endian hosts, a swapped copy otherwise. */
export function leBytes(a: StoredArray): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE || a.BYTES_PER_ELEMENT === 1) return bytes;
  const out = bytes.slice();
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < out.length; i += w) out.subarray(i, i + w).reverse();
  return out;
}

/** One array's place in a data area. */
export interface ArrayEntry {
  name: string;
  dtype: StoredDType;
  length: number;
  /** Byte offset from the start of the data area (a multiple of 8). */
  offset: number;
}

/**
 * Places arrays one after another at 8-aligned offsets. `parts` (views and zero padding)
 * concatenated are the data area of `bytes` bytes. A value that is not a stored array
 * type is an 'input' error naming `${where}.${name}`.
 */
export function layoutArrays(arrays: readonly (readonly [string, unknown])[], where: string): { entries: ArrayEntry[]; parts: Uint8Array[]; bytes: number } {
  const entries: ArrayEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, a] of arrays) {
    const dtype = dtypeOf(a);
    if (!dtype) throw new GnnrlError('input', `${where}.${name}: expected a Float32Array, Float64Array, Int32Array, Uint32Array or Uint8Array`, { arg: `${where}.${name}` });
    const arr = a as StoredArray;
    entries.push({ name, dtype, length: arr.length, offset });
    parts.push(leBytes(arr));
    const end = offset + arr.byteLength;
    offset = align8(end);
    if (offset > end) parts.push(new Uint8Array(offset - end));
  }
  return { entries, parts, bytes: offset };
}

/** Concatenates parts into one buffer. */
export function joinParts(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether `e` is a well-formed entry (a JSON index is never trusted). */
export function isArrayEntry(e: unknown): e is ArrayEntry {
  const x = e as ArrayEntry;
  return (
    typeof x === 'object' && x !== null && typeof x.name === 'string' && typeof x.dtype === 'string' && x.dtype in STORED_CTORS &&
    Number.isSafeInteger(x.length) && x.length >= 0 && Number.isSafeInteger(x.offset) && x.offset >= 0 && x.offset % 8 === 0
  );
}

/**
 * Copies one array out of a data area: aligned, independent of the file's buffer (not
 * `subarray`/`Buffer.slice`, which are views) and in host byte order. Returns a message
 * instead when the entry does not fit.
 */
export function readArray(data: Uint8Array, e: ArrayEntry): StoredArray | string {
  const Ctor = STORED_CTORS[e.dtype];
  const byteLength = e.length * Ctor.BYTES_PER_ELEMENT;
  if (e.offset + byteLength > data.length) return `array '${e.name}' (${e.dtype}[${e.length}] at offset ${e.offset}) lies outside the ${data.length}-byte data area`;
  const buffer = new ArrayBuffer(byteLength);
  const raw = new Uint8Array(buffer);
  raw.set(data.subarray(e.offset, e.offset + byteLength));
  const w = Ctor.BYTES_PER_ELEMENT;
  if (!LITTLE && w > 1) for (let i = 0; i < raw.length; i += w) raw.subarray(i, i + w).reverse();
  return new Ctor(buffer);
}

// ---------------------------------------------------------------- sections

/** One section's entry in a sectioned header. */
export interface SectionEntry {
  name: string;
  encoding: 'json' | 'arrays';
  /** Byte offset from the start of the sections area (a multiple of 8). */
  offset: number;
  length: number;
  /** Hex SHA-256 of the section's bytes. */
  sha256: string;
}

export interface SectionInput {
  name: string;
  encoding: SectionEntry['encoding'];
  bytes: Uint8Array;
}

const PREAMBLE = 48;
const MAX_HEADER = 256 << 20;

/** A JSON section's bytes; `what` names the value in the error when it cannot be serialised. */
export function jsonSection(value: unknown, what: string, fn: string): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new GnnrlError('input', `${fn}: ${what} must be JSON-serialisable: ${(err as Error).message}`, { arg: what, cause: err });
  }
  return Buffer.from(text ?? 'null', 'utf8');
}

/** An array-set section's bytes. */
export function arraySection(set: ArraySet, where: string): Uint8Array {
  const { entries, parts, bytes } = layoutArrays(Object.entries(set), where);
  const json = Buffer.from(JSON.stringify(entries), 'utf8');
  const start = align8(4 + json.length);
  const out = new Uint8Array(start + bytes);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(joinParts(parts, bytes), start);
  return out;
}

/** Frames `sections` behind `magic`/`version` and a header holding `fields` plus the section index. */
export function encodeSections(magic: string, version: number, fields: Record<string, unknown>, sections: readonly SectionInput[], fn: string): Uint8Array {
  const index: SectionEntry[] = [];
  let offset = 0;
  for (const s of sections) {
    index.push({ name: s.name, encoding: s.encoding, offset, length: s.bytes.length, sha256: sha256Hex(s.bytes) });
    offset = align8(offset + s.bytes.length);
  }
  const headerBytes = jsonSection({ ...fields, sections: index, sectionBytes: offset }, 'header', fn);
  const dataStart = align8(PREAMBLE + headerBytes.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(Buffer.from(magic, 'latin1'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, version, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(createHash('sha256').update(headerBytes).digest(), 16);
  out.set(headerBytes, PREAMBLE);
  sections.forEach((s, j) => out.set(s.bytes, dataStart + index[j].offset));
  return out;
}

/** How a format names itself in errors: "<what> <source>: <section>: …". */
export interface SectionFormat {
  magic: string;
  version: number;
  /** 'snapshot', … */
  what: string;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Checks and splits a sectioned file: the magic, the version, the header's checksum,
 * every section's bounds and checksum, the zero padding and the exact length. Errors are
 * 'format' errors naming the file and the section (`preamble`, `header`, or a section).
 */
export function decodeSections(bytes: Uint8Array, f: SectionFormat, source: string): { header: Record<string, unknown>; sections: Map<string, { encoding: string; bytes: Uint8Array }> } {
  const err = (section: string, what: string) =>
    new GnnrlError('format', `${f.what} ${source}: ${section === 'preamble' || section === 'header' ? section : `section '${section}'`}: ${what}`, { file: source, field: section });
  if (bytes.length < PREAMBLE) throw err('preamble', `truncated: ${bytes.length} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const magic = Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1');
  if (magic !== f.magic) throw err('preamble', `not a gnnrl ${f.what} (the file starts with ${JSON.stringify(magic)}, expected ${JSON.stringify(f.magic)})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== f.version) throw err('preamble', `format version ${version} is not supported (this gnnrl reads ${f.what} version ${f.version}; a newer gnnrl wrote it?)`);
  const headerLength = view.getUint32(12, true);
  if (headerLength > MAX_HEADER || PREAMBLE + headerLength > bytes.length) {
    throw err('header', `truncated or corrupt: the header claims ${headerLength} bytes but the file has ${bytes.length - PREAMBLE} after the preamble`);
  }
  const headerBytes = bytes.subarray(PREAMBLE, PREAMBLE + headerLength);
  const want = Buffer.from(bytes.buffer, bytes.byteOffset + 16, 32).toString('hex');
  const got = sha256Hex(headerBytes);
  if (got !== want) throw err('header', `corrupt: its SHA-256 is ${got.slice(0, 16)}…, the preamble records ${want.slice(0, 16)}…`);
  let header: { sections?: unknown; sectionBytes?: unknown } & Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8'));
  } catch (e) {
    throw err('header', `corrupt: not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || !Array.isArray(header.sections) || !Number.isSafeInteger(header.sectionBytes)) {
    throw err('header', "corrupt: 'sections' or 'sectionBytes' is missing or of the wrong type");
  }
  const sectionBytes = header.sectionBytes as number;
  const dataStart = align8(PREAMBLE + headerLength);
  if (!isZero(bytes.subarray(PREAMBLE + headerLength, Math.min(dataStart, bytes.length)))) throw err('header', 'corrupt: the padding after the header is not zero');
  const area = bytes.subarray(Math.min(dataStart, bytes.length));
  const found = new Map<string, { encoding: string; bytes: Uint8Array }>();
  let end = 0;
  for (const s of header.sections as SectionEntry[]) {
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || (s.encoding !== 'json' && s.encoding !== 'arrays') ||
      !Number.isSafeInteger(s.offset) || s.offset < end || s.offset % 8 !== 0 || !Number.isSafeInteger(s.length) || s.length < 0 || typeof s.sha256 !== 'string') {
      throw err('header', `corrupt: bad section entry ${JSON.stringify(s).slice(0, 120)}`);
    }
    if (found.has(s.name)) throw err('header', `corrupt: section '${s.name}' is listed twice`);
    if (!isZero(area.subarray(end, Math.min(s.offset, area.length)))) throw err(s.name, 'corrupt: the padding before it is not zero');
    if (s.offset + s.length > area.length) {
      throw err(s.name, `truncated: it should hold ${s.length} bytes at offset ${s.offset}, the file has ${Math.max(0, area.length - s.offset)} there`);
    }
    const b = area.subarray(s.offset, s.offset + s.length);
    const sha = sha256Hex(b);
    if (sha !== s.sha256) throw err(s.name, `corrupt: its SHA-256 is ${sha.slice(0, 16)}…, the header records ${String(s.sha256).slice(0, 16)}…`);
    found.set(s.name, { encoding: s.encoding, bytes: b });
    end = s.offset + s.length;
  }
  const sections = header.sections as SectionEntry[];
  const last = sections.length ? sections[sections.length - 1].name : 'header';
  if (!isZero(area.subarray(end, Math.min(sectionBytes, area.length)))) throw err(last, 'corrupt: the padding after it is not zero');
  if (area.length !== sectionBytes) {
    const how = area.length < sectionBytes ? 'is truncated' : 'has trailing bytes';
    throw err(last, `the file ${how}: the sections should take ${sectionBytes} bytes, the file has ${area.length}`);
  }
  return { header, sections: found };
}

/** Decodes an array-set section; `fail(what)` makes the error (naming file and section). */
export function readArraySection(bytes: Uint8Array, fail: (what: string) => Error): ArraySet {
  if (bytes.length < 4) throw fail(`corrupt: ${bytes.length} bytes, too short for the array index`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(0, true);
  if (4 + jsonLength > bytes.length) throw fail(`corrupt: the array index claims ${jsonLength} bytes, the section has ${bytes.length - 4}`);
  let index: unknown;
  try {
    index = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 4, jsonLength).toString('utf8'));
  } catch (e) {
    throw fail(`corrupt array index: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(index)) throw fail('corrupt array index: expected a list');
  const data = bytes.subarray(align8(4 + jsonLength));
  const out: ArraySet = {};
  for (const e of index) {
    if (!isArrayEntry(e)) throw fail(`corrupt array index: bad entry ${JSON.stringify(e).slice(0, 120)}`);
    const a = readArray(data, e);
    if (typeof a === 'string') throw fail(a);
    out[e.name] = a;
  }
  return out;
}

/** Parses a JSON section. */
export function readJsonSection(bytes: Uint8Array, fail: (what: string) => Error): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw fail(`corrupt: not valid JSON (${(e as Error).message})`);
  }
}
