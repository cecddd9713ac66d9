/**
 * Popularity: every user gets the items with the most training events. The floor any
 * personalised ranking has to clear; works on implicit logs (ratings are ignored).
 */
import { PositiveIndex } from '../../data/negatives.js';
import { itemDegrees, userDegrees, type Interactions } from '../../data/interactions.js';
import type { FactorScores, FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, type ModelContext } from './base.js';
import { checkKind, stateF32 } from './common.js';
import { checkTrain } from './rating-stats.js';

/** Popularity has no hyper-parameters. */
export type PopularityOptions = Record<string, never>;

/**
 * Ranks items by their number of training events (each event counts, so a repeated
 * pair counts twice). Ranking-only: `predict` returns that count for the item whatever
 * the user (0 for items unseen in training), and ties rank the lower item index first.
 * Factor form: dim 0 with the counts as item bias.
 */
export class Popularity extends BaselineModel {
  readonly kind = 'popularity';
  readonly name = 'Popularity';
  readonly predictsRatings = false;
  private counts: Float32Array = new Float32Array(0);

  constructor(_options: PopularityOptions = {}, ctx: ModelContext = {}) {
    super(ctx);
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): Popularity {
    const m = new Popularity({}, ctx);
    checkKind(state, m.kind, m.name);
    const f = m.installCommonState(state);
    m.counts = stateF32(state, 'counts', f.nItems, m.name);
    return m;
  }

  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const n = checkTrain(train, this.name);
    return this.fitOnce(opts, n, 'ndcg@20', () => {
      const deg = itemDegrees(train);
      this.counts = Float32Array.from(deg);
      this.installCommon({ nUsers: train.nUsers, nItems: train.nItems, globalMean: 0, ratingMin: 0, ratingMax: 0 }, userDegrees(train), deg, PositiveIndex.of(train));
    });
  }

  /** dim 0: the counts are the whole score. */
  async factors(): Promise<FactorScores> {
    this.ready('factors');
    return this.factorForm();
  }

  protected factorForm(): FactorScores {
    return { dim: 0, users: new Float32Array(0), items: new Float32Array(0), itemBias: this.counts };
  }

  protected estimatePairs(_users: Int32Array, items: Int32Array, out: Float32Array): void {
    const c = this.counts;
    for (let j = 0; j < items.length; j++) out[j] = items[j] < c.length ? c[items[j]] : 0;
  }

  protected estimateRows(users: Int32Array, out: Float32Array): void {
    for (let r = 0; r < users.length; r++) out.set(this.counts, r * this.counts.length);
  }

  protected configJson(): Record<string, unknown> {
    return {};
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    return { counts: this.counts };
  }

  protected release(): void {
    this.counts = new Float32Array(0);
  }
}
