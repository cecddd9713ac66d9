/**
 * What DDPG-LA's model adds around the InterestEncoder: each user's training log in time
 * order (the histories states are built from), and the three per-record columns it feeds
 * beside the seed's side features:
 *
 *   itemDev  4 × the item's damped mean deviation from μ on the [0, 1] scale (O(1), like
 *            the other inputs), never counting the record's own rating (leave-one-out
 *            for the user's training records)
 *   rating   the record's real rating on the [0, 1] scale, as 2·r01 − 1 ∈ [−1, 1]
 *   known    1 when `rating` is given, 0 when it is not: the record being predicted and
 *            every test record have it 0, so no rating of them reaches the state
 *
 * Why: the seed's seven input fields describe who and what, not how the user rated; with
 * them alone the state cannot tell a harsh rater from a kind one. The agent has seen the
 * real rating of every earlier record (its reward came from it), so the state carries it,
 * as an RL observation does. `ratingInput: false` / `itemBiasInput: false` leave the
 * columns at 0 (the seed's literal features).
 */
import type { FeatureTable, Interactions } from '../../data/interactions.js';
import { groupByUser } from '../../data/interactions.js';
import { InterestEncoder, type InterestBatch } from './interest.js';

/** Columns appended to each item row: itemDev, rating, known. */
export const EXTRA_COLUMNS = 3;
/** Columns the `historyStats` option appends after them: userDev, genreDev (see `historyStatistics`). */
export const STAT_COLUMNS = 2;
/** Shrinkage (pseudo-count) of the damped item and user means. */
export const DAMPING = 5;

/** One CSR over users: their training records, oldest first. */
export interface UserHistory {
  /** nUsers + 1 offsets into the arrays below. */
  offsets: Int32Array;
  item: Int32Array;
  /** Raw timestamps. */
  ts: Float64Array;
  /** Ratings on the data's scale. */
  rating: Float32Array;
}

/** The training log grouped by user in time order (ties by row order, as the splits order them). */
export function userHistory(train: Interactions): UserHistory {
  const { offsets, order } = groupByUser(train);
  const n = order.length;
  const item = new Int32Array(n);
  const ts = new Float64Array(n);
  const rating = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const e = order[j];
    item[j] = train.item[e];
    ts[j] = train.ts![e];
    rating[j] = train.rating![e];
  }
  return { offsets: offsets.slice(), item, ts, rating };
}

/** A batch whose rows also carry the three extra columns per record (B·len each). */
export interface RatedBatch extends InterestBatch {
  itemDev: Float32Array;
  /** 2·r01 − 1 where known, else 0. */
  rating: Float32Array;
  known: Float32Array;
  /** [B·len·STAT_COLUMNS] userDev, genreDev per record, when the item table was widened with the stats columns. */
  stats?: Float32Array;
}

/**
 * The item table with EXTRA_COLUMNS zero columns appended, and STAT_COLUMNS more with
 * `stats` (filled per record by RatedInterestEncoder).
 */
export function widenItems(t: FeatureTable, stats = false): FeatureTable {
  const extra = EXTRA_COLUMNS + (stats ? STAT_COLUMNS : 0);
  const dim = t.dim + extra;
  const data = new Float32Array(t.nRows * dim);
  for (let r = 0; r < t.nRows; r++) data.set(t.data.subarray(r * t.dim, (r + 1) * t.dim), r * dim);
  return { nRows: t.nRows, dim, data, names: [...t.names, 'item_dev', 'rating', 'rating_known', ...(stats ? ['user_dev', 'genre_dev'] : [])] };
}

/** Genre ids per item from the item table's `genre=` multi-hot columns (CSR; items without genres get none). */
export function itemGenres(t: FeatureTable): { offsets: Int32Array; ids: Int32Array } {
  const cols: number[] = [];
  t.names.forEach((n, c) => n.startsWith('genre=') && cols.push(c));
  const offsets = new Int32Array(t.nRows + 1);
  const ids: number[] = [];
  for (let r = 0; r < t.nRows; r++) {
    cols.forEach((c, g) => t.data[r * t.dim + c] !== 0 && ids.push(g));
    offsets[r + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}

/** Pseudo-count of the genre mean in `historyStatistics`. */
export const GENRE_DAMPING = 2;

/**
 * The interest summary of one record from the user's EARLIER records only (never the
 * record's own rating or a later one), on the [0, 1] scale ×4 like item_dev:
 *
 *   d_m       = r01_m − μ01 − itemDev01_m       (each earlier record's residual after the item's
 *                                               leave-one-out damped deviation)
 *   userDev   = 4 · Σ_m d_m / (n_earlier + DAMPING)
 *   genreDev  = 4 · Σ_m w_m d_m / (Σ_m w_m + GENRE_DAMPING),
 *               w_m = |genres(m) ∩ genres(current)| / |genres(current)|
 *
 * `resid[m]` holds d_m for the earlier records `items[m]`; `genre` is the item-genre CSR.
 */
export function historyStatistics(resid: ArrayLike<number>, items: ArrayLike<number>, from: number, to: number, item: number, genre: { offsets: Int32Array; ids: Int32Array }): [number, number] {
  let su = 0;
  let sg = 0;
  let wg = 0;
  const g0 = genre.offsets[item];
  const g1 = genre.offsets[item + 1];
  const nG = g1 - g0;
  for (let m = from; m < to; m++) {
    su += resid[m];
    if (nG === 0) continue;
    let shared = 0;
    const it = items[m];
    for (let a = genre.offsets[it]; a < genre.offsets[it + 1]; a++) {
      for (let b = g0; b < g1; b++) if (genre.ids[a] === genre.ids[b]) shared++;
    }
    if (shared) {
      const w = shared / nG;
      sg += w * resid[m];
      wg += w;
    }
  }
  return [(4 * su) / (to - from + DAMPING), (4 * sg) / (wg + GENRE_DAMPING)];
}

/**
 * The InterestEncoder over records whose last EXTRA_COLUMNS item columns are filled
 * per record from a RatedBatch (the item table was widened by `widenItems`), so the
 * columns sit inside the item block the encoder already lays out.
 */
export class RatedInterestEncoder extends InterestEncoder {
  override records(batch: InterestBatch): Float32Array {
    const x = super.records(batch);
    const rb = batch as RatedBatch;
    const F = this.recordDim;
    const stats = this.features.itemFeatures.names.at(-1) === 'genre_dev';
    if (stats !== !!rb.stats) throw new Error('RatedInterestEncoder: the batch carries stats columns exactly when the item table was widened with them');
    const off = this.features.userFeatures.dim + this.features.itemFeatures.dim - EXTRA_COLUMNS - (stats ? STAT_COLUMNS : 0);
    const { len, lengths } = batch;
    for (let b = 0; b < lengths.length; b++) {
      for (let t = 0; t < lengths[b]; t++) {
        const k = b * len + t;
        const o = k * F + off;
        x[o] = rb.itemDev[k];
        x[o + 1] = rb.rating[k];
        x[o + 2] = rb.known[k];
        if (rb.stats) {
          x[o + 3] = rb.stats[k * STAT_COLUMNS];
          x[o + 4] = rb.stats[k * STAT_COLUMNS + 1];
        }
      }
    }
    return x;
  }
}
