/**
 * Filters over an interaction log: k-core (iterated until stable), rating threshold
 * to implicit feedback, and id compaction (drop users/items left without events).
 */
import { check } from '../errors.js';
import type { FeatureTable } from './features-types.js';
import { filterByMask, maskToIndices, type Interactions } from './interactions.js';

export interface KCoreOptions {
  /** Minimum events per user (default 5). */
  userK?: number;
  /** Minimum events per item (default 5). */
  itemK?: number;
  /** Renumber ids so only users/items that kept events remain (default true). */
  compact?: boolean;
}

/**
 * Keeps the largest sub-log in which every user has ≥ userK events and every item has
 * ≥ itemK events. Removing a user can push an item under its bound and vice versa, so
 * passes repeat until one removes nothing.
 */
export function kCore(x: Interactions, opts: KCoreOptions = {}): Interactions {
  const userK = opts.userK ?? 5;
  const itemK = opts.itemK ?? 5;
  check(Number.isInteger(userK) && userK >= 0, 'userK', 'a non-negative integer');
  check(Number.isInteger(itemK) && itemK >= 0, 'itemK', 'a non-negative integer');
  const n = x.user.length;
  const alive = new Uint8Array(n).fill(1);
  const du = new Int32Array(x.nUsers);
  const di = new Int32Array(x.nItems);
  for (let i = 0; i < n; i++) {
    du[x.user[i]]++;
    di[x.item[i]]++;
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < n; i++) {
      if (!alive[i]) continue;
      const u = x.user[i];
      const it = x.item[i];
      if (du[u] < userK || di[it] < itemK) {
        alive[i] = 0;
        du[u]--;
        di[it]--;
        changed = true;
      }
    }
  }
  const out = filterByMask(x, alive);
  return opts.compact === false ? out : compactIds(out);
}

/**
 * Explicit → implicit: keeps events with rating ≥ threshold and drops the rating column
 * (the result's `rating` is null).
 */
export function binarize(x: Interactions, threshold: number): Interactions {
  check(x.rating !== null, 'interactions.rating', 'a rating column (the log is already implicit)');
  check(Number.isFinite(threshold), 'threshold', 'a finite number');
  const mask = new Uint8Array(x.user.length);
  for (let i = 0; i < mask.length; i++) mask[i] = x.rating![i] >= threshold ? 1 : 0;
  const out = filterByMask(x, mask);
  return { ...out, rating: null };
}

/**
 * Renumbers users and items so that only those with at least one event remain, in
 * their old relative order; id maps and feature tables are cut to match.
 */
export function compactIds(x: Interactions): Interactions {
  const usedU = new Uint8Array(x.nUsers);
  const usedI = new Uint8Array(x.nItems);
  for (let i = 0; i < x.user.length; i++) {
    usedU[x.user[i]] = 1;
    usedI[x.item[i]] = 1;
  }
  const keepU = maskToIndices(usedU);
  const keepI = maskToIndices(usedI);
  const newU = new Int32Array(x.nUsers).fill(-1);
  const newI = new Int32Array(x.nItems).fill(-1);
  keepU.forEach((u, k) => (newU[u] = k));
  keepI.forEach((it, k) => (newI[it] = k));
  const user = new Int32Array(x.user.length);
  const item = new Int32Array(x.item.length);
  for (let i = 0; i < user.length; i++) {
    user[i] = newU[x.user[i]];
    item[i] = newI[x.item[i]];
  }
  const out: Interactions = {
    user,
    item,
    rating: x.rating ? x.rating.slice() : null,
    ts: x.ts ? x.ts.slice() : null,
    nUsers: keepU.length,
    nItems: keepI.length,
    userIds: x.userIds.subset(keepU.filter((u) => u < x.userIds.size)),
    itemIds: x.itemIds.subset(keepI.filter((i) => i < x.itemIds.size)),
  };
  if (x.userFeatures) out.userFeatures = selectRows(x.userFeatures, keepU);
  if (x.itemFeatures) out.itemFeatures = selectRows(x.itemFeatures, keepI);
  return out;
}

/** Rows `rows` of a feature table, in that order. */
export function selectRows(t: FeatureTable, rows: Int32Array): FeatureTable {
  const data = new Float32Array(rows.length * t.dim);
  for (let k = 0; k < rows.length; k++) data.set(t.data.subarray(rows[k] * t.dim, (rows[k] + 1) * t.dim), k * t.dim);
  return { nRows: rows.length, dim: t.dim, data, names: t.names.slice() };
}
