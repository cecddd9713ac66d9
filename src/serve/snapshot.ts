/**
 * Snapshots (format version 2): one file holding everything a server needs to answer
 * requests with one model version — config, external ids, weights — and, optionally,
 * what an online learner needs to carry on (optimizer, replay buffer, RNG state).
 *
 * Layout, all integers little-endian:
 *
 * | bytes            | what                                                               |
 * | ---------------- | ------------------------------------------------------------------ |
 * | 0..8             | magic `GNNRLSN\0`                                                  |
 * | 8..12            | u32 format version (2)                                             |
 * | 12..16           | u32 header length H in bytes                                       |
 * | 16..48           | SHA-256 of the header bytes (raw, 32 bytes)                        |
 * | 48..48+H         | UTF-8 JSON header (`SnapshotHeader`): gnnrl version, model kind,   |
 * |                  | config, data hash (when known), created time, model version, and  |
 * |                  | the section index: name, encoding, offset, length, SHA-256         |
 * | pad to 8         | zero bytes                                                         |
 * | sections         | each at an 8-aligned offset from here, zero padding between        |
 *
 * Sections: 'config' (JSON: kind, config, meta), 'idmaps' (JSON: external user and item
 * ids in dense order), 'weights' (arrays: the model's `ModelState.arrays`), and when
 * present 'extras' (arrays saved beside the model: an encoder's training edges, the
 * item counts the popularity fallback ranks by), 'optimizer', 'replay' (arrays) and
 * 'rng' (JSON).
 *
 * An arrays section is: u32 index length L, a JSON index [{ name, dtype, length,
 * offset }], zero padding to 8, then the elements (offsets relative to that point,
 * 8-aligned).
 *
 * Loading checks the magic, the version, the header's checksum, every section's length
 * and checksum, the zero padding and the exact file length; a truncated file or a
 * flipped byte is refused with a `format` error naming the file and the section.
 * `loadServable` also reads the train job's checkpoints (`GNNRLCK\0`, format 1).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { GnnrlError } from '../errors.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import { packageVersion } from '../util/version.js';
import type { ExternalId } from '../data/idmap.js';
import { CHECKPOINT_MAGIC, decodeCheckpoint, type Checkpoint, type CheckpointArray, type CheckpointDType } from '../models/checkpoint.js';

/** The eight magic bytes every snapshot starts with. */
export const SNAPSHOT_MAGIC = 'GNNRLSN\0';
/** The format version this code writes and reads (1 is the checkpoint format). */
export const SNAPSHOT_VERSION = 2;

const PREAMBLE = 48;
const MAX_HEADER = 256 << 20;

/** Arrays by name, as a section stores them. */
export type ArraySet = Record<string, CheckpointArray>;

/** Everything a snapshot holds, decoded. */
export interface SnapshotData {
  /** Registry name of the model. */
  kind: string;
  /** The model's `ModelState.config`. */
  config: Record<string, unknown>;
  /** Free-form facts about the model (nUsers, nItems, display, bestEpoch, …). */
  meta: Record<string, unknown>;
  /** External ids in dense order; null when the source did not record them (dense indices then serve as ids). */
  ids: { users: ExternalId[]; items: ExternalId[] } | null;
  /** The model's `ModelState.arrays`. */
  weights: Record<string, Float32Array | Int32Array>;
  extras?: ArraySet;
  optimizer?: ArraySet;
  replay?: ArraySet;
  rng?: unknown;
  /** The model version a server reports with each response (a positive integer; default 1). */
  modelVersion: number;
  /** A hash of the training data, when the writer knew one. */
  dataHash?: string;
  /** The gnnrl version that wrote the file. */
  gnnrl?: string;
  /** ISO-8601 time the file was written. */
  created?: string;
}

/** Input to `encodeSnapshot` (what `SnapshotData` has, with the bookkeeping fields optional). */
export type SnapshotInput = Omit<SnapshotData, 'modelVersion' | 'gnnrl' | 'created'> & Partial<Pick<SnapshotData, 'modelVersion' | 'gnnrl' | 'created'>>;

/** One section's entry in the header. */
export interface SectionEntry {
  name: string;
  encoding: 'json' | 'arrays';
  /** Byte offset from the start of the sections area (a multiple of 8). */
  offset: number;
  length: number;
  /** Hex SHA-256 of the section's bytes. */
  sha256: string;
}

export interface SnapshotHeader {
  format: 'gnnrl-snapshot';
  gnnrl: string;
  kind: string;
  config: Record<string, unknown>;
  dataHash: string | null;
  created: string;
  modelVersion: number;
  sections: SectionEntry[];
  /** Byte length of the sections area (through the last section's padding). */
  sectionBytes: number;
}

/** What `loadServable` returns: the decoded contents and which format they came from. */
export interface Servable extends SnapshotData {
  source: string;
  /** 2 for a snapshot, 1 for a `gnnrl train` checkpoint. */
  formatVersion: number;
}

const CTORS = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array } as const;
const LITTLE = endianness() === 'LE';
const align8 = (n: number) => (n + 7) & ~7;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function dtypeOf(a: unknown): CheckpointDType | undefined {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Uint8Array) return 'u8';
  return undefined;
}

function leBytes(a: CheckpointArray): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE || a.BYTES_PER_ELEMENT === 1) return bytes;
  const out = bytes.slice();
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < out.length; i += w) out.subarray(i, i + w).reverse();
  return out;
}

function jsonBytes(value: unknown, what: string): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new GnnrlError('input', `encodeSnapshot: ${what} must be JSON-serialisable: ${(err as Error).message}`, { arg: what, cause: err });
  }
  return Buffer.from(text ?? 'null', 'utf8');
}

function encodeArrays(set: ArraySet, section: string): Uint8Array {
  const index: { name: string; dtype: CheckpointDType; length: number; offset: number }[] = [];
  let offset = 0;
  for (const [name, a] of Object.entries(set)) {
    const dtype = dtypeOf(a);
    if (!dtype) throw new GnnrlError('input', `encodeSnapshot: ${section}.${name}: expected a Float32Array, Float64Array, Int32Array, Uint32Array or Uint8Array`, { arg: `${section}.${name}` });
    index.push({ name, dtype, length: a.length, offset });
    offset = align8(offset + a.byteLength);
  }
  const json = Buffer.from(JSON.stringify(index), 'utf8');
  const start = align8(4 + json.length);
  const out = new Uint8Array(start + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  Object.values(set).forEach((a, j) => out.set(leBytes(a), start + index[j].offset));
  return out;
}

/** Serialises snapshot contents into the version-2 byte layout. */
export function encodeSnapshot(data: SnapshotInput): Uint8Array {
  if (!data || typeof data.kind !== 'string' || !data.kind) {
    throw new GnnrlError('input', `encodeSnapshot: kind: expected a registry name, got ${JSON.stringify(data?.kind)}`, { arg: 'kind' });
  }
  const modelVersion = data.modelVersion ?? 1;
  if (!Number.isSafeInteger(modelVersion) || modelVersion < 1) {
    throw new GnnrlError('input', `encodeSnapshot: modelVersion: expected a positive integer, got ${modelVersion}`, { arg: 'modelVersion' });
  }
  const parts: { name: string; encoding: SectionEntry['encoding']; bytes: Uint8Array }[] = [
    { name: 'config', encoding: 'json', bytes: jsonBytes({ kind: data.kind, config: data.config ?? {}, meta: data.meta ?? {} }, 'config') },
    { name: 'idmaps', encoding: 'json', bytes: jsonBytes(data.ids, 'ids') },
    { name: 'weights', encoding: 'arrays', bytes: encodeArrays(data.weights ?? {}, 'weights') },
  ];
  if (data.extras) parts.push({ name: 'extras', encoding: 'arrays', bytes: encodeArrays(data.extras, 'extras') });
  if (data.optimizer) parts.push({ name: 'optimizer', encoding: 'arrays', bytes: encodeArrays(data.optimizer, 'optimizer') });
  if (data.replay) parts.push({ name: 'replay', encoding: 'arrays', bytes: encodeArrays(data.replay, 'replay') });
  if (data.rng !== undefined) parts.push({ name: 'rng', encoding: 'json', bytes: jsonBytes(data.rng, 'rng') });

  const sections: SectionEntry[] = [];
  let offset = 0;
  for (const p of parts) {
    sections.push({ name: p.name, encoding: p.encoding, offset, length: p.bytes.length, sha256: sha256(p.bytes) });
    offset = align8(offset + p.bytes.length);
  }
  const header: SnapshotHeader = {
    format: 'gnnrl-snapshot',
    gnnrl: data.gnnrl ?? packageVersion(),
    kind: data.kind,
    config: data.config ?? {},
    dataHash: data.dataHash ?? null,
    created: data.created ?? new Date().toISOString(),
    modelVersion,
    sections,
    sectionBytes: offset,
  };
  const headerBytes = jsonBytes(header, 'header');
  const dataStart = align8(PREAMBLE + headerBytes.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(Buffer.from(SNAPSHOT_MAGIC, 'latin1'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(createHash('sha256').update(headerBytes).digest(), 16);
  out.set(headerBytes, PREAMBLE);
  parts.forEach((p, j) => out.set(p.bytes, dataStart + sections[j].offset));
  return out;
}

/** Writes a snapshot atomically (temporary file, fsync, rename, directory fsync). Returns its size in bytes. */
export async function saveSnapshot(path: string, data: SnapshotInput): Promise<number> {
  const bytes = encodeSnapshot(data);
  await writeFileAtomic(path, bytes);
  return bytes.length;
}

function err(source: string, section: string, what: string): GnnrlError {
  return new GnnrlError('format', `snapshot ${source}: ${section === 'preamble' || section === 'header' ? section : `section '${section}'`}: ${what}`, { file: source, field: section });
}

function decodeArrays(bytes: Uint8Array, source: string, section: string): ArraySet {
  if (bytes.length < 4) throw err(source, section, `corrupt: ${bytes.length} bytes, too short for the array index`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(0, true);
  if (4 + jsonLength > bytes.length) throw err(source, section, `corrupt: the array index claims ${jsonLength} bytes, the section has ${bytes.length - 4}`);
  let index: unknown;
  try {
    index = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 4, jsonLength).toString('utf8'));
  } catch (e) {
    throw err(source, section, `corrupt array index: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(index)) throw err(source, section, 'corrupt array index: expected a list');
  const start = align8(4 + jsonLength);
  const out: ArraySet = {};
  for (const e of index as { name: unknown; dtype: unknown; length: unknown; offset: unknown }[]) {
    const ok =
      typeof e === 'object' && e !== null && typeof e.name === 'string' && typeof e.dtype === 'string' && e.dtype in CTORS &&
      Number.isSafeInteger(e.length) && (e.length as number) >= 0 && Number.isSafeInteger(e.offset) && (e.offset as number) % 8 === 0;
    if (!ok) throw err(source, section, `corrupt array index: bad entry ${JSON.stringify(e).slice(0, 120)}`);
    const Ctor = CTORS[e.dtype as CheckpointDType];
    const byteLength = (e.length as number) * Ctor.BYTES_PER_ELEMENT;
    const at = start + (e.offset as number);
    if (at + byteLength > bytes.length) throw err(source, section, `array '${e.name}' (${e.dtype}[${e.length}] at offset ${e.offset}) lies outside the section`);
    const buffer = new ArrayBuffer(byteLength);
    const raw = new Uint8Array(buffer);
    raw.set(bytes.subarray(at, at + byteLength));
    if (!LITTLE && Ctor.BYTES_PER_ELEMENT > 1) for (let i = 0; i < raw.length; i += Ctor.BYTES_PER_ELEMENT) raw.subarray(i, i + Ctor.BYTES_PER_ELEMENT).reverse();
    out[e.name as string] = new Ctor(buffer);
  }
  return out;
}

function decodeJson(bytes: Uint8Array, source: string, section: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw err(source, section, `corrupt: not valid JSON (${(e as Error).message})`);
  }
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Parses snapshot bytes; `source` names them in errors. */
export function decodeSnapshot(bytes: Uint8Array, source = '<memory>'): SnapshotData {
  if (bytes.length < PREAMBLE) throw err(source, 'preamble', `truncated: ${bytes.length} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const magic = Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1');
  if (magic !== SNAPSHOT_MAGIC) throw err(source, 'preamble', `not a gnnrl snapshot (the file starts with ${JSON.stringify(magic)}, expected "GNNRLSN\\0")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) throw err(source, 'preamble', `format version ${version} is not supported (this gnnrl reads snapshot version ${SNAPSHOT_VERSION}; a newer gnnrl wrote it?)`);
  const headerLength = view.getUint32(12, true);
  if (headerLength > MAX_HEADER || PREAMBLE + headerLength > bytes.length) {
    throw err(source, 'header', `truncated or corrupt: the header claims ${headerLength} bytes but the file has ${bytes.length - PREAMBLE} after the preamble`);
  }
  const headerBytes = bytes.subarray(PREAMBLE, PREAMBLE + headerLength);
  const want = Buffer.from(bytes.buffer, bytes.byteOffset + 16, 32).toString('hex');
  const got = sha256(headerBytes);
  if (got !== want) throw err(source, 'header', `corrupt: its SHA-256 is ${got.slice(0, 16)}…, the preamble records ${want.slice(0, 16)}…`);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8')) as SnapshotHeader;
  } catch (e) {
    throw err(source, 'header', `corrupt: not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || header.format !== 'gnnrl-snapshot' || typeof header.kind !== 'string' ||
    !Array.isArray(header.sections) || !Number.isSafeInteger(header.sectionBytes) || !Number.isSafeInteger(header.modelVersion)) {
    throw err(source, 'header', "corrupt: 'format', 'kind', 'sections', 'sectionBytes' or 'modelVersion' is missing or of the wrong type");
  }
  const dataStart = align8(PREAMBLE + headerLength);
  if (!isZero(bytes.subarray(PREAMBLE + headerLength, Math.min(dataStart, bytes.length)))) throw err(source, 'header', 'corrupt: the padding after the header is not zero');
  const area = bytes.subarray(Math.min(dataStart, bytes.length));
  const found = new Map<string, Uint8Array>();
  const encodings = new Map<string, string>();
  let end = 0;
  for (const s of header.sections) {
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || (s.encoding !== 'json' && s.encoding !== 'arrays') ||
      !Number.isSafeInteger(s.offset) || s.offset < end || s.offset % 8 !== 0 || !Number.isSafeInteger(s.length) || s.length < 0 || typeof s.sha256 !== 'string') {
      throw err(source, 'header', `corrupt: bad section entry ${JSON.stringify(s).slice(0, 120)}`);
    }
    if (found.has(s.name)) throw err(source, 'header', `corrupt: section '${s.name}' is listed twice`);
    if (!isZero(area.subarray(end, Math.min(s.offset, area.length)))) throw err(source, s.name, 'corrupt: the padding before it is not zero');
    if (s.offset + s.length > area.length) {
      throw err(source, s.name, `truncated: it should hold ${s.length} bytes at offset ${s.offset}, the file has ${Math.max(0, area.length - s.offset)} there`);
    }
    const b = area.subarray(s.offset, s.offset + s.length);
    const sha = sha256(b);
    if (sha !== s.sha256) throw err(source, s.name, `corrupt: its SHA-256 is ${sha.slice(0, 16)}…, the header records ${String(s.sha256).slice(0, 16)}…`);
    found.set(s.name, b);
    encodings.set(s.name, s.encoding);
    end = s.offset + s.length;
  }
  const last = header.sections.length ? header.sections[header.sections.length - 1].name : 'header';
  if (!isZero(area.subarray(end, Math.min(header.sectionBytes, area.length)))) throw err(source, last, 'corrupt: the padding after it is not zero');
  if (area.length !== header.sectionBytes) {
    const how = area.length < header.sectionBytes ? 'is truncated' : 'has trailing bytes';
    throw err(source, last, `the file ${how}: the sections should take ${header.sectionBytes} bytes, the file has ${area.length}`);
  }
  for (const [name, enc] of [['config', 'json'], ['idmaps', 'json'], ['weights', 'arrays']] as const) {
    if (!found.has(name)) throw err(source, 'header', `the required section '${name}' is missing`);
    if (encodings.get(name) !== enc) throw err(source, 'header', `section '${name}' has encoding '${encodings.get(name)}', expected '${enc}'`);
  }
  const cfg = decodeJson(found.get('config')!, source, 'config') as { kind?: unknown; config?: unknown; meta?: unknown };
  if (typeof cfg !== 'object' || cfg === null || cfg.kind !== header.kind) throw err(source, 'config', `corrupt: expected { kind: '${header.kind}', config, meta }`);
  const ids = decodeJson(found.get('idmaps')!, source, 'idmaps') as SnapshotData['ids'];
  if (ids !== null && (typeof ids !== 'object' || !Array.isArray(ids.users) || !Array.isArray(ids.items))) throw err(source, 'idmaps', 'corrupt: expected { users: [...], items: [...] } or null');
  const weights = decodeArrays(found.get('weights')!, source, 'weights');
  for (const [name, a] of Object.entries(weights)) {
    if (!(a instanceof Float32Array || a instanceof Int32Array)) throw err(source, 'weights', `array '${name}' is not f32 or i32; model parameters are f32 or i32`);
  }
  const optional = (name: string): ArraySet | undefined => {
    const b = found.get(name);
    if (!b) return undefined;
    if (encodings.get(name) !== 'arrays') throw err(source, 'header', `section '${name}' has encoding '${encodings.get(name)}', expected 'arrays'`);
    return decodeArrays(b, source, name);
  };
  const out: SnapshotData = {
    kind: header.kind,
    config: (cfg.config ?? {}) as Record<string, unknown>,
    meta: (cfg.meta ?? {}) as Record<string, unknown>,
    ids,
    weights: weights as Record<string, Float32Array | Int32Array>,
    modelVersion: header.modelVersion,
    gnnrl: header.gnnrl,
    created: header.created,
  };
  if (header.dataHash) out.dataHash = header.dataHash;
  const extras = optional('extras');
  const optimizer = optional('optimizer');
  const replay = optional('replay');
  if (extras) out.extras = extras;
  if (optimizer) out.optimizer = optimizer;
  if (replay) out.replay = replay;
  if (found.has('rng')) out.rng = decodeJson(found.get('rng')!, source, 'rng');
  return out;
}

/** Reads and validates a snapshot file. */
export async function loadSnapshot(path: string): Promise<SnapshotData> {
  return decodeSnapshot(await readBytes(path), path);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new GnnrlError('input', `snapshot ${path}: cannot read: ${(e as Error).message}`, { file: path, cause: e });
  }
}

/** Snapshot contents from a checkpoint `gnnrl train` wrote (`meta.ids` holds the external ids). */
export function fromCheckpoint(ck: Checkpoint): SnapshotData {
  const meta = ck.meta ?? {};
  const rawIds = meta.ids as { users?: unknown; items?: unknown } | undefined;
  let ids: SnapshotData['ids'] = null;
  if (rawIds !== undefined) {
    if (typeof rawIds !== 'object' || rawIds === null || !Array.isArray(rawIds.users) || !Array.isArray(rawIds.items)) {
      throw new GnnrlError('format', `checkpoint ${ck.source}: meta.ids: expected { users: [...], items: [...] } (external ids in dense order)`, { file: ck.source, field: 'meta.ids' });
    }
    ids = { users: rawIds.users as ExternalId[], items: rawIds.items as ExternalId[] };
  }
  const { ids: _ids, ...rest } = meta;
  const out: SnapshotData = {
    kind: ck.state.kind,
    config: ck.state.config,
    meta: rest,
    ids,
    weights: ck.state.arrays,
    modelVersion: 1,
  };
  if (Object.keys(ck.extras).length) out.extras = ck.extras;
  if (typeof meta.gnnrl === 'string') out.gnnrl = meta.gnnrl;
  if (typeof meta.created === 'string') out.created = meta.created;
  if (typeof meta.dataHash === 'string') out.dataHash = meta.dataHash;
  return out;
}

/** The `Checkpoint` shape the registry's `restoreModel` takes, from snapshot contents. */
export function toCheckpoint(data: SnapshotData, source = '<memory>'): Checkpoint {
  return {
    state: { kind: data.kind, config: data.config, arrays: data.weights },
    meta: data.meta,
    extras: data.extras ?? {},
    version: SNAPSHOT_VERSION,
    source,
  };
}

/** Decodes a snapshot (v2) or a `gnnrl train` checkpoint (v1), told apart by their magic. */
export function decodeServable(bytes: Uint8Array, source = '<memory>'): Servable {
  const magic = bytes.length >= 8 ? Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') : '';
  if (magic === CHECKPOINT_MAGIC) return { ...fromCheckpoint(decodeCheckpoint(bytes, source)), source, formatVersion: 1 };
  if (magic === SNAPSHOT_MAGIC || bytes.length < 8) return { ...decodeSnapshot(bytes, source), source, formatVersion: SNAPSHOT_VERSION };
  throw new GnnrlError('format', `${source}: neither a gnnrl snapshot nor a checkpoint (the file starts with ${JSON.stringify(magic)}, expected "GNNRLSN\\0" or "GNNRLCK\\0")`, { file: source });
}

/** Reads a file a server can load: a snapshot or a `gnnrl train` checkpoint. */
export async function loadServable(path: string): Promise<Servable> {
  return decodeServable(await readBytes(path), path);
}
