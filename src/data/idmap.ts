/**
 * Maps external ids (what a file calls a user or an item) to dense 0-based indices, and
 * back. Dense indices are assigned in order of first appearance, so a loader's output
 * is deterministic for a given file.
 *
 * Ids are normalised first (`normalizeId`): a canonical non-negative decimal integer
 * ("42", or the JSON number 42) becomes the number 42, anything else stays a string
 * ("007", "-5", "a1", "é"). So the same file read as CSV or JSONL gives the same map,
 * and "007" is never confused with 7.
 *
 * graph/id-map.ts has a second IdMap (exported as `GraphIdMap`) for ids a caller already
 * holds as typed values, encoded in bulk without normalisation; its header says why the
 * two rules differ and must not be merged.
 */
import { GnnrlError } from '../errors.js';

export type ExternalId = string | number;

/** Largest id that gets the array fast path (4 bytes per slot, 64 MiB at the cap). */
const DENSE_CAP = 1 << 24;
const CANONICAL_INT = /^(0|[1-9][0-9]{0,14})$/;

export function normalizeId(v: unknown): ExternalId | undefined {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    return Number.isFinite(v) ? String(v) : undefined;
  }
  if (typeof v === 'string') {
    if (v.length === 0) return undefined;
    return CANONICAL_INT.test(v) ? Number(v) : v;
  }
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : String(v);
  return undefined;
}

/** Serialised form: the external ids in dense order. */
export interface IdMapJson {
  ids: ExternalId[];
}

export class IdMap {
  private readonly ext: ExternalId[] = [];
  /** Small non-negative integer ids: slot holds dense index + 1 (0 = absent). */
  private dense = new Int32Array(0);
  private readonly map = new Map<ExternalId, number>();

  get size(): number {
    return this.ext.length;
  }

  /** Dense index of a normalised id, assigning the next one when it is new. */
  getOrAdd(id: ExternalId): number {
    if (typeof id === 'number' && id < DENSE_CAP && Number.isInteger(id) && id >= 0) return this.getOrAddInt(id);
    let k = this.map.get(id);
    if (k === undefined) {
      k = this.ext.length;
      this.map.set(id, k);
      this.ext.push(id);
    }
    return k;
  }

  /** Hot path for loaders: `n` must be a non-negative safe integer. */
  getOrAddInt(n: number): number {
    if (n >= DENSE_CAP) return this.getOrAdd(n); // getOrAdd sends big ids to the Map
    if (n >= this.dense.length) this.growDense(n);
    const slot = this.dense[n];
    if (slot !== 0) return slot - 1;
    const k = this.ext.length;
    this.dense[n] = k + 1;
    this.ext.push(n);
    return k;
  }

  /** Dense index of an id (normalised here), or -1 when unknown. */
  get(id: unknown): number {
    const key = normalizeId(id);
    if (key === undefined) return -1;
    if (typeof key === 'number' && key < DENSE_CAP) return key < this.dense.length ? this.dense[key] - 1 : -1;
    return this.map.get(key) ?? -1;
  }

  has(id: unknown): boolean {
    return this.get(id) >= 0;
  }

  /** External id of a dense index. */
  id(index: number): ExternalId {
    if (!(index >= 0 && index < this.ext.length)) {
      throw new GnnrlError('input', `IdMap.id: index ${index} out of range [0, ${this.ext.length})`, { arg: 'index', index });
    }
    return this.ext[index];
  }

  /** All external ids in dense order (a copy). */
  ids(): ExternalId[] {
    return this.ext.slice();
  }

  toJSON(): IdMapJson {
    return { ids: this.ext.slice() };
  }

  static fromJSON(json: IdMapJson): IdMap {
    if (!json || !Array.isArray(json.ids)) throw new GnnrlError('format', 'IdMap.fromJSON: expected { ids: [...] }');
    return IdMap.fromIds(json.ids);
  }

  /** Builds a map whose dense order is `ids`; duplicates are an error. */
  static fromIds(ids: Iterable<unknown>): IdMap {
    const m = new IdMap();
    let i = 0;
    for (const raw of ids) {
      const key = normalizeId(raw);
      if (key === undefined) throw new GnnrlError('input', `IdMap.fromIds: ids[${i}] is not an id: ${String(raw)}`, { arg: 'ids', index: i });
      if (m.getOrAdd(key) !== i) throw new GnnrlError('input', `IdMap.fromIds: duplicate id ${JSON.stringify(key)} at ids[${i}]`, { arg: 'ids', index: i });
      i++;
    }
    return m;
  }

  /** A map holding the dense indices `keep` (in that order) renumbered 0.. */
  subset(keep: ArrayLike<number>): IdMap {
    const m = new IdMap();
    for (let i = 0; i < keep.length; i++) m.getOrAdd(this.id(keep[i]));
    return m;
  }

  private growDense(n: number): void {
    let cap = Math.max(1024, this.dense.length * 2);
    while (cap <= n) cap *= 2;
    const next = new Int32Array(Math.min(cap, DENSE_CAP));
    next.set(this.dense);
    this.dense = next;
  }
}
