/** Small logs written out by hand for the baselines' tests. */
import { IdMap } from '../../../src/data/idmap.js';
import type { Interactions } from '../../../src/data/interactions.js';

/** A log from (user, item, rating) triples in dense indices; `nUsers`/`nItems` may exceed the ids used (unseen entities). */
export function ratingsLog(rows: [number, number, number][], nUsers?: number, nItems?: number): Interactions {
  const nu = nUsers ?? Math.max(...rows.map((r) => r[0])) + 1;
  const ni = nItems ?? Math.max(...rows.map((r) => r[1])) + 1;
  return {
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    rating: Float32Array.from(rows, (r) => r[2]),
    ts: null,
    nUsers: nu,
    nItems: ni,
    userIds: IdMap.fromIds(Array.from({ length: nu }, (_, k) => k)),
    itemIds: IdMap.fromIds(Array.from({ length: ni }, (_, k) => k)),
  };
}

/**
 * The 4 users × 5 items matrix the hand computations use ('-' = not rated):
 *
 *         i0  i1  i2  i3  i4
 *   u0     5   3   -   1   -
 *   u1     4   -   -   1   2
 *   u2     1   1   -   5   4
 *   u3     -   1   5   4   -
 *
 * 13 ratings summing to 37: μ = 37/13. Rows are listed in an order unlike the sorted
 * one, so nothing depends on the log being sorted.
 */
export const MATRIX: [number, number, number][] = [
  [2, 3, 5],
  [0, 0, 5],
  [3, 2, 5],
  [1, 4, 2],
  [0, 1, 3],
  [2, 0, 1],
  [3, 1, 1],
  [1, 0, 4],
  [0, 3, 1],
  [2, 1, 1],
  [1, 3, 1],
  [3, 3, 4],
  [2, 4, 4],
];

export function rmse(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < truth.length; j++) s += (pred[j] - truth[j]) ** 2;
  return Math.sqrt(s / truth.length);
}
