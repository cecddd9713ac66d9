/**
 * BaselineOnly: r̂_ui = μ + b_u + b_i, the biases fit by ALS or SGD (see `biases.ts`).
 * The first rung of the rating-prediction ladder: what user and item effects alone
 * explain, before any interaction between them.
 */
import { PositiveIndex } from '../../data/negatives.js';
import type { Interactions } from '../../data/interactions.js';
import { runEpochLoop } from '../fit-loop.js';
import type { FactorScores, FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, type ModelContext } from './base.js';
import { biasTrainer, resolveBaselineOptions, type BaselineOptions, type ResolvedBaselineOptions } from './biases.js';
import { checkKind, stateF32 } from './common.js';
import { ratingData } from './rating-stats.js';

/**
 * Options of BaselineOnly, as the reference implementation (Surprise) defaults them:
 * - `method` 'als' (default): `regI` 10, `regU` 15, `epochs` 10;
 * - `method` 'sgd': `lr` 0.005, `reg` 0.02, `epochs` 20, a new seeded order each epoch
 *   (`seed` 1, `shuffle` true).
 */
export type BaselineOnlyOptions = BaselineOptions;

/**
 * r̂_ui = μ + b_u + b_i, clipped to the training rating range. A user or item unseen in
 * training has bias 0 (ALS gives it 0/(λ+0), SGD never touches it), so its prediction
 * falls back to μ plus the other side's bias. Factor form: dim 0, item bias b_i (μ + b_u
 * is constant per user). Needs explicit ratings.
 */
export class BaselineOnly extends BaselineModel {
  readonly kind = 'baseline-only';
  readonly name: string;
  readonly predictsRatings = true;
  readonly options: ResolvedBaselineOptions;
  private bu: Float32Array = new Float32Array(0);
  private bi: Float32Array = new Float32Array(0);

  constructor(options: BaselineOnlyOptions = {}, ctx: ModelContext = {}) {
    super(ctx);
    this.options = resolveBaselineOptions('BaselineOnly', options);
    this.name = `BaselineOnly (${this.options.method})`;
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): BaselineOnly {
    checkKind(state, 'baseline-only', 'BaselineOnly');
    const m = new BaselineOnly(state.config as BaselineOnlyOptions, ctx);
    const f = m.installCommonState(state);
    m.bu = stateF32(state, 'userBias', f.nUsers, m.name);
    m.bi = stateF32(state, 'itemBias', f.nItems, m.name);
    return m;
  }

  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const d = ratingData(train, this.name);
    const t = biasTrainer(d, this.options);
    this.bu = t.bu;
    this.bi = t.bi;
    this.installRatings(d, PositiveIndex.of(train));
    let best: [Float32Array, Float32Array] | null = null;
    return runEpochLoop(
      {
        defaultEpochs: this.options.epochs,
        runEpoch: async (_epoch, progress, signal) => t.epoch(progress, signal),
        validate: this.validator(opts),
        defaultMonitor: 'rmse',
        saveBest: () => {
          best = [this.bu.slice(), this.bi.slice()];
        },
        restoreBest: () => {
          if (best) {
            this.bu.set(best[0]);
            this.bi.set(best[1]);
          }
        },
      },
      opts,
    );
  }

  /** dim 0, item bias b_i. */
  async factors(): Promise<FactorScores> {
    this.ready('factors');
    return this.factorForm();
  }

  protected factorForm(): FactorScores {
    return { dim: 0, users: new Float32Array(0), items: new Float32Array(0), itemBias: this.bi };
  }

  protected estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void {
    const mu = this.fitted!.globalMean;
    const { bu, bi } = this;
    for (let j = 0; j < users.length; j++) {
      const u = users[j];
      const i = items[j];
      out[j] = mu + (u < bu.length ? bu[u] : 0) + (i < bi.length ? bi[i] : 0);
    }
  }

  protected estimateRows(users: Int32Array, out: Float32Array): void {
    const mu = this.fitted!.globalMean;
    const { bu, bi } = this;
    const n = bi.length;
    for (let r = 0; r < users.length; r++) {
      const c = mu + bu[users[r]];
      for (let i = 0; i < n; i++) out[r * n + i] = c + bi[i];
    }
  }

  protected configJson(): Record<string, unknown> {
    return { ...this.options };
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    return { userBias: this.bu, itemBias: this.bi };
  }

  protected release(): void {
    this.bu = new Float32Array(0);
    this.bi = new Float32Array(0);
  }
}
