/**
 * A user simulator on the synthetic world: the environment in which long-term reward
 * differs from the next click, and in which the truth is known.
 *
 * Each episode slot holds one user's session. The user's hidden state is their interest
 * vector p (it starts at the world's p_u), a satisfaction level s (starts at 0), and a
 * fatigue level F_g per item group. Showing a slate A of distinct items:
 *
 *   utility  U_i = (p·q_i)/temperature + popularity·log(n·pop_i) + clickbaitLift·bait_i
 *                  − fatigue·F_g(i) − repeatPenalty·[i in the history window]
 *   choice   multinomial logit over A plus a no-click option of utility `noClick`:
 *            P(i) = e^{U_i} / (e^{noClick} + Σ_{j∈A} e^{U_j})
 *   convert  after a click on i, with P = σ(conversionBias + conversionWeight·p·q_i
 *            − clickbaitConversion·bait_i)   (so CTR and CVR are both defined)
 *   reward   clickReward·click + conversionReward·conversion
 *
 * and then the user changes:
 *   - a click on i: s ← satisfactionDecay·s + tanh(p·q_i) − clickbaitCost·bait_i; every
 *     group's fatigue decays (F ← fatigueDecay·F) and F_g(i) grows by 1; interest
 *     drifts towards what was consumed, p ← p + drift·(q_i − p); i joins the history;
 *   - no click: s ← satisfactionDecay·s − boredom, fatigue decays;
 *   - the user leaves with probability σ(logit(leave) − leaveSlope·s): falling
 *     satisfaction shortens the session. An episode also ends at `horizon` steps.
 *
 * Clickbait items (`clickbaitShare` of the catalogue, drawn towards the popular ones,
 * fixed by the world's seed) are the trap for a myopic policy: they win clicks now and
 * cost satisfaction, hence session length, later; fatigue punishes showing one group
 * over and over. With the defaults the myopic oracle (`oracleSlate`) is measurably
 * worse over an episode than a policy that avoids both (see test/rl/simulator.test.ts).
 *
 * Randomness: the catalogue's clickbait flags come from the world's seed; users,
 * choices, conversions and departures from `reset(seed)`'s stream, so the same seed and
 * the same actions replay the same episodes.
 */
import { check, GnnrlError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { groupByUser } from '../../data/interactions.js';
import type { SyntheticWorld } from '../../data/synthetic.js';
import type { Observation, StepResult, TruthfulEnvironment } from '../types.js';
import { EpisodeRecorder } from './episode-log.js';
import { HistoryWindows } from '../state/history-windows.js';

export interface SimulatorOptions {
  /** Episode slots stepped at once (default 64). */
  batch?: number;
  /** Items per slate (default 1). */
  slateSize?: number;
  /** Maximum steps per episode (default 30). */
  horizon?: number;
  /** History window H of an observation (default 10). */
  historyLen?: number;
  /** Softmax temperature of the utility's affinity term (default 1). */
  temperature?: number;
  /** Weight of log(n·pop_i) in the utility (default 0.2). */
  popularity?: number;
  /** Utility of not clicking (default 2). */
  noClick?: number;
  /** Utility lost per unit of the shown item's group fatigue (default 0.6). */
  fatigue?: number;
  /** Per-step decay of every group's fatigue (default 0.7). */
  fatigueDecay?: number;
  /** Utility lost by an item already in the history window (default 3). */
  repeatPenalty?: number;
  /** Step of interest drift towards a consumed item (default 0.05; 0 = static interest). */
  drift?: number;
  /** Share of the catalogue that is clickbait (default 0.1). */
  clickbaitShare?: number;
  /** Utility gained by a clickbait item (default 1.5). */
  clickbaitLift?: number;
  /** Satisfaction lost by a click on clickbait (default 1.2). */
  clickbaitCost?: number;
  /** Conversion log-odds lost by clickbait (default 2). */
  clickbaitConversion?: number;
  /** Per-step decay of satisfaction (default 0.9). */
  satisfactionDecay?: number;
  /** Satisfaction lost by a step without a click (default 0.2). */
  boredom?: number;
  /** Leave probability at satisfaction 0 (default 0.05). */
  leave?: number;
  /** How fast the leave probability grows as satisfaction falls (default 1.5). */
  leaveSlope?: number;
  conversionBias?: number;
  conversionWeight?: number;
  /** Reward of a click (default 1) and of a conversion (default 0). */
  clickReward?: number;
  conversionReward?: number;
  /** γ of the episode log's discounted returns (default 0.9). */
  gamma?: number;
}

export type SimulatorConfig = Required<SimulatorOptions>;

export const SIMULATOR_DEFAULTS: SimulatorConfig = {
  batch: 64,
  slateSize: 1,
  horizon: 30,
  historyLen: 10,
  temperature: 1,
  popularity: 0.2,
  noClick: 2,
  fatigue: 0.6,
  fatigueDecay: 0.7,
  repeatPenalty: 3,
  drift: 0.05,
  clickbaitShare: 0.1,
  clickbaitLift: 1.5,
  clickbaitCost: 1.2,
  clickbaitConversion: 2,
  satisfactionDecay: 0.9,
  boredom: 0.2,
  leave: 0.05,
  leaveSlope: 1.5,
  conversionBias: -1,
  conversionWeight: 1,
  clickReward: 1,
  conversionReward: 0,
  gamma: 0.9,
};

const INTEGER_OPTIONS = new Set(['batch', 'slateSize', 'horizon', 'historyLen']);

/** Merges options over the defaults, refusing unknown names and out-of-range values with the option's name. */
export function simulatorConfig(opts: SimulatorOptions = {}, argPrefix = 'env-options'): SimulatorConfig {
  const cfg: Record<string, number> = { ...SIMULATOR_DEFAULTS };
  for (const [key, value] of Object.entries(opts)) {
    if (!(key in SIMULATOR_DEFAULTS)) {
      throw new GnnrlError('input', `${argPrefix}: unknown simulator option '${key}'; known: ${Object.keys(SIMULATOR_DEFAULTS).join(', ')}`, { arg: `${argPrefix}.${key}` });
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new GnnrlError('input', `${argPrefix}.${key}: expected a finite number, got ${JSON.stringify(value)}`, { arg: `${argPrefix}.${key}` });
    }
    cfg[key] = value;
  }
  const need = (ok: boolean, key: string, what: string) => check(ok, `${argPrefix}.${key}`, `${what}, got ${cfg[key]}`);
  for (const key of INTEGER_OPTIONS) need(Number.isInteger(cfg[key]) && cfg[key] >= 1, key, 'an integer >= 1');
  need(cfg.temperature > 0, 'temperature', '> 0');
  for (const key of ['fatigue', 'repeatPenalty', 'clickbaitCost', 'clickbaitConversion', 'boredom', 'leaveSlope', 'clickbaitLift']) need(cfg[key] >= 0, key, '>= 0');
  for (const key of ['fatigueDecay', 'satisfactionDecay', 'drift', 'clickbaitShare', 'gamma']) need(cfg[key] >= 0 && cfg[key] <= 1, key, 'in [0, 1]');
  need(cfg.leave >= 0 && cfg.leave < 1, 'leave', 'in [0, 1)');
  return cfg as SimulatorConfig;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export class Simulator implements TruthfulEnvironment {
  readonly name: string;
  readonly config: SimulatorConfig;
  readonly nUsers: number;
  readonly nItems: number;
  readonly batch: number;
  readonly slateSize: number;
  readonly horizon: number;
  readonly historyLen: number;
  /** 1 for clickbait items (fixed by the world's seed). */
  readonly clickbait: Uint8Array;
  readonly finished: EpisodeRecorder;

  private readonly dim: number;
  private readonly groups: number;
  private readonly itemGroup: Int32Array;
  private readonly itemFactors: Float32Array;
  /** The utility terms that do not depend on the user: popularity·log(n·pop) + lift·bait. */
  private readonly itemPrior: Float64Array;
  private readonly logged: { offsets: Int32Array; items: Int32Array; ratings: Float32Array | null };

  // Per-slot hidden state.
  private readonly user: Int32Array;
  private readonly interest: Float64Array;
  private readonly sat: Float64Array;
  private readonly fatigueLevel: Float64Array;
  private readonly step_: Int32Array;
  private readonly clock: Int32Array;
  private readonly windows: HistoryWindows;
  private rng: Rng | null = null;

  constructor(readonly world: SyntheticWorld, options: SimulatorOptions = {}, name = 'sim') {
    const cfg = simulatorConfig(options);
    this.config = cfg;
    this.name = name;
    this.nUsers = world.nUsers;
    this.nItems = world.nItems;
    this.batch = cfg.batch;
    this.slateSize = cfg.slateSize;
    check(cfg.slateSize <= world.nItems, 'env-options.slateSize', `<= the catalogue's ${world.nItems} items, got ${cfg.slateSize}`);
    this.horizon = cfg.horizon;
    this.historyLen = cfg.historyLen;
    this.dim = world.dim;
    this.groups = world.config.clusters;
    this.itemGroup = world.itemGroup;
    this.itemFactors = world.itemFactors;
    this.clickbait = drawClickbait(world, cfg.clickbaitShare);
    this.itemPrior = new Float64Array(this.nItems);
    for (let i = 0; i < this.nItems; i++) {
      this.itemPrior[i] = cfg.popularity * Math.log(Math.max(this.nItems * world.popularity[i], 1e-12)) + cfg.clickbaitLift * this.clickbait[i];
    }
    const x = world.interactions;
    const g = groupByUser(x);
    const items = new Int32Array(g.order.length);
    const ratings = x.rating ? new Float32Array(g.order.length) : null;
    for (let j = 0; j < g.order.length; j++) {
      items[j] = x.item[g.order[j]];
      if (ratings) ratings[j] = x.rating![g.order[j]];
    }
    this.logged = { offsets: g.offsets, items, ratings };

    const B = this.batch;
    const H = this.historyLen;
    this.user = new Int32Array(B);
    this.interest = new Float64Array(B * this.dim);
    this.sat = new Float64Array(B);
    this.fatigueLevel = new Float64Array(B * this.groups);
    this.step_ = new Int32Array(B);
    this.clock = new Int32Array(B);
    this.windows = new HistoryWindows(B, H);
    this.finished = new EpisodeRecorder(B, cfg.gamma);
  }

  reset(seed: number): Observation {
    check(Number.isInteger(seed), 'seed', `an integer, got ${seed}`);
    this.rng = new Rng(seed);
    this.finished.clear();
    for (let b = 0; b < this.batch; b++) this.startEpisode(b);
    return this.observe();
  }

  step(actions: Int32Array): StepResult {
    const rng = this.requireStarted();
    this.checkActions(actions);
    const B = this.batch;
    const k = this.slateSize;
    const cfg = this.config;
    const reward = new Float32Array(B);
    const click = new Uint8Array(B);
    const conversion = new Uint8Array(B);
    const choice = new Int32Array(B);
    const done = new Uint8Array(B);
    const weights = new Float64Array(k + 1);
    for (let b = 0; b < B; b++) {
      // Choice: inverse-CDF draw over the slate's logit weights (the no-click option last).
      let total = 0;
      let maxU = cfg.noClick;
      for (let j = 0; j < k; j++) maxU = Math.max(maxU, (weights[j] = this.utility(b, actions[b * k + j])));
      for (let j = 0; j < k; j++) total += weights[j] = Math.exp(weights[j] - maxU);
      total += weights[k] = Math.exp(cfg.noClick - maxU);
      let u = rng.next() * total;
      let chosen = -1;
      for (let j = 0; j < k; j++) {
        u -= weights[j];
        if (u < 0) {
          chosen = j;
          break;
        }
      }
      choice[b] = chosen;
      const convDraw = rng.next();
      const leaveDraw = rng.next();
      if (chosen >= 0) {
        const item = actions[b * k + chosen];
        const a = this.affinity(b, item);
        click[b] = 1;
        conversion[b] = convDraw < this.conversionProbability(a, item) ? 1 : 0;
        this.consume(b, item, a, conversion[b]);
      } else {
        this.sat[b] = cfg.satisfactionDecay * this.sat[b] - cfg.boredom;
        this.decayFatigue(b);
      }
      reward[b] = cfg.clickReward * click[b] + cfg.conversionReward * conversion[b];
      this.step_[b]++;
      this.clock[b]++;
      this.finished.record(b, reward[b], click[b], conversion[b], k);
      const left = leaveDraw < this.leaveProbability(b);
      if (left || this.step_[b] >= this.horizon) done[b] = 1;
    }
    for (let b = 0; b < B; b++) {
      if (!done[b]) continue;
      this.finished.finish(b);
      this.startEpisode(b);
    }
    return { reward, click, conversion, choice, done, skipped: new Uint8Array(B), next: this.observe() };
  }

  expectedReward(actions: Int32Array): Float32Array {
    this.requireStarted();
    this.checkActions(actions);
    const probs = this.choiceProbabilities(actions);
    const k = this.slateSize;
    const cfg = this.config;
    const out = new Float32Array(this.batch);
    for (let b = 0; b < this.batch; b++) {
      let e = 0;
      for (let j = 0; j < k; j++) {
        const item = actions[b * k + j];
        e += probs[b * (k + 1) + j] * (cfg.clickReward + cfg.conversionReward * this.conversionProbability(this.affinity(b, item), item));
      }
      out[b] = e;
    }
    return out;
  }

  /**
   * The analytic choice distribution of each slot for a slate, batch × (slateSize + 1):
   * P(position j) for j < slateSize, then P(no click).
   */
  choiceProbabilities(actions: Int32Array): Float64Array {
    this.requireStarted();
    this.checkActions(actions);
    const k = this.slateSize;
    const out = new Float64Array(this.batch * (k + 1));
    for (let b = 0; b < this.batch; b++) {
      const row = out.subarray(b * (k + 1), (b + 1) * (k + 1));
      let maxU = this.config.noClick;
      for (let j = 0; j < k; j++) maxU = Math.max(maxU, (row[j] = this.utility(b, actions[b * k + j])));
      let total = 0;
      for (let j = 0; j < k; j++) total += row[j] = Math.exp(row[j] - maxU);
      total += row[k] = Math.exp(this.config.noClick - maxU);
      for (let j = 0; j <= k; j++) row[j] /= total;
    }
    return out;
  }

  /**
   * The myopic oracle: per slot, the slate that maximises the expected immediate reward.
   * Exact when conversions carry no reward (then the top-k items by utility are optimal
   * under a logit model); otherwise it ranks items by e^{U_i}·E[reward | click i].
   */
  oracleSlate(): Int32Array {
    this.requireStarted();
    const k = this.slateSize;
    const cfg = this.config;
    const out = new Int32Array(this.batch * k);
    const score = new Float64Array(this.nItems);
    const order = new Int32Array(this.nItems);
    for (let b = 0; b < this.batch; b++) {
      for (let i = 0; i < this.nItems; i++) {
        const u = this.utility(b, i);
        score[i] = cfg.conversionReward === 0 ? u : u + Math.log(cfg.clickReward + cfg.conversionReward * this.conversionProbability(this.affinity(b, i), i));
        order[i] = i;
      }
      topIndices(score, order, k);
      for (let j = 0; j < k; j++) out[b * k + j] = order[j];
    }
    return out;
  }

  /** Slot b's current hidden satisfaction (for tests and plots). */
  satisfactionOf(b: number): number {
    return this.sat[b];
  }

  /** Slot b's current fatigue for item group g. */
  fatigueOf(b: number, g: number): number {
    return this.fatigueLevel[b * this.groups + g];
  }

  /** The probability that slot b's user leaves after the current step. */
  leaveProbability(b: number): number {
    const cfg = this.config;
    if (cfg.leave === 0) return 0;
    return sigmoid(Math.log(cfg.leave / (1 - cfg.leave)) - cfg.leaveSlope * this.sat[b]);
  }

  /** Slot b's user's current utility for item i (the logit of the choice model). */
  utility(b: number, i: number): number {
    const cfg = this.config;
    let u = this.affinity(b, i) / cfg.temperature + this.itemPrior[i] - cfg.fatigue * this.fatigueLevel[b * this.groups + this.itemGroup[i]];
    if (cfg.repeatPenalty > 0 && this.inWindow(b, i)) u -= cfg.repeatPenalty;
    return u;
  }

  private affinity(b: number, i: number): number {
    const d = this.dim;
    let a = 0;
    for (let t = 0; t < d; t++) a += this.interest[b * d + t] * this.itemFactors[i * d + t];
    return a;
  }

  private conversionProbability(affinity: number, item: number): number {
    const cfg = this.config;
    return sigmoid(cfg.conversionBias + cfg.conversionWeight * affinity - cfg.clickbaitConversion * this.clickbait[item]);
  }

  private consume(b: number, item: number, affinity: number, converted: number): void {
    const cfg = this.config;
    this.sat[b] = cfg.satisfactionDecay * this.sat[b] + Math.tanh(affinity) - cfg.clickbaitCost * this.clickbait[item];
    this.decayFatigue(b);
    this.fatigueLevel[b * this.groups + this.itemGroup[item]] += 1;
    const d = this.dim;
    for (let t = 0; t < d; t++) this.interest[b * d + t] += cfg.drift * (this.itemFactors[item * d + t] - this.interest[b * d + t]);
    this.windows.push(b, item, converted ? 2 : 1, this.clock[b]);
  }

  private decayFatigue(b: number): void {
    const f = this.fatigueLevel.subarray(b * this.groups, (b + 1) * this.groups);
    for (let g = 0; g < f.length; g++) f[g] *= this.config.fatigueDecay;
  }

  private inWindow(b: number, i: number): boolean {
    return this.windows.has(b, i);
  }

  /** A new user in slot b: the world's preference now, neutral satisfaction, no fatigue, the last H logged items as history. */
  private startEpisode(b: number): void {
    const rng = this.rng!;
    const u = rng.int(this.nUsers);
    this.user[b] = u;
    const d = this.dim;
    for (let t = 0; t < d; t++) this.interest[b * d + t] = this.world.userFactors[u * d + t];
    this.sat[b] = 0;
    this.fatigueLevel.fill(0, b * this.groups, (b + 1) * this.groups);
    this.step_[b] = 0;
    const H = this.historyLen;
    this.windows.clear(b);
    const { offsets, items, ratings } = this.logged;
    const lo = Math.max(offsets[u], offsets[u + 1] - H);
    const n = offsets[u + 1] - lo;
    for (let j = 0; j < n; j++) this.windows.push(b, items[lo + j], ratings ? ratings[lo + j] : 1, j - n);
    this.clock[b] = 0;
  }

  private observe(): Observation {
    return this.windows.observation(this.user, this.step_);
  }

  private requireStarted(): Rng {
    if (!this.rng) throw new GnnrlError('state', `${this.name}: call reset(seed) before step()`);
    return this.rng;
  }

  private checkActions(actions: Int32Array): void {
    const k = this.slateSize;
    if (!(actions instanceof Int32Array) || actions.length !== this.batch * k) {
      throw new GnnrlError('input', `${this.name}: actions: expected an Int32Array of batch × slateSize = ${this.batch * k} item indices, got ${actions?.length ?? typeof actions}`, { arg: 'actions' });
    }
    for (let b = 0; b < this.batch; b++) {
      for (let j = 0; j < k; j++) {
        const item = actions[b * k + j];
        if (!(item >= 0 && item < this.nItems)) {
          throw new GnnrlError('input', `${this.name}: actions: slot ${b}, position ${j}: item ${item} is not in [0, ${this.nItems})`, { arg: 'actions', index: b * k + j });
        }
        for (let m = 0; m < j; m++) {
          if (actions[b * k + m] === item) throw new GnnrlError('input', `${this.name}: actions: slot ${b} shows item ${item} twice (positions ${m} and ${j}); a slate's items must be distinct`, { arg: 'actions', index: b * k + j });
        }
      }
    }
  }
}

/** Partially sorts `order` so that its first k entries are the k best by score (ties to the lower index), best first. */
function topIndices(score: Float64Array, order: Int32Array, k: number): void {
  const better = (x: number, y: number) => score[x] > score[y] || (score[x] === score[y] && x < y);
  for (let j = 0; j < k; j++) {
    let best = j;
    for (let m = j + 1; m < order.length; m++) if (better(order[m], order[best])) best = m;
    const t = order[j];
    order[j] = order[best];
    order[best] = t;
  }
}

/**
 * Clickbait flags: `share` of the items, drawn without replacement with weight ∝ √pop,
 * so the trap lies where popularity-led policies look. Seeded by the world's seed only.
 */
function drawClickbait(world: SyntheticWorld, share: number): Uint8Array {
  const n = world.nItems;
  const flags = new Uint8Array(n);
  const want = Math.round(share * n);
  if (want === 0) return flags;
  const rng = new Rng((world.config.seed ^ 0x5eed_ba17) | 0);
  // Efraimidis–Spirakis: key = u^(1/w), keep the `want` largest.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.log(Math.max(rng.next(), 1e-300)) / Math.sqrt(world.popularity[i]);
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((x, y) => keys[y] - keys[x] || x - y);
  for (let j = 0; j < want; j++) flags[order[j]] = 1;
  return flags;
}
