/**
 * DDPG-LA as a rating model (issue #15, seed 003): a DDPG agent whose state is the
 * user's interest and whose action is the predicted rating.
 *
 *   state   s_t = InterestEncoder(records of u up to and including t)   (interest.ts, records.ts)
 *   action  â_t = μ(s_t) = sigmoid(MLP(s_t)) ∈ [0, 1]                    (ratings r ↦ (r − min)/(max − min):
 *                                                                         1…5 ↦ 0, 0.25, …, 1)
 *   reward  'abs' (default): r_t = 1 − |a_t − y_t|;  'squared': r_t = 1 − (a_t − y_t)²
 *   critic  Q(s, a), trained on y = r + γ·Q'(s', μ'(s')) (done at a user's last training record)
 *
 * The actor–critic is `DdpgCore` (src/nn/ddpg-core.ts) in its scalar mode with the
 * encoder's parameters stepped by the actor's optimiser (its encoder hook), so the interest
 * modules train with the actor, as the seed's Fig. 4 has them.
 *
 * One round (the seed's training round, an "epoch" of `fit`): users in a seeded shuffled
 * order, `batchUsers` at a time; within a batch, record t of every user who has it, for
 * t = w−1, w, … in time order (users fed in time order, batched across users). At each
 * step the taken action is μ(s_t) plus N(0, explorationNoise²) clipped to [0, 1]; the
 * round's Ave_Reward is the mean reward of the greedy prediction μ(s_t), and the round's
 * `loss` in the fit history is 1 − Ave_Reward (so curves.svg and epochs.csv show the
 * seed's Fig. 6 curve, upside down; with reward 'abs' it is the round's MAE on [0, 1]).
 *
 * The window rule: a state needs w (default 5) records, the current one included. Records
 * with fewer — a user's first w−1 in training, a pair whose user has under w−1 training
 * records, unknown users or items — are predicted by the damped baseline
 * μ + b_u + b_i (b_i = Σ(r − μ)/(n_i + 5), b_u = Σ(r − μ − b_i)/(n_u + 5)), clipped to the
 * rating range; `predictWindowed` says which pairs were.
 *
 * Prediction (`predict(users, items)`, the test pass without updates): the state of a
 * pair is the user's last `maxHistory − 1` training records (with their real ratings)
 * followed by the pair's item as the current record, its rating unknown and its
 * timestamp the user's last training timestamp (`predict` gets no timestamps). Pairs are
 * independent of each other and of their order: no test rating, and no other test
 * record, enters any state.
 *
 * The learning configuration (docs/ddpg-la.md; every part off by default, the seed's
 * design otherwise): `residual` ρ makes the action a correction of the damped baseline,
 * `historyStats` / `statsState` give each record and the state the user's damped residual
 * overall and on the record's genres from EARLIER records only, and `actionPenalty` /
 * `criticStateGrad` are DdpgCore's actor-loss options. With TD3, γ 0, squared reward,
 * exploration 0.3 and `updatesPerStep` 8 it beats BaselineOnly on interest-driven worlds
 * (test/models/ddpg-la/learning.test.ts).
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { FeatureTable, Interactions } from '../../data/interactions.js';
import { PositiveIndex } from '../../data/negatives.js';
import { Scaler, type ScalerJson } from '../../data/features.js';
import { noGrad } from '../../tensor/autograd.js';
import { Rng } from '../../util/rng.js';
import { recommendFromDense, resolveExclusions, sliceExclusions } from '../../rank/rank.js';
import { DdpgCore } from '../../nn/ddpg-core.js';
import { runEpochLoop } from '../fit-loop.js';
import { checkBool, checkChoice, checkInt, checkNumber, checkPositive } from '../option-checks.js';
import type { FitOptions, FitResult, ModelState, Recommendations, RecommendOptions, RecommenderModel } from '../types.js';
import { INTEREST_ABLATIONS, interestFeatures, type InterestFeatures } from './interest.js';
import { DAMPING, EXTRA_COLUMNS, STAT_COLUMNS, RatedInterestEncoder, historyStatistics, itemGenres, userHistory, widenItems, type RatedBatch, type UserHistory } from './records.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/create.js';
import { concat } from '../../tensor/ops/gather.js';

export type DdpgLaVariant = keyof typeof INTEREST_ABLATIONS;
export type RewardForm = 'abs' | 'squared';

/** Table names of the eight models, as the seed's Table 2 writes them. */
export const DDPG_LA_DISPLAY: Record<DdpgLaVariant, string> = {
  'ddpg-la': 'DDPG-LA',
  'ddpg-rlstm': 'DDPG+RLSTM',
  'ddpg-lstm': 'DDPG+LSTM',
  'ddpg-tsa': 'DDPG+T_self_attention',
  'ddpg-sa': 'DDPG+self_attention',
  'ddpg-rlstm-sa': 'DDPG+RLSTM+self_attention',
  'ddpg-lstm-tsa': 'DDPG+LSTM+T_self_attention',
  'ddpg-lstm-sa': 'DDPG+LSTM+self_attention',
};

export interface DdpgLaOptions {
  /** Which of the eight models (default 'ddpg-la'): sets the long- and short-term modules. */
  variant?: DdpgLaVariant;
  /** Discount γ (default 0.9). */
  gamma?: number;
  /** Adam rates of the actor (with the interest modules) and the critic (defaults 3e-4 and 3e-3); both 0 = learning off. */
  actorLr?: number;
  criticLr?: number;
  /** Polyak rate of the target networks (default 0.01). */
  tau?: number;
  /** LSTM hidden size = long-term width (default 32). */
  hidden?: number;
  /** Attention query/key/value width = short-term width (default 16). */
  attention?: number;
  /** Short-term window w (default 5): also the window rule of prediction. */
  window?: number;
  /** RLSTM's κ (default 0.5). */
  kappa?: number;
  /** Hidden widths of the actor and critic MLPs (defaults [64] and [64, 64]). */
  actorHidden?: number[];
  criticHidden?: number[];
  /** Training rounds (default 10). */
  epochs?: number;
  /** Users per batch (default 32). */
  batchUsers?: number;
  /** Records a state sees at most, the current one included (default 32): bounds the LSTM's length. */
  maxHistory?: number;
  /** σ of the Gaussian exploration noise on the taken action, [0, 1] units (default 0.3). */
  explorationNoise?: number;
  /** Reward form (default 'abs': r = 1 − |a − y|). */
  reward?: RewardForm;
  /** Each earlier record's real rating in its features (default true; false = the seed's fields only). */
  ratingInput?: boolean;
  /** Each record's item deviation (leave-one-out damped mean) in its features (default true). */
  itemBiasInput?: boolean;
  /** Transitions the replay memory holds (default 20000; the oldest are overwritten). */
  replay?: number;
  /** Transitions per update, drawn uniformly from the replay memory (default 64). */
  updateBatch?: number;
  /** Updates after each acting step (default 1). */
  updatesPerStep?: number;
  /** TD3's twin critics, delayed actor and target smoothing instead of plain DDPG (default false). */
  td3?: boolean;
  /**
   * ρ of the residual action, [0, 1] units (default 0 = the seed's action, â is the rating).
   * With ρ > 0 the action corrects a damped baseline: prediction = clip(p + ρ·(2â − 1), 0, 1),
   * p = μ + b_u + b_i on [0, 1], leave-one-out for the user's own training record.
   */
  residual?: number;
  /**
   * Two more columns per record (default false): the user's damped mean residual over the
   * EARLIER records (`user_dev`) and over the earlier records sharing the record's genres
   * (`genre_dev`), from `historyStatistics` in records.ts. Never the record's own rating.
   */
  historyStats?: boolean;
  /**
   * Append the current record's [user_dev, genre_dev, 2·prior01 − 1] to the state the
   * actor and the critic see (default false): a skip past the interest modules.
   */
  statsState?: boolean;
  /** λ of the actor's action penalty λ·(â − ½)² (DdpgCore's `actionPenalty`; default 0 = off). */
  actionPenalty?: number;
  /**
   * Whether the actor's loss moves the encoder through the critic's state input as well as
   * through the action (DdpgCore's `criticStateGrad`; default true). false: only through the action.
   */
  criticStateGrad?: boolean;
  /** Seed of every weight, the exploration noise and the user order (default 1). */
  seed?: number;
}

export type ResolvedDdpgLaOptions = Required<DdpgLaOptions>;

export interface DdpgLaContext {
  engine: Engine;
}

/** One training round, as the seed reports it. */
export interface DdpgLaRound {
  round: number;
  /** Mean reward of the greedy predictions over the round (the seed's Ave_Reward). */
  aveReward: number;
  /** Errors of those predictions on the [0, 1] action scale (not the rating scale). */
  mae01: number;
  rmse01: number;
  /** Mean critic loss and mean Q over the round's updates (NaN with learning off). */
  criticLoss: number;
  meanQ: number;
  predictions: number;
}

interface Fitted {
  nUsers: number;
  nItems: number;
  globalMean: number;
  ratingMin: number;
  ratingMax: number;
  hist: UserHistory;
  /** Σ (r01 − μ01) and counts per item (training). */
  itemSum: Float32Array;
  itemCount: Int32Array;
  /** The fallback's damped biases, rating scale. */
  userBias: Float32Array;
  itemBias: Float32Array;
  /** The seed's side features (unwidened) and the ts scaler. */
  userFeatures: FeatureTable;
  itemFeatures: FeatureTable;
  ts: Scaler;
  seen: PositiveIndex;
}

/** One state row to build: history records hist[from, to) then the current record. */
interface RowSpec {
  user: number;
  from: number;
  to: number;
  item: number;
  ts: number;
  /** The current record's own rating on [0, 1] when it is a training record (left out of its item deviation), else NaN. */
  own: number;
  /** The current record's userDev, genreDev (historyStatistics) when the options need them, else NaN. */
  uDev: number;
  gDev: number;
}

/** Per training record: its residual d and its [userDev, genreDev] from the user's earlier records. */
interface HistoryStats {
  genre: { offsets: Int32Array; ids: Int32Array };
  resid: Float32Array;
  rec: Float32Array;
}

const WHERE = 'DDPG-LA';
/** State rows per forward pass in predict/scoreItems. */
const ROWS_PER_PASS = 2048;
const VARIANTS = Object.keys(INTEREST_ABLATIONS) as DdpgLaVariant[];

export function resolveDdpgLaOptions(o: DdpgLaOptions = {}): ResolvedDdpgLaOptions {
  if (o === null || typeof o !== 'object') throw new GnnrlError('input', `${WHERE}: options: expected an object, got ${JSON.stringify(o)}`, { arg: 'options' });
  const widths = (arg: string, v: unknown, d: number[]): number[] => {
    if (v === undefined) return d;
    if (!Array.isArray(v) || v.length === 0) throw new GnnrlError('input', `${WHERE}: ${arg}: expected a non-empty array of positive integers, got ${JSON.stringify(v)}`, { arg });
    return v.map((w, i) => checkInt(`${WHERE}: ${arg}[${i}]`, w));
  };
  const r: ResolvedDdpgLaOptions = {
    variant: o.variant === undefined ? 'ddpg-la' : checkChoice(`${WHERE}: variant`, o.variant, VARIANTS),
    gamma: o.gamma ?? 0.9,
    actorLr: o.actorLr === undefined ? 3e-4 : checkNumber(`${WHERE}: actorLr`, o.actorLr),
    criticLr: o.criticLr === undefined ? 3e-3 : checkNumber(`${WHERE}: criticLr`, o.criticLr),
    tau: o.tau ?? 0.01,
    hidden: o.hidden === undefined ? 32 : checkInt(`${WHERE}: hidden`, o.hidden),
    attention: o.attention === undefined ? 16 : checkInt(`${WHERE}: attention`, o.attention),
    window: o.window === undefined ? 5 : checkInt(`${WHERE}: window`, o.window, 2),
    kappa: o.kappa === undefined ? 0.5 : checkNumber(`${WHERE}: kappa`, o.kappa),
    actorHidden: widths('actorHidden', o.actorHidden, [64]),
    criticHidden: widths('criticHidden', o.criticHidden, [64, 64]),
    epochs: o.epochs === undefined ? 10 : checkInt(`${WHERE}: epochs`, o.epochs, 0),
    batchUsers: o.batchUsers === undefined ? 32 : checkInt(`${WHERE}: batchUsers`, o.batchUsers),
    maxHistory: o.maxHistory === undefined ? 32 : checkInt(`${WHERE}: maxHistory`, o.maxHistory),
    explorationNoise: o.explorationNoise === undefined ? 0.3 : checkNumber(`${WHERE}: explorationNoise`, o.explorationNoise),
    reward: o.reward === undefined ? 'abs' : checkChoice(`${WHERE}: reward`, o.reward, ['abs', 'squared'] as const),
    ratingInput: o.ratingInput === undefined ? true : checkBool(`${WHERE}: ratingInput`, o.ratingInput),
    itemBiasInput: o.itemBiasInput === undefined ? true : checkBool(`${WHERE}: itemBiasInput`, o.itemBiasInput),
    replay: o.replay === undefined ? 20000 : checkInt(`${WHERE}: replay`, o.replay),
    updateBatch: o.updateBatch === undefined ? 64 : checkInt(`${WHERE}: updateBatch`, o.updateBatch),
    updatesPerStep: o.updatesPerStep === undefined ? 1 : checkInt(`${WHERE}: updatesPerStep`, o.updatesPerStep),
    td3: o.td3 === undefined ? false : checkBool(`${WHERE}: td3`, o.td3),
    residual: o.residual ?? 0,
    historyStats: o.historyStats === undefined ? false : checkBool(`${WHERE}: historyStats`, o.historyStats),
    actionPenalty: o.actionPenalty === undefined ? 0 : checkNumber(`${WHERE}: actionPenalty`, o.actionPenalty),
    criticStateGrad: o.criticStateGrad === undefined ? true : checkBool(`${WHERE}: criticStateGrad`, o.criticStateGrad),
    statsState: o.statsState === undefined ? false : checkBool(`${WHERE}: statsState`, o.statsState),
    seed: o.seed === undefined ? 1 : checkInt(`${WHERE}: seed`, o.seed, -(2 ** 31)),
  };
  if (!(typeof r.gamma === 'number' && r.gamma >= 0 && r.gamma < 1)) throw new GnnrlError('input', `${WHERE}: gamma: expected a number in [0, 1), got ${JSON.stringify(o.gamma)}`, { arg: 'gamma' });
  checkPositive(`${WHERE}: tau`, r.tau);
  if (r.tau > 1) throw new GnnrlError('input', `${WHERE}: tau: expected a number in (0, 1], got ${r.tau}`, { arg: 'tau' });
  if (!(typeof r.residual === 'number' && r.residual >= 0 && r.residual <= 1)) throw new GnnrlError('input', `${WHERE}: residual: expected a number in [0, 1], got ${JSON.stringify(o.residual)}`, { arg: 'residual' });
  if (r.maxHistory < r.window) throw new GnnrlError('input', `${WHERE}: maxHistory: expected at least the window (${r.window}), got ${r.maxHistory}`, { arg: 'maxHistory' });
  const known = new Set(Object.keys(r));
  const extra = Object.keys(o).filter((k) => !known.has(k));
  if (extra.length) throw new GnnrlError('input', `${WHERE}: unknown option(s) ${extra.join(', ')}; valid: ${[...known].join(', ')}`, { arg: extra[0] });
  return r;
}

export class DdpgLaModel implements RecommenderModel {
  readonly kind: DdpgLaVariant;
  readonly name: string;
  readonly predictsRatings = true;
  readonly options: ResolvedDdpgLaOptions;
  /** Per training round, the seed's Ave_Reward and the [0, 1]-scale errors (labelled so). */
  rounds: DdpgLaRound[] = [];
  private readonly engine: Engine;
  private fitted: Fitted | null = null;
  private encoder: RatedInterestEncoder | null = null;
  private core: DdpgCore | null = null;
  private memory: ReplayMemory | null = null;
  private stats: HistoryStats | null = null;
  private disposed = false;

  constructor(options: DdpgLaOptions = {}, ctx: DdpgLaContext) {
    if (!ctx?.engine) throw new GnnrlError('input', `${WHERE}: ctx.engine: the model runs its networks on an engine; pass one`, { arg: 'engine' });
    this.engine = ctx.engine;
    this.options = resolveDdpgLaOptions(options);
    this.kind = this.options.variant;
    this.name = DDPG_LA_DISPLAY[this.kind];
  }

  get nUsers(): number {
    return this.fitted?.nUsers ?? 0;
  }

  get nItems(): number {
    return this.fitted?.nItems ?? 0;
  }

  /** The rating range the actions map onto: a [0, 1]-scale error × (max − min) is the rating-scale error. */
  get ratingScale(): { min: number; max: number } {
    const f = this.ready('ratingScale');
    return { min: f.ratingMin, max: f.ratingMax };
  }

  // ------------------------------------------------------------------ fit

  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.alive('fit');
    if (!train.rating) throw new GnnrlError('input', `${WHERE}: needs explicit ratings (the reward compares the predicted rating with the real one); this log has none`, { arg: 'rating', field: 'rating' });
    const feats = interestFeatures(train);
    this.install(fitStatistics(train, feats));
    await this.build(feats.ts!);
    const o = this.options;
    const f = this.fitted!;
    const eligible: number[] = [];
    for (let u = 0; u < f.nUsers; u++) if (f.hist.offsets[u + 1] - f.hist.offsets[u] >= o.window) eligible.push(u);
    const noise = new Rng(o.seed * 7919 + 17);
    this.memory = new ReplayMemory(o.replay);
    this.rounds = [];
    let best: Record<string, Float32Array> | null = null;
    const validation = opts.validation;
    const result = await runEpochLoop(
      {
        defaultEpochs: o.epochs,
        runEpoch: async (epoch, progress, signal) => {
          const r = await this.round(epoch, eligible, noise, progress, signal);
          this.rounds.push(r);
          return { loss: 1 - r.aveReward, samples: r.predictions };
        },
        validate: validation
          ? async () => {
              const p = await this.predict(validation.user, validation.item);
              return errors(p, validation.rating!);
            }
          : undefined,
        defaultMonitor: 'rmse',
        saveBest: async () => {
          best = await this.networkState();
        },
        restoreBest: () => {
          if (best) this.loadNetworks(best);
        },
      },
      opts,
    );
    // The seed's Fig. 6 series, and the [0, 1]-scale errors under names that say their scale.
    result.curves = {
      Ave_Reward: this.rounds.map((r) => r.aveReward),
      'train_mae[0,1]': this.rounds.map((r) => r.mae01),
      'train_rmse[0,1]': this.rounds.map((r) => r.rmse01),
    };
    return result;
  }

  /** One training round over the eligible users; returns its Ave_Reward and errors. */
  private async round(
    epoch: number,
    eligible: number[],
    noise: Rng,
    progress: (p: { done: number; total: number; loss: number }) => void,
    signal?: AbortSignal,
  ): Promise<DdpgLaRound> {
    const o = this.options;
    const f = this.fitted!;
    const { offsets } = f.hist;
    const order = eligible.slice();
    const rng = new Rng(o.seed + 104729 * epoch);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    let total = 0;
    for (const u of order) total += offsets[u + 1] - offsets[u] - (o.window - 1);
    const lo = f.ratingMin;
    const span = f.ratingMax - f.ratingMin || 1;
    let done = 0;
    let rewardSum = 0;
    let absSum = 0;
    let sqSum = 0;
    let closs = 0;
    let qSum = 0;
    let updates = 0;
    const mem = this.memory!;
    for (let b0 = 0; b0 < order.length; b0 += o.batchUsers) {
      const users = order.slice(b0, b0 + o.batchUsers);
      let maxN = 0;
      for (const u of users) maxN = Math.max(maxN, offsets[u + 1] - offsets[u]);
      for (let t = o.window - 1; t < maxN; t++) {
        if (signal?.aborted) break;
        const rows: RowSpec[] = [];
        const ends: number[] = [];
        for (const u of users) {
          const n = offsets[u + 1] - offsets[u];
          if (t >= n) continue;
          const j = offsets[u] + t;
          rows.push(this.trainRow(u, j));
          const last = t + 1 >= n;
          ends.push(last ? 1 : 0);
        }
        const B = rows.length;
        const aHat = await this.act(rows);
        for (let k = 0; k < B; k++) {
          const j = offsets[rows[k].user] + t;
          const y = (f.hist.rating[j] - lo) / span;
          const prior = this.prior01(rows[k]);
          const pHat = this.toUnit(aHat[k], prior);
          const g = this.reward(pHat, y);
          rewardSum += g;
          const d = pHat - y;
          absSum += Math.abs(d);
          sqSum += d * d;
          // The taken action explores around the prediction; its reward is what the memory keeps.
          const a = Math.min(1, Math.max(0, aHat[k] + o.explorationNoise * noise.normal()));
          mem.push(rows[k].user, j, a, this.reward(this.toUnit(a, prior), y), ends[k]);
        }
        for (let k = 0; this.core!.learns && mem.size >= o.updateBatch && k < o.updatesPerStep; k++) {
          const rep = await this.update(mem.sample(o.updateBatch, noise));
          closs += rep.criticLoss;
          qSum += rep.meanQ;
          updates++;
        }
        done += B;
        progress({ done, total, loss: done > 0 ? 1 - rewardSum / done : NaN });
      }
    }
    const n = Math.max(1, done);
    return {
      round: epoch,
      aveReward: rewardSum / n,
      mae01: absSum / n,
      rmse01: Math.sqrt(sqSum / n),
      criticLoss: updates ? closs / updates : NaN,
      meanQ: updates ? qSum / updates : NaN,
      predictions: done,
    };
  }

  /** One actor–critic update on transitions from the memory: states rebuilt by the current encoder. */
  private async update(tr: Transitions) {
    const n = tr.user.length;
    const rows: RowSpec[] = [];
    const next: RowSpec[] = [];
    for (let k = 0; k < n; k++) {
      rows.push(this.trainRow(tr.user[k], tr.record[k]));
      // A user's last training record ends the episode: s' is not used, any valid row fills it.
      next.push(this.trainRow(tr.user[k], tr.done[k] ? tr.record[k] : tr.record[k] + 1));
    }
    const core = this.core!;
    return this.engine.scopeAsync(async () => {
      const s = this.encode(rows);
      const s2 = noGrad(() => this.encode(next)).detach();
      return core.update({ s, a: tr.action, r: tr.reward, s2, done: tr.done, discount: new Float32Array(n).fill(this.options.gamma) });
    });
  }

  /** The prediction on [0, 1] an action stands for: â itself, or the corrected prior with `residual` ρ > 0. */
  private toUnit(a: number, prior: number): number {
    const rho = this.options.residual;
    return rho > 0 ? Math.min(1, Math.max(0, prior + rho * (2 * a - 1))) : a;
  }

  /**
   * The residual action's prior on [0, 1]: μ + b_u + b_i with the fallback's damped biases,
   * leaving the record's own rating out of both when it is a training record (so the prior
   * never knows the answer it is corrected towards). 0 when `residual` is off.
   */
  private prior01(r: RowSpec): number {
    const f = this.fitted!;
    const span = f.ratingMax - f.ratingMin || 1;
    let bi = 0;
    let bu = 0;
    const leave = r.own === r.own ? 1 : 0;
    const own = f.ratingMin + r.own * span;
    if (r.item < f.nItems) {
      const n = f.itemCount[r.item];
      bi = leave ? (f.itemSum[r.item] * span - (own - f.globalMean)) / (n - 1 + DAMPING) : f.itemBias[r.item];
    }
    if (r.user < f.nUsers) {
      const n = f.hist.offsets[r.user + 1] - f.hist.offsets[r.user];
      bu = leave ? (f.userBias[r.user] * (n + DAMPING) - (own - f.globalMean - f.itemBias[r.item])) / (n - 1 + DAMPING) : f.userBias[r.user];
    }
    const v = Math.min(f.ratingMax, Math.max(f.ratingMin, f.globalMean + bu + bi));
    return (v - f.ratingMin) / span;
  }

  private reward(a: number, y: number): number {
    const d = a - y;
    return this.options.reward === 'abs' ? 1 - Math.abs(d) : 1 - d * d;
  }

  /** The state row of training record j (absolute index into the history) of user u. */
  private trainRow(u: number, j: number): RowSpec {
    const f = this.fitted!;
    const h = f.hist;
    const from = Math.max(h.offsets[u], j - (this.options.maxHistory - 1));
    const st = this.stats?.rec;
    return { user: u, from, to: j, item: h.item[j], ts: h.ts[j], own: (h.rating[j] - f.ratingMin) / (f.ratingMax - f.ratingMin || 1), uDev: st ? st[j * STAT_COLUMNS] : NaN, gDev: st ? st[j * STAT_COLUMNS + 1] : NaN };
  }

  /** The batch of state rows (history records then the current one), with the extra columns. */
  private batch(rows: RowSpec[]): RatedBatch {
    const f = this.fitted!;
    const o = this.options;
    const h = f.hist;
    const B = rows.length;
    let len = 1;
    for (const r of rows) len = Math.max(len, r.to - r.from + 1);
    const users = new Int32Array(B);
    const items = new Int32Array(B * len);
    const ts = new Float64Array(B * len);
    const lengths = new Int32Array(B);
    const itemDev = new Float32Array(B * len);
    const rating = new Float32Array(B * len);
    const known = new Float32Array(B * len);
    const stats = o.historyStats ? new Float32Array(B * len * STAT_COLUMNS) : undefined;
    const span = f.ratingMax - f.ratingMin || 1;
    const mu01 = (f.globalMean - f.ratingMin) / span;
    const dev = (item: number, own: number) => {
      const leave = own === own ? 1 : 0;
      const s = f.itemSum[item] - (leave ? own - mu01 : 0);
      // ×4: on the [0, 1] scale a deviation is a few hundredths; in quarter-ranges it is O(1) like the other inputs.
      return (4 * s) / (f.itemCount[item] - leave + DAMPING);
    };
    rows.forEach((r, b) => {
      users[b] = r.user;
      const n = r.to - r.from + 1;
      lengths[b] = n;
      for (let t = 0; t < n - 1; t++) {
        const j = r.from + t;
        const k = b * len + t;
        items[k] = h.item[j];
        ts[k] = h.ts[j];
        const own = (h.rating[j] - f.ratingMin) / span;
        if (o.itemBiasInput) itemDev[k] = dev(h.item[j], own);
        if (o.ratingInput) {
          rating[k] = 2 * own - 1;
          known[k] = 1;
        }
        if (stats) stats.set(this.stats!.rec.subarray(j * STAT_COLUMNS, (j + 1) * STAT_COLUMNS), k * STAT_COLUMNS);
      }
      const k = b * len + n - 1;
      items[k] = r.item;
      ts[k] = r.ts;
      if (o.itemBiasInput) itemDev[k] = dev(r.item, r.own);
      if (stats) {
        stats[k * STAT_COLUMNS] = r.uDev;
        stats[k * STAT_COLUMNS + 1] = r.gDev;
      }
    });
    return { users, items, ts, lengths, len, itemDev, rating, known, stats };
  }

  // ------------------------------------------------------------------ predict

  /**
   * Predicted ratings (the data's scale) for pairs, with which pairs had a full window
   * (1: the agent predicted; 0: the damped baseline did, see the file comment).
   */
  async predictWindowed(users: Int32Array, items: Int32Array): Promise<{ ratings: Float32Array; windowed: Uint8Array }> {
    const f = this.ready('predict');
    if (!(users instanceof Int32Array) || !(items instanceof Int32Array) || items.length !== users.length) {
      throw new GnnrlError('input', `${this.name}.predict: expected two Int32Arrays of equal length, got ${users?.length} users and ${items?.length} items`, { arg: 'items' });
    }
    const o = this.options;
    const h = f.hist;
    const out = new Float32Array(users.length);
    const windowed = new Uint8Array(users.length);
    const pending: RowSpec[] = [];
    const at: number[] = [];
    const flush = async () => {
      if (!pending.length) return;
      const a = await this.act(pending);
      at.forEach((j, k) => (out[j] = f.ratingMin + this.toUnit(a[k], this.prior01(pending[k])) * (f.ratingMax - f.ratingMin)));
      pending.length = 0;
      at.length = 0;
    };
    for (let j = 0; j < users.length; j++) {
      const u = users[j];
      const i = items[j];
      if (!(u >= 0) || !(i >= 0)) throw new GnnrlError('input', `${this.name}.predict: pair ${j}: expected non-negative indices, got user ${u}, item ${i}`, { arg: 'users', index: j });
      const known = u < f.nUsers && i < f.nItems;
      const to = known ? h.offsets[u + 1] : 0;
      const from = known ? Math.max(h.offsets[u], to - (o.maxHistory - 1)) : 0;
      if (!known || to - from + 1 < o.window) {
        out[j] = this.baseline(u, i);
        continue;
      }
      windowed[j] = 1;
      const [uDev, gDev] = this.pairStats(u, i, h.offsets[u], to);
      pending.push({ user: u, from, to, item: i, ts: h.ts[to - 1], own: NaN, uDev, gDev });
      at.push(j);
      if (pending.length >= ROWS_PER_PASS) await flush();
    }
    await flush();
    return { ratings: out, windowed };
  }

  async predict(users: Int32Array, items: Int32Array): Promise<Float32Array> {
    return (await this.predictWindowed(users, items)).ratings;
  }

  /** μ + b_u + b_i, clipped (unknown sides contribute 0). */
  private baseline(u: number, i: number): number {
    const f = this.fitted!;
    const v = f.globalMean + (u < f.nUsers ? f.userBias[u] : 0) + (i < f.nItems ? f.itemBias[i] : 0);
    return Math.min(f.ratingMax, Math.max(f.ratingMin, v));
  }

  /** μ(s) for state rows, on [0, 1]. */
  private async act(rows: RowSpec[]): Promise<Float32Array> {
    return this.engine.scopeAsync(async () => (await noGrad(() => this.core!.policy(this.encode(rows))).read()) as Float32Array);
  }

  /** The state of each row: the encoder's output, then with `statsState` the current record's [userDev, genreDev, 2·prior01 − 1]. */
  private encode(rows: RowSpec[]): Tensor {
    const s = this.encoder!.forward(this.batch(rows));
    if (!this.options.statsState) return s;
    const x = new Float32Array(rows.length * 3);
    rows.forEach((r, b) => {
      x[3 * b] = r.uDev;
      x[3 * b + 1] = r.gDev;
      x[3 * b + 2] = 2 * this.prior01(r) - 1;
    });
    return concat([s, tensor(this.engine, x, [rows.length, 3])]);
  }

  /** userDev, genreDev of item i after the user's training records [from, to) (NaN when no option needs them). */
  private pairStats(u: number, i: number, from: number, to: number): [number, number] {
    const st = this.stats;
    if (!st) return [NaN, NaN];
    return historyStatistics(st.resid, this.fitted!.hist.item, from, to, i, st.genre);
  }

  /** The per-record residuals and stats of the training histories (when historyStats or statsState is on). */
  private computeStats(): void {
    this.stats = null;
    const o = this.options;
    if (!o.historyStats && !o.statsState) return;
    const f = this.fitted!;
    const h = f.hist;
    const span = f.ratingMax - f.ratingMin || 1;
    const mu01 = (f.globalMean - f.ratingMin) / span;
    const genre = itemGenres(f.itemFeatures);
    const n = h.item.length;
    const resid = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const own = (h.rating[j] - f.ratingMin) / span;
      const it = h.item[j];
      resid[j] = own - mu01 - (f.itemSum[it] - (own - mu01)) / (f.itemCount[it] - 1 + DAMPING);
    }
    const rec = new Float32Array(n * STAT_COLUMNS);
    for (let u = 0; u < f.nUsers; u++) {
      for (let j = h.offsets[u]; j < h.offsets[u + 1]; j++) rec.set(historyStatistics(resid, h.item, h.offsets[u], j, h.item[j], genre), j * STAT_COLUMNS);
    }
    this.stats = { genre, resid, rec };
  }

  /**
   * Dense predicted ratings of every item for each user (the model has no factor form:
   * one state per (user, item), so this costs users × items encoder rows).
   */
  async scoreItems(users: Int32Array): Promise<Float32Array> {
    const f = this.ready('scoreItems');
    const nI = f.nItems;
    const out = new Float32Array(users.length * nI);
    const items = new Int32Array(nI);
    for (let i = 0; i < nI; i++) items[i] = i;
    for (let r = 0; r < users.length; r++) {
      if (!(users[r] >= 0 && users[r] < f.nUsers)) throw new GnnrlError('input', `${this.name}.scoreItems: users[${r}]: expected a user index in [0, ${f.nUsers}), got ${users[r]}`, { arg: 'users', index: r });
      out.set(await this.predict(new Int32Array(nI).fill(users[r]), items), r * nI);
    }
    return out;
  }

  async recommend(users: Int32Array, k: number, opts?: RecommendOptions): Promise<Recommendations> {
    const f = this.ready('recommend');
    if (!Number.isInteger(k) || k < 1) throw new GnnrlError('input', `${this.name}.recommend: k: expected a positive integer, got ${k}`, { arg: 'k' });
    const exclude = resolveExclusions(opts, f.seen, users);
    const items = new Int32Array(users.length * k);
    const scores = new Float32Array(users.length * k);
    const chunk = Math.max(1, Math.floor(ROWS_PER_PASS / Math.max(1, f.nItems)) || 1);
    for (let r0 = 0; r0 < users.length; r0 += chunk) {
      const r1 = Math.min(users.length, r0 + chunk);
      const rows = await this.scoreItems(users.subarray(r0, r1));
      const res = recommendFromDense(rows, r1 - r0, f.nItems, k, exclude ? sliceExclusions(exclude, r0, r1) : null);
      items.set(res.items, r0 * k);
      scores.set(res.scores, r0 * k);
    }
    return { items, scores, k };
  }

  // ------------------------------------------------------------------ state

  async state(): Promise<ModelState> {
    const f = this.ready('state');
    const h = f.hist;
    const tsHi = new Int32Array(h.ts.length);
    const tsLo = new Float32Array(h.ts.length);
    for (let j = 0; j < h.ts.length; j++) {
      // Split so that integer timestamps survive float32 exactly: ts = hi·65536 + lo.
      tsHi[j] = Math.floor(h.ts[j] / 65536);
      tsLo[j] = h.ts[j] - tsHi[j] * 65536;
    }
    const arrays: Record<string, Float32Array | Int32Array> = {
      userFeatures: f.userFeatures.data.slice(),
      itemFeatures: f.itemFeatures.data.slice(),
      'hist.offsets': h.offsets.slice(),
      'hist.item': h.item.slice(),
      'hist.tsHi': tsHi,
      'hist.tsLo': tsLo,
      'hist.rating': h.rating.slice(),
      itemSum: f.itemSum.slice(),
      itemCount: f.itemCount.slice(),
      userBias: f.userBias.slice(),
      itemBias: f.itemBias.slice(),
      seenOffsets: f.seen.offsets.slice(),
      seenItems: f.seen.items.slice(),
      ...(await this.networkState()),
    };
    return {
      kind: this.kind,
      config: {
        ...this.options,
        fitted: {
          nUsers: f.nUsers,
          nItems: f.nItems,
          globalMean: f.globalMean,
          ratingMin: f.ratingMin,
          ratingMax: f.ratingMax,
          userFeatureNames: f.userFeatures.names,
          itemFeatureNames: f.itemFeatures.names,
          ts: f.ts.toJSON(),
        },
        rounds: this.rounds,
      },
      arrays,
    };
  }

  static async fromState(state: ModelState, ctx: DdpgLaContext): Promise<DdpgLaModel> {
    const bad = (what: string): never => {
      throw new GnnrlError('format', `${WHERE}.fromState: ${what}`, { arg: 'state' });
    };
    if (!state || typeof state.kind !== 'string' || !(state.kind in INTEREST_ABLATIONS)) bad(`state.kind: expected one of ${VARIANTS.join(', ')}, got ${JSON.stringify(state?.kind)}`);
    const { fitted, rounds, ...options } = (state.config ?? {}) as Record<string, unknown>;
    if ((options.variant ?? 'ddpg-la') !== state.kind) bad(`config.variant '${String(options.variant)}' does not match kind '${state.kind}'`);
    const m = new DdpgLaModel(options as DdpgLaOptions, ctx);
    const fi = fitted as { nUsers: number; nItems: number; globalMean: number; ratingMin: number; ratingMax: number; userFeatureNames: string[]; itemFeatureNames: string[]; ts: ScalerJson } | undefined;
    if (!fi || !Number.isInteger(fi.nUsers) || !Number.isInteger(fi.nItems) || !Array.isArray(fi.userFeatureNames) || !Array.isArray(fi.itemFeatureNames) || !fi.ts) bad('config.fitted is missing or incomplete');
    const arr = <T extends Float32Array | Int32Array>(name: string, ctor: { new (n: number): T }, length?: number): T => {
      const a = state.arrays?.[name];
      if (!(a instanceof ctor) || (length !== undefined && a.length !== length)) bad(`arrays.${name}: expected a ${ctor.name}${length === undefined ? '' : ` of ${length}`}, got ${a?.length ?? 'nothing'}`);
      return a as T;
    };
    const f = fi!;
    const table = (name: string, rows: number, names: string[]): FeatureTable => ({ nRows: rows, dim: names.length, data: arr(name, Float32Array, rows * names.length), names });
    const offsets = arr('hist.offsets', Int32Array, f.nUsers + 1);
    const n = offsets[f.nUsers];
    const tsHi = arr('hist.tsHi', Int32Array, n);
    const tsLo = arr('hist.tsLo', Float32Array, n);
    const ts = new Float64Array(n);
    for (let j = 0; j < n; j++) ts[j] = tsHi[j] * 65536 + tsLo[j];
    const seenOffsets = arr('seenOffsets', Int32Array, f.nUsers + 1);
    m.install({
      nUsers: f.nUsers,
      nItems: f.nItems,
      globalMean: f.globalMean,
      ratingMin: f.ratingMin,
      ratingMax: f.ratingMax,
      hist: { offsets, item: arr('hist.item', Int32Array, n), ts, rating: arr('hist.rating', Float32Array, n) },
      itemSum: arr('itemSum', Float32Array, f.nItems),
      itemCount: arr('itemCount', Int32Array, f.nItems),
      userBias: arr('userBias', Float32Array, f.nUsers),
      itemBias: arr('itemBias', Float32Array, f.nItems),
      userFeatures: table('userFeatures', f.nUsers, f.userFeatureNames),
      itemFeatures: table('itemFeatures', f.nItems, f.itemFeatureNames),
      ts: Scaler.fromJSON(f.ts),
      seen: new PositiveIndex(seenOffsets, arr('seenItems', Int32Array, seenOffsets[f.nUsers]), f.nItems),
    });
    await m.build(m.fitted!.ts);
    m.loadNetworks(state.arrays as Record<string, Float32Array>);
    if (Array.isArray(rounds)) m.rounds = rounds as DdpgLaRound[];
    return m;
  }

  private install(f: Fitted): void {
    this.fitted = f;
    this.computeStats();
  }

  /** Fresh encoder and actor–critic for the installed statistics (seeded). */
  private async build(ts: Scaler): Promise<void> {
    this.releaseNetworks();
    const f = this.fitted!;
    const o = this.options;
    const ab = INTEREST_ABLATIONS[o.variant];
    const feats: InterestFeatures = { userFeatures: f.userFeatures, itemFeatures: widenItems(f.itemFeatures, o.historyStats), ts };
    this.encoder = new RatedInterestEncoder(this.engine, feats, {
      rng: o.seed,
      longTerm: ab.longTerm,
      shortTerm: ab.shortTerm,
      hidden: o.hidden,
      kappa: o.kappa,
      window: o.window,
      dk: o.attention,
      dv: o.attention,
    });
    this.core = await DdpgCore.create(this.engine, {
      stateDim: this.encoder.stateDim + (o.statsState ? 3 : 0),
      action: 'scalar',
      actorHidden: o.actorHidden,
      criticHidden: o.criticHidden,
      actorLr: o.actorLr,
      criticLr: o.criticLr,
      tau: o.tau,
      td3: o.td3,
      actionPenalty: o.actionPenalty,
      criticStateGrad: o.criticStateGrad,
      seed: o.seed,
      actorExtraParams: this.encoder.parameters(),
    });
  }

  private async networkState(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(await this.encoder!.state())) out[`enc.${k}`] = v;
    for (const [k, v] of Object.entries(await this.core!.state())) out[`core.${k}`] = v;
    return out;
  }

  private loadNetworks(arrays: Record<string, Float32Array>): void {
    const part = (prefix: string) => {
      const o: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(arrays)) if (k.startsWith(prefix)) o[k.slice(prefix.length)] = v;
      return o;
    };
    this.encoder!.load(part('enc.'));
    this.core!.load(part('core.'));
  }

  private ready(method: string): Fitted {
    this.alive(method);
    if (!this.fitted || !this.core) throw new GnnrlError('state', `${this.name}.${method}: the model is not fitted; call fit() or fromState() first`);
    return this.fitted;
  }

  private alive(method: string): void {
    if (this.disposed) throw new GnnrlError('state', `${this.name}.${method}: the model has been disposed`);
  }

  private releaseNetworks(): void {
    this.encoder?.dispose();
    this.core?.dispose();
    this.encoder = null;
    this.core = null;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseNetworks();
    this.fitted = null;
  }
}

/** RMSE and MAE of predictions on the data's scale. */
function errors(p: Float32Array, y: Float32Array): Record<string, number> {
  let a = 0;
  let s = 0;
  for (let j = 0; j < y.length; j++) {
    const d = p[j] - y[j];
    a += Math.abs(d);
    s += d * d;
  }
  const n = Math.max(1, y.length);
  return { rmse: Math.sqrt(s / n), mae: a / n };
}

/**
 * [0, 1]-scale errors from rating-scale ones (the scale the seed's Table 2 reports
 * DDPG-LA on): divide by (max − min). Label them as such; never set them beside
 * rating-scale baselines.
 */
export function unitScaleErrors(m: { rmse: number; mae: number }, scale: { min: number; max: number }): { rmse01: number; mae01: number } {
  const span = scale.max - scale.min || 1;
  return { rmse01: m.rmse / span, mae01: m.mae / span };
}

/** The training statistics: histories, damped biases, item sums on [0, 1], the training index. */
function fitStatistics(train: Interactions, feats: InterestFeatures): Fitted {
  const rating = train.rating!;
  const n = rating.length;
  if (n === 0) throw new GnnrlError('input', `${WHERE}: the training log is empty`, { arg: 'train' });
  let lo = Infinity;
  let hi = -Infinity;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    lo = Math.min(lo, rating[j]);
    hi = Math.max(hi, rating[j]);
    sum += rating[j];
  }
  const mu = sum / n;
  const span = hi - lo || 1;
  const mu01 = (mu - lo) / span;
  const nU = train.nUsers;
  const nI = train.nItems;
  const itemSum = new Float32Array(nI);
  const itemCount = new Int32Array(nI);
  const dI = new Float64Array(nI);
  for (let j = 0; j < n; j++) {
    const i = train.item[j];
    itemSum[i] += (rating[j] - lo) / span - mu01;
    dI[i] += rating[j] - mu;
    itemCount[i]++;
  }
  const itemBias = new Float32Array(nI);
  for (let i = 0; i < nI; i++) itemBias[i] = dI[i] / (itemCount[i] + DAMPING);
  const dU = new Float64Array(nU);
  const cU = new Int32Array(nU);
  for (let j = 0; j < n; j++) {
    const u = train.user[j];
    dU[u] += rating[j] - mu - itemBias[train.item[j]];
    cU[u]++;
  }
  const userBias = new Float32Array(nU);
  for (let u = 0; u < nU; u++) userBias[u] = dU[u] / (cU[u] + DAMPING);
  if (feats.itemFeatures.dim + EXTRA_COLUMNS <= EXTRA_COLUMNS && feats.userFeatures.dim === 0) throw new GnnrlError('input', `${WHERE}: the side features are empty`, { arg: 'features' });
  return {
    nUsers: nU,
    nItems: nI,
    globalMean: mu,
    ratingMin: lo,
    ratingMax: hi,
    hist: userHistory(train),
    itemSum,
    itemCount,
    userBias,
    itemBias,
    userFeatures: feats.userFeatures,
    itemFeatures: feats.itemFeatures,
    ts: feats.ts!,
    seen: PositiveIndex.of(train),
  };
}

/** A batch of stored transitions: record j of user u, the action taken, its reward, done. */
interface Transitions {
  user: Int32Array;
  record: Int32Array;
  action: Float32Array;
  reward: Float32Array;
  done: Uint8Array;
}

/**
 * Uniform replay over transitions as record indices (the states are rebuilt from the
 * history by the encoder at update time, so they follow its training): a ring of
 * `capacity`, the oldest overwritten.
 */
class ReplayMemory {
  private readonly t: Transitions;
  private next = 0;
  size = 0;
  constructor(readonly capacity: number) {
    this.t = { user: new Int32Array(capacity), record: new Int32Array(capacity), action: new Float32Array(capacity), reward: new Float32Array(capacity), done: new Uint8Array(capacity) };
  }
  push(user: number, record: number, action: number, reward: number, done: number): void {
    const k = this.next;
    this.t.user[k] = user;
    this.t.record[k] = record;
    this.t.action[k] = action;
    this.t.reward[k] = reward;
    this.t.done[k] = done;
    this.next = (k + 1) % this.capacity;
    this.size = Math.min(this.capacity, this.size + 1);
  }
  sample(n: number, rng: Rng): Transitions {
    const out: Transitions = { user: new Int32Array(n), record: new Int32Array(n), action: new Float32Array(n), reward: new Float32Array(n), done: new Uint8Array(n) };
    for (let k = 0; k < n; k++) {
      const i = rng.int(this.size);
      out.user[k] = this.t.user[i];
      out.record[k] = this.t.record[i];
      out.action[k] = this.t.action[i];
      out.reward[k] = this.t.reward[i];
      out.done[k] = this.t.done[i];
    }
    return out;
  }
}
