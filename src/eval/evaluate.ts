/**
 * The offline evaluation report of one fitted model on a train/test split.
 *
 * Default protocol: full ranking. Every test user gets a top-K list over the whole
 * catalogue with its training items excluded (through `model.recommend`, which runs the
 * top-K kernel for factor models), scored against its test items that are not training
 * items. Sampled ranking (each user's test items among N sampled negatives) is only run
 * when asked, and its metrics are named with a ` (sampled N)` suffix, because sampled
 * numbers are inflated and do not rank models consistently with full ranking.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { Interactions } from '../data/interactions.js';
import { PositiveIndex } from '../data/negatives.js';
import { selectTopK } from '../rank/rank.js';
import type { Ranker } from '../rank/types.js';
import { Rng } from '../util/rng.js';
import { bootstrapCIs, type BootstrapOptions } from './bootstrap.js';
import { coverage, gini, itemPopularity, novelty, recommendationCounts } from './diversity.js';
import { checkHeldOut, heldOutRows, predictInChunks, rankInChunks, USERS_PER_CHUNK, type HeldOutRows } from './heldout.js';
import { metricName, normalizeKs, rankingMetrics, RANKING_METRICS, type RelevantRows } from './ranking.js';
import { mae, rmse } from './rating.js';

export interface SampledOptions {
  /** Negatives ranked against each user's test items. */
  negatives: number;
  /** Seed of the negative draws (default 1). */
  seed?: number;
}

export interface EvaluateOptions {
  /** What the model was fit on: its items are excluded from the lists, and give the popularity for novelty. */
  train: Interactions;
  /** Held-out interactions, in the same id spaces as `train`. */
  test: Interactions;
  /** Cut-offs (default [10, 20]). */
  k?: number | readonly number[];
  /** Rank on this engine through the model's factor form when it has one (default: `model.recommend`). */
  engine?: Engine;
  /** Percentile bootstrap intervals of the per-user ranking metrics: true for the defaults (1000 replicates, 0.95, seed 1). */
  ci?: boolean | BootstrapOptions;
  /** Rank among sampled negatives instead of the whole catalogue (see `evaluateModel`). */
  sampled?: SampledOptions;
  /** Keep every evaluated user's value of every ranking metric. */
  perUser?: boolean;
}

export interface EvaluationReport {
  /** `model.name`. */
  model: string;
  /**
   * Means over evaluated users of the ranking metrics (`precision@K`, `recall@K`, `ndcg@K`,
   * `hr@K`, `mrr@K`, `map@K`, definitions in ranking.ts; with a ` (sampled N)` suffix in
   * sampled mode); `rmse`/`mae` over all test pairs when the model predicts ratings and
   * the test log has them; `coverage@K`, `novelty@K`, `gini@K` at the largest K (full ranking only).
   */
  metrics: Record<string, number>;
  /** Bootstrap intervals [lo, hi] of the ranking metrics, when asked. */
  ci?: Record<string, [number, number]>;
  /**
   * evaluated: test users with at least one test item outside their training items;
   * skipped: test users whose every test item is a training item (ranking excludes those, so they cannot be scored).
   */
  users: { evaluated: number; skipped: number };
  /** Per ranking metric, one value per evaluated user, aligned with `userIndex`. */
  perUser?: Record<string, Float64Array>;
  /** The evaluated users (dense indices), ascending. */
  userIndex?: Int32Array;
  /** Present in sampled mode: what was sampled. */
  sampled?: { negatives: number; seed: number };
}

function sliceRelevant(rel: RelevantRows, from: number, to: number): RelevantRows {
  const base = rel.rowPtr[from];
  const rowPtr = new Int32Array(to - from + 1);
  for (let r = from; r <= to; r++) rowPtr[r - from] = rel.rowPtr[r] - base;
  return { rowPtr, items: rel.items.subarray(base, rel.rowPtr[to]) };
}

function checkLog(x: Interactions, arg: string): void {
  if (!x || !(x.user instanceof Int32Array) || !(x.item instanceof Int32Array)) {
    throw new GnnrlError('input', `evaluateModel: ${arg}: expected an Interactions log (user and item Int32Arrays)`, { arg });
  }
}

/**
 * Evaluates `model` on `test` (see `EvaluationReport` for what comes back). Users are
 * processed `USERS_PER_CHUNK` at a time, so memory grows with the number of users
 * (per-user values), not with users × items.
 *
 * Sampled mode: for each evaluated user, the candidates are its relevant test items
 * plus `negatives` items drawn uniformly without replacement from the items the user has
 * neither in train nor in test (all of them when fewer remain); candidates are scored
 * with `model.predict`, ordered by score with ties to the lower item index, and the
 * same ranking metrics are computed on that list. With one test item per user this is
 * the leave-one-out protocol of NCF (He et al., 2017). Coverage, novelty and Gini are
 * not reported in sampled mode: they describe catalogue-wide lists.
 */
export async function evaluateModel(model: Ranker, opts: EvaluateOptions): Promise<EvaluationReport> {
  checkLog(opts?.train, 'train');
  checkLog(opts?.test, 'test');
  const { train, test } = opts;
  if (train.user.length === 0) throw new GnnrlError('input', 'evaluateModel: train: expected the log the model was fit on, got an empty one', { arg: 'train' });
  if (train.nUsers !== test.nUsers || train.nItems !== test.nItems) {
    throw new GnnrlError(
      'input',
      `evaluateModel: test: expected the id spaces of train (${train.nUsers} users, ${train.nItems} items), got ${test.nUsers} users, ${test.nItems} items; split both from one log`,
      { arg: 'test' },
    );
  }
  const ks = normalizeKs(opts.k ?? [10, 20], Number.MAX_SAFE_INTEGER, 'evaluateModel');
  const maxK = ks[ks.length - 1];
  const seen = PositiveIndex.of(train);
  checkHeldOut('evaluateModel', 'train', model, seen, train);
  checkHeldOut('evaluateModel', 'test', model, seen, test);
  const sampled = opts.sampled ? checkSampled(opts.sampled) : null;

  const metrics: Record<string, number> = {};
  const rows = heldOutRows(test, seen);
  const n = rows.users.length;
  const suffix = sampled ? `(sampled ${sampled.negatives})` : '';
  const per: Record<string, Float64Array> = {};
  for (const m of RANKING_METRICS) for (const k of ks) per[metricName(m, k, suffix)] = new Float64Array(n);

  // One chunk of lists (rows `from ..` of `rows`, width maxK) into the per-user arrays.
  const addChunk = (lists: Int32Array, from: number) => {
    const count = lists.length / maxK;
    const res = rankingMetrics({ items: lists, k: maxK }, sliceRelevant(rows.relevant, from, from + count), ks, { perUser: true });
    for (const m of RANKING_METRICS) for (const k of ks) per[metricName(m, k, suffix)].set(res.perUser![metricName(m, k)], from);
  };

  let beyond: Record<string, number> = {};
  if (sampled) {
    await sampledLists(model, rows, seen, PositiveIndex.of(test), maxK, sampled, addChunk);
  } else {
    const counts = new Float64Array(model.nItems);
    await rankInChunks(model, rows.users, maxK, seen, opts.engine, (lists, from) => {
      addChunk(lists, from);
      recommendationCounts({ items: lists, k: maxK }, model.nItems, maxK, counts);
    });
    beyond = {
      [`coverage@${maxK}`]: coverage(counts),
      [`novelty@${maxK}`]: novelty(counts, itemPopularity(seen, model.nItems)),
      [`gini@${maxK}`]: gini(counts),
    };
  }
  Object.assign(metrics, meansOf(per, n), beyond);
  if (model.predictsRatings && test.rating && test.user.length > 0) {
    const pred = await predictInChunks(model, test.user, test.item);
    metrics.rmse = rmse(pred, test.rating);
    metrics.mae = mae(pred, test.rating);
  }

  const report: EvaluationReport = { model: model.name, metrics, users: { evaluated: n, skipped: rows.skipped } };
  if (opts.ci && n > 0) report.ci = bootstrapCIs(per, opts.ci === true ? {} : opts.ci);
  if (opts.perUser) {
    report.perUser = per;
    report.userIndex = rows.users;
  }
  if (sampled) report.sampled = sampled;
  return report;
}

function meansOf(per: Record<string, Float64Array>, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(per)) {
    let s = 0;
    for (let j = 0; j < n; j++) s += v[j];
    out[name] = n > 0 ? s / n : NaN;
  }
  return out;
}

function checkSampled(s: SampledOptions): { negatives: number; seed: number } {
  if (!Number.isInteger(s.negatives) || s.negatives < 1) {
    throw new GnnrlError('input', `evaluateModel: sampled.negatives: expected a positive integer, got ${s.negatives}`, { arg: 'sampled.negatives' });
  }
  return { negatives: s.negatives, seed: s.seed ?? 1 };
}

/**
 * Sampled candidate lists (width k) for `rows.users`, chunk by chunk. Negatives come
 * from one seeded stream in user order, so a report is reproducible.
 */
async function sampledLists(
  model: Ranker,
  rows: HeldOutRows,
  seen: PositiveIndex,
  testIndex: PositiveIndex,
  k: number,
  s: { negatives: number; seed: number },
  onChunk: (lists: Int32Array, from: number) => void,
): Promise<void> {
  const rng = new Rng(s.seed);
  const nItems = model.nItems;
  const { users, relevant } = rows;
  for (let from = 0; from < users.length; from += USERS_PER_CHUNK) {
    const to = Math.min(users.length, from + USERS_PER_CHUNK);
    // Candidates per user: relevant items and negatives, sorted by item so that equal
    // scores fall to the lower item index (selectTopK breaks ties by position).
    const cands: Int32Array[] = [];
    let total = 0;
    for (let r = from; r < to; r++) {
      const u = users[r];
      const rel = relevant.items.subarray(relevant.rowPtr[r], relevant.rowPtr[r + 1]);
      const neg = drawNegatives(rng, u, nItems, s.negatives, seen, testIndex);
      const c = new Int32Array(rel.length + neg.length);
      c.set(rel);
      c.set(neg, rel.length);
      cands.push(c.sort());
      total += c.length;
    }
    const pu = new Int32Array(total);
    const pi = new Int32Array(total);
    let w = 0;
    cands.forEach((c, j) => {
      pu.fill(users[from + j], w, w + c.length);
      pi.set(c, w);
      w += c.length;
    });
    const scores = await predictInChunks(model, pu, pi);
    const lists = new Int32Array((to - from) * k);
    const pos = new Int32Array(k);
    const top = new Float32Array(k);
    w = 0;
    cands.forEach((c, j) => {
      selectTopK(scores.subarray(w, w + c.length), k, null, pos, top, 0);
      for (let t = 0; t < k; t++) lists[j * k + t] = pos[t] >= 0 ? c[pos[t]] : -1;
      w += c.length;
    });
    onChunk(lists, from);
  }
}

/** Up to `count` distinct items, uniformly without replacement, that user u has in neither train nor test. */
function drawNegatives(rng: Rng, u: number, nItems: number, count: number, seen: PositiveIndex, testIndex: PositiveIndex): Int32Array {
  const taken = (i: number) => seen.has(u, i) || testIndex.has(u, i);
  let known = seen.count(u);
  for (let e = testIndex.offsets[u]; e < testIndex.offsets[u + 1]; e++) if (!seen.has(u, testIndex.items[e])) known++;
  const free = nItems - known;
  if (count * 2 <= free) {
    // Sparse case (the usual one): rejection, cheap while most items are free.
    const picked = new Set<number>();
    while (picked.size < count) {
      const i = rng.int(nItems);
      if (!taken(i)) picked.add(i);
    }
    return Int32Array.from(picked);
  }
  // Dense case: list the free items and take a partial Fisher–Yates prefix.
  const pool = new Int32Array(free);
  for (let i = 0, f = 0; i < nItems; i++) if (!taken(i)) pool[f++] = i;
  const m = Math.min(count, free);
  for (let j = 0; j < m; j++) {
    const t = j + rng.int(free - j);
    const v = pool[j];
    pool[j] = pool[t];
    pool[t] = v;
  }
  return pool.slice(0, m);
}
