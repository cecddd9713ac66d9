/**
 * What per-epoch validation and the final evaluation share: which users a held-out log
 * can score and against which items, ranking those users in bounded chunks with their
 * seen items excluded, and predicting held-out pairs in bounded chunks.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { Interactions } from '../data/interactions.js';
import type { PositiveIndex } from '../data/negatives.js';
import { exclusionRows, recommendFromFactors } from '../rank/rank.js';
import type { FactorScores, Ranker } from '../rank/types.js';
import { Rng } from '../util/rng.js';
import type { RelevantRows } from './ranking.js';
import { bucketByKey } from '../util/bucket.js';

/** Users per `recommend` call: bounds dense score rows (KNN) and exclusion lists. */
export const USERS_PER_CHUNK = 2048;
/** Pairs per `predict` call. */
const PAIRS_PER_CHUNK = 1 << 16;

export interface HeldOutRows {
  /** Users to rank, ascending, each with at least one relevant item. */
  users: Int32Array;
  /** Their relevant items (distinct, sorted), aligned with `users`. */
  relevant: RelevantRows;
  /**
   * Users with held-out events of which none can be recommended: every one is also a
   * seen item, which ranking excludes (repeat consumption), so they are not scored.
   */
  skipped: number;
}

/** Checks that a held-out log lives in the id spaces of the model and of `seen`. */
export function checkHeldOut(fn: string, arg: string, model: Ranker, seen: PositiveIndex, x: Interactions): void {
  if (x.item.length !== x.user.length) {
    throw new GnnrlError('input', `${fn}: ${arg}.item: expected ${x.user.length} entries like ${arg}.user, got ${x.item.length}`, { arg: `${arg}.item` });
  }
  const seenUsers = seen.offsets.length - 1;
  for (let j = 0; j < x.user.length; j++) {
    const u = x.user[j];
    const i = x.item[j];
    if (!(u >= 0 && u < model.nUsers && u < seenUsers)) {
      throw new GnnrlError(
        'input',
        `${fn}: ${arg}.user[${j}]: expected a user index below the model's nUsers (${model.nUsers}) and the seen index's (${seenUsers}), got ${u}; was ${arg} split from the same log as the training data?`,
        { arg: `${arg}.user`, index: j },
      );
    }
    if (!(i >= 0 && i < model.nItems)) {
      throw new GnnrlError('input', `${fn}: ${arg}.item[${j}]: expected an item index in [0, ${model.nItems}) (the model's catalogue), got ${i}`, { arg: `${arg}.item`, index: j });
    }
  }
}

/**
 * Per user of `x`, the distinct held-out items not in `seen` (items the ranking can
 * return). With `maxUsers`, a seeded uniform subsample of at most that many of the
 * scorable users (same seed, same users: epochs stay comparable).
 */
export function heldOutRows(x: Interactions, seen: PositiveIndex, opts: { maxUsers?: number; seed?: number } = {}): HeldOutRows {
  const n = x.user.length;
  const nUsers = seen.offsets.length - 1;
  // Counting sort of the events by user, then per user sort, dedupe and drop seen items.
  const { offsets: start, order } = bucketByKey(x.user, nUsers);
  const byUser = new Int32Array(n);
  for (let j = 0; j < n; j++) byUser[j] = x.item[order[j]];
  const keep = new Int32Array(nUsers + 1); // kept items per user, then offsets
  const kept = new Int32Array(n);
  let w = 0;
  let skipped = 0;
  let scorable = 0;
  for (let u = 0; u < nUsers; u++) {
    const seg = byUser.subarray(start[u], start[u + 1]).sort();
    const w0 = w;
    for (let j = 0; j < seg.length; j++) {
      if ((j === 0 || seg[j] !== seg[j - 1]) && !seen.has(u, seg[j])) kept[w++] = seg[j];
    }
    keep[u] = w0;
    if (seg.length > 0 && w === w0) skipped++;
    if (w > w0) scorable++;
  }
  keep[nUsers] = w;
  let users = new Int32Array(scorable);
  for (let u = 0, r = 0; u < nUsers; u++) if (keep[u + 1] > keep[u]) users[r++] = u;
  const max = opts.maxUsers;
  if (max !== undefined) {
    if (!Number.isInteger(max) || max < 1) throw new GnnrlError('input', `maxUsers: expected a positive integer, got ${max}`, { arg: 'maxUsers' });
    if (max < users.length) {
      // Partial Fisher–Yates: the first `max` slots become a uniform sample.
      const rng = new Rng(opts.seed ?? 1);
      const pool = users.slice();
      for (let j = 0; j < max; j++) {
        const t = j + rng.int(pool.length - j);
        const v = pool[j];
        pool[j] = pool[t];
        pool[t] = v;
      }
      users = pool.slice(0, max).sort();
    }
  }
  const rowPtr = new Int32Array(users.length + 1);
  for (let r = 0; r < users.length; r++) rowPtr[r + 1] = rowPtr[r] + keep[users[r] + 1] - keep[users[r]];
  const items = new Int32Array(rowPtr[users.length]);
  for (let r = 0; r < users.length; r++) items.set(kept.subarray(keep[users[r]], keep[users[r] + 1]), rowPtr[r]);
  return { users, relevant: { rowPtr, items }, skipped };
}

/**
 * Top-k lists for `users` with each user's `seen` items excluded, `USERS_PER_CHUNK` users
 * at a time; `onChunk` gets each chunk's lists (rows of k) and its first row. Through
 * `model.recommend`, or, when `engine` is given and the model has a factor form, through
 * `recommendFromFactors` on that engine (the same routine models' `recommend` uses).
 */
export async function rankInChunks(
  model: Ranker,
  users: Int32Array,
  k: number,
  seen: PositiveIndex,
  engine: Engine | undefined,
  onChunk: (lists: Int32Array, from: number) => void,
): Promise<void> {
  let factors: FactorScores | null = null;
  if (engine && model.factors) factors = await model.factors();
  for (let from = 0; from < users.length; from += USERS_PER_CHUNK) {
    const chunk = users.subarray(from, Math.min(users.length, from + USERS_PER_CHUNK));
    const exclude = exclusionRows(seen, chunk);
    const recs = factors
      ? await recommendFromFactors(factors, model.nUsers, model.nItems, chunk, k, exclude, engine)
      : await model.recommend(chunk, k, { exclude });
    if (recs.k !== k || recs.items.length !== chunk.length * k) {
      throw new GnnrlError('state', `${model.name}.recommend: expected ${chunk.length} × ${k} items, got ${recs.items.length} with k = ${recs.k}`);
    }
    onChunk(recs.items, from);
  }
}

/** `model.predict` over all pairs, in bounded chunks. */
export async function predictInChunks(model: Ranker, users: Int32Array, items: Int32Array): Promise<Float32Array> {
  const out = new Float32Array(users.length);
  for (let from = 0; from < users.length; from += PAIRS_PER_CHUNK) {
    const to = Math.min(users.length, from + PAIRS_PER_CHUNK);
    const p = await model.predict(users.subarray(from, to), items.subarray(from, to));
    if (p.length !== to - from) throw new GnnrlError('state', `${model.name}.predict: expected ${to - from} predictions, got ${p.length}`);
    out.set(p, from);
  }
  return out;
}
