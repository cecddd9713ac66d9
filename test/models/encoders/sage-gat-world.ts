/**
 * The learning fixture of the GraphSAGE and GAT tests: a small synthetic world whose
 * clicks follow planted preferences more than popularity (Zipf 0.6, temperature 0.3,
 * 8 item groups), split 80/20 at random, with the popularity ranking's metrics as the
 * bar a graph encoder must clear. 200 users × 300 items, about 3.3K training events:
 * small enough for a few seconds per model on lavapipe.
 */
import { syntheticWorld } from '../../../src/data/synthetic.js';
import { splitRandom } from '../../../src/data/split.js';
import { itemDegrees, type Interactions } from '../../../src/data/interactions.js';
import { PositiveIndex } from '../../../src/data/negatives.js';
import { InteractionGraph } from '../../../src/graph/interaction-graph.js';
import type { Engine } from '../../../src/engine.js';
import type { RecommenderModel } from '../../../src/models/types.js';
import { validationMetrics } from '../../../src/eval/validate.js';
import { FakeFactorModel } from '../../eval/fake-model.js';

export interface PlantedWorld {
  train: Interactions;
  test: Interactions;
  graph: InteractionGraph;
  seen: PositiveIndex;
  /** recall@20 and ndcg@20 of ranking by training popularity (seen items excluded). */
  popularity: Record<string, number>;
}

export async function plantedWorld(): Promise<PlantedWorld> {
  const world = syntheticWorld({ nUsers: 200, nItems: 300, dim: 4, meanEvents: 20, zipf: 0.6, temperature: 0.3, clusters: 8, seed: 7 });
  const { train, test } = splitRandom(world.interactions, 0.8, { seed: 3 });
  const graph = InteractionGraph.fromInteractions({ users: train.user, items: train.item, nUsers: train.nUsers, nItems: train.nItems }, { ids: 'dense' });
  const seen = PositiveIndex.of(train);
  const pop = new FakeFactorModel(train.nUsers, train.nItems, { dim: 0, users: new Float32Array(0), items: new Float32Array(0), itemBias: Float32Array.from(itemDegrees(train)) }, { train });
  return { train, test, graph, seen, popularity: await validationMetrics(pop, seen, test, { k: 20 }) };
}

/** recall@20 and ndcg@20 of a fitted model on the world's test split. */
export function heldOutMetrics(w: PlantedWorld, model: RecommenderModel, engine: Engine): Promise<Record<string, number>> {
  return validationMetrics(model, w.seen, w.test, { k: 20, engine });
}

/** Mean of the epoch losses in [from, to) (0-based epochs). */
export function meanLoss(history: { loss: number }[], from: number, to: number): number {
  const xs = history.slice(from, to).map((h) => h.loss);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
