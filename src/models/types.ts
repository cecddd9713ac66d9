/**
 * The one interface every recommender in gnnrl shares: graph encoders (LightGCN, GCN,
 * GraphSAGE, GAT) and the classic baselines (popularity, BaselineOnly, KNN*, SVD,
 * SVD++, NMF) all `fit` on an `Interactions` log and then `predict` pairs and
 * `recommend` lists, so evaluation, the `gnnrl train` job and serving treat them alike.
 *
 * Ranking over the whole catalogue goes through the top-K kernel when a model can state
 * its scores in factor form, score(u, i) = users[u]·items[i] + itemBias[i] (plus a
 * per-user constant, which ranking ignores): that covers every encoder, SVD, SVD++,
 * NMF, BaselineOnly and popularity. Models without a factor form (KNN) give dense
 * score rows instead.
 */
import type { Interactions } from '../data/interactions.js';
import type { Ranker } from '../rank/types.js';

// The ranking types live in rank/ (below eval/, which consumes them); re-exported here.
export type { ExcludeRows, FactorScores, Ranker, RecommendOptions, Recommendations } from '../rank/types.js';

/** What an encoder is trained on: pairwise ranking of observed over sampled items, or rating regression. */
export type Objective = 'bpr' | 'mse';

/** One finished epoch, as `fit` reports it to `onEpoch` and keeps in `FitResult.history`. */
export interface EpochReport {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Wall-clock seconds of the epoch's training (validation excluded). */
  seconds: number;
  /** Training examples (pairs, triples or ratings) per second. */
  samplesPerSecond: number;
  /** Validation metrics by name ('rmse', 'recall@20', 'ndcg@20', …) when a validation set was given. */
  validation?: Record<string, number>;
  /** True when this epoch is the best so far by the monitored metric. */
  best?: boolean;
}

/** Progress inside one epoch (for progress bars). */
export interface BatchProgress {
  epoch: number;
  /** Examples done so far in this epoch, and in all. */
  done: number;
  total: number;
  /** Running mean loss of the epoch so far. */
  loss: number;
}

export interface FitOptions {
  /** Passes over the training log (each model has its own default). */
  epochs?: number;
  /** Held-out interactions scored after each epoch; enables early stopping and best-epoch restore. */
  validation?: Interactions;
  /**
   * Validation metric that picks the best epoch: 'rmse' or 'mae' (lower is better) or a
   * ranking metric such as 'ndcg@20' / 'recall@20' (higher is better). Default: 'rmse'
   * for rating models, 'ndcg@20' for ranking models.
   */
  monitor?: string;
  /** Epochs without improvement before stopping (default 5; 0 = never stop early). */
  patience?: number;
  /** Called after each epoch (after validation). May be async; `fit` awaits it. */
  onEpoch?: (report: EpochReport) => void | Promise<void>;
  /** Called every few batches within an epoch. */
  onProgress?: (progress: BatchProgress) => void;
  /** Stops training at the next batch boundary; `fit` then returns what it has. */
  signal?: AbortSignal;
}

export interface FitResult {
  history: EpochReport[];
  /** Epoch whose parameters the model holds after `fit` (the best by `monitor` when validating, else the last). */
  bestEpoch: number;
  stoppedEarly: boolean;
  /**
   * Per-epoch (per-round) series a model reports besides its loss, by name, one value per
   * epoch of `history` (e.g. DDPG-LA's 'Ave_Reward'); `gnnrl train` plots each and sweeps
   * plot them per value.
   */
  curves?: Record<string, number[]>;
}

/** Parameters and configuration enough to rebuild a fitted model (see `checkpoint.ts`). */
export interface ModelState {
  /** Registry name, e.g. 'lightgcn', 'svd'. */
  kind: string;
  /** The model's options, JSON-serialisable. */
  config: Record<string, unknown>;
  /** Named arrays: parameters, biases, statistics. */
  arrays: Record<string, Float32Array | Int32Array>;
}

/**
 * A trainable recommender: a `Ranker` (what evaluation needs: sizes, `predict`,
 * `recommend`, optionally `factors`) that can also be fit, score dense rows, save its
 * state and be disposed.
 */
export interface RecommenderModel extends Ranker {
  /** Registry name ('lightgcn', 'svd', 'knn-baseline', …). */
  readonly kind: string;

  fit(train: Interactions, opts?: FitOptions): Promise<FitResult>;
  /** Dense scores of every item for each user: users.length × nItems, row-major. */
  scoreItems(users: Int32Array): Promise<Float32Array>;
  /** Parameters and config for a checkpoint. */
  state(): Promise<ModelState>;
  /** Frees device memory; the model cannot be used afterwards. */
  dispose(): void;
}
