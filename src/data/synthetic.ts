/**
 * A seeded synthetic recommendation world with planted preferences, so simulators and
 * tests can score any recommendation exactly.
 *
 * The model (all draws from one seeded stream, so a seed fixes everything):
 * - user u has a latent vector p_u and a drift direction d_u, both N(0, I/√dim); items
 *   fall into `clusters` groups (think genres): item i of group c has
 *   q_i = μ_c + r_i, with the group centre μ_c carrying `clusterShare` of the variance,
 *   so that the affinity a(u,i) = p_u·q_i has variance about 1;
 * - item popularity is Zipf: the item at popularity rank r (a random permutation of
 *   items) has weight 1/r^zipf;
 * - user u makes n_u events, n_u log-normal (median `meanEvents`·e^(−σ²/2), clamped);
 *   the events lie at sorted uniform times in a user-specific window of the global
 *   horizon t ∈ [0, 1];
 * - interests drift slowly: at time t the user's vector is p_u(t) = p_u + drift·(1−t)·d_u,
 *   so p_u itself is the preference "now" (t = 1), the point recommendations are for;
 * - a click at time t picks an item with probability ∝ pop_i · exp(a_t(u,i)/τ), without
 *   repeating an item for the same user. Since pop_i·exp(a/τ) = [pop_i·exp(A(u,c)/τ)] ·
 *   exp((a − A(u,c))/τ) with A(u,c) = p_u·μ_c, it is drawn in two parts: a pool of
 *   candidates from the first factor exactly (group c ∝ its total popularity ·
 *   exp(A/τ), then an item of c ∝ pop via a per-group alias table), then Gumbel-top-m
 *   over the pool's residual weights exp((a − A)/τ) picks the events of one time segment
 *   (sampling-importance-resampling: exact as the pool grows, and the strong group-level
 *   preference is exact at any pool size). Cost O(pool·dim) per user, not O(items·dim);
 * - the rating of an event is clamp(round(μ + b_u + b_i + w·a_t(u,i) + ε), 1, 5) with
 *   ε ~ N(0, noise²).
 * `score(u, i)` = a(u,i)/τ + log pop_i, the log of the unnormalised click probability
 * now; `trueTopK` ranks by it; `expectedRating` is E[rating] now, exact over ε.
 */
import { check } from '../errors.js';
import { Rng } from '../util/rng.js';
import { AliasTable } from './alias.js';
import { IdMap } from './idmap.js';
import type { Interactions } from './interactions.js';

export interface WorldConfig {
  nUsers: number;
  nItems: number;
  /** Latent dimension (default 8). */
  dim?: number;
  /** Mean events per user (default 20). */
  meanEvents?: number;
  /** σ of log-activity (default 0.8). */
  activitySigma?: number;
  /** Default 3. */
  minEvents?: number;
  /** Default min(nItems / 2, 50·meanEvents). */
  maxEvents?: number;
  /** Zipf exponent of item popularity (default 1). */
  zipf?: number;
  /** Softmax temperature τ of the click model (default 0.5). */
  temperature?: number;
  /** Interest drift strength (default 0.3; 0 = static). */
  drift?: number;
  /** Time segments per user with their own p_u(t) (default 4). */
  segments?: number;
  /** Item groups (default 16). */
  clusters?: number;
  /** Share of item-vector variance carried by the group centre (default 0.7). */
  clusterShare?: number;
  /** Rating model: μ, bias spreads, factor weight w, noise σ. */
  rating?: { mu?: number; userBiasSd?: number; itemBiasSd?: number; factorWeight?: number; noiseSd?: number };
  /** Implicit log: `rating` null (default false). */
  implicit?: boolean;
  /** Unix seconds of t = 0 (default 2020-01-01) and horizon length (default 2 years). */
  start?: number;
  span?: number;
  seed?: number;
}

export type WorldPreset = 'tiny' | 'small' | 'medium' | 'large';

/** Sizes: tiny ≈ 1K events (tests), small ≈ 40K, medium ≈ 1M, large ≈ 10M (bench). */
export const WORLD_PRESETS: Record<WorldPreset, Omit<WorldConfig, 'seed'>> = {
  tiny: { nUsers: 60, nItems: 120, dim: 4, meanEvents: 15 },
  small: { nUsers: 1000, nItems: 2000, dim: 8, meanEvents: 40 },
  medium: { nUsers: 20_000, nItems: 20_000, dim: 16, meanEvents: 50 },
  large: { nUsers: 100_000, nItems: 100_000, dim: 16, meanEvents: 100 },
};

export interface SyntheticWorld {
  readonly config: Required<Omit<WorldConfig, 'rating'>> & { rating: Required<NonNullable<WorldConfig['rating']>> };
  readonly interactions: Interactions;
  readonly nUsers: number;
  readonly nItems: number;
  readonly dim: number;
  /** nUsers × dim, the preference now. */
  readonly userFactors: Float32Array;
  /** nUsers × dim drift directions. */
  readonly userDrift: Float32Array;
  readonly itemFactors: Float32Array;
  readonly userBias: Float32Array;
  readonly itemBias: Float32Array;
  /** Normalised popularity (sums to 1). */
  readonly popularity: Float64Array;
  /** Group of each item, and the group centres (clusters × dim). */
  readonly itemGroup: Int32Array;
  readonly groupCentres: Float32Array;
  /** Affinity p_u·q_i (now). */
  affinity(user: number, item: number): number;
  /** Log of the unnormalised click probability now: a(u,i)/τ + log pop_i. */
  score(user: number, item: number): number;
  /** The k best items for `user` by `score`, best first, skipping `exclude` ('seen' = the user's logged items). */
  trueTopK(user: number, k: number, exclude?: ArrayLike<number> | 'seen'): Int32Array;
  /** E[rating] for (user, item) now, exact over the rating noise. */
  expectedRating(user: number, item: number): number;
}

export function syntheticWorld(opts: ({ preset: WorldPreset } & Partial<WorldConfig>) | WorldConfig): SyntheticWorld {
  const base = 'preset' in opts && opts.preset ? WORLD_PRESETS[opts.preset] : undefined;
  check(!('preset' in opts) || base !== undefined, 'preset', `'tiny' | 'small' | 'medium' | 'large', got ${JSON.stringify((opts as { preset?: unknown }).preset)}`);
  const c = { ...base, ...opts } as WorldConfig;
  check(Number.isInteger(c.nUsers) && c.nUsers >= 1, 'nUsers', 'an integer >= 1');
  check(Number.isInteger(c.nItems) && c.nItems >= 2, 'nItems', 'an integer >= 2');
  const meanEvents = c.meanEvents ?? 20;
  const cfg: SyntheticWorld['config'] = {
    nUsers: c.nUsers,
    nItems: c.nItems,
    dim: c.dim ?? 8,
    meanEvents,
    activitySigma: c.activitySigma ?? 0.8,
    minEvents: c.minEvents ?? 3,
    maxEvents: c.maxEvents ?? Math.max(1, Math.min(Math.floor(c.nItems / 2), 50 * meanEvents)),
    zipf: c.zipf ?? 1,
    temperature: c.temperature ?? 0.5,
    drift: c.drift ?? 0.3,
    segments: c.segments ?? 4,
    clusters: c.clusters ?? 16,
    clusterShare: c.clusterShare ?? 0.7,
    rating: { mu: 3.0, userBiasSd: 0.3, itemBiasSd: 0.4, factorWeight: 0.5, noiseSd: 0.6, ...c.rating },
    implicit: c.implicit ?? false,
    start: c.start ?? 1_577_836_800,
    span: c.span ?? 2 * 365 * 86_400,
    seed: c.seed ?? 1,
  };
  check(Number.isInteger(cfg.dim) && cfg.dim >= 1, 'dim', 'an integer >= 1');
  check(cfg.temperature > 0, 'temperature', '> 0');
  check(cfg.minEvents >= 1 && cfg.minEvents <= cfg.maxEvents, 'minEvents', `in [1, maxEvents = ${cfg.maxEvents}]`);
  check(cfg.maxEvents <= cfg.nItems, 'maxEvents', `<= nItems (${cfg.nItems}): events never repeat an item`);
  check(Number.isInteger(cfg.segments) && cfg.segments >= 1, 'segments', 'an integer >= 1');
  check(Number.isInteger(cfg.clusters) && cfg.clusters >= 1, 'clusters', 'an integer >= 1');
  check(cfg.clusterShare >= 0 && cfg.clusterShare <= 1, 'clusterShare', 'in [0, 1]');
  return generate(cfg);
}

/** The planted parameters: preferences, drift, items and their groups, biases, popularity. */
interface Planted {
  P: Float32Array;
  D: Float32Array;
  /** Group centres, clusters × dim. */
  M: Float32Array;
  Q: Float32Array;
  group: Int32Array;
  bu: Float32Array;
  bi: Float32Array;
  pop: Float64Array;
  logPop: Float64Array;
}

function generate(cfg: SyntheticWorld['config']): SyntheticWorld {
  // One stream in a fixed order (parameters, activity, then events), so a seed fixes everything.
  const rng = new Rng(cfg.seed);
  const { nUsers, nItems } = cfg;
  const planted = drawPlanted(cfg, rng);
  const counts = drawActivity(cfg, rng);
  let nEvents = 0;
  for (let u = 0; u < nUsers; u++) nEvents += counts[u];
  const log = drawEvents(cfg, planted, counts, nEvents, rng);
  const w = log.made;
  const interactions: Interactions = {
    user: w === nEvents ? log.user : log.user.slice(0, w),
    item: w === nEvents ? log.item : log.item.slice(0, w),
    rating: log.rating ? (w === nEvents ? log.rating : log.rating.slice(0, w)) : null,
    ts: w === nEvents ? log.ts : log.ts.slice(0, w),
    nUsers,
    nItems,
    userIds: IdMap.fromIds(range(nUsers)),
    itemIds: IdMap.fromIds(range(nItems)),
  };
  const { P, D, Q, bu, bi, pop, logPop, group, M } = planted;
  return makeWorld(cfg, interactions, P, D, Q, bu, bi, pop, logPop, group, M);
}

function drawPlanted(cfg: SyntheticWorld['config'], rng: Rng): Planted {
  const { nUsers, nItems, dim } = cfg;
  const sd = Math.pow(dim, -0.25);
  const fill = (n: number, s: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * s;
    return a;
  };
  const P = fill(nUsers * dim, sd);
  const D = fill(nUsers * dim, sd);
  const G = cfg.clusters;
  const M = fill(G * dim, sd * Math.sqrt(cfg.clusterShare));
  const group = new Int32Array(nItems);
  for (let i = 0; i < nItems; i++) group[i] = rng.int(G);
  const Q = fill(nItems * dim, sd * Math.sqrt(1 - cfg.clusterShare));
  for (let i = 0; i < nItems; i++) for (let d = 0; d < dim; d++) Q[i * dim + d] += M[group[i] * dim + d];
  const bu = fill(nUsers, cfg.rating.userBiasSd);
  const bi = fill(nItems, cfg.rating.itemBiasSd);
  const rank = new Int32Array(nItems);
  for (let i = 0; i < nItems; i++) rank[i] = i;
  rng.shuffle(rank);
  const pop = new Float64Array(nItems);
  let total = 0;
  for (let i = 0; i < nItems; i++) total += pop[i] = 1 / Math.pow(rank[i] + 1, cfg.zipf);
  for (let i = 0; i < nItems; i++) pop[i] /= total;
  return { P, D, M, Q, group, bu, bi, pop, logPop: pop.map(Math.log) };
}

/** Events per user: log-normal with the requested mean, clamped to [minEvents, maxEvents]. */
function drawActivity(cfg: SyntheticWorld['config'], rng: Rng): Int32Array {
  const counts = new Int32Array(cfg.nUsers);
  const mu = Math.log(cfg.meanEvents) - (cfg.activitySigma * cfg.activitySigma) / 2;
  for (let u = 0; u < cfg.nUsers; u++) {
    const n = Math.round(Math.exp(mu + cfg.activitySigma * rng.normal()));
    counts[u] = Math.min(cfg.maxEvents, Math.max(cfg.minEvents, n));
  }
  return counts;
}

/**
 * The rating model: clamp(round(μ + b_u + b_i + w·a + ε), 1, 5) for affinity a and noise
 * draw ε ~ N(0, noise²) (pass ε = noiseSd·N(0, 1)).
 */
export function plantedRating(r: SyntheticWorld['config']['rating'], userBias: number, itemBias: number, affinity: number, eps: number): number {
  return Math.min(5, Math.max(1, Math.round(r.mu + userBias + itemBias + r.factorWeight * affinity + eps)));
}

/**
 * The click model's two-part sampler (see the file comment): a candidate pool drawn by
 * group ∝ group popularity · exp(A(u,c)/τ), then an item of the group ∝ popularity, and
 * Gumbel-top-m over the pool's residual weights exp((a − A)/τ).
 */
class ClickSampler {
  private readonly groupAlias: (AliasTable | null)[];
  private readonly groupItems: Int32Array[];
  private readonly groupPop: Float64Array;
  private readonly groupCum: Float64Array;
  private readonly A: Float64Array;
  private readonly poolMark: Int32Array;
  private stamp = 0;
  private poolItems = new Int32Array(64);
  private poolKeys = new Float64Array(64);

  constructor(
    private readonly cfg: SyntheticWorld['config'],
    private readonly planted: Planted,
  ) {
    const G = cfg.clusters;
    const { group, pop } = planted;
    // Per-group alias tables over popularity, and each group's total popularity.
    const members: number[][] = Array.from({ length: G }, () => []);
    for (let i = 0; i < cfg.nItems; i++) members[group[i]].push(i);
    this.groupPop = new Float64Array(G);
    this.groupAlias = members.map((m, g) => {
      if (m.length === 0) return null;
      for (const i of m) this.groupPop[g] += pop[i];
      return new AliasTable(m.map((i) => pop[i]));
    });
    this.groupItems = members.map((m) => Int32Array.from(m));
    this.groupCum = new Float64Array(G);
    this.A = new Float64Array(G);
    this.poolMark = new Int32Array(cfg.nItems);
  }

  /**
   * Up to m items for user vector `pt` (one time segment), none with taken[i] === mark;
   * returns how many, written to out[0, count) in the pool's top-m order.
   */
  pick(pt: Float32Array, m: number, taken: Int32Array, mark: number, rng: Rng, out: Int32Array): number {
    const { dim } = this.cfg;
    const G = this.cfg.clusters;
    const { M, Q } = this.planted;
    const { A, groupPop, groupCum } = this;
    const inv = 1 / this.cfg.temperature;
    // Group weights ∝ groupPop · exp(A(u,c)/τ), shifted by the max for stability.
    let amax = -Infinity;
    for (let g = 0; g < G; g++) {
      let a = 0;
      for (let d = 0; d < dim; d++) a += pt[d] * M[g * dim + d];
      A[g] = a;
      if (groupPop[g] > 0 && a > amax) amax = a;
    }
    let cum = 0;
    for (let g = 0; g < G; g++) {
      cum += groupPop[g] > 0 ? groupPop[g] * Math.exp((A[g] - amax) * inv) : 0;
      groupCum[g] = cum;
    }
    // Candidate pool, deduplicated, excluding the user's earlier items.
    const want = 2 * m + 16;
    if (this.poolItems.length < want) {
      this.poolItems = new Int32Array(want * 2);
      this.poolKeys = new Float64Array(want * 2);
    }
    const { poolItems, poolKeys, poolMark } = this;
    const stamp = ++this.stamp;
    let size = 0;
    for (let t = 0; t < want; t++) {
      const x = rng.next() * cum;
      let g = 0;
      while (g < G - 1 && groupCum[g] <= x) g++;
      const it = this.groupItems[g][this.groupAlias[g]!.sample(rng)];
      if (taken[it] === mark || poolMark[it] === stamp) continue;
      poolMark[it] = stamp;
      let a = 0;
      for (let d = 0; d < dim; d++) a += pt[d] * Q[it * dim + d];
      // Gumbel-top-m over residual weights = sampling m without replacement ∝ exp((a − A)/τ).
      let gu = rng.next();
      while (gu === 0) gu = rng.next();
      poolItems[size] = it;
      poolKeys[size] = (a - A[g]) * inv - Math.log(-Math.log(gu));
      size++;
    }
    const take = Math.min(m, size);
    selectTop(poolKeys, poolItems, size, take);
    out.set(poolItems.subarray(0, take));
    return take;
  }
}

/** Every user's events: sorted times in a user window, segments with their own p_u(t), clicks, ratings. */
function drawEvents(cfg: SyntheticWorld['config'], planted: Planted, counts: Int32Array, nEvents: number, rng: Rng) {
  const { nUsers, nItems, dim } = cfg;
  const { P, D, Q, bu, bi } = planted;
  const user = new Int32Array(nEvents);
  const item = new Int32Array(nEvents);
  const rating = cfg.implicit ? null : new Float32Array(nEvents);
  const ts = new Float64Array(nEvents);
  const taken = new Int32Array(nItems); // = u + 1 once user u has the item
  const sampler = new ClickSampler(cfg, planted);
  const picked = new Int32Array(cfg.maxEvents);
  const pt = new Float32Array(dim);
  const times = new Float64Array(cfg.maxEvents);
  const r = cfg.rating;
  let w = 0;
  for (let u = 0; u < nUsers; u++) {
    const n = counts[u];
    const t0 = rng.next() * 0.7;
    const t1 = t0 + (0.3 + 0.7 * rng.next()) * (1 - t0);
    for (let j = 0; j < n; j++) times[j] = t0 + (t1 - t0) * rng.next();
    times.subarray(0, n).sort();
    const segs = Math.min(cfg.segments, n);
    let made = 0;
    for (let s = 0; s < segs; s++) {
      const lo = Math.floor((s * n) / segs);
      const hi = Math.floor(((s + 1) * n) / segs);
      const tMid = (times[lo] + times[hi - 1]) / 2;
      const back = cfg.drift * (1 - tMid);
      for (let d = 0; d < dim; d++) pt[d] = P[u * dim + d] + back * D[u * dim + d];
      const take = sampler.pick(pt, hi - lo, taken, u + 1, rng, picked);
      for (let j = 0; j < take; j++) {
        const it = picked[j];
        taken[it] = u + 1;
        user[w] = u;
        item[w] = it;
        ts[w] = Math.floor(cfg.start + times[lo + j] * cfg.span);
        if (rating) {
          let a = 0;
          for (let d = 0; d < dim; d++) a += pt[d] * Q[it * dim + d];
          rating[w] = plantedRating(r, bu[u], bi[it], a, r.noiseSd * rng.normal());
        }
        w++;
        made++;
      }
    }
    // Pools can come up short for a heavy user; trim to what was made.
    counts[u] = made;
  }
  return { user, item, rating, ts, made: w };
}

function range(n: number): Iterable<number> {
  return { *[Symbol.iterator]() { for (let i = 0; i < n; i++) yield i; } };
}

/** Partitions keys/items[0, len) so the `m` largest keys come first (quickselect). */
function selectTop(keys: Float64Array, items: Int32Array, len: number, m: number): void {
  let lo = 0;
  let hi = len - 1;
  while (lo < hi && m > lo && m <= hi) {
    const pivot = keys[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (keys[i] > pivot) i++;
      while (keys[j] < pivot) j--;
      if (i <= j) {
        const tk = keys[i];
        keys[i] = keys[j];
        keys[j] = tk;
        const ti = items[i];
        items[i] = items[j];
        items[j] = ti;
        i++;
        j--;
      }
    }
    // [lo, j] ≥ pivot ≥ [i, hi]; continue where the m-th boundary lies.
    if (m <= j) hi = j;
    else if (m >= i) lo = i;
    else return;
  }
}

function normalCdf(x: number): number {
  // Abramowitz–Stegun 7.1.26 on erf; |error| < 1.5e-7, plenty for expected ratings.
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

function makeWorld(
  cfg: SyntheticWorld['config'],
  interactions: Interactions,
  P: Float32Array,
  D: Float32Array,
  Q: Float32Array,
  bu: Float32Array,
  bi: Float32Array,
  pop: Float64Array,
  logPop: Float64Array,
  group: Int32Array,
  centres: Float32Array,
): SyntheticWorld {
  const { nUsers, nItems, dim } = cfg;
  const inv = 1 / cfg.temperature;
  let seen: { offsets: Int32Array; items: Int32Array } | null = null;
  const checkUser = (u: number) => check(Number.isInteger(u) && u >= 0 && u < nUsers, 'user', `an index in [0, ${nUsers}), got ${u}`);
  const checkItem = (i: number) => check(Number.isInteger(i) && i >= 0 && i < nItems, 'item', `an index in [0, ${nItems}), got ${i}`);
  const affinity = (u: number, i: number): number => {
    let a = 0;
    for (let d = 0; d < dim; d++) a += P[u * dim + d] * Q[i * dim + d];
    return a;
  };
  const seenOf = (u: number): Int32Array => {
    if (!seen) {
      // Events are user-major, so offsets come from one pass.
      const offsets = new Int32Array(nUsers + 1);
      for (let e = 0; e < interactions.user.length; e++) offsets[interactions.user[e] + 1]++;
      for (let k = 0; k < nUsers; k++) offsets[k + 1] += offsets[k];
      seen = { offsets, items: interactions.item };
    }
    return seen.items.subarray(seen.offsets[u], seen.offsets[u + 1]);
  };
  return {
    config: cfg,
    interactions,
    nUsers,
    nItems,
    dim,
    userFactors: P,
    userDrift: D,
    itemFactors: Q,
    userBias: bu,
    itemBias: bi,
    popularity: pop,
    itemGroup: group,
    groupCentres: centres,
    affinity(u, i) {
      checkUser(u);
      checkItem(i);
      return affinity(u, i);
    },
    score(u, i) {
      checkUser(u);
      checkItem(i);
      return affinity(u, i) * inv + logPop[i];
    },
    trueTopK(u, k, exclude) {
      checkUser(u);
      check(Number.isInteger(k) && k >= 0, 'k', 'a non-negative integer');
      const skip = new Uint8Array(nItems);
      const ex = exclude === 'seen' ? seenOf(u) : exclude;
      if (ex) for (let j = 0; j < ex.length; j++) skip[ex[j]] = 1;
      const keys = new Float64Array(nItems);
      const ids = new Int32Array(nItems);
      let len = 0;
      for (let i = 0; i < nItems; i++) {
        if (skip[i]) continue;
        keys[len] = affinity(u, i) * inv + logPop[i];
        ids[len++] = i;
      }
      const kk = Math.min(k, len);
      selectTop(keys, ids, len, kk);
      const top = Array.from(ids.subarray(0, kk));
      const sc = new Map(top.map((i, j) => [i, keys[j]]));
      top.sort((a, b) => sc.get(b)! - sc.get(a)! || a - b);
      return Int32Array.from(top);
    },
    expectedRating(u, i) {
      checkUser(u);
      checkItem(i);
      const r = cfg.rating;
      const x = r.mu + bu[u] + bi[i] + r.factorWeight * affinity(u, i);
      if (r.noiseSd === 0) return Math.min(5, Math.max(1, Math.round(x)));
      // E[R] = 1 + Σ_{v=2..5} P(round(x+ε) ≥ v) = 1 + Σ (1 − Φ((v − 0.5 − x)/σ)).
      let e = 1;
      for (let v = 2; v <= 5; v++) e += 1 - normalCdf((v - 0.5 - x) / r.noiseSd);
      return e;
    },
  };
}
