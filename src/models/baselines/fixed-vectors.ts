/**
 * Fixed vectors: user and item vectors given from outside (pretrained embeddings, or the
 * tables an RL agent's state was built from) and scored by their dot product. Fitting
 * learns nothing: it checks the tables against the log and keeps the log's counts and
 * training index, so `recommend` excludes what each user took like every model.
 *
 * Why a model: `gnnrl rl` with a state of pretrained or joined vectors writes these
 * tables as this model's checkpoint, so serving rebuilds the agent's state from a file
 * the way it does from a GNN's (src/serve/agent-source.ts). It is internal to the
 * registry (not offered by `gnnrl train`): the tables come from code, not from options.
 */
import { GnnrlError } from '../../errors.js';
import { PositiveIndex } from '../../data/negatives.js';
import { itemDegrees, userDegrees, type Interactions } from '../../data/interactions.js';
import type { FactorScores, FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, type ModelContext } from './base.js';
import { checkKind, stateF32 } from './common.js';
import { checkTrain } from './rating-stats.js';

export interface FixedVectorsOptions {
  /** Vector width. */
  dim: number;
  /** nUsers × dim, row-major. */
  users: Float32Array;
  /** nItems × dim, row-major. */
  items: Float32Array;
}

export class FixedVectors extends BaselineModel {
  readonly kind = 'vectors';
  readonly name = 'Fixed vectors';
  readonly predictsRatings = false;
  private readonly dim: number;
  private users: Float32Array;
  private items: Float32Array;

  constructor(options: FixedVectorsOptions, ctx: ModelContext = {}) {
    super(ctx);
    const { dim, users, items } = options ?? ({} as FixedVectorsOptions);
    if (!(Number.isInteger(dim) && dim >= 1)) throw new GnnrlError('input', `${this.name}: dim: expected an integer >= 1, got ${JSON.stringify(dim)}`, { arg: 'dim' });
    for (const [name, a] of [['users', users], ['items', items]] as const) {
      if (!(a instanceof Float32Array) || a.length % dim !== 0) {
        throw new GnnrlError('input', `${this.name}: ${name}: expected a Float32Array of rows of ${dim}, got ${a instanceof Float32Array ? `${a.length} values` : typeof a}`, { arg: name });
      }
    }
    this.dim = dim;
    this.users = users;
    this.items = items;
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): FixedVectors {
    checkKind(state, 'vectors', 'Fixed vectors');
    const dim = Number(state.config?.dim);
    const users = stateF32(state, 'users', undefined, 'Fixed vectors');
    const items = stateF32(state, 'items', undefined, 'Fixed vectors');
    const m = new FixedVectors({ dim, users, items }, ctx);
    const f = m.installCommonState(state);
    if (users.length !== f.nUsers * dim || items.length !== f.nItems * dim) {
      throw new GnnrlError('input', `${m.name}.fromState: users/items hold ${users.length}/${items.length} values, expected ${f.nUsers}×${dim} and ${f.nItems}×${dim}`, { arg: 'state' });
    }
    return m;
  }

  /** Checks the tables against the log's users and items and keeps its counts and training index. */
  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const n = checkTrain(train, this.name);
    if (this.users.length !== train.nUsers * this.dim || this.items.length !== train.nItems * this.dim) {
      throw new GnnrlError('input', `${this.name}.fit: the tables have ${this.users.length / this.dim} users × ${this.items.length / this.dim} items, the log ${train.nUsers} × ${train.nItems}`, { arg: 'train' });
    }
    return this.fitOnce(opts, n, 'ndcg@20', () => {
      this.installCommon({ nUsers: train.nUsers, nItems: train.nItems, globalMean: 0, ratingMin: 0, ratingMax: 0 }, userDegrees(train), itemDegrees(train), PositiveIndex.of(train));
    });
  }

  /** The tables themselves (do not modify). */
  async factors(): Promise<FactorScores> {
    this.ready('factors');
    return this.factorForm();
  }

  protected factorForm(): FactorScores {
    return { dim: this.dim, users: this.users, items: this.items };
  }

  /** u·i of the fixed tables (0 for a user or item past them). */
  private dot(u: number, i: number): number {
    const d = this.dim;
    if (u >= this.users.length / d || i >= this.items.length / d) return 0;
    let s = 0;
    for (let c = 0; c < d; c++) s += this.users[u * d + c] * this.items[i * d + c];
    return s;
  }

  protected estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void {
    for (let j = 0; j < users.length; j++) out[j] = this.dot(users[j], items[j]);
  }

  protected estimateRows(users: Int32Array, out: Float32Array): void {
    const nI = this.items.length / this.dim;
    for (let r = 0; r < users.length; r++) for (let i = 0; i < nI; i++) out[r * nI + i] = this.dot(users[r], i);
  }

  protected configJson(): Record<string, unknown> {
    return { dim: this.dim };
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    return { users: this.users, items: this.items };
  }

  protected release(): void {
    this.users = new Float32Array(0);
    this.items = new Float32Array(0);
  }
}
