/**
 * Snapshots (format version 2): one file holding everything a server needs to answer
 * requests with one model version — config, external ids, weights — and, optionally,
 * what an online learner needs to carry on (optimizer, replay buffer, RNG state).
 *
 * Layout: the sectioned container of data/io/container.ts with the magic `GNNRLSN\0`,
 * version 2, and the header fields of `SnapshotHeader`.
 *
 * Sections: 'config' (JSON: kind, config, meta), 'idmaps' (JSON: external user and item
 * ids in dense order), 'weights' (arrays: the model's `ModelState.arrays`), and when
 * present 'extras' (arrays saved beside the model: an encoder's training edges, the
 * item counts the popularity fallback ranks by), 'optimizer', 'replay' (arrays) and
 * 'rng' (JSON).
 *
 * Loading checks the magic, the version, the header's checksum, every section's length
 * and checksum, the zero padding and the exact file length; a truncated file or a
 * flipped byte is refused with a `format` error naming the file and the section.
 * `loadServable` also reads the train job's checkpoints (`GNNRLCK\0`, format 1).
 */
import { readFile } from 'node:fs/promises';
import { GnnrlError } from '../errors.js';
import { arraySection, decodeSections, encodeSections, jsonSection, readArraySection, readJsonSection, type ArraySet, type SectionEntry, type SectionInput } from '../data/io/container.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import { packageVersion } from '../util/version.js';
import type { ExternalId } from '../data/idmap.js';
import { CHECKPOINT_MAGIC, decodeCheckpoint, type Checkpoint } from '../models/checkpoint.js';

export type { ArraySet, SectionEntry };

/** The eight magic bytes every snapshot starts with. */
export const SNAPSHOT_MAGIC = 'GNNRLSN\0';
/** The format version this code writes and reads (1 is the checkpoint format). */
export const SNAPSHOT_VERSION = 2;


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

/** Serialises snapshot contents into the version-2 byte layout. */
export function encodeSnapshot(data: SnapshotInput): Uint8Array {
  const fn = 'encodeSnapshot';
  if (!data || typeof data.kind !== 'string' || !data.kind) {
    throw new GnnrlError('input', `${fn}: kind: expected a registry name, got ${JSON.stringify(data?.kind)}`, { arg: 'kind' });
  }
  const modelVersion = data.modelVersion ?? 1;
  if (!Number.isSafeInteger(modelVersion) || modelVersion < 1) {
    throw new GnnrlError('input', `${fn}: modelVersion: expected a positive integer, got ${modelVersion}`, { arg: 'modelVersion' });
  }
  const parts: SectionInput[] = [
    { name: 'config', encoding: 'json', bytes: jsonSection({ kind: data.kind, config: data.config ?? {}, meta: data.meta ?? {} }, 'config', fn) },
    { name: 'idmaps', encoding: 'json', bytes: jsonSection(data.ids, 'ids', fn) },
    { name: 'weights', encoding: 'arrays', bytes: arraySection(data.weights ?? {}, `${fn}: weights`) },
  ];
  for (const name of ['extras', 'optimizer', 'replay'] as const) {
    const set = data[name];
    if (set) parts.push({ name, encoding: 'arrays', bytes: arraySection(set, `${fn}: ${name}`) });
  }
  if (data.rng !== undefined) parts.push({ name: 'rng', encoding: 'json', bytes: jsonSection(data.rng, 'rng', fn) });
  const fields: Omit<SnapshotHeader, 'sections' | 'sectionBytes'> = {
    format: 'gnnrl-snapshot',
    gnnrl: data.gnnrl ?? packageVersion(),
    kind: data.kind,
    config: data.config ?? {},
    dataHash: data.dataHash ?? null,
    created: data.created ?? new Date().toISOString(),
    modelVersion,
  };
  return encodeSections(SNAPSHOT_MAGIC, SNAPSHOT_VERSION, fields, parts, fn);
}

/** Writes a snapshot atomically (temporary file, fsync, rename, directory fsync). Returns its size in bytes. */
export async function saveSnapshot(path: string, data: SnapshotInput): Promise<number> {
  const bytes = encodeSnapshot(data);
  await writeFileAtomic(path, bytes);
  return bytes.length;
}

function err(source: string, section: string, what: string): GnnrlError {
  return new GnnrlError('format', `snapshot ${source}: ${section === 'header' ? section : `section '${section}'`}: ${what}`, { file: source, field: section });
}

/** Parses snapshot bytes; `source` names them in errors. */
export function decodeSnapshot(bytes: Uint8Array, source = '<memory>'): SnapshotData {
  const { header: h, sections } = decodeSections(bytes, { magic: SNAPSHOT_MAGIC, version: SNAPSHOT_VERSION, what: 'snapshot' }, source);
  const header = h as unknown as SnapshotHeader;
  if (header.format !== 'gnnrl-snapshot' || typeof header.kind !== 'string' || !Number.isSafeInteger(header.modelVersion)) {
    throw err(source, 'header', "corrupt: 'format', 'kind' or 'modelVersion' is missing or of the wrong type");
  }
  const section = (name: string, encoding: 'json' | 'arrays', required: boolean): Uint8Array | undefined => {
    const s = sections.get(name);
    if (!s) {
      if (required) throw err(source, 'header', `the required section '${name}' is missing`);
      return undefined;
    }
    if (s.encoding !== encoding) throw err(source, 'header', `section '${name}' has encoding '${s.encoding}', expected '${encoding}'`);
    return s.bytes;
  };
  const fail = (name: string) => (what: string) => err(source, name, what);
  const cfg = readJsonSection(section('config', 'json', true)!, fail('config')) as { kind?: unknown; config?: unknown; meta?: unknown };
  if (typeof cfg !== 'object' || cfg === null || cfg.kind !== header.kind) throw err(source, 'config', `corrupt: expected { kind: '${header.kind}', config, meta }`);
  const ids = readJsonSection(section('idmaps', 'json', true)!, fail('idmaps')) as SnapshotData['ids'];
  if (ids !== null && (typeof ids !== 'object' || !Array.isArray(ids.users) || !Array.isArray(ids.items))) throw err(source, 'idmaps', 'corrupt: expected { users: [...], items: [...] } or null');
  const weights = readArraySection(section('weights', 'arrays', true)!, fail('weights'));
  for (const [name, a] of Object.entries(weights)) {
    if (!(a instanceof Float32Array || a instanceof Int32Array)) throw err(source, 'weights', `array '${name}' is not f32 or i32; model parameters are f32 or i32`);
  }
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
  for (const name of ['extras', 'optimizer', 'replay'] as const) {
    const b = section(name, 'arrays', false);
    if (b) out[name] = readArraySection(b, fail(name));
  }
  const rng = section('rng', 'json', false);
  if (rng) out.rng = readJsonSection(rng, fail('rng'));
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
