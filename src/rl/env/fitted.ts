/**
 * The fitted simulator: the same `Simulator` (choice model, fatigue, drift, satisfaction,
 * leave), with its users and items taken from a trained encoder's embeddings on a real
 * log instead of a synthetic world's planted vectors, and its click model calibrated to
 * that log.
 *
 * Building the world:
 *   vectors   the encoder's user and item tables (LightGCN by default, trained on the log
 *             when no model is given), both scaled by one factor so that the affinity
 *             a(u, i) = p_u·q_i has unit standard deviation over the calibration users;
 *   groups    k-means (seeded, `groups` clusters) over the scaled item vectors: the groups
 *             the simulator's fatigue works on;
 *   clickbait none (`clickbaitShare` 0): a log does not say which items are clickbait.
 *
 * Calibration (`calibrate`), on up to `maxUsers` users of the log:
 *   1. item intercepts b_i and the click temperature τ are the maximum-likelihood fit of
 *      the log's choices under P(i | u) = softmax_i(a(u, i)/τ + b_i) over the catalogue
 *      (the synthetic world's own click model, popularity × exp(affinity/τ)). For fixed τ
 *      the intercepts' likelihood equations say "expected count = observed count" for
 *      every item, solved by iterative proportional fitting (b_i += log(c_i / E_i),
 *      counts smoothed by +0.5); τ is a golden-section search of the log-likelihood over
 *      log τ. So the simulator's popularity (pop_i ∝ e^{b_i}, weight 1) reproduces the
 *      log's item counts, and its ranking, given the users' affinities.
 *   2. the no-click utility is bisected so that a fresh session (no fatigue, the user's
 *      last logged items in the window) shown one item drawn by the log's popularity (a
 *      stand-in for the logging policy) clicks with probability `ctr`. A log of consumed
 *      items records no impressions, so its CTR is not in it: `ctr` is an assumption
 *      (default 0.2), to be set from the platform's measured CTR.
 *
 * Limits (also in the README): the embeddings were trained for ranking, not for choice
 * probabilities, so affinities are only as good as the encoder; only the first step's
 * choice is fitted: fatigue, drift, satisfaction and leave keep the synthetic defaults and
 * are not identified by a log without impressions or sessions; users start from their
 * trained vector (no drift direction, no ratings model: `expectedRating` is refused);
 * calibration sees at most `maxUsers` users. τ is biased upwards (flatter choices) on
 * logs where users never repeat an item or whose interests drifted: a user who has
 * consumed their favourites picks lower-affinity items, which the fit reads as noise.
 */
import { check, GnnrlError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { groupByUser, type Interactions } from '../../data/interactions.js';
import type { SyntheticWorld } from '../../data/synthetic.js';
import { Simulator, simulatorConfig, SIMULATOR_DEFAULTS, type SimulatorOptions } from './simulator.js';

export interface CalibrationOptions {
  /** CTR of a fresh session shown one item drawn by the log's popularity (default 0.2). */
  ctr?: number;
  /** Item groups for fatigue, by k-means (default 16, at most nItems / 2). */
  groups?: number;
  /** Users the calibration looks at, at most (default 1000; a seeded sample). */
  maxUsers?: number;
  /** IPF sweeps per temperature (default 8). */
  sweeps?: number;
  seed?: number;
}

export const CALIBRATION_DEFAULTS: Required<CalibrationOptions> = { ctr: 0.2, groups: 16, maxUsers: 1000, sweeps: 8, seed: 1 };

export interface ClickCalibration {
  /** The click temperature τ. */
  temperature: number;
  /** Utility of not clicking. */
  noClick: number;
  /** Normalised popularity e^{b_i} / Σ e^{b}. */
  popularity: Float64Array;
  /** Factor applied to both embedding tables (unit-sd affinity). */
  scale: number;
  /** Mean log-likelihood per logged event at τ. */
  logLikelihood: number;
  /** The target CTR and the calibrated model's CTR on the calibration users. */
  ctr: number;
  fittedCtr: number;
  users: number;
}

/** Embedding tables of the log's users and items (host copies). */
export interface FittedTables {
  dim: number;
  users: Float32Array;
  items: Float32Array;
  source: string;
}

export function calibrationOptions(opts: CalibrationOptions = {}, argPrefix = 'env-options'): Required<CalibrationOptions> {
  const c = { ...CALIBRATION_DEFAULTS, ...opts };
  check(typeof c.ctr === 'number' && c.ctr > 0 && c.ctr < 1, `${argPrefix}.ctr`, `a number in (0, 1), got ${JSON.stringify(c.ctr)}`);
  for (const k of ['groups', 'maxUsers', 'sweeps'] as const) check(Number.isInteger(c[k]) && c[k] >= 1, `${argPrefix}.${k}`, `an integer >= 1, got ${JSON.stringify(c[k])}`);
  check(Number.isInteger(c.seed), `${argPrefix}.seed`, `an integer, got ${JSON.stringify(c.seed)}`);
  return c;
}

/**
 * Calibrates the click model to `log` (see the file comment). `historyLen` and
 * `repeatPenalty` are the simulator's, so the CTR of its first step is the one fitted.
 */
export function calibrate(log: Interactions, tables: FittedTables, opts: CalibrationOptions = {}, sim: { historyLen?: number; repeatPenalty?: number } = {}): ClickCalibration {
  const c = calibrationOptions(opts);
  const { dim } = tables;
  const nI = log.nItems;
  check(tables.users.length === log.nUsers * dim && tables.items.length === nI * dim, 'tables', `${log.nUsers} × ${dim} user and ${nI} × ${dim} item values, got ${tables.users.length} and ${tables.items.length}`);
  check(log.user.length > 0, 'log', 'a log with at least one event');
  const H = sim.historyLen ?? SIMULATOR_DEFAULTS.historyLen;
  const repeat = sim.repeatPenalty ?? SIMULATOR_DEFAULTS.repeatPenalty;

  // The calibration users: a seeded sample of those with events.
  const g = groupByUser(log);
  const active: number[] = [];
  for (let u = 0; u < log.nUsers; u++) if (g.offsets[u + 1] > g.offsets[u]) active.push(u);
  const rng = new Rng(c.seed);
  rng.shuffle(active);
  const users = active.slice(0, c.maxUsers).sort((x, y) => x - y);
  const U = users.length;

  // Affinities of the sample, scaled to unit sd.
  const A = new Float64Array(U * nI);
  let s1 = 0;
  let s2 = 0;
  for (let r = 0; r < U; r++) {
    const pu = users[r] * dim;
    for (let i = 0; i < nI; i++) {
      let a = 0;
      for (let d = 0; d < dim; d++) a += tables.users[pu + d] * tables.items[i * dim + d];
      A[r * nI + i] = a;
      s1 += a;
      s2 += a * a;
    }
  }
  const mean = s1 / A.length;
  const sd = Math.sqrt(Math.max(s2 / A.length - mean * mean, 1e-24));
  for (let j = 0; j < A.length; j++) A[j] /= sd;

  // Observed counts of the sample's events (smoothed), and events per sampled user.
  const counts = new Float64Array(nI).fill(0.5);
  const nu = new Float64Array(U);
  let events = 0;
  for (let r = 0; r < U; r++) {
    const u = users[r];
    nu[r] = g.offsets[u + 1] - g.offsets[u];
    events += nu[r];
    for (let j = g.offsets[u]; j < g.offsets[u + 1]; j++) counts[log.item[g.order[j]]]++;
  }

  const b = new Float64Array(nI);
  const expected = new Float64Array(nI);
  const row = new Float64Array(nI);
  /** IPF sweeps of b at temperature t; returns the mean log-likelihood per event. */
  const fitAt = (t: number): number => {
    for (let sweep = 0; sweep <= c.sweeps; sweep++) {
      expected.fill(0);
      let ll = 0;
      for (let r = 0; r < U; r++) {
        let m = -Infinity;
        for (let i = 0; i < nI; i++) m = Math.max(m, (row[i] = A[r * nI + i] / t + b[i]));
        let z = 0;
        for (let i = 0; i < nI; i++) z += row[i] = Math.exp(row[i] - m);
        for (let i = 0; i < nI; i++) expected[i] += (nu[r] * row[i]) / z;
        if (sweep === c.sweeps) {
          const u = users[r];
          for (let j = g.offsets[u]; j < g.offsets[u + 1]; j++) ll += Math.log(row[log.item[g.order[j]]] / z);
        }
      }
      if (sweep === c.sweeps) return ll / events;
      // Expected counts sum to the events; observed ones to events + 0.5·nI: compare shares.
      const totalC = events + 0.5 * nI;
      for (let i = 0; i < nI; i++) b[i] += Math.log(counts[i] / totalC / (expected[i] / events));
    }
    return NaN;
  };
  // Golden-section search over log τ ∈ [log 0.05, log 20] (b warm-started between points).
  const phi = (Math.sqrt(5) - 1) / 2;
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  let x1 = hi - phi * (hi - lo);
  let x2 = lo + phi * (hi - lo);
  let f1 = fitAt(Math.exp(x1));
  let f2 = fitAt(Math.exp(x2));
  for (let it = 0; it < 14; it++) {
    if (f1 > f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - phi * (hi - lo);
      f1 = fitAt(Math.exp(x1));
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + phi * (hi - lo);
      f2 = fitAt(Math.exp(x2));
    }
  }
  const temperature = Math.exp((lo + hi) / 2);
  const logLikelihood = fitAt(temperature);

  // Popularity as the simulator takes it: pop_i ∝ e^{b_i}, utility weight 1.
  let bmax = -Infinity;
  for (let i = 0; i < nI; i++) bmax = Math.max(bmax, b[i]);
  const popularity = new Float64Array(nI);
  let zp = 0;
  for (let i = 0; i < nI; i++) zp += popularity[i] = Math.exp(b[i] - bmax);
  for (let i = 0; i < nI; i++) popularity[i] /= zp;

  // The fresh-session utility of every (sampled user, item), as Simulator.utility computes it.
  const logPop = new Float64Array(nI);
  for (let i = 0; i < nI; i++) logPop[i] = Math.log(Math.max(nI * popularity[i], 1e-12));
  const shown = new Float64Array(nI);
  let zs = 0;
  for (let i = 0; i < nI; i++) zs += shown[i] = counts[i] - 0.5;
  for (let i = 0; i < nI; i++) shown[i] /= zs;
  const util = new Float64Array(U * nI);
  for (let r = 0; r < U; r++) {
    const u = users[r];
    for (let i = 0; i < nI; i++) util[r * nI + i] = A[r * nI + i] / temperature + logPop[i];
    for (let j = Math.max(g.offsets[u], g.offsets[u + 1] - H); j < g.offsets[u + 1]; j++) util[r * nI + log.item[g.order[j]]] -= repeat;
  }
  const ctrAt = (noClick: number): number => {
    let p = 0;
    for (let r = 0; r < U; r++) for (let i = 0; i < nI; i++) if (shown[i] > 0) p += shown[i] / (1 + Math.exp(noClick - util[r * nI + i]));
    return p / U;
  };
  let nlo = -50;
  let nhi = 50;
  for (let it = 0; it < 60; it++) {
    const mid = (nlo + nhi) / 2;
    if (ctrAt(mid) > c.ctr) nlo = mid;
    else nhi = mid;
  }
  const noClick = (nlo + nhi) / 2;
  return { temperature, noClick, popularity, scale: 1 / Math.sqrt(sd), logLikelihood, ctr: c.ctr, fittedCtr: ctrAt(noClick), users: U };
}

/** Seeded k-means (k-means++ start, `iters` Lloyd steps) of the item vectors: the fatigue groups. */
export function itemClusters(items: Float32Array, dim: number, k: number, seed: number, iters = 15): Int32Array {
  const n = items.length / dim;
  k = Math.max(1, Math.min(k, Math.floor(n / 2) || 1));
  const rng = new Rng(seed);
  const centres = new Float64Array(k * dim);
  const d2 = new Float64Array(n).fill(Infinity);
  const dist = (i: number, c: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const x = items[i * dim + d] - centres[c * dim + d];
      s += x * x;
    }
    return s;
  };
  let pick = rng.int(n);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < dim; d++) centres[c * dim + d] = items[pick * dim + d];
    let total = 0;
    for (let i = 0; i < n; i++) total += d2[i] = Math.min(d2[i], dist(i, c));
    let u = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) if ((u -= d2[i]) < 0) { pick = i; break; }
  }
  const assign = new Int32Array(n);
  const sums = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const v = dist(i, c);
        if (v < bd) (bd = v), (best = c);
      }
      assign[i] = best;
    }
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      sizes[assign[i]]++;
      for (let d = 0; d < dim; d++) sums[assign[i] * dim + d] += items[i * dim + d];
    }
    for (let c = 0; c < k; c++) if (sizes[c] > 0) for (let d = 0; d < dim; d++) centres[c * dim + d] = sums[c * dim + d] / sizes[c];
  }
  // Renumber so group indices are dense (an emptied cluster leaves no gap).
  const map = new Int32Array(k).fill(-1);
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (map[assign[i]] < 0) map[assign[i]] = next++;
    assign[i] = map[assign[i]];
  }
  return assign;
}

/** A `SyntheticWorld` whose users and items are the scaled embeddings and whose popularity is calibrated. */
export function fittedWorld(log: Interactions, tables: FittedTables, cal: ClickCalibration, groups: number, seed: number): SyntheticWorld {
  const { dim } = tables;
  const scale = (x: Float32Array) => Float32Array.from(x, (v) => v * cal.scale);
  const userFactors = scale(tables.users);
  const itemFactors = scale(tables.items);
  const itemGroup = itemClusters(itemFactors, dim, groups, seed);
  const G = Math.max(...itemGroup) + 1;
  const groupCentres = new Float32Array(G * dim);
  const sizes = new Int32Array(G);
  for (let i = 0; i < log.nItems; i++) {
    sizes[itemGroup[i]]++;
    for (let d = 0; d < dim; d++) groupCentres[itemGroup[i] * dim + d] += itemFactors[i * dim + d];
  }
  for (let c = 0; c < G; c++) for (let d = 0; d < dim; d++) groupCentres[c * dim + d] /= Math.max(1, sizes[c]);
  const affinity = (u: number, i: number) => {
    let a = 0;
    for (let d = 0; d < dim; d++) a += userFactors[u * dim + d] * itemFactors[i * dim + d];
    return a;
  };
  const logPop = Float64Array.from(cal.popularity, (p) => Math.log(Math.max(p, 1e-300)));
  const score = (u: number, i: number) => affinity(u, i) / cal.temperature + logPop[i];
  const events = log.user.length;
  return {
    config: {
      nUsers: log.nUsers,
      nItems: log.nItems,
      dim,
      meanEvents: events / Math.max(1, log.nUsers),
      activitySigma: 0,
      minEvents: 1,
      maxEvents: log.nItems,
      zipf: 0,
      temperature: cal.temperature,
      drift: 0,
      segments: 1,
      clusters: G,
      clusterShare: 0,
      rating: { mu: 0, userBiasSd: 0, itemBiasSd: 0, factorWeight: 0, noiseSd: 0 },
      implicit: log.rating === null,
      start: 0,
      span: 0,
      seed,
    },
    interactions: log,
    nUsers: log.nUsers,
    nItems: log.nItems,
    dim,
    userFactors,
    userDrift: new Float32Array(log.nUsers * dim),
    itemFactors,
    userBias: new Float32Array(log.nUsers),
    itemBias: new Float32Array(log.nItems),
    popularity: cal.popularity,
    itemGroup,
    groupCentres,
    affinity,
    score,
    trueTopK(u, k, exclude) {
      const skip = new Uint8Array(log.nItems);
      if (exclude && exclude !== 'seen') for (let j = 0; j < exclude.length; j++) skip[exclude[j]] = 1;
      if (exclude === 'seen') for (let j = 0; j < log.user.length; j++) if (log.user[j] === u) skip[log.item[j]] = 1;
      const order = Array.from({ length: log.nItems }, (_, i) => i).filter((i) => !skip[i]);
      const s = order.map((i) => score(u, i));
      return Int32Array.from(order.map((i, j) => [i, s[j]] as const).sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, k), (p) => p[0]);
    },
    expectedRating() {
      throw new GnnrlError('state', 'fitted world: no rating model (the fitted simulator calibrates clicks only)');
    },
  };
}

export interface FittedSimulatorResult {
  sim: Simulator;
  world: SyntheticWorld;
  calibration: ClickCalibration;
}

/**
 * The fitted simulator over `log` with the embeddings `tables`. Simulator options given
 * in `options` override the calibrated ones (temperature, noClick, popularity weight 1,
 * clickbaitShare 0).
 */
export function fittedSimulator(log: Interactions, tables: FittedTables, options: SimulatorOptions = {}, calibrationOpts: CalibrationOptions = {}, name = 'fitted'): FittedSimulatorResult {
  const c = calibrationOptions(calibrationOpts);
  const simCfg = simulatorConfig(options);
  const calibration = calibrate(log, tables, c, simCfg);
  const world = fittedWorld(log, tables, calibration, c.groups, c.seed);
  return { world, calibration, sim: fittedFromWorld(world, calibration, options, name) };
}

/** Another simulator instance over the same fitted world (training and evaluation use separate ones). */
export function fittedFromWorld(world: SyntheticWorld, cal: ClickCalibration, options: SimulatorOptions = {}, name = 'fitted'): Simulator {
  return new Simulator(world, { temperature: cal.temperature, noClick: cal.noClick, popularity: 1, clickbaitShare: 0, ...options }, name);
}
