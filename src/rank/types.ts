/**
 * What ranking over the whole catalogue takes and returns, and `Ranker`: the narrow
 * interface evaluation (eval/) needs of anything that ranks items for users — a fitted
 * model today (models/'s RecommenderModel extends it), an agent's greedy policy
 * tomorrow — so that all of them are evaluated the same way.
 */
import type { DeviceArray } from '../backend/arrays.js';

/**
 * Scores in factor form: score(u, i) = users[u·dim .. +dim] · items[i·dim .. +dim] + itemBias[i].
 * Arrays live on the model's engine (DeviceArray) or on the host (Float32Array);
 * `dim` may be 0 for bias-only models (popularity, BaselineOnly).
 */
export interface FactorScores {
  dim: number;
  users: Float32Array | DeviceArray<'f32'>;
  items: Float32Array | DeviceArray<'f32'>;
  itemBias?: Float32Array | DeviceArray<'f32'>;
}

/** Items a recommendation may not return, per query row: CSR over the rows of `users`, columns sorted. */
export interface ExcludeRows {
  rowPtr: Int32Array;
  colIdx: Int32Array;
}

export interface RecommendOptions {
  /**
   * 'train' (default): skip items the user interacted with in the log the model was fit on;
   * 'none': rank every item; or explicit rows.
   */
  exclude?: 'train' | 'none' | ExcludeRows;
}

/** B × k item indices (−1 past the eligible items) and their scores, best first, ties to the lower index. */
export interface Recommendations {
  items: Int32Array;
  scores: Float32Array;
  k: number;
}

/** Anything that ranks the catalogue for users and scores (user, item) pairs. */
export interface Ranker {
  /** Display name for tables and error messages. */
  readonly name: string;
  /** True when `predict` returns ratings on the data's scale (RMSE/MAE make sense). */
  readonly predictsRatings: boolean;
  /** Sizes of the id spaces it ranks over (0 before a model's `fit`). */
  readonly nUsers: number;
  readonly nItems: number;
  /** Predicted rating (rating models) or ranking score, one per (users[j], items[j]) pair. */
  predict(users: Int32Array, items: Int32Array): Promise<Float32Array>;
  /** Factor form of the ranking scores, when it has one (preferred by evaluation: GPU top-K). */
  factors?(): Promise<FactorScores>;
  /** Top-k items per user over the whole catalogue. */
  recommend(users: Int32Array, k: number, opts?: RecommendOptions): Promise<Recommendations>;
}
