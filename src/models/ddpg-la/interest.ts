/**
 * DDPG-LA's state: the user's interest, as one Module the actor contains (so the
 * interest modules train with the actor's loss).
 *
 *   record r = [user features of u | item features of r.item | scaled timestamp]
 *   long-term  = (R)LSTM over the user's history r_0 … r_{n−1}   → [H]      (src/nn/lstm.ts)
 *   short-term = (T-)self-attention over the last w records      → [dv]     (src/nn/time-self-attention.ts)
 *   state      = [long-term | short-term]
 *
 * The record features are the seed's MovieLens preparation as src/data/features.ts
 * builds it: user id, age, item id (and the item's year, which features.ts adds) min-max
 * normalised; gender, occupation one-hot; genres multi-hot; plus the event's timestamp,
 * scaled by a scaler fit on the training log. Both modules read the same history: the
 * LSTM all n real records, the attention the window of the last w of them (the seed's
 * window rule: a state exists only once a user has w records).
 *
 * The ablations switch each part: long-term 'rlstm' | 'lstm' | 'none', short-term
 * 'tsa' | 'sa' | 'none' (not both 'none'); INTEREST_ABLATIONS names the seed's eight
 * models.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import { Rng } from '../../util/rng.js';
import type { FeatureTable, Interactions } from '../../data/interactions.js';
import { timestampScaler, type Scaler } from '../../data/features.js';
import { Tensor } from '../../tensor/tensor.js';
import { tensor, type RandomSource } from '../../tensor/create.js';
import { concat } from '../../tensor/ops/gather.js';
import { Module } from '../../nn/module.js';
import { LSTM, RLSTM, type CellEnhancement } from '../../nn/lstm.js';
import { TimeSelfAttention, type TimeWeighting } from '../../nn/time-self-attention.js';

export type LongTermKind = 'rlstm' | 'lstm' | 'none';
export type ShortTermKind = 'tsa' | 'sa' | 'none';

/** The seed's DDPG-LA and its seven ablations, by the model names of issue #15. */
export const INTEREST_ABLATIONS = {
  'ddpg-la': { longTerm: 'rlstm', shortTerm: 'tsa' },
  'ddpg-rlstm': { longTerm: 'rlstm', shortTerm: 'none' },
  'ddpg-lstm': { longTerm: 'lstm', shortTerm: 'none' },
  'ddpg-tsa': { longTerm: 'none', shortTerm: 'tsa' },
  'ddpg-sa': { longTerm: 'none', shortTerm: 'sa' },
  'ddpg-rlstm-sa': { longTerm: 'rlstm', shortTerm: 'sa' },
  'ddpg-lstm-tsa': { longTerm: 'lstm', shortTerm: 'tsa' },
  'ddpg-lstm-sa': { longTerm: 'lstm', shortTerm: 'sa' },
} as const satisfies Record<string, { longTerm: LongTermKind; shortTerm: ShortTermKind }>;

/** Per-record inputs: the side-feature tables and the timestamp scaler (null: no timestamp column). */
export interface InterestFeatures {
  userFeatures: FeatureTable;
  itemFeatures: FeatureTable;
  ts: Scaler | null;
}

/**
 * The record features of `data` (loaded with side files, e.g. loadMovieLens), with the
 * timestamp scaler fit on `train` (default `data`): a coded input error names what
 * DDPG-LA needs when a side file or the timestamp column is missing.
 */
export function interestFeatures(data: Interactions & { format?: string }, train: Interactions = data): InterestFeatures {
  // A MovieLens load says its layout, so the message can name the one file to add.
  const f = data.format;
  if (!data.userFeatures) {
    const file = f === '1m' ? 'users.dat' : f === 'latest' ? undefined : 'u.user';
    const where =
      f === 'latest'
        ? 'the ML-latest layout has no user file; use ML-100K or ML-1M, or a log with user side features'
        : f === '100k' || f === '1m'
          ? `the folder has no readable ${file}`
          : 'load the data with its user file (u.user for ML-100K, users.dat for ML-1M)';
    throw new GnnrlError('input', `DDPG-LA needs user side features (gender, age, occupation): ${where}`, file ? { arg: 'userFeatures', file } : { arg: 'userFeatures' });
  }
  if (!data.itemFeatures) {
    const file = f === '1m' || f === 'latest' ? (f === '1m' ? 'movies.dat' : 'movies.csv') : 'u.item';
    const where = f ? `the folder has no readable ${file}` : 'load the data with its item file (u.item for ML-100K, movies.dat for ML-1M)';
    throw new GnnrlError('input', `DDPG-LA needs item side features (genres): ${where}`, { arg: 'itemFeatures', file });
  }
  if (!train.ts) throw new GnnrlError('input', 'DDPG-LA needs a timestamp column (the records are ordered and the timestamp is a feature); this log has none', { arg: 'ts', field: 'ts' });
  return { userFeatures: data.userFeatures, itemFeatures: data.itemFeatures, ts: timestampScaler(train) };
}

export interface InterestEncoderOptions {
  /** Seed or generator for every weight. */
  rng: RandomSource;
  /** Default 'rlstm'. */
  longTerm?: LongTermKind;
  /** Default 'tsa'. */
  shortTerm?: ShortTermKind;
  /** LSTM hidden size = long-term width (default 32). */
  hidden?: number;
  /** RLSTM's f_E: 'fixed' (default) or 'learned' κ. */
  enhancement?: Exclude<CellEnhancement, 'none'>;
  /** κ of f_E (default 0.5). */
  kappa?: number;
  /** Short-term window w (default 5). */
  window?: number;
  /** Attention query/key width (default 32). */
  dk?: number;
  /** Attention value width = short-term width (default dk). */
  dv?: number;
  /** T-self-attention's time weights, 'linear' (default) or 'exp'; 'sa' always uses 'plain'. */
  weighting?: Exclude<TimeWeighting, 'plain'>;
  /** λ of 'exp'. */
  lambda?: number;
}

/** A batch of states: one user's history per row, oldest record first, right-padded to `len`. */
export interface InterestBatch {
  /** [B] dense user ids. */
  users: Int32Array;
  /** [B·len] item ids; entries past a row's length are ignored. */
  items: Int32Array;
  /** [B·len] raw timestamps (scaled by the encoder), or null when the encoder has no timestamp feature. */
  ts: Float64Array | null;
  /** [B] real records per row (≥ window when there is a short-term part). */
  lengths: Int32Array;
  /** Padded history length. */
  len: number;
}

function fail(arg: string, msg: string, index?: number): never {
  throw new GnnrlError('input', `InterestEncoder: ${arg}: ${msg}`, index === undefined ? { arg } : { arg, index });
}

export class InterestEncoder extends Module {
  readonly long: LSTM | null;
  readonly short: TimeSelfAttention | null;
  readonly longTerm: LongTermKind;
  readonly shortTerm: ShortTermKind;
  /** Width of one record's feature vector. */
  readonly recordDim: number;
  /** Width of the state: hidden (long-term) + dv (short-term). */
  readonly stateDim: number;
  readonly window: number;

  constructor(
    readonly engine: Engine,
    readonly features: InterestFeatures,
    opts: InterestEncoderOptions,
  ) {
    super();
    const longTerm = opts.longTerm ?? 'rlstm';
    const shortTerm = opts.shortTerm ?? 'tsa';
    if (!['rlstm', 'lstm', 'none'].includes(longTerm)) fail('longTerm', `expected 'rlstm', 'lstm' or 'none', got '${String(longTerm)}'`);
    if (!['tsa', 'sa', 'none'].includes(shortTerm)) fail('shortTerm', `expected 'tsa', 'sa' or 'none', got '${String(shortTerm)}'`);
    if (longTerm === 'none' && shortTerm === 'none') fail('shortTerm', "longTerm and shortTerm are both 'none': the state would be empty");
    if (opts.weighting !== undefined && opts.weighting !== 'linear' && opts.weighting !== 'exp') {
      fail('weighting', `expected 'linear' or 'exp' (plain self-attention is shortTerm 'sa'), got '${String(opts.weighting)}'`);
    }
    const { userFeatures: uf, itemFeatures: itf } = features;
    if (!uf || !itf) fail('features', 'expected userFeatures and itemFeatures tables (see interestFeatures)');
    this.recordDim = uf.dim + itf.dim + (features.ts ? 1 : 0);
    this.longTerm = longTerm;
    this.shortTerm = shortTerm;
    const rng = typeof opts.rng === 'number' ? new Rng(opts.rng) : opts.rng;
    const hidden = opts.hidden ?? 32;
    this.long =
      longTerm === 'none'
        ? null
        : longTerm === 'rlstm'
          ? new RLSTM(engine, this.recordDim, hidden, { rng, enhancement: opts.enhancement ?? 'fixed', kappa: opts.kappa })
          : new LSTM(engine, this.recordDim, hidden, { rng });
    this.short =
      shortTerm === 'none'
        ? null
        : new TimeSelfAttention(engine, this.recordDim, {
            rng,
            window: opts.window,
            dk: opts.dk,
            dv: opts.dv,
            weighting: shortTerm === 'sa' ? 'plain' : (opts.weighting ?? 'linear'),
            lambda: opts.lambda,
          });
    this.window = this.short?.window ?? opts.window ?? 5;
    this.stateDim = (this.long?.hidden ?? 0) + (this.short?.dv ?? 0);
  }

  /** The state [B, stateDim] for every row of `batch`, with gradients to the modules' parameters. */
  forward(batch: InterestBatch): Tensor {
    const x = this.records(batch);
    const B = batch.users.length;
    // Both inputs are uploaded before the first dispatch (an upload between dispatches submits early).
    const xl = this.long ? tensor(this.engine, x, [B, batch.len, this.recordDim]) : null;
    const xs = this.short ? tensor(this.engine, this.lastWindow(batch, x), [B, this.window, this.recordDim]) : null;
    if (this.short?.perPosition && B > 0) this.short.rowsFor(B);
    const parts: Tensor[] = [];
    if (this.long) parts.push(this.long.forward(xl!, { lengths: batch.lengths }));
    if (this.short) parts.push(this.short.forward(xs!));
    return parts.length === 1 ? parts[0] : concat(parts);
  }

  /** The record features [B·len·recordDim] of a batch (zero rows past each length), checked. */
  records(batch: InterestBatch): Float32Array {
    const { users, items, ts, lengths, len } = batch;
    const B = users.length;
    const { userFeatures: uf, itemFeatures: itf, ts: scaler } = this.features;
    if (!Number.isInteger(len) || len < 1) fail('len', `expected a positive integer, got ${len}`);
    if (!(lengths instanceof Int32Array) || lengths.length !== B) fail('lengths', `expected an Int32Array of ${B} entries (one per user)`);
    if (!(items instanceof Int32Array) || items.length !== B * len) fail('items', `expected an Int32Array of ${B}×${len} entries, got ${items?.length}`);
    if (scaler && (!(ts instanceof Float64Array) || ts.length !== B * len)) fail('ts', `expected a Float64Array of ${B}×${len} raw timestamps (the encoder has a timestamp feature)`);
    const F = this.recordDim;
    const x = new Float32Array(B * len * F);
    const tsScaled = scaler && ts ? scaler.transform(ts) : null;
    for (let b = 0; b < B; b++) {
      const u = users[b];
      if (!(u >= 0 && u < uf.nRows)) fail('users', `users[${b}] = ${u} is outside [0, ${uf.nRows})`, b);
      const n = lengths[b];
      if (!(n >= 1 && n <= len)) fail('lengths', `lengths[${b}] = ${n} is outside [1, ${len}]`, b);
      if (this.short && n < this.window) fail('lengths', `lengths[${b}] = ${n} is under the window of ${this.window} records (a state needs a full window)`, b);
      const urow = uf.data.subarray(u * uf.dim, (u + 1) * uf.dim);
      for (let t = 0; t < n; t++) {
        const it = items[b * len + t];
        if (!(it >= 0 && it < itf.nRows)) fail('items', `items[${b * len + t}] = ${it} is outside [0, ${itf.nRows})`, b * len + t);
        const o = (b * len + t) * F;
        x.set(urow, o);
        x.set(itf.data.subarray(it * itf.dim, (it + 1) * itf.dim), o + uf.dim);
        if (tsScaled) x[o + F - 1] = tsScaled[b * len + t];
      }
    }
    return x;
  }

  /** Rows [n−w, n) of each history: the short-term window [B·w·recordDim]. */
  private lastWindow(batch: InterestBatch, x: Float32Array): Float32Array {
    const { len, lengths } = batch;
    const [w, F] = [this.window, this.recordDim];
    const out = new Float32Array(lengths.length * w * F);
    for (let b = 0; b < lengths.length; b++) {
      const start = (b * len + lengths[b] - w) * F;
      out.set(x.subarray(start, start + w * F), b * w * F);
    }
    return out;
  }
}
