/**
 * Per-epoch validation for `fit`: the few numbers the epoch loop monitors (rmse, mae,
 * recall@K, ndcg@K), computed the same way as the final evaluation so that the epoch
 * picked on validation is the one the report would favour.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { Interactions } from '../data/interactions.js';
import type { PositiveIndex } from '../data/negatives.js';
import type { Ranker } from '../rank/types.js';
import { checkHeldOut, heldOutRows, predictInChunks, rankInChunks } from './heldout.js';
import { metricName, rankingMetrics } from './ranking.js';
import { mae, rmse } from './rating.js';

export interface ValidationOptions {
  /** Cut-off of the ranking metrics (default 20). */
  k?: number;
  /** Rank on this engine through the model's factor form when it has one (see `rankInChunks`). */
  engine?: Engine;
  /** Score at most this many validation users, a seeded uniform subsample (default: all). */
  maxUsers?: number;
  /** Seed of the subsample (default 1; the same users every epoch). */
  seed?: number;
}

/**
 * Validation metrics of a model being fit:
 * - `rmse`, `mae` over every validation pair, when `model.predictsRatings` and the
 *   validation log has ratings;
 * - always `recall@K` and `ndcg@K` (definitions in `ranking.ts`) from full-catalogue
 *   top-K lists with each user's `seen` items excluded. A user's relevant items are its
 *   distinct validation items that are not in `seen` (excluded items cannot be hit);
 *   users left with none are skipped. NaN when no user can be scored.
 *
 * `seen` is the index of what the model was fit on (`PositiveIndex.of(train)`).
 */
export async function validationMetrics(
  model: Ranker,
  seen: PositiveIndex,
  validation: Interactions,
  opts: ValidationOptions = {},
): Promise<Record<string, number>> {
  const k = opts.k ?? 20;
  if (!Number.isInteger(k) || k < 1) throw new GnnrlError('input', `validationMetrics: k: expected a positive integer, got ${k}`, { arg: 'k' });
  if (validation.user.length === 0) throw new GnnrlError('input', 'validationMetrics: validation: expected at least one event, got an empty log', { arg: 'validation' });
  checkHeldOut('validationMetrics', 'validation', model, seen, validation);
  const out: Record<string, number> = {};
  if (model.predictsRatings && validation.rating) {
    const pred = await predictInChunks(model, validation.user, validation.item);
    out.rmse = rmse(pred, validation.rating);
    out.mae = mae(pred, validation.rating);
  }
  const rows = heldOutRows(validation, seen, { maxUsers: opts.maxUsers, seed: opts.seed });
  const lists = new Int32Array(rows.users.length * k);
  await rankInChunks(model, rows.users, k, seen, opts.engine, (chunk, from) => lists.set(chunk, from * k));
  const res = rankingMetrics({ items: lists, k }, rows.relevant, k);
  out[metricName('recall', k)] = res.metrics[metricName('recall', k)];
  out[metricName('ndcg', k)] = res.metrics[metricName('ndcg', k)];
  return out;
}
