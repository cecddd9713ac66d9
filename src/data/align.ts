/**
 * A predefined test part (a published train/test file pair: LightGCN's Gowalla, RecBole's
 * atomic files, MovieLens' u1.base/u1.test) loaded on its own has its own dense ids.
 * `alignToTrain` re-expresses it in the training part's id space, so the two form one
 * split. Test events that name a user or an item the training part lacks cannot be scored
 * by a model fitted on it (there is no embedding to look up); they are dropped and counted,
 * and the caller says so.
 */
import { GnnrlError } from '../errors.js';
import { interactionCount, type Interactions } from './interactions.js';

export interface AlignedTest {
  /** The test events in the training part's id space (shared id maps and features). */
  test: Interactions;
  /** Test events read. */
  read: number;
  /** Events dropped because their user, their item, or both are unknown to train. */
  dropped: number;
  /** Distinct test users / items that train lacks. */
  unknownUsers: number;
  unknownItems: number;
}

/**
 * Maps `test`'s external ids through `train`'s id maps. A training part with ratings needs
 * a test part with ratings (rating metrics would otherwise be undefined), and the same for
 * timestamps only where `needTimestamps`: both are `input` errors naming `where`.
 */
export function alignToTrain(train: Interactions, test: Interactions, where = 'test', opts: { needTimestamps?: boolean } = {}): AlignedTest {
  if (train.rating && !test.rating) {
    throw new GnnrlError('input', `${where}: the training data has ratings but the test data has none; map a rating column for both, or for neither`, { arg: where, field: 'rating' });
  }
  if (opts.needTimestamps && train.ts && !test.ts) {
    throw new GnnrlError('input', `${where}: the training data has timestamps but the test data has none; map a ts column for both`, { arg: where, field: 'ts' });
  }
  const userOf = translation(test.userIds.size, (i) => train.userIds.get(test.userIds.id(i)));
  const itemOf = translation(test.itemIds.size, (i) => train.itemIds.get(test.itemIds.id(i)));
  const n = interactionCount(test);
  let kept = 0;
  for (let e = 0; e < n; e++) if (userOf[test.user[e]] >= 0 && itemOf[test.item[e]] >= 0) kept++;
  const user = new Int32Array(kept);
  const item = new Int32Array(kept);
  // Ratings only when train has them: a rating-less train ignores the test's ratings.
  const rating = train.rating && test.rating ? new Float32Array(kept) : null;
  const ts = train.ts && test.ts ? new Float64Array(kept) : null;
  let j = 0;
  for (let e = 0; e < n; e++) {
    const u = userOf[test.user[e]];
    const i = itemOf[test.item[e]];
    if (u < 0 || i < 0) continue;
    user[j] = u;
    item[j] = i;
    if (rating) rating[j] = test.rating![e];
    if (ts) ts[j] = test.ts![e];
    j++;
  }
  const aligned: Interactions = { user, item, rating, ts, nUsers: train.nUsers, nItems: train.nItems, userIds: train.userIds, itemIds: train.itemIds };
  if (train.userFeatures) aligned.userFeatures = train.userFeatures;
  if (train.itemFeatures) aligned.itemFeatures = train.itemFeatures;
  return { test: aligned, read: n, dropped: n - kept, unknownUsers: countMissing(userOf), unknownItems: countMissing(itemOf) };
}

function translation(size: number, map: (i: number) => number): Int32Array {
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = map(i);
  return out;
}

function countMissing(t: Int32Array): number {
  let c = 0;
  for (let i = 0; i < t.length; i++) if (t[i] < 0) c++;
  return c;
}
