/** Tiny interaction logs in dense indices for evaluation tests. */
import type { Interactions } from '../../src/data/interactions.js';
import { IdMap } from '../../src/data/idmap.js';

/** A log over `nUsers` × `nItems` from [user, item] or [user, item, rating] rows, ids = indices. */
export function log(nUsers: number, nItems: number, rows: readonly (readonly number[])[]): Interactions {
  const rated = rows.length > 0 && rows.every((r) => r.length === 3);
  return {
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    rating: rated ? Float32Array.from(rows, (r) => r[2]) : null,
    ts: null,
    nUsers,
    nItems,
    userIds: IdMap.fromIds(Array.from({ length: nUsers }, (_, i) => i)),
    itemIds: IdMap.fromIds(Array.from({ length: nItems }, (_, i) => i)),
  };
}
