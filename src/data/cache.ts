/**
 * Binary cache of a parsed interaction log, so a large text file is parsed once.
 *
 * Layout (little-endian):
 *   bytes 0..7   magic "GNNRLC" 0x00 0x01 (format version 1)
 *   bytes 8..11  u32 length H of the JSON header
 *   H bytes      JSON header (UTF-8), padded with spaces so the payload starts 8-aligned
 *   payload      user Int32, item Int32, rating Float32?, ts Float64?, each at an
 *                8-aligned offset recorded in the header
 *
 * Trust nothing. A cache is used only when all of these hold, and is rebuilt otherwise:
 * - the magic, version, header JSON and byte order are what this code writes;
 * - the loader options (columns, delimiter, encoding, bad-line policy…) are equal;
 * - the source file's size and the SHA-256 of its full content equal those recorded
 *   (content, not mtime: a copied or touched file still hits, an edit that keeps size
 *   and mtime still misses; hashing runs at ~1.5 GB/s, several times faster than parsing);
 * - the SHA-256 of the payload equals the recorded one and every array fits the file
 *   (a truncated or bit-flipped cache is detected, never half-used).
 * Writing goes through a temporary file and a rename, so a crash leaves no partial cache.
 * A cache that cannot be written (read-only directory) only costs a warning.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { endianness } from 'node:os';
import { IdMap, type IdMapJson } from './idmap.js';
import type { CacheInfo, CacheOption, LoadedInteractions, LoadReport } from './load-types.js';
import { AtomicWriter } from './io/atomic.js';
import { align8, layoutArrays, readArray, sha256Hex } from './io/container.js';
import { GnnrlError } from '../errors.js';
import { openForRead } from './io/scanner.js';

export type { CacheOption, CacheStatus, CacheInfo } from './load-types.js';

const MAGIC = Buffer.from([0x47, 0x4e, 0x4e, 0x52, 0x4c, 0x43, 0x00, 0x01]);
const VERSION = 1;

interface CacheArrayEntry {
  dtype: 'i32' | 'f32' | 'f64';
  offset: number;
  length: number;
}

interface Header {
  version: number;
  endianness: string;
  options: string;
  source: { size: number; sha256: string };
  payloadBytes: number;
  payloadSha256: string;
  arrays: { user: CacheArrayEntry; item: CacheArrayEntry; rating: CacheArrayEntry | null; ts: CacheArrayEntry | null };
  nUsers: number;
  nItems: number;
  userIds: IdMapJson;
  itemIds: IdMapJson;
  report: Pick<LoadReport, 'rows' | 'skipped' | 'skippedMessages' | 'bytes'>;
}

/** Stable JSON of loader options (keys sorted), the part of the cache key they form. */
export function optionsKey(options: Record<string, unknown>): string {
  return JSON.stringify(options, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

/** Where the cache for (file, options) lives. */
export function cachePath(file: string, cache: true | string, options: Record<string, unknown>): string {
  const abs = resolve(file);
  const key = createHash('sha256').update(optionsKey(options)).update('\0').update(abs).digest('hex').slice(0, 16);
  const dir = cache === true ? join(dirname(abs), '.gnnrl-cache') : resolve(cache);
  return join(dir, `${basename(abs)}.${key}.gnnrlc`);
}

/** SHA-256 of a whole file, streamed. */
export async function fileSha256(file: string): Promise<{ size: number; sha256: string }> {
  const { fh, size } = await openForRead(file, basename(file));
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
    return { size, sha256: h.digest('hex') };
  } finally {
    await fh.close();
  }
}

/**
 * Returns the cached parse of `file` when a valid cache exists, else runs `parse`,
 * stores its result and returns it. `report.cache` says which happened.
 */
export async function cachedLoad(
  file: string,
  cache: CacheOption,
  options: Record<string, unknown>,
  parse: () => Promise<LoadedInteractions>,
): Promise<LoadedInteractions & { report: LoadReport & { cache: CacheInfo } }> {
  if (!cache) {
    const out = await parse();
    return { ...out, report: { ...out.report, cache: { status: 'off' } } };
  }
  const path = cachePath(file, cache, options);
  const key = optionsKey(options);
  // Fingerprint before parsing: a file that changes while being parsed then misses next time.
  const source = await fileSha256(file);
  const read = await readCache(path, key, source);
  if (read.data) {
    read.data.report.file = resolve(file);
    return read.data;
  }
  const out = await parse();
  let info: CacheInfo = { status: read.status, path, reason: read.reason };
  try {
    await writeCache(path, key, source, out);
  } catch (err) {
    info = { ...info, reason: `${info.reason ? `${info.reason}; ` : ''}cache not written: ${(err as Error).message}` };
    process.emitWarning(`gnnrl: could not write cache ${path}: ${(err as Error).message}`, 'GnnrlDataWarning');
  }
  return { ...out, report: { ...out.report, cache: info } };
}

type ReadResult =
  | { data: LoadedInteractions & { report: LoadReport & { cache: CacheInfo } }; status: 'hit'; reason?: undefined }
  | { data?: undefined; status: 'miss' | 'stale' | 'corrupt'; reason?: string };

export async function readCache(path: string, key: string, source: { size: number; sha256: string }): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return { status: 'miss' };
  }
  const corrupt = (reason: string): ReadResult => ({ status: 'corrupt', reason });
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC)) return corrupt('bad magic bytes');
  const hlen = bytes.readUInt32LE(8);
  if (12 + hlen > bytes.length) return corrupt('header runs past the end of the file');
  let h: Header;
  try {
    h = JSON.parse(bytes.toString('utf8', 12, 12 + hlen)) as Header;
  } catch {
    return corrupt('header is not valid JSON');
  }
  if (h.version !== VERSION) return { status: 'stale', reason: `cache format version ${h.version}, expected ${VERSION}` };
  if (h.endianness !== endianness()) return { status: 'stale', reason: `written on a ${h.endianness} machine` };
  if (h.options !== key) return { status: 'stale', reason: 'loader options differ' };
  if (!h.source || h.source.size !== source.size || h.source.sha256 !== source.sha256) {
    return { status: 'stale', reason: 'source file changed (size or SHA-256 differs)' };
  }
  const base = align8(12 + hlen);
  if (base + h.payloadBytes !== bytes.length) return corrupt(`payload is ${bytes.length - base} bytes, header says ${h.payloadBytes}`);
  const payload = bytes.subarray(base);
  if (sha256Hex(payload) !== h.payloadSha256) return corrupt('payload checksum mismatch');
  try {
    const user = take(payload, h.arrays.user, 'user', Int32Array);
    const item = take(payload, h.arrays.item, 'item', Int32Array);
    const rating = h.arrays.rating ? take(payload, h.arrays.rating, 'rating', Float32Array) : null;
    const ts = h.arrays.ts ? take(payload, h.arrays.ts, 'ts', Float64Array) : null;
    const userIds = IdMap.fromJSON(h.userIds);
    const itemIds = IdMap.fromJSON(h.itemIds);
    if (userIds.size !== h.nUsers || itemIds.size !== h.nItems || item.length !== user.length) return corrupt('inconsistent sizes');
    return {
      status: 'hit',
      data: {
        user,
        item,
        rating,
        ts,
        nUsers: h.nUsers,
        nItems: h.nItems,
        userIds,
        itemIds,
        report: { ...h.report, file: '', fromCache: true, cache: { status: 'hit', path } },
      },
    };
  } catch (err) {
    return corrupt((err as Error).message);
  }
}

function take<T extends Int32Array | Float32Array | Float64Array>(payload: Buffer, e: CacheArrayEntry, name: string, C: new (...a: never[]) => T): T {
  const a = readArray(payload, { ...e, name });
  if (typeof a === 'string') throw new GnnrlError('format', a);
  if (!(a instanceof C)) throw new GnnrlError('format', `array '${name}' has dtype ${e.dtype}`);
  return a;
}

export async function writeCache(path: string, key: string, source: { size: number; sha256: string }, data: LoadedInteractions): Promise<void> {
  // The shared container's data area (data/io/container.ts): views, so nothing is copied.
  const named: [string, Int32Array | Float32Array | Float64Array][] = [['user', data.user], ['item', data.item]];
  if (data.rating) named.push(['rating', data.rating]);
  if (data.ts) named.push(['ts', data.ts]);
  const { entries, parts, bytes: off } = layoutArrays(named, 'writeCache');
  const entry = (name: string): CacheArrayEntry | null => {
    const e = entries.find((x) => x.name === name);
    return e ? { dtype: e.dtype as CacheArrayEntry['dtype'], offset: e.offset, length: e.length } : null;
  };
  const arrays = { user: entry('user')!, item: entry('item')!, rating: entry('rating'), ts: entry('ts') };
  const payloadSha256 = sha256Hex(...parts);
  const header: Header = {
    version: VERSION,
    endianness: endianness(),
    options: key,
    source,
    payloadBytes: off,
    payloadSha256,
    arrays,
    nUsers: data.nUsers,
    nItems: data.nItems,
    userIds: data.userIds.toJSON(),
    itemIds: data.itemIds.toJSON(),
    report: { rows: data.report.rows, skipped: data.report.skipped, skippedMessages: data.report.skippedMessages, bytes: data.report.bytes },
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = align8(12 + json.length) - 12;
  if (padded > json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const head = Buffer.alloc(12);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(json.length, 8);
  // Streamed part by part: no second copy of a large payload in memory.
  const w = await AtomicWriter.open(path);
  try {
    await w.writeBytes(Buffer.concat([head, json]));
    for (const p of parts) await w.writeBytes(p);
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}
