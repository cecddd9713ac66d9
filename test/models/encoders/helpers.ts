/** Shared set-up of the encoder tests: a seeded synthetic world split by time, its graph, and popularity as the bar to beat. */
import { syntheticWorld, type WorldConfig } from '../../../src/data/synthetic.js';
import { splitByUserTime } from '../../../src/data/split.js';
import { itemDegrees, type Interactions } from '../../../src/data/interactions.js';
import { PositiveIndex } from '../../../src/data/negatives.js';
import { InteractionGraph } from '../../../src/graph/interaction-graph.js';
import { heldOutRows } from '../../../src/eval/heldout.js';
import { rankingMetrics } from '../../../src/eval/ranking.js';
import { validationMetrics } from '../../../src/eval/validate.js';
import { exclusionRows, recommendFromFactors } from '../../../src/rank/rank.js';
import type { RecommenderModel } from '../../../src/models/types.js';
import type { Engine } from '../../../src/engine.js';

export interface SplitWorld {
  train: Interactions;
  test: Interactions;
  graph: InteractionGraph;
  seen: PositiveIndex;
}

/** The training graph of a log, as an encoder wants it. */
export function graphOf(x: Interactions): InteractionGraph {
  return InteractionGraph.fromInteractions({ users: x.user, items: x.item, nUsers: x.nUsers, nItems: x.nItems });
}

/** A synthetic world split 80/20 per user by time. */
export function splitWorld(cfg: Partial<WorldConfig> & { seed: number }): SplitWorld {
  const w = syntheticWorld({ nUsers: 300, nItems: 600, dim: 8, meanEvents: 30, ...cfg });
  const { train, test } = splitByUserTime(w.interactions, 0.8);
  return { train, test, graph: graphOf(train), seen: PositiveIndex.of(train) };
}

/** recall@20 and ndcg@20 of ranking by training popularity (training items excluded, ties to the lower index). */
export async function popularityMetrics(s: SplitWorld): Promise<Record<string, number>> {
  const rows = heldOutRows(s.test, s.seen);
  const counts = Float32Array.from(itemDegrees(s.train));
  const recs = await recommendFromFactors({ dim: 0, users: new Float32Array(0), items: new Float32Array(0), itemBias: counts }, s.train.nUsers, s.train.nItems, rows.users, 20, exclusionRows(s.seen, rows.users));
  const m = rankingMetrics({ items: recs.items, k: 20 }, rows.relevant, 20).metrics;
  return { 'recall@20': m['recall@20'], 'ndcg@20': m['ndcg@20'] };
}

/** The same metrics for a fitted model (full ranking through its factors on `engine`). */
export function modelMetrics(model: RecommenderModel, s: SplitWorld, engine: Engine): Promise<Record<string, number>> {
  return validationMetrics(model, s.seen, s.test, { k: 20, engine });
}

/** Mean of a slice of per-epoch losses (1-based, inclusive). */
export function meanLoss(losses: number[], from: number, to: number): number {
  const part = losses.slice(from - 1, to);
  return part.reduce((a, b) => a + b, 0) / part.length;
}
