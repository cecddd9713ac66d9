/**
 * Log replay: an environment that walks a real log instead of simulating users.
 *
 * An episode is one user of the replayed log (a split's part, e.g. its test events),
 * drawn with the seeded stream among the users that have events in it. Step t of the
 * episode stands for the user's t-th logged event (ts ascending, ties in row order),
 * at most `horizon` of them. The agent shows a slate A; what happens is decided by the
 * log:
 *
 *   hit      the logged item is in A: click = 1, reward = feedback(rating),
 *            conversion = 1 when rating ≥ likeThreshold (explicit logs; 0 for implicit);
 *   miss     the log cannot say what the user would have done with A; `unknown` decides:
 *     zero   reward 0, no click (the step counts: an unlogged item is taken as rejected);
 *     skip   the step is marked `skipped` (reward 0, not a transition; evaluation and
 *            learning ignore it, and an episode's length counts its hits only);
 *     model  reward = feedback(a fitted model's prediction) for the slate item the model
 *            rates highest, no click (an imputed reward, the "direct method").
 *
 * feedback(r), the documented reward map: implicit logs (no ratings) give 1 per hit;
 * explicit logs give `reward: 'rating'` (default) the rating rescaled to [0, 1] over the
 * log's range, (r − min)/(max − min), or `reward: 'binary'` 1 when r ≥ likeThreshold
 * and 0 otherwise. For `model`, a rating model's prediction is clamped to [min, max]
 * and mapped the same way; a ranking model's score s (no rating scale) becomes σ(s).
 *
 * The user's path does not depend on the actions: after every step (hit or miss) the
 * logged item joins the history window, because that is what the user did. The window
 * starts with the user's last `historyLen` events of `history` (e.g. the split's train
 * part), so the state an agent sees is the one a deployed policy would see.
 *
 * Bias of each `unknown` choice (see also the README):
 *   zero  pessimistic for everything the logging policy did not show: it rewards
 *         imitating the log (popular, already-exposed items) and scores a policy that
 *         recommends good unlogged items as if they were bad;
 *   skip  scores only the steps where the policy agreed with the log: a per-episode
 *         return over a policy-dependent subset (selection bias; policies are compared on
 *         different steps), and short "episodes" for policies that rarely agree;
 *   model inherits the model's errors (direct-method bias) and favours policies that
 *         agree with the model; the model's own greedy ranking looks best by construction.
 * None of them measures long-term effects: the agent cannot change the user's future.
 */
import { check, GnnrlError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { groupByUser, type Interactions } from '../../data/interactions.js';
import type { Ranker } from '../../rank/types.js';
import type { Environment, Observation, StepResult } from '../types.js';
import { EpisodeRecorder } from './episode-log.js';
import { HistoryWindows } from '../state/history-windows.js';

export type UnknownPolicy = 'zero' | 'skip' | 'model';
export type ReplayRewardMap = 'rating' | 'binary';

export interface ReplayEnvOptions {
  /** Episode slots stepped at once (default 64). */
  batch?: number;
  /** Items per slate (default 1). */
  slateSize?: number;
  /** Logged events per episode, at most (default 50). */
  horizon?: number;
  /** History window H (default 10). */
  historyLen?: number;
  /** What a slate the log cannot judge earns (default 'zero'). */
  unknown?: UnknownPolicy;
  /** Map of explicit ratings to rewards (default 'rating'). */
  reward?: ReplayRewardMap;
  /** Ratings ≥ this are "liked": conversions, and the 'binary' reward (default 4). */
  likeThreshold?: number;
  /** γ of the episode log's discounted returns (default 0.9). */
  gamma?: number;
}

export type ReplayEnvConfig = Required<ReplayEnvOptions>;

export const REPLAY_ENV_DEFAULTS: ReplayEnvConfig = { batch: 64, slateSize: 1, horizon: 50, historyLen: 10, unknown: 'zero', reward: 'rating', likeThreshold: 4, gamma: 0.9 };

/** Merges options over the defaults; unknown names and bad values are `input` errors naming `<argPrefix>.<key>`. */
export function replayEnvConfig(opts: ReplayEnvOptions = {}, argPrefix = 'env-options'): ReplayEnvConfig {
  const cfg = { ...REPLAY_ENV_DEFAULTS } as Record<string, unknown>;
  for (const [key, value] of Object.entries(opts)) {
    if (!(key in REPLAY_ENV_DEFAULTS)) throw new GnnrlError('input', `${argPrefix}: unknown replay option '${key}'; known: ${Object.keys(REPLAY_ENV_DEFAULTS).join(', ')}`, { arg: `${argPrefix}.${key}` });
    cfg[key] = value;
  }
  const c = cfg as ReplayEnvConfig;
  const at = (k: string) => `${argPrefix}.${k}`;
  for (const k of ['batch', 'slateSize', 'horizon', 'historyLen'] as const) check(Number.isInteger(c[k]) && c[k] >= 1, at(k), `an integer >= 1, got ${JSON.stringify(c[k])}`);
  check(c.unknown === 'zero' || c.unknown === 'skip' || c.unknown === 'model', at('unknown'), `'zero' | 'skip' | 'model', got ${JSON.stringify(c.unknown)}`);
  check(c.reward === 'rating' || c.reward === 'binary', at('reward'), `'rating' | 'binary', got ${JSON.stringify(c.reward)}`);
  check(typeof c.likeThreshold === 'number' && Number.isFinite(c.likeThreshold), at('likeThreshold'), `a finite number, got ${JSON.stringify(c.likeThreshold)}`);
  check(typeof c.gamma === 'number' && c.gamma >= 0 && c.gamma <= 1, at('gamma'), `a number in [0, 1], got ${JSON.stringify(c.gamma)}`);
  return c;
}

/** Most (user, item) predictions `unknown: 'model'` precomputes (4 bytes each). */
export const MAX_MODEL_PAIRS = 64_000_000;

export interface ReplayEnvContext {
  /** Events before the replayed ones (the train part): each episode's window starts with the user's last H of them. */
  history?: Interactions;
  /** The model that judges unknown slates (`unknown: 'model'`), fitted on `history`. */
  model?: Ranker;
  name?: string;
}

export class ReplayEnv implements Environment {
  readonly name: string;
  readonly config: ReplayEnvConfig;
  readonly nUsers: number;
  readonly nItems: number;
  readonly batch: number;
  readonly slateSize: number;
  readonly horizon: number;
  readonly historyLen: number;
  readonly finished: EpisodeRecorder;
  /** Users with at least one replayed event (episodes draw from them). */
  readonly episodeUsers: Int32Array;
  /** The log's rating range ([1, 1] for implicit logs). */
  readonly ratingRange: [number, number];

  private readonly log: Interactions;
  private readonly ctx: ReplayEnvContext;
  private readonly groups: { offsets: Int32Array; order: Int32Array };
  private readonly past: { offsets: Int32Array; order: Int32Array; x: Interactions } | null;
  /** Predicted feedback, row r of `episodeUsers` × nItems (unknown: 'model' only). */
  private readonly predicted: Float32Array | null;
  private readonly userRow: Int32Array;

  private readonly user: Int32Array;
  private readonly cursor: Int32Array;
  private readonly end: Int32Array;
  private readonly step_: Int32Array;
  private readonly windows: HistoryWindows;
  private rng: Rng | null = null;

  private constructor(log: Interactions, cfg: ReplayEnvConfig, ctx: ReplayEnvContext, predicted: Float32Array | null, episodeUsers: Int32Array) {
    this.name = ctx.name ?? 'replay';
    this.config = cfg;
    this.log = log;
    this.ctx = ctx;
    this.nUsers = log.nUsers;
    this.nItems = log.nItems;
    this.batch = cfg.batch;
    this.slateSize = cfg.slateSize;
    this.historyLen = cfg.historyLen;
    this.groups = groupByUser(log);
    this.episodeUsers = episodeUsers;
    let longest = 0;
    for (const u of episodeUsers) longest = Math.max(longest, this.groups.offsets[u + 1] - this.groups.offsets[u]);
    this.horizon = Math.min(cfg.horizon, longest);
    this.userRow = new Int32Array(log.nUsers).fill(-1);
    episodeUsers.forEach((u, r) => (this.userRow[u] = r));
    let lo = Infinity;
    let hi = -Infinity;
    if (log.rating) for (const r of log.rating) (lo = Math.min(lo, r)), (hi = Math.max(hi, r));
    this.ratingRange = log.rating ? [lo, hi] : [1, 1];
    const h = ctx.history;
    this.past = h ? { ...groupByUser(h), x: h } : null;
    this.predicted = predicted;
    const B = cfg.batch;
    const H = cfg.historyLen;
    this.user = new Int32Array(B);
    this.cursor = new Int32Array(B);
    this.end = new Int32Array(B);
    this.step_ = new Int32Array(B);
    this.windows = new HistoryWindows(B, H);
    this.finished = new EpisodeRecorder(B, cfg.gamma);
  }

  /**
   * Builds the environment over `log` (the part to replay). With `unknown: 'model'` it
   * precomputes the model's predictions for every episode user × item (a `limit` error
   * above MAX_MODEL_PAIRS), so `step` stays synchronous.
   */
  static async create(log: Interactions, options: ReplayEnvOptions = {}, ctx: ReplayEnvContext = {}): Promise<ReplayEnv> {
    const cfg = replayEnvConfig(options);
    const name = ctx.name ?? 'replay';
    check(log.user.length > 0, 'log', 'a log with at least one event to replay');
    check(cfg.slateSize <= log.nItems, 'env-options.slateSize', `<= the catalogue's ${log.nItems} items, got ${cfg.slateSize}`);
    const h = ctx.history;
    if (h && (h.nUsers !== log.nUsers || h.nItems !== log.nItems)) {
      throw new GnnrlError('input', `${name}: history: ${h.nUsers} users × ${h.nItems} items, the replayed log ${log.nUsers} × ${log.nItems} (use the two parts of one split)`, { arg: 'history' });
    }
    const seen = new Uint8Array(log.nUsers);
    for (const u of log.user) seen[u] = 1;
    const users: number[] = [];
    for (let u = 0; u < log.nUsers; u++) if (seen[u]) users.push(u);
    const episodeUsers = Int32Array.from(users);
    let predicted: Float32Array | null = null;
    if (cfg.unknown === 'model') {
      const m = ctx.model;
      if (!m) throw new GnnrlError('input', `${name}: unknown: 'model' needs a fitted model to judge unlogged slates`, { arg: 'env-options.unknown' });
      if (m.nUsers !== log.nUsers || m.nItems !== log.nItems) {
        throw new GnnrlError('input', `${name}: model ${m.name}: ${m.nUsers} users × ${m.nItems} items, the replayed log ${log.nUsers} × ${log.nItems}`, { arg: 'model' });
      }
      const pairs = episodeUsers.length * log.nItems;
      if (pairs > MAX_MODEL_PAIRS) throw new GnnrlError('limit', `${name}: unknown: 'model' would precompute ${pairs} predictions (${episodeUsers.length} users × ${log.nItems} items), more than ${MAX_MODEL_PAIRS}; use unknown: zero or skip`, { arg: 'env-options.unknown' });
      predicted = await predictAll(m, episodeUsers, log.nItems);
    }
    const env = new ReplayEnv(log, cfg, ctx, predicted, episodeUsers);
    if (predicted) env.mapPredictions(ctx.model!.predictsRatings);
    return env;
  }

  /** Another instance over the same log (and the same precomputed predictions), not started. */
  fresh(): ReplayEnv {
    return new ReplayEnv(this.log, this.config, this.ctx, this.predicted, this.episodeUsers);
  }

  /** The reward of logged or predicted feedback r (the documented map). */
  feedback(r: number): number {
    if (!this.log.rating) return 1;
    if (this.config.reward === 'binary') return r >= this.config.likeThreshold ? 1 : 0;
    const [lo, hi] = this.ratingRange;
    return hi > lo ? (Math.min(hi, Math.max(lo, r)) - lo) / (hi - lo) : 1;
  }

  reset(seed: number): Observation {
    check(Number.isInteger(seed), 'seed', `an integer, got ${seed}`);
    this.rng = new Rng(seed);
    this.finished.clear();
    for (let b = 0; b < this.batch; b++) this.startEpisode(b);
    return this.observe();
  }

  step(actions: Int32Array): StepResult {
    if (!this.rng) throw new GnnrlError('state', `${this.name}: call reset(seed) before step()`);
    this.checkActions(actions);
    const B = this.batch;
    const k = this.slateSize;
    const x = this.log;
    const reward = new Float32Array(B);
    const click = new Uint8Array(B);
    const conversion = new Uint8Array(B);
    const choice = new Int32Array(B).fill(-1);
    const done = new Uint8Array(B);
    const skipped = new Uint8Array(B);
    for (let b = 0; b < B; b++) {
      const e = this.groups.order[this.cursor[b]];
      const item = x.item[e];
      const rating = x.rating ? x.rating[e] : 1;
      for (let j = 0; j < k; j++) if (actions[b * k + j] === item) choice[b] = j;
      if (choice[b] >= 0) {
        click[b] = 1;
        reward[b] = this.feedback(rating);
        conversion[b] = x.rating && rating >= this.config.likeThreshold ? 1 : 0;
      } else if (this.config.unknown === 'skip') {
        skipped[b] = 1;
      } else if (this.config.unknown === 'model') {
        const row = this.userRow[this.user[b]] * this.nItems;
        let best = -Infinity;
        for (let j = 0; j < k; j++) best = Math.max(best, this.predicted![row + actions[b * k + j]]);
        reward[b] = best;
      }
      if (!skipped[b]) this.finished.record(b, reward[b], click[b], conversion[b], k);
      this.step_[b]++;
      // The user did what the log says, whatever was shown.
      this.windows.push(b, item, rating, x.ts ? x.ts[e] : this.cursor[b]);
      this.cursor[b]++;
      if (this.cursor[b] >= this.end[b]) done[b] = 1;
    }
    for (let b = 0; b < B; b++) {
      if (!done[b]) continue;
      this.finished.finish(b);
      this.startEpisode(b);
    }
    return { reward, click, conversion, choice, done, skipped, next: this.observe() };
  }

  /** The logged item slot b's user consumes at the current step (tests, diagnostics). */
  loggedItem(b: number): number {
    return this.log.item[this.groups.order[this.cursor[b]]];
  }

  private mapPredictions(ratings: boolean): void {
    const p = this.predicted!;
    for (let j = 0; j < p.length; j++) p[j] = ratings ? this.feedback(p[j]) : 1 / (1 + Math.exp(-p[j]));
  }

  private startEpisode(b: number): void {
    const u = this.episodeUsers[this.rng!.int(this.episodeUsers.length)];
    this.user[b] = u;
    const lo = this.groups.offsets[u];
    this.cursor[b] = lo;
    this.end[b] = Math.min(this.groups.offsets[u + 1], lo + this.horizon);
    this.step_[b] = 0;
    const H = this.historyLen;
    this.windows.clear(b);
    const p = this.past;
    if (p) {
      const from = Math.max(p.offsets[u], p.offsets[u + 1] - H);
      for (let j = from; j < p.offsets[u + 1]; j++) {
        const e = p.order[j];
        this.windows.push(b, p.x.item[e], p.x.rating ? p.x.rating[e] : 1, p.x.ts ? p.x.ts[e] : j - p.offsets[u + 1]);
      }
    }
  }

  private observe(): Observation {
    return this.windows.observation(this.user, this.step_);
  }

  private checkActions(actions: Int32Array): void {
    const k = this.slateSize;
    if (!(actions instanceof Int32Array) || actions.length !== this.batch * k) {
      throw new GnnrlError('input', `${this.name}: actions: expected an Int32Array of batch × slateSize = ${this.batch * k} item indices, got ${actions?.length ?? typeof actions}`, { arg: 'actions' });
    }
    for (let j = 0; j < actions.length; j++) {
      const i = actions[j];
      if (!(i >= 0 && i < this.nItems)) throw new GnnrlError('input', `${this.name}: actions: slot ${Math.floor(j / k)}, position ${j % k}: item ${i} is not in [0, ${this.nItems})`, { arg: 'actions', index: j });
    }
  }
}

/** A model's predictions for every user of `users` × every item, in chunks of users. */
async function predictAll(model: Ranker, users: Int32Array, nItems: number): Promise<Float32Array> {
  const out = new Float32Array(users.length * nItems);
  const chunk = Math.max(1, Math.floor(1_000_000 / nItems));
  for (let lo = 0; lo < users.length; lo += chunk) {
    const hi = Math.min(users.length, lo + chunk);
    const n = (hi - lo) * nItems;
    const u = new Int32Array(n);
    const it = new Int32Array(n);
    for (let r = lo; r < hi; r++) {
      u.fill(users[r], (r - lo) * nItems, (r - lo + 1) * nItems);
      for (let i = 0; i < nItems; i++) it[(r - lo) * nItems + i] = i;
    }
    out.set(await model.predict(u, it), lo * nItems);
  }
  return out;
}
