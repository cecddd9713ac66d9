/**
 * Uniform experience replay: a ring buffer of transitions stored as a struct of typed
 * arrays, one array per named field (`user`, `history`, `action`, `reward`, …), each
 * `width` values per row. The buffer knows nothing about what the fields mean; the agent
 * picks the schema (see `transitionSchema` for the recommender's usual one).
 *
 * Rows are written at `next` and wrap around at `capacity`, overwriting the oldest.
 * Sampling is uniform with replacement over the rows held, from the Rng the buffer was
 * given, so the same seed and the same adds give the same samples.
 *
 * Memory is reserved up front (capacity × row bytes), so the constructor refuses a
 * capacity whose arrays would exceed `maxBytes` (default: a quarter of the machine's RAM)
 * before allocating anything.
 */
import { totalmem } from 'node:os';
import { GnnrlError, check } from '../../errors.js';
import type { Rng } from '../../util/rng.js';

export type FieldDtype = 'f32' | 'f64' | 'i32' | 'u8';
export type FieldArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** One named column of a buffer: `width` values of `dtype` per row. */
export interface FieldSpec {
  readonly name: string;
  readonly dtype: FieldDtype;
  readonly width: number;
}

const CTORS = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u8: Uint8Array,
} as const;

export function bytesPerValue(dtype: FieldDtype): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

export function allocField(dtype: FieldDtype, length: number): FieldArray {
  return new CTORS[dtype](length);
}

/** True when `a` is the typed array class `dtype` names. */
export function isDtype(a: unknown, dtype: FieldDtype): a is FieldArray {
  return a instanceof CTORS[dtype];
}

/** Checks a schema (non-empty, unique names, known dtypes, integer widths ≥ 1); returns its row size in bytes. */
export function checkSchema(schema: readonly FieldSpec[], arg = 'schema'): number {
  check(Array.isArray(schema) && schema.length > 0, arg, 'a non-empty array of { name, dtype, width }');
  const seen = new Set<string>();
  let rowBytes = 0;
  schema.forEach((f, i) => {
    check(typeof f?.name === 'string' && f.name.length > 0, `${arg}[${i}].name`, `a non-empty string, got ${JSON.stringify(f?.name)}`);
    check(!seen.has(f.name), `${arg}[${i}].name`, `a name not used before, got '${f.name}' twice`);
    seen.add(f.name);
    check(Object.hasOwn(CTORS, f.dtype), `${arg}[${i}].dtype`, `'f32' | 'f64' | 'i32' | 'u8', got ${JSON.stringify(f.dtype)}`);
    check(Number.isInteger(f.width) && f.width >= 1, `${arg}[${i}].width`, `an integer >= 1, got ${f.width}`);
    rowBytes += f.width * bytesPerValue(f.dtype);
  });
  return rowBytes;
}

/** The default memory limit of one buffer: a quarter of this machine's RAM. */
export function defaultMaxBytes(): number {
  return Math.floor(totalmem() / 4);
}

/**
 * Checks `capacity` (an integer ≥ 1) and that capacity × rowBytes fits `maxBytes`.
 * Shared with the prioritized buffer, whose tree adds its own bytes per row.
 */
export function checkCapacity(capacity: number, rowBytes: number, maxBytes: number, what = 'replay buffer'): void {
  check(Number.isInteger(capacity) && capacity >= 1, 'capacity', `an integer >= 1, got ${capacity}`);
  check(typeof maxBytes === 'number' && maxBytes > 0, 'maxBytes', `a number > 0, got ${maxBytes}`);
  const bytes = capacity * rowBytes;
  if (bytes > maxBytes) {
    throw new GnnrlError(
      'limit',
      `${what}: capacity ${capacity} × ${rowBytes} bytes per row asks for ${bytes} bytes, over the limit of ${maxBytes} bytes; lower capacity or raise maxBytes`,
      { arg: 'capacity' },
    );
  }
}

export interface ReplayOptions {
  readonly schema: readonly FieldSpec[];
  readonly capacity: number;
  /** The sampling stream; the buffer draws from it and nothing else does. */
  readonly rng: Rng;
  /** Refuse buffers larger than this (bytes); default a quarter of os.totalmem(). */
  readonly maxBytes?: number;
}

export interface ReplaySample {
  /** Buffer rows drawn (with replacement), one per sample. */
  readonly indices: Int32Array;
  /** Each field's rows at `indices`, batch × width, in a fresh array. */
  readonly fields: Record<string, FieldArray>;
}

/** The JSON-able part of a snapshot. */
export interface ReplayPosition {
  readonly capacity: number;
  readonly size: number;
  readonly next: number;
  readonly schema: FieldSpec[];
}

/**
 * A snapshot: the first `size` rows of each field (copies) and the ring position. The Rng
 * is not part of it (the buffer does not own its seed); give `load` a buffer built with
 * the Rng the resumed run should draw from.
 */
export interface ReplayState {
  readonly position: ReplayPosition;
  readonly fields: Record<string, FieldArray>;
}

export class ReplayBuffer {
  readonly schema: readonly FieldSpec[];
  readonly capacity: number;
  /** Bytes one row occupies across all fields. */
  readonly rowBytes: number;
  private readonly rng: Rng;
  private readonly store: Record<string, FieldArray> = {};
  private count = 0;
  private cursor = 0;

  constructor(opts: ReplayOptions) {
    this.rowBytes = checkSchema(opts.schema);
    checkCapacity(opts.capacity, this.rowBytes, opts.maxBytes ?? defaultMaxBytes());
    check(opts.rng !== undefined && typeof opts.rng.int === 'function', 'rng', 'an Rng (src/util/rng.ts)');
    this.schema = opts.schema.map((f) => ({ name: f.name, dtype: f.dtype, width: f.width }));
    this.capacity = opts.capacity;
    this.rng = opts.rng;
    try {
      for (const f of this.schema) this.store[f.name] = allocField(f.dtype, opts.capacity * f.width);
    } catch (e) {
      // Under maxBytes yet over what one typed array or the heap allows (maxBytes raised by hand).
      if (!(e instanceof RangeError)) throw e;
      throw new GnnrlError('limit', `replay buffer: could not allocate ${opts.capacity} rows × ${this.rowBytes} bytes (${e.message}); lower capacity`, { arg: 'capacity', cause: e });
    }
  }

  /** Rows held (≤ capacity). */
  get size(): number {
    return this.count;
  }

  /** The row the next `add` writes first. */
  get next(): number {
    return this.cursor;
  }

  /** The storage array of a field (capacity × width; rows ≥ size are unset). Read-only by convention. */
  field(name: string): FieldArray {
    const a = this.store[name];
    check(a !== undefined, 'name', `a field of the schema (${this.schema.map((f) => f.name).join(', ')}), got '${name}'`);
    return a;
  }

  /**
   * Appends `count` rows: `rows[name]` holds at least count × width values of the field's
   * dtype, row-major, for every field of the schema (and no other). When count exceeds
   * the capacity only the last `capacity` rows are kept. Returns the buffer row each
   * input row went to (input rows that were overwritten at once are left out).
   */
  add(rows: Record<string, FieldArray>, count: number): Int32Array {
    check(Number.isInteger(count) && count >= 0, 'count', `an integer >= 0, got ${count}`);
    checkRows(this.schema, rows, count);
    const cap = this.capacity;
    // Rows that would be overwritten within this same call are skipped, not written twice.
    const skip = Math.max(0, count - cap);
    const n = count - skip;
    const start = (this.cursor + skip) % cap;
    const first = Math.min(n, cap - start); // rows before the wrap
    for (const f of this.schema) {
      const src = rows[f.name]!;
      const dst = this.store[f.name]!;
      const w = f.width;
      dst.set(src.subarray(skip * w, (skip + first) * w), start * w);
      if (first < n) dst.set(src.subarray((skip + first) * w, count * w), 0);
    }
    const where = new Int32Array(n);
    for (let i = 0; i < n; i++) where[i] = (start + i) % cap;
    this.cursor = (this.cursor + count) % cap;
    this.count = Math.min(cap, this.count + count);
    return where;
  }

  /** `batch` rows drawn uniformly with replacement from the rows held. */
  sample(batch: number): ReplaySample {
    check(Number.isInteger(batch) && batch >= 1, 'batch', `an integer >= 1, got ${batch}`);
    if (this.count === 0) throw new GnnrlError('state', 'replay buffer: sample() on an empty buffer; add() transitions first');
    const indices = new Int32Array(batch);
    for (let i = 0; i < batch; i++) indices[i] = this.rng.int(this.count);
    return { indices, fields: this.gather(indices) };
  }

  /** Each field's rows at `indices` (each in [0, size)), batch × width, in fresh arrays. */
  gather(indices: Int32Array): Record<string, FieldArray> {
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i]!;
      check(r >= 0 && r < this.count, 'indices', `rows in [0, ${this.count}), got ${r}`, i);
    }
    const out: Record<string, FieldArray> = {};
    for (const f of this.schema) {
      const src = this.store[f.name]!;
      const w = f.width;
      const dst = allocField(f.dtype, indices.length * w);
      if (w === 1) {
        for (let i = 0; i < indices.length; i++) dst[i] = src[indices[i]!]!;
      } else {
        for (let i = 0; i < indices.length; i++) dst.set(src.subarray(indices[i]! * w, indices[i]! * w + w), i * w);
      }
      out[f.name] = dst;
    }
    return out;
  }

  /** Empties the buffer (the arrays stay allocated). */
  clear(): void {
    this.count = 0;
    this.cursor = 0;
  }

  state(): ReplayState {
    const fields: Record<string, FieldArray> = {};
    for (const f of this.schema) fields[f.name] = this.store[f.name]!.slice(0, this.count * f.width);
    return {
      position: { capacity: this.capacity, size: this.count, next: this.cursor, schema: this.schema.map((f) => ({ ...f })) },
      fields,
    };
  }

  /** Restores a snapshot taken from a buffer with the same schema and capacity. */
  load(state: ReplayState): void {
    const p = state?.position;
    check(p !== undefined && p.capacity === this.capacity, 'state.position.capacity', `${this.capacity} (this buffer's), got ${p?.capacity}`);
    check(Number.isInteger(p.size) && p.size >= 0 && p.size <= this.capacity, 'state.position.size', `an integer in [0, ${this.capacity}], got ${p.size}`);
    // A ring that is not full has written rows 0 … size − 1 and its cursor sits at size.
    const nextOk = p.size < this.capacity ? p.next === p.size : Number.isInteger(p.next) && p.next >= 0 && p.next < this.capacity;
    check(nextOk, 'state.position.next', `${p.size < this.capacity ? p.size : `an integer in [0, ${this.capacity})`}, got ${p.next}`);
    check(sameSchema(p.schema, this.schema), 'state.position.schema', `this buffer's schema ${JSON.stringify(this.schema)}, got ${JSON.stringify(p.schema)}`);
    checkRows(this.schema, state.fields, p.size, 'state.fields', true);
    for (const f of this.schema) this.store[f.name]!.set(state.fields[f.name]!);
    this.count = p.size;
    this.cursor = p.next;
  }
}

function sameSchema(a: readonly FieldSpec[] | undefined, b: readonly FieldSpec[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((f, i) => f.name === b[i]!.name && f.dtype === b[i]!.dtype && f.width === b[i]!.width);
}

/** Every schema field present with the right dtype and ≥ count × width values (exactly, when `exact`); no unknown fields. */
export function checkRows(schema: readonly FieldSpec[], rows: Record<string, FieldArray>, count: number, arg = 'rows', exact = false): void {
  check(rows !== null && typeof rows === 'object', arg, 'an object of typed arrays, one per field');
  for (const f of schema) {
    const a = rows[f.name];
    check(isDtype(a, f.dtype), `${arg}.${f.name}`, `a ${CTORS[f.dtype].name} (dtype '${f.dtype}'), got ${a === undefined ? 'nothing' : a?.constructor?.name}`);
    const need = count * f.width;
    check(exact ? a.length === need : a.length >= need, `${arg}.${f.name}`, `${exact ? '' : 'at least '}${need} values (${count} rows × width ${f.width}), got ${a.length}`);
  }
  for (const k of Object.keys(rows)) check(schema.some((f) => f.name === k), `${arg}.${k}`, `a field of the schema (${schema.map((f) => f.name).join(', ')})`);
}

/**
 * The recommender's usual transition schema: the state (user, history window, optional
 * features), the slate shown, the reward and done flag, and the next state's fields.
 * `gammaN: true` adds the per-row discount γ^m an n-step accumulator emits.
 */
export function transitionSchema(opts: { historyLen: number; slateSize: number; featureDim?: number; gammaN?: boolean }): FieldSpec[] {
  const { historyLen: h, slateSize, featureDim = 0 } = opts;
  check(Number.isInteger(h) && h >= 1, 'historyLen', `an integer >= 1, got ${h}`);
  check(Number.isInteger(slateSize) && slateSize >= 1, 'slateSize', `an integer >= 1, got ${slateSize}`);
  check(Number.isInteger(featureDim) && featureDim >= 0, 'featureDim', `an integer >= 0, got ${featureDim}`);
  const s: FieldSpec[] = [
    { name: 'user', dtype: 'i32', width: 1 },
    { name: 'history', dtype: 'i32', width: h },
    { name: 'action', dtype: 'i32', width: slateSize },
    { name: 'reward', dtype: 'f32', width: 1 },
    { name: 'done', dtype: 'u8', width: 1 },
    { name: 'nextUser', dtype: 'i32', width: 1 },
    { name: 'nextHistory', dtype: 'i32', width: h },
  ];
  if (featureDim > 0) s.push({ name: 'features', dtype: 'f32', width: featureDim }, { name: 'nextFeatures', dtype: 'f32', width: featureDim });
  if (opts.gammaN) s.push({ name: 'gammaN', dtype: 'f32', width: 1 });
  return s;
}
