/**
 * Beyond-accuracy measures of a set of top-K lists: how much of the catalogue they
 * reach (coverage), how unpopular what they show is (novelty) and how unequally they
 * spread exposure over items (Gini). All three are functions of the recommendation
 * counts (times each item appears in the top K of any list), so evaluation tallies
 * counts chunk by chunk and never keeps the lists.
 */
import { GnnrlError } from '../errors.js';
import type { PositiveIndex } from '../data/negatives.js';
import type { RankedLists } from './ranking.js';

/**
 * Times each item appears in the first `k` slots (default: all `lists.k`) of the lists;
 * −1 padding is ignored. Adds into `into` when given (tallying chunk by chunk).
 */
export function recommendationCounts(lists: RankedLists, nItems: number, k = lists.k, into?: Float64Array): Float64Array {
  if (!Number.isInteger(k) || k < 1 || k > lists.k) {
    throw new GnnrlError('input', `recommendationCounts: k: expected an integer in [1, ${lists.k}] (the list width), got ${k}`, { arg: 'k' });
  }
  const counts = into ?? new Float64Array(nItems);
  if (counts.length !== nItems) throw new GnnrlError('input', `recommendationCounts: into: expected ${nItems} entries (nItems), got ${counts.length}`, { arg: 'into' });
  const w = lists.k;
  const rows = Math.floor(lists.items.length / w);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      const i = lists.items[r * w + j];
      if (i < 0) continue;
      if (i >= nItems) throw new GnnrlError('input', `recommendationCounts: lists.items[${r * w + j}]: expected an item index below nItems (${nItems}), got ${i}`, { arg: 'lists.items', index: r * w + j });
      counts[i]++;
    }
  }
  return counts;
}

/** Catalogue coverage: the share of all items recommended at least once, |{i : counts[i] > 0}| / nItems. */
export function coverage(counts: ArrayLike<number>): number {
  if (counts.length === 0) throw new GnnrlError('input', 'coverage: counts: expected one entry per catalogue item, got none', { arg: 'counts' });
  let hit = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] > 0) hit++;
  return hit / counts.length;
}

/**
 * Training popularity for novelty: `users[i]` = distinct training users who interacted
 * with item i, `population` = users with at least one training event.
 */
export interface Popularity {
  users: Float64Array;
  population: number;
}

/** Popularity from the training index (`PositiveIndex.of(train)`), over `nItems` items. */
export function itemPopularity(seen: PositiveIndex, nItems = seen.nItems): Popularity {
  const users = new Float64Array(nItems);
  let population = 0;
  const nUsers = seen.offsets.length - 1;
  for (let u = 0; u < nUsers; u++) {
    if (seen.count(u) > 0) population++;
    for (let e = seen.offsets[u]; e < seen.offsets[u + 1]; e++) if (seen.items[e] < nItems) users[seen.items[e]]++;
  }
  return { users, population };
}

/**
 * Novelty: the mean self-information −log2 p(i) over every recommended slot (padding
 * excluded), with p(i) = max(users[i], 1) / population, the share of training users who
 * interacted with item i (Zhou et al., 2010). An item no training user touched counts as
 * touched once, so its self-information is log2(population) rather than infinite.
 * Computed from recommendation counts: Σ counts[i]·(−log2 p(i)) / Σ counts[i]. NaN when
 * nothing was recommended.
 */
export function novelty(counts: ArrayLike<number>, pop: Popularity): number {
  if (pop.users.length !== counts.length) {
    throw new GnnrlError('input', `novelty: popularity.users: expected ${counts.length} entries (one per item of counts), got ${pop.users.length}`, { arg: 'popularity' });
  }
  if (!(pop.population >= 1)) throw new GnnrlError('input', `novelty: popularity.population: expected at least one training user, got ${pop.population}`, { arg: 'popularity' });
  let sum = 0;
  let slots = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    sum += c * -Math.log2(Math.max(pop.users[i], 1) / pop.population);
    slots += c;
  }
  return slots > 0 ? sum / slots : NaN;
}

/**
 * Gini index of recommendation counts over all n items (never-recommended items
 * included, as zeros): with counts sorted ascending x_1 ≤ … ≤ x_n,
 * G = Σ_i (2i − n − 1)·x_i / (n·Σ_i x_i). 0 when every item is recommended equally
 * often; (n − 1)/n when a single item takes every slot (not rescaled to 1). NaN when
 * nothing was recommended.
 */
export function gini(counts: ArrayLike<number>): number {
  const n = counts.length;
  if (n === 0) throw new GnnrlError('input', 'gini: counts: expected one entry per catalogue item, got none', { arg: 'counts' });
  const x = Float64Array.from(counts).sort();
  let total = 0;
  let weighted = 0;
  for (let i = 0; i < n; i++) {
    total += x[i];
    weighted += (2 * (i + 1) - n - 1) * x[i];
  }
  return total > 0 ? weighted / (n * total) : NaN;
}
