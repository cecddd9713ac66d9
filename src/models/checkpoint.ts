/**
 * Checkpoints: one binary file per fitted model, loadable without the code that wrote
 * the training job (serving reads them).
 *
 * Layout, all integers little-endian:
 *
 * | bytes            | what                                                            |
 * | ---------------- | --------------------------------------------------------------- |
 * | 0..8             | magic `GNNRLCK\0`                                               |
 * | 8..12            | u32 format version (1)                                          |
 * | 12..16           | u32 header length H in bytes                                    |
 * | 16..16+H         | UTF-8 JSON header (see `CheckpointHeader`)                      |
 * | pad to 8         | zero bytes, so the data section starts 8-byte aligned           |
 * | data section     | the arrays' raw little-endian elements, each at an 8-aligned    |
 * |                  | offset relative to the section start, zero padding between      |
 *
 * The header indexes every array (name, dtype, length, offset), records the data
 * section's byte length and SHA-256, so a truncated or altered file is refused with a
 * message naming the file and what is wrong, instead of yielding garbage parameters.
 * Files are written to a temporary name and renamed, so a reader never sees half a file.
 */
import { readFile } from 'node:fs/promises';
import { GnnrlError } from '../errors.js';
import { isArrayEntry, joinParts, layoutArrays, readArray, sha256Hex, align8, type StoredArray, type StoredDType } from '../data/io/container.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import type { ModelState } from './types.js';

/** The eight magic bytes every checkpoint starts with. */
export const CHECKPOINT_MAGIC = 'GNNRLCK\0';
/** The format version this code writes; it reads versions up to this one. */
export const CHECKPOINT_VERSION = 1;

const PREAMBLE = 16;
/** Refuse absurd header lengths before allocating (a corrupt length field). */
const MAX_HEADER = 256 << 20;

/** Element types a checkpoint stores. */
export type CheckpointDType = StoredDType;
/** Arrays a checkpoint can hold. */
export type CheckpointArray = StoredArray;

/** One array's entry in the header index. */
export interface ArrayEntry {
  name: string;
  /** 'state': the model's own parameters; 'extra': data saved beside it (e.g. the training edges). */
  section: 'state' | 'extra';
  dtype: CheckpointDType;
  length: number;
  /** Byte offset from the start of the data section (a multiple of 8). */
  offset: number;
}

/** The JSON header. */
export interface CheckpointHeader {
  format: 'gnnrl-checkpoint';
  kind: string;
  config: Record<string, unknown>;
  meta: Record<string, unknown>;
  arrays: ArrayEntry[];
  /** Byte length of the data section. */
  dataBytes: number;
  /** Hex SHA-256 of the data section. */
  sha256: string;
}

/** What `loadCheckpoint` returns. */
export interface Checkpoint {
  /** Ready for the registry's `fromState`. */
  state: ModelState;
  meta: Record<string, unknown>;
  /** Arrays saved beside the model (see `SaveOptions.extras`). */
  extras: Record<string, CheckpointArray>;
  version: number;
  /** The file it came from ('<memory>' for `decodeCheckpoint` without a name). */
  source: string;
}

export interface SaveOptions {
  /**
   * Arrays stored beside the model's own, under their own names: whatever a later
   * loader needs to rebuild the model's context (the train job stores the training
   * edges, so an encoder's graph can be rebuilt without the data file).
   */
  extras?: Record<string, CheckpointArray>;
}

function formatError(source: string, what: string): GnnrlError {
  return new GnnrlError('format', `checkpoint ${source}: ${what}`, { file: source });
}

/** Serialises a model state (and extras) into the checkpoint byte layout. */
export function encodeCheckpoint(state: ModelState, meta: Record<string, unknown> = {}, opts: SaveOptions = {}): Uint8Array {
  if (!state || typeof state.kind !== 'string' || !state.kind) {
    throw new GnnrlError('input', `saveCheckpoint: state.kind: expected a registry name, got ${JSON.stringify(state?.kind)}`, { arg: 'state.kind' });
  }
  // The arrays' data area is the shared container's (data/io/container.ts); the preamble
  // and header around it stay those of format 1, so files written before still load.
  const stateLayout = layoutArrays(Object.entries(state.arrays ?? {}), 'saveCheckpoint: state.arrays');
  const extraLayout = layoutArrays(Object.entries(opts.extras ?? {}), 'saveCheckpoint: extras');
  const dataBytes = stateLayout.bytes + extraLayout.bytes;
  const entries: ArrayEntry[] = [
    ...stateLayout.entries.map((e) => ({ name: e.name, section: 'state' as const, dtype: e.dtype, length: e.length, offset: e.offset })),
    ...extraLayout.entries.map((e) => ({ name: e.name, section: 'extra' as const, dtype: e.dtype, length: e.length, offset: stateLayout.bytes + e.offset })),
  ];
  const data = joinParts([...stateLayout.parts, ...extraLayout.parts], dataBytes);
  const sha256 = sha256Hex(data);

  const header: CheckpointHeader = {
    format: 'gnnrl-checkpoint',
    kind: state.kind,
    config: state.config ?? {},
    meta,
    arrays: entries,
    dataBytes,
    sha256,
  };
  let json: string;
  try {
    json = JSON.stringify(header);
  } catch (err) {
    throw new GnnrlError('input', `saveCheckpoint: config and meta must be JSON-serialisable: ${(err as Error).message}`, { arg: 'meta', cause: err });
  }
  const headerBytes = Buffer.from(json, 'utf8');
  const dataStart = align8(PREAMBLE + headerBytes.length);
  const out = new Uint8Array(dataStart + dataBytes);
  out.set(Buffer.from(CHECKPOINT_MAGIC, 'latin1'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, PREAMBLE);
  out.set(data, dataStart);
  return out;
}

/** Writes a checkpoint atomically (temporary file, then rename). Returns its size in bytes. */
export async function saveCheckpoint(path: string, state: ModelState, meta: Record<string, unknown> = {}, opts: SaveOptions = {}): Promise<number> {
  const bytes = encodeCheckpoint(state, meta, opts);
  await writeFileAtomic(path, bytes);
  return bytes.length;
}

/** Reads and validates a checkpoint file. Throws a `format` error naming the file and the problem. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new GnnrlError('input', `checkpoint ${path}: cannot read: ${(err as Error).message}`, { file: path, cause: err });
  }
  return decodeCheckpoint(bytes, path);
}

function isEntry(e: unknown): e is ArrayEntry {
  return isArrayEntry(e) && ((e as ArrayEntry).section === 'state' || (e as ArrayEntry).section === 'extra');
}

/** Parses checkpoint bytes; `source` names them in errors. */
export function decodeCheckpoint(bytes: Uint8Array, source = '<memory>'): Checkpoint {
  if (bytes.length < PREAMBLE) throw formatError(source, `truncated: ${bytes.length} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const magic = Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1');
  if (magic !== CHECKPOINT_MAGIC) {
    throw formatError(source, `not a gnnrl checkpoint (the file starts with ${JSON.stringify(magic)}, expected "GNNRLCK\\0")`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version < 1 || version > CHECKPOINT_VERSION) {
    throw formatError(source, `format version ${version} is not supported (this gnnrl reads versions 1..${CHECKPOINT_VERSION}; a newer gnnrl wrote it?)`);
  }
  const headerLength = view.getUint32(12, true);
  if (headerLength > MAX_HEADER || PREAMBLE + headerLength > bytes.length) {
    throw formatError(source, `truncated or corrupt: the header claims ${headerLength} bytes but the file has ${bytes.length - PREAMBLE} after the preamble`);
  }
  let header: CheckpointHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + PREAMBLE, headerLength).toString('utf8')) as CheckpointHeader;
  } catch (err) {
    throw formatError(source, `corrupt header: not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || header.format !== 'gnnrl-checkpoint') {
    throw formatError(source, `corrupt header: 'format' is not 'gnnrl-checkpoint'`);
  }
  if (typeof header.kind !== 'string' || !Array.isArray(header.arrays) || !Number.isSafeInteger(header.dataBytes) || typeof header.sha256 !== 'string') {
    throw formatError(source, 'corrupt header: kind, arrays, dataBytes or sha256 is missing or of the wrong type');
  }
  const dataStart = align8(PREAMBLE + headerLength);
  const actual = bytes.length - dataStart;
  if (actual !== header.dataBytes) {
    const how = actual < header.dataBytes ? 'truncated' : 'has trailing bytes';
    throw formatError(source, `${how}: the data section should hold ${header.dataBytes} bytes, the file has ${Math.max(0, actual)}`);
  }
  const data = bytes.subarray(dataStart);
  const sha = sha256Hex(data);
  if (sha !== header.sha256) throw formatError(source, `corrupt: the data section's SHA-256 is ${sha.slice(0, 16)}…, the header records ${header.sha256.slice(0, 16)}…`);

  const stateArrays: Record<string, Float32Array | Int32Array> = {};
  const extras: Record<string, CheckpointArray> = {};
  for (const e of header.arrays) {
    if (!isEntry(e)) throw formatError(source, `corrupt header: bad array entry ${JSON.stringify(e).slice(0, 120)}`);
    const arr = readArray(data, e);
    if (typeof arr === 'string') throw formatError(source, arr);
    if (e.section === 'state') {
      if (!(arr instanceof Float32Array || arr instanceof Int32Array)) {
        throw formatError(source, `state array '${e.name}' has dtype ${e.dtype}; model parameters are f32 or i32`);
      }
      stateArrays[e.name] = arr;
    } else {
      extras[e.name] = arr;
    }
  }
  return {
    state: { kind: header.kind, config: header.config ?? {}, arrays: stateArrays },
    meta: header.meta ?? {},
    extras,
    version,
    source,
  };
}
