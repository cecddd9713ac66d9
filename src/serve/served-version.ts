/**
 * One immutable served model version: what every request reads once at its start, so a
 * response never mixes two versions.
 *
 * Two kinds of model are served:
 * - *factor-served*: the model has a factor form (scores = u·v + b_i, the ranking its own
 *   `recommend` uses) of dimension > 0 and the file carries its training edges. Requests
 *   are answered on the host from `FactorTable`s (no kernel queue to wait behind, so a
 *   recommendation never waits for a training step on the engine), and online updates
 *   fold new vectors into new versions.
 * - *model-served*: anything else (neighbourhood baselines, popularity, a file without
 *   training edges). Requests go to the model's own `recommend`/`predict`; feedback only
 *   updates popularity and the seen items.
 *
 * Ids: the external-id maps are shared by all versions and only ever grow (new users and
 * items are appended); a version knows its own counts and treats an index past them as
 * unknown, so an id added for a later version never leaks into an older one.
 */
import type { IdMap } from '../data/idmap.js';
import type { RecommenderModel } from '../models/types.js';
import type { FactorTable } from './factor-table.js';

/** Items each user has interacted with: the training log's rows plus what was observed since. */
export interface SeenItems {
  /** Training rows, CSR over users (columns sorted); users past its rows have none. */
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  /** Items added per user since (shared sets are never mutated: a version copies a user's set before adding). */
  readonly added: ReadonlyMap<number, ReadonlySet<number>>;
}

export interface ServedVersion {
  readonly version: number;
  readonly model: RecommenderModel;
  readonly userIds: IdMap;
  readonly itemIds: IdMap;
  readonly nUsers: number;
  readonly nItems: number;
  /** Factor tables when factor-served, else null. */
  readonly factors: { users: FactorTable; items: FactorTable } | null;
  readonly seen: SeenItems;
  /** Items without a vector yet (new, with no usable interaction): kept out of factor rankings. */
  readonly unranked: ReadonlySet<number>;
  /** Feedback count per item (training log + observed); the popularity fallback ranks by it. */
  readonly popularity: Float32Array;
  /** Items by popularity, best first, ties to the lower index. */
  readonly popularOrder: Int32Array;
  /** Users the model was fit on (their rows come from training; later users were folded in). */
  readonly trainedUsers: number;
  readonly trainedItems: number;
}

/** Dense index of `id` in version `v`, or −1 (unknown, or added after `v`). */
export function userIn(v: ServedVersion, id: unknown): number {
  const u = v.userIds.get(id);
  return u >= 0 && u < v.nUsers ? u : -1;
}

export function itemIn(v: ServedVersion, id: unknown): number {
  const i = v.itemIds.get(id);
  return i >= 0 && i < v.nItems ? i : -1;
}

/** The training items of user u (a view) — empty for users past the training rows. */
export function trainItems(seen: SeenItems, u: number): Int32Array {
  if (u + 1 >= seen.rowPtr.length) return new Int32Array(0);
  return seen.colIdx.subarray(seen.rowPtr[u], seen.rowPtr[u + 1]);
}

/** Whether user u has interacted with item i in version `seen`. */
export function hasSeen(seen: SeenItems, u: number, i: number): boolean {
  return seen.added.get(u)?.has(i) === true || sortedHas(trainItems(seen, u), i);
}

/** Whether the sorted row contains i (binary search). */
export function sortedHas(row: Int32Array, i: number): boolean {
  let lo = 0;
  let hi = row.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (row[m] < i) lo = m + 1;
    else hi = m;
  }
  return lo < row.length && row[lo] === i;
}

/** Items sorted by score, best first, ties to the lower index. */
export function orderByScore(s: Float32Array): Int32Array {
  const idx = Int32Array.from({ length: s.length }, (_, i) => i);
  return idx.sort((a, b) => (s[b] - s[a]) || (a - b));
}
