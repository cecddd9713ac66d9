/**
 * `Interactions`: the one in-memory interaction log. Plain data in typed arrays
 * (row i is one event: user[i] rated/clicked item[i] with rating[i] at ts[i]), so it
 * crosses to the graph builder, the GPU and the cache without conversion.
 */
import { createHash } from 'node:crypto';
import { GnnrlError, check } from '../errors.js';
import type { FeatureTable } from './features-types.js';
import { IdMap, normalizeId } from './idmap.js';
import { bucketByKey } from '../util/bucket.js';

export type { FeatureTable } from './features-types.js';

export interface Interactions {
  /** Dense user index per event, in [0, nUsers). */
  user: Int32Array;
  /** Dense item index per event, in [0, nItems). */
  item: Int32Array;
  /** Explicit rating per event; null for implicit feedback. */
  rating: Float32Array | null;
  /** Timestamp per event (seconds since the epoch for loaded files); null when unknown. */
  ts: Float64Array | null;
  nUsers: number;
  nItems: number;
  userIds: IdMap;
  itemIds: IdMap;
  /** Row u describes user u (nRows === nUsers). */
  userFeatures?: FeatureTable;
  /** Row i describes item i (nRows === nItems). */
  itemFeatures?: FeatureTable;
}

/** Number of events. */
export function interactionCount(x: Interactions): number {
  return x.user.length;
}

/** Validates shapes and id ranges; throws an `input` error naming the first bad field. */
export function validateInteractions(x: Interactions, arg = 'interactions'): void {
  const n = x.user.length;
  check(x.item.length === n, `${arg}.item`, `length ${n} like ${arg}.user, got ${x.item.length}`);
  check(x.rating === null || x.rating.length === n, `${arg}.rating`, `length ${n} or null`);
  check(x.ts === null || x.ts.length === n, `${arg}.ts`, `length ${n} or null`);
  check(x.nUsers >= x.userIds.size, `${arg}.nUsers`, `>= userIds.size (${x.userIds.size})`);
  check(x.nItems >= x.itemIds.size, `${arg}.nItems`, `>= itemIds.size (${x.itemIds.size})`);
  for (let i = 0; i < n; i++) {
    const u = x.user[i];
    if (!(u >= 0 && u < x.nUsers)) check(false, `${arg}.user`, `an index in [0, ${x.nUsers}), got ${u}`, i);
    const it = x.item[i];
    if (!(it >= 0 && it < x.nItems)) check(false, `${arg}.item`, `an index in [0, ${x.nItems}), got ${it}`, i);
  }
  if (x.userFeatures) check(x.userFeatures.nRows === x.nUsers, `${arg}.userFeatures.nRows`, `${x.nUsers}`);
  if (x.itemFeatures) check(x.itemFeatures.nRows === x.nItems, `${arg}.itemFeatures.nRows`, `${x.nItems}`);
}

/**
 * Events at `indices` (in that order), sharing id maps and feature tables with `x`:
 * a split's parts stay in one id space.
 */
export function selectInteractions(x: Interactions, indices: ArrayLike<number>): Interactions {
  const m = indices.length;
  const n = x.user.length;
  const user = new Int32Array(m);
  const item = new Int32Array(m);
  const rating = x.rating ? new Float32Array(m) : null;
  const ts = x.ts ? new Float64Array(m) : null;
  for (let j = 0; j < m; j++) {
    const i = indices[j];
    if (!(i >= 0 && i < n)) {
      throw new GnnrlError('input', `selectInteractions: indices[${j}] = ${i} is outside [0, ${n})`, { arg: 'indices', index: j });
    }
    user[j] = x.user[i];
    item[j] = x.item[i];
    if (rating) rating[j] = x.rating![i];
    if (ts) ts[j] = x.ts![i];
  }
  return withArrays(x, user, item, rating, ts);
}

/** Events where `mask[i]` is non-zero, in original order. */
export function filterByMask(x: Interactions, mask: Uint8Array): Interactions {
  return selectInteractions(x, maskToIndices(mask));
}

export function maskToIndices(mask: Uint8Array, want = 1): Int32Array {
  let count = 0;
  for (let i = 0; i < mask.length; i++) if ((mask[i] !== 0) === (want !== 0)) count++;
  const out = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < mask.length; i++) if ((mask[i] !== 0) === (want !== 0)) out[k++] = i;
  return out;
}

/** A copy of `x`'s metadata with new event arrays. */
export function withArrays(
  x: Interactions,
  user: Int32Array,
  item: Int32Array,
  rating: Float32Array | null,
  ts: Float64Array | null,
): Interactions {
  const out: Interactions = { user, item, rating, ts, nUsers: x.nUsers, nItems: x.nItems, userIds: x.userIds, itemIds: x.itemIds };
  if (x.userFeatures) out.userFeatures = x.userFeatures;
  if (x.itemFeatures) out.itemFeatures = x.itemFeatures;
  return out;
}

/**
 * Per-user grouping, CSR-like: user u's events are `order[offsets[u] .. offsets[u+1])`
 * (indices into `x`), sorted by ts ascending; equal timestamps (and logs without ts)
 * keep their original row order, so the result is deterministic.
 */
export interface UserGroups {
  offsets: Int32Array;
  order: Int32Array;
}

export function groupByUser(x: Interactions): UserGroups {
  // Counting sort by user keeps original order within a user (stable).
  const { offsets, order } = bucketByKey(x.user, x.nUsers);
  const ts = x.ts;
  if (ts) {
    for (let u = 0; u < x.nUsers; u++) sortSegmentByTs(order, offsets[u], offsets[u + 1], ts);
  }
  return { offsets, order };
}

/**
 * Sorts order[lo..hi) by (ts, index). Insertion sort for short or already sorted runs
 * (the common case: logs are usually time-ordered), a comparator sort otherwise.
 */
function sortSegmentByTs(order: Int32Array, lo: number, hi: number, ts: Float64Array): void {
  let sorted = true;
  for (let j = lo + 1; j < hi; j++) {
    if (ts[order[j]] < ts[order[j - 1]]) {
      sorted = false;
      break;
    }
  }
  if (sorted) return; // indices within a segment already ascend, so ties are in order
  if (hi - lo <= 32) {
    for (let j = lo + 1; j < hi; j++) {
      const v = order[j];
      const tv = ts[v];
      let k = j - 1;
      while (k >= lo && (ts[order[k]] > tv || (ts[order[k]] === tv && order[k] > v))) {
        order[k + 1] = order[k];
        k--;
      }
      order[k + 1] = v;
    }
    return;
  }
  const seg = order.subarray(lo, hi);
  seg.sort((a, b) => ts[a] - ts[b] || a - b);
}

/** Events per user (length nUsers). */
export function userDegrees(x: Interactions): Int32Array {
  const d = new Int32Array(x.nUsers);
  for (let i = 0; i < x.user.length; i++) d[x.user[i]]++;
  return d;
}

/** Events per item (length nItems). */
export function itemDegrees(x: Interactions): Int32Array {
  const d = new Int32Array(x.nItems);
  for (let i = 0; i < x.item.length; i++) d[x.item[i]]++;
  return d;
}

/** Builds an `Interactions` from external ids (tests, small in-memory logs). */
export function fromExternal(rows: {
  user: ArrayLike<unknown>;
  item: ArrayLike<unknown>;
  rating?: ArrayLike<number> | null;
  ts?: ArrayLike<number> | null;
}): Interactions {
  const n = rows.user.length;
  check(rows.item.length === n, 'rows.item', `length ${n}`);
  const userIds = new IdMap();
  const itemIds = new IdMap();
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    user[i] = addId(userIds, rows.user[i], 'rows.user', i);
    item[i] = addId(itemIds, rows.item[i], 'rows.item', i);
  }
  const rating = rows.rating ? Float32Array.from(rows.rating) : null;
  const ts = rows.ts ? Float64Array.from(rows.ts) : null;
  const x: Interactions = { user, item, rating, ts, nUsers: userIds.size, nItems: itemIds.size, userIds, itemIds };
  validateInteractions(x, 'rows');
  return x;
}

function addId(m: IdMap, raw: unknown, arg: string, i: number): number {
  const key = normalizeId(raw);
  check(key !== undefined, arg, 'a non-empty string or number id', i);
  return m.getOrAdd(key);
}

/** SHA-256 (hex) of the events as stored: the data fingerprint of run manifests (`LoadedData.source.sha256` in cli/data-spec.ts) and of model checkpoints (`dataHash`). */
export function interactionsSha256(x: Interactions): string {
  const h = createHash('sha256');
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  h.update(`gnnrl-log-v1 ${x.user.length} ${x.nUsers} ${x.nItems} ${x.rating ? 'r' : '-'}${x.ts ? 't' : '-'}\n`);
  h.update(bytes(x.user));
  h.update(bytes(x.item));
  if (x.rating) h.update(bytes(x.rating));
  if (x.ts) h.update(bytes(x.ts));
  return h.digest('hex');
}
