/**
 * External ids (numbers or strings) <-> dense ids 0..n-1, in order of first appearance.
 *
 * Speed for 10^7 rows: fromIds() goes through the addon when it is loaded (an
 * open-addressing table in C++ holding keys inline: native/idmap_core.cc), else a Map.
 * Measured on 10^7 rows / 10^6 distinct ids (shared 2-core machine, loaded): numbers
 * native ~1.6-1.9 s vs TS Map ~6.5-8 s; strings native ~9.7 s vs TS Map ~10-11 s. For
 * strings the crossing itself (join + UTF-8 copy of 10^7 V8 strings) costs as much as
 * V8's own Map hashing, so the TS path is the documented equal (well within 2x); the
 * native one is still used because it builds no per-id JS objects while encoding.
 * The JS-side lookup Map needed by get()/encode() of single ids is only built on first
 * use. Numeric ids must be safe integers (so they survive JSON); -0 equals 0.
 *
 * Serialisation: toJSON() gives { kind, ids } with ids in dense order; fromJSON()
 * restores a map whose dense ids are the same, so saved models keep their rows.
 *
 * Why there are two id maps (this one, exported as `GraphIdMap`, and data/idmap.ts's
 * `IdMap`): they answer different inputs with different rules, on purpose.
 * - This one encodes ids a caller already holds as typed values, in bulk (a whole column
 *   at once, through the addon): the kind is the caller's, one per map, and kept exactly:
 *   7 and '7' are different ids, and '007' stays '007'. It never parses.
 * - data/idmap.ts reads tokens out of text files one at a time while a loader streams, and
 *   normalises them (a canonical decimal token becomes a number) so that the same file read
 *   as CSV or as JSONL gives the same map.
 * Applying the loaders' normalisation here would silently merge ids a caller keeps apart
 * ('7' and 7 from two systems); keeping the caller's kinds in the loaders would make
 * "42" in a CSV and 42 in JSONL two users. Both serialise to the ids in dense order, so a
 * model saved with either restores its rows.
 */
import { GnnrlError } from '../errors.js';
import { resolveImpl } from '../native.js';
import { MAX_INDEX, describe, inputError, showValue } from './args.js';
import type { ImplOption } from './build.js';

export type ExternalId = number | string;
export type IdKind = 'number' | 'string';
export type IdInput = Int32Array | Float64Array | readonly number[] | readonly string[];

export interface IdMapJson {
  kind: IdKind;
  ids: ExternalId[];
}

export class IdMap {
  private readonly idList: ExternalId[];
  private lookup: Map<ExternalId, number> | undefined;
  private kindOf: IdKind | undefined;

  private constructor(ids: ExternalId[], kind: IdKind | undefined, lookup?: Map<ExternalId, number>) {
    this.idList = ids;
    this.kindOf = kind;
    this.lookup = lookup;
  }

  static empty(kind?: IdKind): IdMap {
    return new IdMap([], kind, new Map());
  }

  /** Builds a map from a column of ids and returns it with the dense column. */
  static fromIds(ids: IdInput, opts: ImplOption = {}): { map: IdMap; dense: Int32Array } {
    const kind = kindOfInput(ids);
    const addon = resolveImpl(opts.impl);
    if (kind === 'number') {
      const nums = numericColumn(ids as Int32Array | Float64Array | readonly number[]);
      if (addon) {
        const { dense, firstIndex } = addon.encodeNumbers(nums);
        const list: number[] = new Array(firstIndex.length);
        for (let d = 0; d < firstIndex.length; d++) list[d] = nums[firstIndex[d]] === 0 ? 0 : nums[firstIndex[d]];
        return { map: new IdMap(list, 'number'), dense };
      }
      const map = IdMap.empty('number');
      return { map, dense: map.encode(nums, { missing: 'add' }) };
    }
    const strs = ids as readonly string[];
    if (addon) {
      // Joining is one fast V8 operation; a non-string element makes join() stringify it,
      // so the per-element path (which names the bad index) is used unless all are strings.
      const joined = allStrings(strs) ? addon.encodeJoined(strs.join('\0'), strs.length) : null;
      const { dense, firstIndex } = joined ?? addon.encodeStrings(strs);
      const list: string[] = new Array(firstIndex.length);
      for (let d = 0; d < firstIndex.length; d++) list[d] = strs[firstIndex[d]];
      return { map: new IdMap(list, 'string'), dense };
    }
    const map = IdMap.empty('string');
    return { map, dense: map.encode(strs, { missing: 'add' }) };
  }

  static fromJSON(json: IdMapJson): IdMap {
    if (typeof json !== 'object' || json === null) throw inputError('json', `an IdMap JSON object, got ${describe(json)}`);
    if (json.kind !== 'number' && json.kind !== 'string') throw inputError('json.kind', `"number" or "string", got ${showValue(json.kind)}`);
    if (!Array.isArray(json.ids)) throw inputError('json.ids', `an array, got ${describe(json.ids)}`);
    const m = IdMap.empty(json.kind);
    for (let k = 0; k < json.ids.length; k++) {
      const id = json.ids[k];
      checkId(id, json.kind, 'json.ids', k);
      if (m.lookup!.has(id)) throw new GnnrlError('format', `json.ids[${k}]: duplicate id ${showValue(id)}`, { field: 'ids', index: k });
      m.lookup!.set(id, k);
      m.idList.push(id);
    }
    return m;
  }

  toJSON(): IdMapJson {
    return { kind: this.kindOf ?? 'number', ids: this.idList.slice() };
  }

  get size(): number {
    return this.idList.length;
  }

  get kind(): IdKind | undefined {
    return this.kindOf;
  }

  /** Dense id of `id`, or -1 when unknown. */
  get(id: ExternalId): number {
    return this.map().get(id === 0 ? 0 : id) ?? -1;
  }

  /** Dense id of `id`, adding it when new. */
  add(id: ExternalId): number {
    checkId(id, this.kindOf ?? (typeof id === 'string' ? 'string' : 'number'), 'id');
    this.kindOf ??= typeof id === 'string' ? 'string' : 'number';
    const key = id === 0 ? 0 : id;
    const m = this.map();
    let d = m.get(key);
    if (d === undefined) {
      if (this.idList.length >= MAX_INDEX) throw new GnnrlError('limit', 'IdMap: more than 2147483647 ids');
      d = this.idList.length;
      m.set(key, d);
      this.idList.push(key);
    }
    return d;
  }

  /**
   * Dense ids of a column. `missing`: 'add' grows the map, 'error' (default) throws an
   * 'input' error naming the index, -1 maps unknown ids to -1.
   */
  encode(ids: IdInput, opts: { missing?: 'add' | 'error' | -1 } = {}): Int32Array {
    const missing = opts.missing ?? 'error';
    const n = ids.length;
    const out = new Int32Array(n);
    if (n === 0) return out;
    const kind = kindOfInput(ids);
    if (this.kindOf !== undefined && kind !== this.kindOf) {
      throw inputError('ids', `${this.kindOf} ids (this map holds ${this.kindOf}s), got ${kind}s`);
    }
    const m = this.map();
    for (let k = 0; k < n; k++) {
      const raw = ids[k];
      const id = raw === 0 ? 0 : raw;
      let d = m.get(id);
      if (d === undefined) {
        checkId(id, kind, 'ids', k);
        if (missing === 'add') {
          this.kindOf ??= kind;
          d = this.idList.length;
          m.set(id, d);
          this.idList.push(id);
        } else if (missing === -1) d = -1;
        else throw new GnnrlError('input', `ids[${k}]: unknown id ${showValue(id)}`, { arg: 'ids', index: k });
      }
      out[k] = d;
    }
    return out;
  }

  /** External id of a dense id. */
  idOf(dense: number): ExternalId {
    if (!(dense >= 0 && dense < this.idList.length) || dense !== Math.floor(dense)) {
      throw inputError('dense', `an integer in [0, ${this.idList.length}), got ${showValue(dense)}`);
    }
    return this.idList[dense];
  }

  decode(dense: Int32Array): ExternalId[] {
    const out: ExternalId[] = new Array(dense.length);
    for (let k = 0; k < dense.length; k++) {
      const d = dense[k];
      if (d < 0 || d >= this.idList.length) throw inputError('dense', `an id in [0, ${this.idList.length}), got ${d}`, k);
      out[k] = this.idList[d];
    }
    return out;
  }

  /** A copy that can grow without changing this one. */
  clone(): IdMap {
    return new IdMap(this.idList.slice(), this.kindOf, this.lookup ? new Map(this.lookup) : undefined);
  }

  /** Approximate bytes held (list + lookup table). */
  memoryBytes(): number {
    const perId = this.kindOf === 'string' ? 40 : 8;
    return this.idList.length * perId + (this.lookup ? this.lookup.size * 40 : 0);
  }

  private map(): Map<ExternalId, number> {
    if (!this.lookup) {
      const m = new Map<ExternalId, number>();
      for (let d = 0; d < this.idList.length; d++) m.set(this.idList[d], d);
      this.lookup = m;
    }
    return this.lookup;
  }
}

function allStrings(a: readonly unknown[]): boolean {
  for (let k = 0; k < a.length; k++) if (typeof a[k] !== 'string') return false;
  return true;
}

function kindOfInput(ids: unknown): IdKind {
  if (ids instanceof Int32Array || ids instanceof Float64Array) return 'number';
  if (!Array.isArray(ids)) throw inputError('ids', `an Int32Array, a Float64Array or an array of numbers or strings, got ${describe(ids)}`);
  return ids.length > 0 && typeof ids[0] === 'string' ? 'string' : 'number';
}

function checkId(id: unknown, kind: IdKind, arg: string, index?: number): void {
  if (kind === 'string') {
    if (typeof id !== 'string') throw inputError(arg, `a string (ids are strings), got ${describe(id)}`, index);
  } else if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
    throw inputError(arg, `a safe integer or a string, got ${showValue(id)}`, index);
  }
}

/** Numeric ids as a Float64Array, each checked to be a safe integer (-0 becomes 0). */
function numericColumn(ids: Int32Array | Float64Array | readonly number[]): Float64Array {
  if (ids instanceof Int32Array) return Float64Array.from(ids);
  const out = new Float64Array(ids.length);
  for (let k = 0; k < ids.length; k++) {
    const v = ids[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) checkId(v, 'number', 'ids', k);
    out[k] = v === 0 ? 0 : v;
  }
  return out;
}
