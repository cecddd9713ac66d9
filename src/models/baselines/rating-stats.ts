/**
 * What every classic baseline derives from its training log first: the checked rating
 * column, the global mean and range, per-user and per-item counts, and (for the models
 * that walk neighbourhoods) the ratings grouped by user or by item in sorted CSR form.
 */
import { GnnrlError } from '../../errors.js';
import { validateInteractions, type Interactions } from '../../data/interactions.js';
import { bucketByKey } from '../../util/bucket.js';

/** Ratings grouped by row: row r's entries are `index/value[offsets[r] .. offsets[r+1])`, `index` ascending. */
export interface RatingCsr {
  offsets: Int32Array;
  index: Int32Array;
  value: Float32Array;
}

/** The checked training log of a rating model and its summary statistics. */
export interface RatingData {
  user: Int32Array;
  item: Int32Array;
  rating: Float32Array;
  nUsers: number;
  nItems: number;
  /** Mean rating, summed in float64. */
  globalMean: number;
  ratingMin: number;
  ratingMax: number;
  /** Events per user / per item (duplicates of a pair count each time, as the log gives them). */
  userCount: Int32Array;
  itemCount: Int32Array;
}

/** Throws unless `train` is a valid non-empty log; returns its event count. */
export function checkTrain(train: Interactions, model: string): number {
  if (!train || !(train.user instanceof Int32Array)) {
    throw new GnnrlError('input', `${model}.fit: train: expected an Interactions log`, { arg: 'train' });
  }
  validateInteractions(train, 'train');
  const n = train.user.length;
  if (n === 0) throw new GnnrlError('input', `${model}.fit: train: expected at least one event, got an empty log`, { arg: 'train' });
  return n;
}

/**
 * The rating column of `train`, or an `input` error naming `train.rating` when the log is
 * implicit (rating models regress ratings; ranking from clicks needs another model).
 */
export function requireRatings(train: Interactions, model: string): Float32Array {
  if (!train.rating) {
    throw new GnnrlError(
      'input',
      `${model}.fit: train.rating is null (implicit feedback), but ${model} regresses explicit ratings; ` +
        'rank implicit data with Popularity or a BPR-trained encoder (e.g. LightGCN), or load a log with a rating column',
      { arg: 'train.rating' },
    );
  }
  return train.rating;
}

/** Checks the log, requires ratings, and gathers the statistics every rating model needs. */
export function ratingData(train: Interactions, model: string): RatingData {
  const n = checkTrain(train, model);
  const rating = requireRatings(train, model);
  const userCount = new Int32Array(train.nUsers);
  const itemCount = new Int32Array(train.nItems);
  let sum = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let e = 0; e < n; e++) {
    const r = rating[e];
    if (!Number.isFinite(r)) {
      throw new GnnrlError('input', `${model}.fit: train.rating[${e}]: expected a finite rating, got ${r}`, { arg: 'train.rating', index: e });
    }
    sum += r;
    if (r < lo) lo = r;
    if (r > hi) hi = r;
    userCount[train.user[e]]++;
    itemCount[train.item[e]]++;
  }
  return {
    user: train.user,
    item: train.item,
    rating,
    nUsers: train.nUsers,
    nItems: train.nItems,
    globalMean: sum / n,
    ratingMin: lo,
    ratingMax: hi,
    userCount,
    itemCount,
  };
}

/**
 * CSR of (col, value) per row with columns ascending (ties in event order): two stable
 * counting sorts, by column then by row, so it costs O(events + rows + cols).
 */
export function sortedCsr(rows: Int32Array, cols: Int32Array, values: Float32Array, nRows: number, nCols: number): RatingCsr {
  const n = rows.length;
  // By column, then (stably) by row: rows with their columns ascending.
  const { offsets, order } = bucketByKey(rows, nRows, bucketByKey(cols, nCols).order);
  const index = new Int32Array(n);
  const value = new Float32Array(n);
  for (let w = 0; w < n; w++) {
    const e = order[w];
    index[w] = cols[e];
    value[w] = values[e];
  }
  return { offsets, index, value };
}

/** Ratings by user: items ascending per user. */
export function ratingsByUser(d: RatingData): RatingCsr {
  return sortedCsr(d.user, d.item, d.rating, d.nUsers, d.nItems);
}

/** Ratings by item: users ascending per item. */
export function ratingsByItem(d: RatingData): RatingCsr {
  return sortedCsr(d.item, d.user, d.rating, d.nItems, d.nUsers);
}
