/**
 * Feature encoding for node features: categorical → one-hot, multi-valued → multi-hot,
 * numeric → min-max or z-score (fit on one set of rows, typically train, then applied
 * to any). `movieLensFeatures` follows the DDPG-LA paper's MovieLens preparation:
 * gender, occupation and genres one-/multi-hot; user id, age, item id (and, per event,
 * the timestamp) normalised.
 */
import { GnnrlError, check } from '../errors.js';
import type { FeatureTable } from './features-types.js';
import type { IdMap } from './idmap.js';
import type { ItemSide, UserSide } from './movielens-types.js';

export type { FeatureTable } from './features-types.js';

/** Codes in [0, vocab.length) → one-hot rows; a code of -1 (missing) gives a zero row. */
export function oneHot(codes: Int32Array, vocab: readonly string[], prefix: string): FeatureTable {
  const dim = vocab.length;
  const data = new Float32Array(codes.length * dim);
  for (let r = 0; r < codes.length; r++) {
    const c = codes[r];
    if (c === -1) continue;
    if (!(c >= 0 && c < dim)) throw new GnnrlError('input', `oneHot: codes[${r}] = ${c} is outside [0, ${dim})`, { arg: 'codes', index: r });
    data[r * dim + c] = 1;
  }
  return { nRows: codes.length, dim, data, names: vocab.map((v) => `${prefix}=${v}`) };
}

/** Row r has a 1 for every code in values[offsets[r] .. offsets[r+1]). */
export function multiHot(offsets: Int32Array, values: Int32Array, vocab: readonly string[], prefix: string): FeatureTable {
  const nRows = offsets.length - 1;
  const dim = vocab.length;
  const data = new Float32Array(nRows * dim);
  for (let r = 0; r < nRows; r++) {
    for (let j = offsets[r]; j < offsets[r + 1]; j++) {
      const c = values[j];
      if (!(c >= 0 && c < dim)) throw new GnnrlError('input', `multiHot: values[${j}] = ${c} is outside [0, ${dim})`, { arg: 'values', index: j });
      data[r * dim + c] = 1;
    }
  }
  return { nRows, dim, data, names: vocab.map((v) => `${prefix}=${v}`) };
}

export type ScalerKind = 'minmax' | 'zscore';

export interface ScalerJson {
  kind: ScalerKind;
  /** minmax: [min, max]; zscore: [mean, std]. */
  params: [number, number];
}

/**
 * A numeric scaler. `fit` ignores NaN (missing) values; `transform` maps NaN to 0 (the
 * middle of z-score space, the bottom of min-max space) so a missing value never
 * poisons a GEMM. A constant column transforms to 0.
 */
export class Scaler {
  private a = 0;
  private b = 1;
  private fitted = false;

  constructor(readonly kind: ScalerKind) {
    if (kind !== 'minmax' && kind !== 'zscore') throw new GnnrlError('input', `scaler: expected 'minmax' or 'zscore', got ${JSON.stringify(kind)}`, { arg: 'kind' });
  }

  /** Fits on values (or only on values[rows[j]] when rows is given, e.g. training rows). */
  fit(values: ArrayLike<number>, rows?: ArrayLike<number>): this {
    const n = rows ? rows.length : values.length;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    let mean = 0;
    let m2 = 0;
    for (let j = 0; j < n; j++) {
      const v = values[rows ? rows[j] : j];
      if (v !== v) continue;
      count++;
      if (v < min) min = v;
      if (v > max) max = v;
      // Welford: stable for large timestamps where sum of squares would lose digits.
      const d = v - mean;
      mean += d / count;
      m2 += d * (v - mean);
    }
    if (count === 0) throw new GnnrlError('input', 'scaler.fit: no non-missing values to fit on', { arg: 'values' });
    if (this.kind === 'minmax') {
      this.a = min;
      this.b = max - min;
    } else {
      this.a = mean;
      this.b = Math.sqrt(m2 / count);
    }
    this.fitted = true;
    return this;
  }

  transform(values: ArrayLike<number>): Float32Array {
    if (!this.fitted) throw new GnnrlError('state', 'scaler.transform: call fit() first');
    const out = new Float32Array(values.length);
    const inv = this.b > 0 ? 1 / this.b : 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      out[i] = v === v ? (v - this.a) * inv : 0;
    }
    return out;
  }

  toJSON(): ScalerJson {
    return { kind: this.kind, params: [this.a, this.kind === 'minmax' ? this.a + this.b : this.b] };
  }

  static fromJSON(j: ScalerJson): Scaler {
    const s = new Scaler(j.kind);
    s.a = j.params[0];
    s.b = j.kind === 'minmax' ? j.params[1] - j.params[0] : j.params[1];
    s.fitted = true;
    return s;
  }
}

/** One numeric column, scaled. */
export function numericFeature(values: ArrayLike<number>, name: string, scaler: Scaler): FeatureTable {
  const data = scaler.transform(values);
  return { nRows: values.length, dim: 1, data, names: [name] };
}

/** Columns of several tables side by side (same nRows). */
export function concatFeatures(...tables: FeatureTable[]): FeatureTable {
  check(tables.length > 0, 'tables', 'at least one table');
  const nRows = tables[0].nRows;
  tables.forEach((t, k) => check(t.nRows === nRows, `tables[${k}].nRows`, `${nRows}, got ${t.nRows}`));
  const dim = tables.reduce((s, t) => s + t.dim, 0);
  const data = new Float32Array(nRows * dim);
  let col = 0;
  for (const t of tables) {
    for (let r = 0; r < nRows; r++) {
      const src = t.data.subarray(r * t.dim, (r + 1) * t.dim);
      data.set(src, r * dim + col);
    }
    col += t.dim;
  }
  return { nRows, dim, data, names: tables.flatMap((t) => t.names) };
}

/** The numeric value of each dense id's external id when all are numbers, else the dense index. */
export function idValues(ids: IdMap, n: number): Float64Array {
  const out = new Float64Array(n);
  let numeric = true;
  for (let i = 0; i < ids.size && numeric; i++) numeric = typeof ids.id(i) === 'number';
  for (let i = 0; i < n; i++) out[i] = numeric && i < ids.size ? (ids.id(i) as number) : i;
  return out;
}

export interface MovieLensFeatureOptions {
  /** Numeric scaling (default 'minmax', as in DDPG-LA). */
  scale?: ScalerKind;
  /** Include the normalised id as a column (default true, as in DDPG-LA). */
  includeId?: boolean;
  /** Fit numeric scalers on these users only (e.g. users present in train); default all. */
  fitUsers?: ArrayLike<number>;
  fitItems?: ArrayLike<number>;
}

export interface MovieLensFeatures {
  userFeatures?: FeatureTable;
  itemFeatures?: FeatureTable;
  scalers: Record<string, Scaler>;
}

/**
 * User table: [user_id, age] scaled, gender one-hot, occupation one-hot.
 * Item table: [item_id, year] scaled, genres multi-hot.
 */
export function movieLensFeatures(
  data: { nUsers: number; nItems: number; userIds: IdMap; itemIds: IdMap; users?: UserSide; items?: ItemSide },
  opts: MovieLensFeatureOptions = {},
): MovieLensFeatures {
  const kind = opts.scale ?? 'minmax';
  const includeId = opts.includeId ?? true;
  const scalers: Record<string, Scaler> = {};
  const out: MovieLensFeatures = { scalers };
  const scaled = (values: ArrayLike<number>, name: string, rows?: ArrayLike<number>): FeatureTable => {
    const s = new Scaler(kind).fit(values, rows);
    scalers[name] = s;
    return numericFeature(values, name, s);
  };
  if (data.users) {
    const u = data.users;
    check(u.age.length === data.nUsers, 'users.age', `length nUsers (${data.nUsers})`);
    const parts: FeatureTable[] = [];
    if (includeId) parts.push(scaled(idValues(data.userIds, data.nUsers), 'user_id', opts.fitUsers));
    if (hasValue(u.age)) parts.push(scaled(u.age, 'age', opts.fitUsers));
    parts.push(oneHot(u.gender, u.genderVocab, 'gender'));
    parts.push(oneHot(u.occupation, u.occupationVocab, 'occupation'));
    out.userFeatures = concatFeatures(...parts);
  }
  if (data.items) {
    const it = data.items;
    check(it.year.length === data.nItems, 'items.year', `length nItems (${data.nItems})`);
    const parts: FeatureTable[] = [];
    if (includeId) parts.push(scaled(idValues(data.itemIds, data.nItems), 'item_id', opts.fitItems));
    if (hasValue(it.year)) parts.push(scaled(it.year, 'year', opts.fitItems));
    parts.push(multiHot(it.genreOffsets, it.genres, it.genreVocab, 'genre'));
    out.itemFeatures = concatFeatures(...parts);
  }
  return out;
}

function hasValue(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] === a[i]) return true;
  return false;
}

/** Per-event timestamp feature: a scaler fit on `train.ts`, applied to any log's ts. */
export function timestampScaler(train: { ts: Float64Array | null }, kind: ScalerKind = 'minmax'): Scaler {
  if (!train.ts) throw new GnnrlError('input', 'timestampScaler: the log has no timestamps', { arg: 'train' });
  return new Scaler(kind).fit(train.ts);
}
