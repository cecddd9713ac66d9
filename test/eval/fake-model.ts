/**
 * A recommender with fixed, known scores for evaluation tests: score(u, i) =
 * users[u]·items[i] + bias[i] (+ `offset` in `predict`, which ranking ignores), ranked
 * through the shared routines of models/rank.ts like every real model.
 */
import type { Interactions } from '../../src/data/interactions.js';
import { PositiveIndex } from '../../src/data/negatives.js';
import { recommendFromFactors, resolveExclusions } from '../../src/rank/rank.js';
import type { FactorScores, FitResult, ModelState, Recommendations, RecommendOptions, RecommenderModel } from '../../src/models/types.js';

export class FakeFactorModel implements RecommenderModel {
  readonly kind = 'fake';
  readonly name: string;
  readonly predictsRatings: boolean;
  /** Calls to `recommend`, with the users of each (to check chunking and exclusions). */
  readonly recommendCalls: Int32Array[] = [];
  /** Pairs asked of `predict`, call by call. */
  readonly predictCalls: { users: Int32Array; items: Int32Array }[] = [];
  private seen: PositiveIndex | null = null;

  constructor(
    readonly nUsers: number,
    readonly nItems: number,
    private readonly f: { dim: number; users: Float32Array; items: Float32Array; itemBias?: Float32Array },
    opts: { name?: string; predictsRatings?: boolean; offset?: number; train?: Interactions } = {},
  ) {
    this.name = opts.name ?? 'Fake';
    this.predictsRatings = opts.predictsRatings ?? false;
    this.offset = opts.offset ?? 0;
    if (opts.train) this.seen = PositiveIndex.of(opts.train);
  }

  private readonly offset: number;

  async fit(train: Interactions): Promise<FitResult> {
    this.seen = PositiveIndex.of(train);
    return { history: [], bestEpoch: 0, stoppedEarly: false };
  }

  score(u: number, i: number): number {
    const { dim, users, items, itemBias } = this.f;
    let s = itemBias ? itemBias[i] : 0;
    for (let c = 0; c < dim; c++) s += users[u * dim + c] * items[i * dim + c];
    return s;
  }

  async predict(users: Int32Array, items: Int32Array): Promise<Float32Array> {
    this.predictCalls.push({ users: users.slice(), items: items.slice() });
    return Float32Array.from(users, (u, j) => this.score(u, items[j]) + this.offset);
  }

  async factors(): Promise<FactorScores> {
    return { ...this.f };
  }

  async scoreItems(users: Int32Array): Promise<Float32Array> {
    const out = new Float32Array(users.length * this.nItems);
    users.forEach((u, r) => {
      for (let i = 0; i < this.nItems; i++) out[r * this.nItems + i] = this.score(u, i);
    });
    return out;
  }

  async recommend(users: Int32Array, k: number, opts?: RecommendOptions): Promise<Recommendations> {
    this.recommendCalls.push(users.slice());
    return recommendFromFactors(this.f, this.nUsers, this.nItems, users, k, resolveExclusions(opts, this.seen, users));
  }

  async state(): Promise<ModelState> {
    return { kind: this.kind, config: {}, arrays: {} };
  }

  dispose(): void {}
}
