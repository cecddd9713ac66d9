/**
 * Feedback events and how a batch of them turns one served version into the next.
 *
 * What counts as positive: `click: true`, `rating >= positiveRating` (default 4), or
 * `reward > 0`. Positive events add the item to the user's seen items (so it is not
 * recommended again under `exclude: 'train'`) and to its popularity, and mark the user
 * (and a new item) for fold-in. Other events are counted and otherwise ignored: the
 * factor form models what users take, and a non-click on a shown item says little about
 * an item nobody has shown yet.
 *
 * Order inside one batch (each step reads the previous step's tables):
 * 1. new external ids are appended to the id maps;
 * 2. new items get vectors: by fold-in over the users who took them and already have
 *    vectors; failing that, the mean vector of the items those users took (co-occurrence
 *    neighbours); failing that, none — the item is kept out of factor rankings
 *    (`unranked`) and only the popularity fallback can show it;
 * 3. every user with new positives is folded in over the (new) item table, from all
 *    their positives: training items with confidence `trainConfidence`, observed ones
 *    with `observedConfidence` (higher by default, so a shift of taste shows at once);
 * 4. popularity is recounted for the touched items.
 * Users with no positive at all keep no vector and are answered by popularity.
 */
import { GnnrlError } from '../errors.js';
import { normalizeId, type ExternalId } from '../data/idmap.js';
import { Yielder } from '../rl/yield.js';
import { foldIn, type FoldInOptions } from './fold-in.js';
import { FactorTable } from './factor-table.js';
import { orderByScore, sortedHas, trainItems, type ServedVersion } from './served-version.js';

/** One piece of feedback, in external ids. */
export interface FeedbackEvent {
  user: ExternalId;
  item: ExternalId;
  reward?: number;
  rating?: number;
  click?: boolean;
  /** Seconds (or any increasing clock); recorded, not yet used by the fold-in. */
  time?: number;
}

export interface FoldInSettings extends FoldInOptions {
  /** Rating at or above which an event is positive (default 4). */
  positiveRating?: number;
  /** Confidence of a training interaction (default 1). */
  trainConfidence?: number;
  /** Confidence of an observed one (default 4). */
  observedConfidence?: number;
}

/** Checks one event; returns it with normalised ids, or throws a coded error naming the field. */
export function checkEvent(e: unknown, where = 'observe'): FeedbackEvent {
  if (typeof e !== 'object' || e === null) throw new GnnrlError('input', `${where}: expected an object { user, item, reward | rating | click, time? }, got ${JSON.stringify(e)}`, { arg: 'event' });
  const r = e as Record<string, unknown>;
  const user = normalizeId(r.user);
  const item = normalizeId(r.item);
  if (user === undefined) throw new GnnrlError('input', `${where}: user: expected a string or integer id, got ${JSON.stringify(r.user)}`, { field: 'user' });
  if (item === undefined) throw new GnnrlError('input', `${where}: item: expected a string or integer id, got ${JSON.stringify(r.item)}`, { field: 'item' });
  const has = ['reward', 'rating', 'click'].filter((k) => r[k] !== undefined);
  if (has.length === 0) throw new GnnrlError('input', `${where}: expected one of reward, rating or click`, { field: 'reward' });
  for (const k of ['reward', 'rating', 'time'] as const) {
    if (r[k] !== undefined && !(typeof r[k] === 'number' && Number.isFinite(r[k]))) throw new GnnrlError('input', `${where}: ${k}: expected a finite number, got ${JSON.stringify(r[k])}`, { field: k });
  }
  if (r.click !== undefined && typeof r.click !== 'boolean') throw new GnnrlError('input', `${where}: click: expected true or false, got ${JSON.stringify(r.click)}`, { field: 'click' });
  const out: FeedbackEvent = { user, item };
  if (r.reward !== undefined) out.reward = r.reward as number;
  if (r.rating !== undefined) out.rating = r.rating as number;
  if (r.click !== undefined) out.click = r.click as boolean;
  if (r.time !== undefined) out.time = r.time as number;
  return out;
}

export function isPositive(e: FeedbackEvent, positiveRating = 4): boolean {
  if (e.click !== undefined) return e.click;
  if (e.rating !== undefined) return e.rating >= positiveRating;
  return (e.reward ?? 0) > 0;
}

/** What one batch did, for metrics and tests. */
export interface BatchReport {
  events: number;
  positives: number;
  newUsers: number;
  newItems: number;
  foldedUsers: number;
}

/**
 * The version after `events` (already checked). `v` is not modified. `allowNewItems`
 * false drops events on unknown items (counted in the report as not positive).
 */
export async function applyFeedback(
  v: ServedVersion,
  events: readonly FeedbackEvent[],
  settings: FoldInSettings = {},
  allowNewItems = true,
): Promise<{ next: ServedVersion; report: BatchReport }> {
  const yielder = new Yielder(5);
  const positiveRating = settings.positiveRating ?? 4;
  const cTrain = settings.trainConfidence ?? 1;
  const cObs = settings.observedConfidence ?? 4;
  const fold: FoldInOptions = { w0: settings.w0, lambda: settings.lambda };
  const w0 = settings.w0 ?? 0.1;
  if (!(cTrain >= w0 && cObs >= w0)) throw new GnnrlError('input', `feedback: trainConfidence and observedConfidence must be >= w0 (${w0})`, { arg: 'trainConfidence' });

  // 1. ids and positives.
  const report: BatchReport = { events: events.length, positives: 0, newUsers: 0, newItems: 0, foldedUsers: 0 };
  let nUsers = v.nUsers;
  let nItems = v.nItems;
  const byUser = new Map<number, number[]>();
  const byNewItem = new Map<number, number[]>();
  for (const e of events) {
    if (!isPositive(e, positiveRating)) continue;
    let i = v.itemIds.get(e.item);
    if (i < 0 || i >= nItems) {
      if (!allowNewItems) continue;
      // Indices are appended in order, so an id seen first in this batch gets nItems.
      i = v.itemIds.getOrAdd(e.item);
      if (i >= nItems) nItems = i + 1;
    }
    let u = v.userIds.get(e.user);
    if (u < 0 || u >= nUsers) {
      u = v.userIds.getOrAdd(e.user);
      if (u >= nUsers) nUsers = u + 1;
    }
    report.positives++;
    let list = byUser.get(u);
    if (!list) byUser.set(u, (list = []));
    list.push(i);
    if (i >= v.nItems) {
      let users = byNewItem.get(i);
      if (!users) byNewItem.set(i, (users = []));
      users.push(u);
    }
  }
  report.newUsers = nUsers - v.nUsers;
  report.newItems = nItems - v.nItems;

  // Seen items: copy-on-write per touched user.
  const added = new Map(v.seen.added);
  for (const [u, items] of byUser) {
    const set = new Set(added.get(u) ?? []);
    for (const i of items) set.add(i);
    added.set(u, set);
  }
  const seen = { rowPtr: v.seen.rowPtr, colIdx: v.seen.colIdx, added };

  // 4 (done early: independent of the factors). Popularity.
  const popularity = new Float32Array(nItems);
  popularity.set(v.popularity);
  for (const items of byUser.values()) for (const i of items) popularity[i]++;

  let factors = v.factors;
  let unranked = v.unranked;
  if (factors) {
    const { users: U, items: V } = factors;
    // 2. new items.
    const appended: { v: Float32Array; b: number }[] = [];
    const newUnranked = new Set(unranked);
    const meanBias = V.hasBias ? meanOf(V) : 0;
    for (let i = v.nItems; i < nItems; i++) {
      const takers = byNewItem.get(i) ?? [];
      const known = takers.filter((u) => u < U.rows);
      let vec: Float32Array | null = null;
      if (known.length) vec = foldIn(U, known, known.map(() => cObs), fold);
      else {
        const neigh: number[] = [];
        for (const u of takers) for (const j of added.get(u) ?? []) if (j < V.rows) neigh.push(j);
        if (neigh.length) {
          vec = new Float32Array(V.dim);
          for (const j of neigh) {
            const r = V.row(j);
            for (let a = 0; a < V.dim; a++) vec[a] += r[a] / neigh.length;
          }
        }
      }
      if (!vec) newUnranked.add(i);
      appended.push({ v: vec ?? new Float32Array(V.dim), b: meanBias });
      await yielder.maybe();
    }
    const items = appended.length ? V.derive(new Map(), appended) : V;
    // 3. users.
    const changed = new Map<number, { v: Float32Array }>();
    const newUserRows: { v: Float32Array }[] = [];
    for (let u = v.nUsers; u < nUsers; u++) newUserRows.push({ v: new Float32Array(U.dim) });
    for (const u of [...byUser.keys()].sort((a, b) => a - b)) {
      const train = trainItems(seen, u);
      const obs = [...(added.get(u) ?? [])].filter((i) => !sortedHas(train, i));
      const pos = [...train, ...obs];
      const conf = [...Array.from(train, () => cTrain), ...obs.map(() => cObs)];
      const x = foldIn(items, pos, conf, fold);
      if (u < v.nUsers) changed.set(u, { v: x });
      else newUserRows[u - v.nUsers] = { v: x };
      report.foldedUsers++;
      await yielder.maybe();
    }
    const users = U.derive(changed, newUserRows);
    factors = { users, items };
    unranked = newUnranked;
  }

  const next: ServedVersion = {
    ...v,
    version: v.version + 1,
    nUsers,
    nItems,
    factors,
    unranked,
    seen,
    popularity,
    popularOrder: orderByScore(popularity),
  };
  return { next, report };
}

function meanOf(t: FactorTable): number {
  let s = 0;
  for (let i = 0; i < t.rows; i++) s += t.bias(i);
  return t.rows ? s / t.rows : 0;
}
