/**
 * What the classic baselines share around their maths: argument checks of `predict`,
 * `scoreItems` and `recommend`, clipping to the training rating range, ranking through
 * rank.ts (factor form on the engine's top-K kernel, dense rows on the host otherwise),
 * the training index that `recommend` excludes by default, validation during `fit`,
 * `state()` and `dispose()`.
 *
 * Subclasses state their maths in three places: `estimatePairs` (unclipped estimate per
 * pair, with the model's documented fallbacks for unseen users and items),
 * `estimateRows` (ranking scores of every item for some users: the estimates, or the
 * factor form plus a per-user constant) and `factorForm` (null when the model has none).
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { Interactions } from '../../data/interactions.js';
import { PositiveIndex } from '../../data/negatives.js';
import { validationMetrics } from '../../eval/validate.js';
import { fittedNumber, stateI32 } from './common.js';
import type { RatingData } from './rating-stats.js';
import { runEpochLoop } from '../fit-loop.js';
import { recommendFromDense, recommendFromFactors, resolveExclusions, sliceExclusions } from '../../rank/rank.js';
import type { FactorScores, FitOptions, FitResult, ModelState, Recommendations, RecommendOptions, RecommenderModel } from '../types.js';

/** Where a baseline ranks: with an engine, `recommend` runs the top-K kernel on it. */
export interface ModelContext {
  engine?: Engine;
  /**
   * Per-epoch validation scores at most this many validation users (a fixed seeded
   * sample) instead of all: full-catalogue ranking of every user each epoch can cost
   * more than the epoch. Final evaluation is not affected.
   */
  validationUsers?: number;
}

/** Scalars a fitted model keeps beside its arrays (`state().config.fitted`). */
export interface FittedScalars {
  nUsers: number;
  nItems: number;
  /** Mean training rating (0 for ranking-only models). */
  globalMean: number;
  /** Training rating range: rating predictions are clipped to it. */
  ratingMin: number;
  ratingMax: number;
}

/** Thrown by a one-pass fit that saw its abort signal (caught by `fitOnce`). */
export class FitAborted extends Error {}

/** Users per dense scoring pass in `recommend` (bounds users × items floats). */
const DENSE_USERS_PER_CHUNK = 256;

export abstract class BaselineModel implements RecommenderModel {
  abstract readonly kind: string;
  abstract readonly name: string;
  abstract readonly predictsRatings: boolean;

  protected readonly engine: Engine | undefined;
  private readonly validationUsers: number | undefined;
  protected fitted: FittedScalars | null = null;
  /** Each user's distinct training items: what `recommend` excludes by default. */
  protected seen: PositiveIndex | null = null;
  /** Training events per user / item; 0 marks an entity unseen in training. */
  protected userCount: Int32Array = new Int32Array(0);
  protected itemCount: Int32Array = new Int32Array(0);
  private disposed = false;

  constructor(ctx: ModelContext = {}) {
    this.engine = ctx.engine;
    const vu = ctx.validationUsers;
    if (vu !== undefined && !(Number.isInteger(vu) && vu > 0)) {
      throw new GnnrlError('input', `ctx.validationUsers: expected a positive integer, got ${vu}`, { arg: 'validationUsers' });
    }
    this.validationUsers = vu;
  }

  get nUsers(): number {
    return this.fitted?.nUsers ?? 0;
  }

  get nItems(): number {
    return this.fitted?.nItems ?? 0;
  }

  abstract fit(train: Interactions, opts?: FitOptions): Promise<FitResult>;

  /** Unclipped estimates for pairs; indices are >= 0, and those >= nUsers / nItems are unseen. */
  protected abstract estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void;
  /** Ranking scores of every item for each user (indices < nUsers), row-major into `out` (see `scoreItems`). */
  protected abstract estimateRows(users: Int32Array, out: Float32Array): void;
  /** Scores in factor form, ranking like `estimateRows`, or null (KNN). */
  protected abstract factorForm(): FactorScores | null;
  /** JSON-serialisable options (without fitted scalars). */
  protected abstract configJson(): Record<string, unknown>;
  /** The fitted arrays, by name (the model's own; `state()` copies them). */
  protected abstract stateArrays(): Record<string, Float32Array | Int32Array>;
  /** Drops the fitted arrays. */
  protected abstract release(): void;

  /** Throws a `state` error unless the model is fitted and not disposed. */
  protected ready(method: string): FittedScalars {
    if (this.disposed) throw new GnnrlError('state', `${this.name}.${method}: the model has been disposed`);
    if (!this.fitted) throw new GnnrlError('state', `${this.name}.${method}: the model is not fitted; call fit() or fromState() first`);
    return this.fitted;
  }

  protected checkNotDisposed(method: string): void {
    if (this.disposed) throw new GnnrlError('state', `${this.name}.${method}: the model has been disposed`);
  }

  /** Installs what every fitted baseline has: scalars, counts and the training index. */
  protected installCommon(f: FittedScalars, userCount: Int32Array, itemCount: Int32Array, seen: PositiveIndex): void {
    this.fitted = f;
    this.userCount = userCount;
    this.itemCount = itemCount;
    this.seen = seen;
  }

  /** `installCommon` for a rating model: the scalars and counts of its checked training data. */
  protected installRatings(d: RatingData, seen: PositiveIndex): void {
    this.installCommon({ nUsers: d.nUsers, nItems: d.nItems, globalMean: d.globalMean, ratingMin: d.ratingMin, ratingMax: d.ratingMax }, d.userCount, d.itemCount, seen);
  }

  /** Installs the common parts of a state (see `commonFromState`). */
  protected installCommonState(state: ModelState): FittedScalars {
    const c = commonFromState(state, this.name);
    this.installCommon(c.fitted, c.userCount, c.itemCount, c.seen);
    return c.fitted;
  }

  /**
   * `fit` of a model without epochs (popularity, KNN): `work` fits in one pass, reported
   * as one epoch with loss NaN (there is no training objective) and validated like the
   * iterative models. When `opts.signal` aborts, `work` throws `FitAborted` before
   * installing anything, and `fit` returns an empty history with the model as it was.
   */
  protected async fitOnce(opts: FitOptions, samples: number, monitor: string, work: (signal?: AbortSignal) => void): Promise<FitResult> {
    const empty: FitResult = { history: [], bestEpoch: 0, stoppedEarly: false };
    if (opts.signal?.aborted) return empty;
    try {
      return await runEpochLoop(
        {
          defaultEpochs: 1,
          runEpoch: async (_epoch, progress, signal) => {
            work(signal);
            progress({ done: samples, total: samples, loss: NaN });
            return { loss: NaN, samples };
          },
          validate: this.validator(opts),
          defaultMonitor: monitor,
        },
        { ...opts, epochs: 1 },
      );
    } catch (err) {
      if (err instanceof FitAborted) return empty;
      throw err;
    }
  }

  /** The `validate` hook of `runEpochLoop`, when a validation log was given. */
  protected validator(opts: FitOptions): (() => Promise<Record<string, number>>) | undefined {
    const v = opts.validation;
    if (!v) return undefined;
    return () => validationMetrics(this, this.seen!, v, { engine: this.engine, maxUsers: this.validationUsers });
  }

  /**
   * Predicted rating per (users[j], items[j]), clipped to the training rating range
   * (rating models), or the ranking score (popularity). Users or items unseen in
   * training, including indices at or past nUsers / nItems, get the model's fallback.
   */
  async predict(users: Int32Array, items: Int32Array): Promise<Float32Array> {
    const f = this.ready('predict');
    if (items.length !== users.length) {
      throw new GnnrlError('input', `${this.name}.predict: items: expected ${users.length} entries like users, got ${items.length}`, { arg: 'items' });
    }
    for (let j = 0; j < users.length; j++) {
      if (!(users[j] >= 0)) throw new GnnrlError('input', `${this.name}.predict: users[${j}]: expected a non-negative user index, got ${users[j]}`, { arg: 'users', index: j });
      if (!(items[j] >= 0)) throw new GnnrlError('input', `${this.name}.predict: items[${j}]: expected a non-negative item index, got ${items[j]}`, { arg: 'items', index: j });
    }
    const out = new Float32Array(users.length);
    this.estimatePairs(users, items, out);
    if (this.predictsRatings) {
      const lo = f.ratingMin;
      const hi = f.ratingMax;
      for (let j = 0; j < out.length; j++) out[j] = out[j] < lo ? lo : out[j] > hi ? hi : out[j];
    }
    return out;
  }

  /**
   * Scores of every item for each user (users.length × nItems, row-major), ranking as
   * `recommend` does: the unclipped estimates (clipping at the top of the scale would tie
   * the items `recommend` orders), except that models with a factor form score by it —
   * which differs from the estimate only for unbiased SVD/NMF, where a pair with a side
   * unseen in training scores 0 (its factor row is zero) while `predict` falls back to μ.
   */
  async scoreItems(users: Int32Array): Promise<Float32Array> {
    const f = this.ready('scoreItems');
    this.checkUsers('scoreItems', users, f.nUsers);
    const size = users.length * f.nItems;
    if (size > 2 ** 31 - 1) {
      throw new GnnrlError('limit', `${this.name}.scoreItems: ${users.length} users × ${f.nItems} items = ${size} scores exceed one Float32Array; score fewer users per call`, {
        arg: 'users',
      });
    }
    const out = new Float32Array(size);
    this.estimateRows(users, out);
    return out;
  }

  /**
   * Top-k items per user over the whole catalogue, skipping the user's training items
   * unless `opts.exclude` says otherwise: through the factor form (on the engine's top-K
   * kernel when the model was given one) or dense score rows.
   */
  async recommend(users: Int32Array, k: number, opts?: RecommendOptions): Promise<Recommendations> {
    const f = this.ready('recommend');
    // Users first: the exclusion rows index the training index by user.
    this.checkUsers('recommend', users, f.nUsers);
    if (!Number.isInteger(k) || k < 1) throw new GnnrlError('input', `${this.name}.recommend: k: expected a positive integer, got ${k}`, { arg: 'k' });
    const exclude = resolveExclusions(opts, this.seen, users);
    const factors = this.factorForm();
    if (factors) return recommendFromFactors(factors, f.nUsers, f.nItems, users, k, exclude, this.engine);
    const items = new Int32Array(users.length * k);
    const scores = new Float32Array(users.length * k);
    for (let r0 = 0; r0 < users.length; r0 += DENSE_USERS_PER_CHUNK) {
      const r1 = Math.min(users.length, r0 + DENSE_USERS_PER_CHUNK);
      const chunk = users.subarray(r0, r1);
      const rows = new Float32Array(chunk.length * f.nItems);
      this.estimateRows(chunk, rows);
      const res = recommendFromDense(rows, chunk.length, f.nItems, k, exclude ? sliceExclusions(exclude, r0, r1) : null);
      items.set(res.items, r0 * k);
      scores.set(res.scores, r0 * k);
    }
    return { items, scores, k };
  }

  async state(): Promise<ModelState> {
    const f = this.ready('state');
    const arrays: Record<string, Float32Array | Int32Array> = {
      userCount: this.userCount.slice(),
      itemCount: this.itemCount.slice(),
      seenOffsets: this.seen!.offsets.slice(),
      seenItems: this.seen!.items.slice(),
    };
    for (const [name, a] of Object.entries(this.stateArrays())) arrays[name] = a.slice();
    return { kind: this.kind, config: { ...this.configJson(), fitted: { ...f } }, arrays };
  }

  /** Frees the fitted arrays; the model cannot be used afterwards. */
  dispose(): void {
    this.disposed = true;
    this.fitted = null;
    this.seen = null;
    this.userCount = new Int32Array(0);
    this.itemCount = new Int32Array(0);
    this.release();
  }

  private checkUsers(method: string, users: Int32Array, nUsers: number): void {
    for (let j = 0; j < users.length; j++) {
      const u = users[j];
      if (!(u >= 0 && u < nUsers)) throw new GnnrlError('input', `${this.name}.${method}: users[${j}]: expected a user index in [0, ${nUsers}), got ${u}`, { arg: 'users', index: j });
    }
  }
}

/** Reads the parts every baseline's state has: scalars, counts and the training index. */
export function commonFromState(
  state: ModelState,
  model: string,
): { fitted: FittedScalars; userCount: Int32Array; itemCount: Int32Array; seen: PositiveIndex } {
  const nUsers = fittedNumber(state, 'nUsers', model);
  const nItems = fittedNumber(state, 'nItems', model);
  if (!Number.isInteger(nUsers) || nUsers < 1 || !Number.isInteger(nItems) || nItems < 1) {
    throw new GnnrlError('input', `${model}.fromState: state.config.fitted: nUsers and nItems must be positive integers, got ${nUsers} and ${nItems}`, {
      arg: 'state.config.fitted',
    });
  }
  const fitted: FittedScalars = {
    nUsers,
    nItems,
    globalMean: fittedNumber(state, 'globalMean', model),
    ratingMin: fittedNumber(state, 'ratingMin', model),
    ratingMax: fittedNumber(state, 'ratingMax', model),
  };
  const offsets = stateI32(state, 'seenOffsets', nUsers + 1, model);
  const items = stateI32(state, 'seenItems', offsets[nUsers], model);
  return {
    fitted,
    userCount: stateI32(state, 'userCount', nUsers, model),
    itemCount: stateI32(state, 'itemCount', nItems, model),
    seen: new PositiveIndex(offsets, items, nItems),
  };
}
