/**
 * Train/test splits. Every split returns `{ train, test }` that share `x`'s id maps and
 * feature tables (one id space), keep each part's events in their original row order,
 * and put every event in exactly one part.
 *
 * Time order. Within a user, events are ordered by ts and, for equal ts (or a log with
 * no ts), by original row order, which is taken as the order they happened in. So for
 * the chronological splits no test event of a user precedes any of that user's training
 * events in this order; in particular its ts is ≥ every training ts of that user.
 */
import { GnnrlError, check } from '../errors.js';
import { Rng } from '../util/rng.js';
import { groupByUser, maskToIndices, selectInteractions, type Interactions } from './interactions.js';

export interface Split {
  train: Interactions;
  test: Interactions;
}

/** Where the events of a user with a single event go. */
export type SingletonPolicy = 'train' | 'test' | 'drop';

export interface UserTimeOptions {
  /** Default 'train': a user seen once has no history to predict from, so nothing to test. */
  singleton?: SingletonPolicy;
}

function checkRatio(ratio: number): void {
  check(typeof ratio === 'number' && ratio > 0 && ratio < 1, 'ratio', `a number in (0, 1), got ${ratio}`);
}

function fromMask(x: Interactions, mask: Uint8Array): Split {
  // mask: 1 train, 2 test, 0 dropped.
  const train = new Uint8Array(mask.length);
  const test = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    train[i] = mask[i] === 1 ? 1 : 0;
    test[i] = mask[i] === 2 ? 1 : 0;
  }
  return { train: selectInteractions(x, maskToIndices(train)), test: selectInteractions(x, maskToIndices(test)) };
}

/**
 * How many of a user's n events go to train under a per-user ratio: floor(ratio·n)
 * (so the test share is at least 1 − ratio; a tiny epsilon keeps 0.7·10 = 7.000…1 at 7),
 * then clamped to [1, n − 1] so that every user with n ≥ 2 has at least one event on
 * each side.
 */
export function trainCount(n: number, ratio: number): number {
  if (n <= 1) return n;
  const k = Math.floor(ratio * n + 1e-9);
  return Math.min(n - 1, Math.max(1, k));
}

/**
 * Per-user chronological split (the DDPG-LA protocol): the first `trainCount(n, ratio)`
 * of each user's events in time order go to train, the rest to test. Users with a
 * single event follow `singleton` (default: train).
 */
export function splitByUserTime(x: Interactions, ratio = 0.8, opts: UserTimeOptions = {}): Split {
  checkRatio(ratio);
  const singleton = checkSingleton(opts.singleton);
  const { offsets, order } = groupByUser(x);
  const mask = new Uint8Array(x.user.length);
  for (let u = 0; u < x.nUsers; u++) {
    const lo = offsets[u];
    const n = offsets[u + 1] - lo;
    if (n === 1) {
      mask[order[lo]] = singletonCode(singleton);
      continue;
    }
    const k = trainCount(n, ratio);
    for (let j = 0; j < n; j++) mask[order[lo + j]] = j < k ? 1 : 2;
  }
  return fromMask(x, mask);
}

/** Each user's last event (in time order, ties by row order) to test, the rest to train. */
export function splitLeaveLastOut(x: Interactions, opts: UserTimeOptions = {}): Split {
  const singleton = checkSingleton(opts.singleton);
  const { offsets, order } = groupByUser(x);
  const mask = new Uint8Array(x.user.length);
  for (let u = 0; u < x.nUsers; u++) {
    const lo = offsets[u];
    const hi = offsets[u + 1];
    if (hi - lo === 1) {
      mask[order[lo]] = singletonCode(singleton);
      continue;
    }
    for (let j = lo; j < hi; j++) mask[order[j]] = j === hi - 1 ? 2 : 1;
  }
  return fromMask(x, mask);
}

/**
 * Global time cut: events with ts < `at` train, the rest test. With `ratio`, events are
 * ordered by (ts, row) and the first floor(ratio·n) train, so ties at the boundary split
 * by row order and the sizes are exact.
 */
export function splitByGlobalTime(x: Interactions, cut: { at: number } | { ratio: number }): Split {
  const ts = x.ts;
  if (!ts) throw new GnnrlError('input', 'splitByGlobalTime: the log has no timestamps (ts is null)', { arg: 'interactions.ts' });
  const n = ts.length;
  const mask = new Uint8Array(n);
  if ('at' in cut) {
    check(typeof cut.at === 'number' && !Number.isNaN(cut.at), 'cut.at', 'a number');
    for (let i = 0; i < n; i++) mask[i] = ts[i] < cut.at ? 1 : 2;
  } else {
    checkRatio(cut.ratio);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => ts[a] - ts[b] || a - b);
    const k = Math.floor(cut.ratio * n + 1e-9);
    for (let j = 0; j < n; j++) mask[order[j]] = j < k ? 1 : 2;
  }
  return fromMask(x, mask);
}

/** Seeded random split of events: exactly floor(ratio·n) to train. */
export function splitRandom(x: Interactions, ratio = 0.8, opts: { seed?: number } = {}): Split {
  checkRatio(ratio);
  const n = x.user.length;
  const perm = permutation(n, opts.seed ?? 1);
  const k = Math.floor(ratio * n + 1e-9);
  const mask = new Uint8Array(n);
  for (let j = 0; j < n; j++) mask[perm[j]] = j < k ? 1 : 2;
  return fromMask(x, mask);
}

/**
 * Seeded k-fold cross-validation over events: a random permutation cut into k folds
 * whose sizes differ by at most one; fold f is the test set of split f. Lazy: each
 * split is built when iterated to.
 */
export function* kFold(x: Interactions, k: number, opts: { seed?: number } = {}): Generator<Split & { fold: number }> {
  const n = x.user.length;
  check(Number.isInteger(k) && k >= 2, 'k', `an integer >= 2, got ${k}`);
  check(k <= n, 'k', `at most the number of events (${n}), got ${k}`);
  const perm = permutation(n, opts.seed ?? 1);
  const foldOf = new Uint8Array(n);
  const foldId = new Int32Array(n);
  for (let j = 0; j < n; j++) foldId[perm[j]] = j % k;
  for (let f = 0; f < k; f++) {
    for (let i = 0; i < n; i++) foldOf[i] = foldId[i] === f ? 2 : 1;
    yield { fold: f, ...fromMask(x, foldOf) };
  }
}

function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return new Rng(seed).shuffle(p);
}

function checkSingleton(s: SingletonPolicy | undefined): SingletonPolicy {
  const v = s ?? 'train';
  check(v === 'train' || v === 'test' || v === 'drop', 'singleton', `'train' | 'test' | 'drop', got ${JSON.stringify(s)}`);
  return v;
}

function singletonCode(s: SingletonPolicy): number {
  return s === 'train' ? 1 : s === 'test' ? 2 : 0;
}
