/**
 * One side's factor vectors (users or items) as a served version sees them: immutable
 * to its readers, cheap to derive a next version from.
 *
 * Why not copy the table on every update: a 50,000 × 64 table is 12.8 MB, and online
 * updates change a few rows at a time. A version is (shared storage, its row count, an
 * overlay of rows that changed since the storage was written). Deriving a version:
 * - changed rows go into a new overlay (the old version's overlay is never mutated);
 * - new rows are appended into the storage's spare capacity, past the old version's
 *   row count, which the old version never reads; only the newest version of a storage
 *   may append (a second append from an older version copies the storage instead);
 * - when the overlay grows past an eighth of the rows (at least 1024), the next version
 *   gets fresh storage with the overlay folded in (old versions keep theirs).
 * So a reader holding a version sees the same numbers for as long as it holds it.
 *
 * The table also keeps G = Σ v vᵀ and h = Σ b v (fold-in.ts needs them), updated by
 * the changed rows' differences in f64 rather than recomputed. A served agent's tables
 * skip them (`moments: 'lazy'`, summed at a first read that never comes): they are rebuilt
 * whole after every update and never folded into, and a 50,000 × 64 Gram sum is a few
 * hundred ms of the event loop. A version derived from one whose moments were never
 * summed sums its own when first read.
 */
import { GnnrlError } from '../errors.js';
import { selectTopK } from '../rank/rank.js';
import { addOuter, gramOf, type FoldInTable } from './fold-in.js';

interface Storage {
  data: Float32Array;
  bias: Float32Array | null;
  /** Rows written; a version with `rows === used` is the newest and may append. */
  used: number;
}

const MIN_COMPACT = 1024;

export class FactorTable implements FoldInTable {
  private constructor(
    readonly dim: number,
    readonly rows: number,
    private readonly store: Storage,
    private readonly overlay: ReadonlyMap<number, { v: Float32Array; b: number }>,
    private moments: { gram: Float64Array; biasMoment: Float64Array } | null,
  ) {}

  /** G = Σ v vᵀ (dim × dim, f64), summed at the first read. */
  get gram(): Float64Array {
    return this.summed().gram;
  }

  /** h = Σ b v (dim, f64), summed at the first read. */
  get biasMoment(): Float64Array {
    return this.summed().biasMoment;
  }

  private summed(): { gram: Float64Array; biasMoment: Float64Array } {
    this.moments ??= gramOf(this.dim, this.rows, (i) => this.row(i), (i) => this.bias(i));
    return this.moments;
  }

  /**
   * A table over `rows` rows of `data` (copied), with optional biases. `moments: 'eager'`
   * (the default, for tables fold-in reads) sums G and h now, at load, rather than in the
   * first drain after it; 'lazy' at their first read, if any (an agent's tables).
   */
  static of(data: Float32Array, dim: number, rows: number, bias: Float32Array | null = null, moments: 'eager' | 'lazy' = 'eager'): FactorTable {
    if (!(Number.isInteger(dim) && dim > 0)) throw new GnnrlError('input', `FactorTable.of: dim: expected a positive integer, got ${dim}`, { arg: 'dim' });
    if (data.length < rows * dim) throw new GnnrlError('input', `FactorTable.of: data holds ${data.length} values, ${rows} rows of ${dim} need ${rows * dim}`, { arg: 'data' });
    if (bias && bias.length < rows) throw new GnnrlError('input', `FactorTable.of: bias holds ${bias.length} values for ${rows} rows`, { arg: 'bias' });
    const store: Storage = { data: Float32Array.from(data.subarray(0, rows * dim)), bias: bias ? Float32Array.from(bias.subarray(0, rows)) : null, used: rows };
    const t = new FactorTable(dim, rows, store, new Map(), null);
    if (moments === 'eager') t.summed();
    return t;
  }

  get hasBias(): boolean {
    return this.store.bias !== null;
  }

  row(i: number): Float32Array {
    const o = this.overlay.get(i);
    if (o) return o.v;
    return this.store.data.subarray(i * this.dim, (i + 1) * this.dim);
  }

  bias(i: number): number {
    const o = this.overlay.get(i);
    if (o) return o.b;
    return this.store.bias ? this.store.bias[i] : 0;
  }

  /** Rows changed since the storage was written (for tests and metrics). */
  get overlaySize(): number {
    return this.overlay.size;
  }

  /**
   * The next version: `changed` rows (index → vector, bias) replaced, `appended` rows
   * added at the end (indices rows, rows + 1, …). This version is left as it was.
   */
  derive(changed: ReadonlyMap<number, { v: Float32Array; b?: number }>, appended: readonly { v: Float32Array; b?: number }[] = []): FactorTable {
    const d = this.dim;
    // Moments follow incrementally only where this version's were summed.
    const m = this.moments ? { gram: Float64Array.from(this.moments.gram), biasMoment: Float64Array.from(this.moments.biasMoment) } : null;
    const overlay = new Map(this.overlay);
    for (const [i, { v, b }] of changed) {
      if (!(Number.isInteger(i) && i >= 0 && i < this.rows)) throw new GnnrlError('input', `FactorTable.derive: row ${i} is outside [0, ${this.rows})`, { arg: 'changed', index: i });
      if (v.length !== d) throw new GnnrlError('input', `FactorTable.derive: row ${i} has ${v.length} values, expected ${d}`, { arg: 'changed', index: i });
      const nb = b ?? this.bias(i);
      if (m) {
        addOuter(m.gram, m.biasMoment, this.row(i), this.bias(i), d, -1);
        addOuter(m.gram, m.biasMoment, v, nb, d, 1);
      }
      overlay.set(i, { v: Float32Array.from(v), b: nb });
    }
    const rows = this.rows + appended.length;
    let store = this.store;
    if (appended.length) {
      const fits = store.used === this.rows && rows * d <= store.data.length;
      if (!fits) store = this.grownStorage(Math.max(rows, 2 * this.rows, 16));
      appended.forEach(({ v, b }, j) => {
        if (v.length !== d) throw new GnnrlError('input', `FactorTable.derive: appended row ${j} has ${v.length} values, expected ${d}`, { arg: 'appended', index: j });
        const i = this.rows + j;
        store.data.set(v, i * d);
        if (store.bias) store.bias[i] = b ?? 0;
        if (m) addOuter(m.gram, m.biasMoment, v, b ?? 0, d, 1);
      });
      store.used = rows;
    }
    if (overlay.size > Math.max(MIN_COMPACT, rows >> 3)) {
      const fresh = new FactorTable(d, rows, store, overlay, null).grownStorage(Math.ceil(rows * 1.25) + 16);
      fresh.used = rows;
      return new FactorTable(d, rows, fresh, new Map(), m);
    }
    return new FactorTable(d, rows, store, overlay, m);
  }

  /** Fresh storage with room for `capacity` rows, holding this version's rows (overlay folded in). */
  private grownStorage(capacity: number): Storage {
    const d = this.dim;
    const data = new Float32Array(capacity * d);
    data.set(this.store.data.subarray(0, this.rows * d));
    const bias = this.store.bias ? new Float32Array(capacity) : null;
    if (bias) bias.set(this.store.bias!.subarray(0, this.rows));
    for (const [i, { v, b }] of this.overlay) {
      data.set(v, i * d);
      if (bias) bias[i] = b;
    }
    return { data, bias, used: this.rows };
  }

  /** v_i · x + b_i for every row, into `out` (length ≥ rows). */
  scoreAll(x: Float32Array, out: Float32Array = new Float32Array(this.rows)): Float32Array {
    const d = this.dim;
    const data = this.store.data;
    const bias = this.store.bias;
    for (let i = 0; i < this.rows; i++) {
      let s = bias ? bias[i] : 0;
      const o = i * d;
      for (let a = 0; a < d; a++) s += data[o + a] * x[a];
      out[i] = s;
    }
    for (const [i, { v, b }] of this.overlay) {
      let s = b;
      for (let a = 0; a < d; a++) s += v[a] * x[a];
      out[i] = s;
    }
    return out;
  }

  /** All rows as one dense copy (rows × dim), overlay applied: what a snapshot saves. */
  dense(): Float32Array {
    return this.grownStorage(this.rows).data;
  }

  /** Biases as one dense copy, or null. */
  denseBias(): Float32Array | null {
    return this.grownStorage(this.rows).bias;
  }
}

/**
 * Indices of the k largest of `scores[0..n)`, best first, ties to the lower index,
 * skipping `skip(i)` and NaN; fewer than k when fewer rows are eligible. The selection
 * is rank/'s bounded heap (`selectTopK`), the one every host ranking uses.
 */
export function topKHost(scores: Float32Array, n: number, k: number, skip?: (i: number) => boolean): Int32Array {
  const m = Math.max(0, Math.min(k, n));
  if (m === 0) return new Int32Array(0);
  const row = n === scores.length ? scores : scores.subarray(0, n);
  let mask: Uint8Array | null = null;
  if (skip) {
    mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (skip(i)) mask[i] = 1;
  }
  const items = new Int32Array(m);
  selectTopK(row, m, mask, items, new Float32Array(m), 0);
  let len = m;
  while (len > 0 && items[len - 1] < 0) len--;
  return items.subarray(0, len);
}
