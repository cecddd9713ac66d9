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
import { expect } from 'vitest';
import type { GraphEncoderModel, GraphEncoderOptions } from '../../../src/models/encoders/base.js';

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

/**
 * The base options reach an encoder: rating regression ('mse') and node-feature input
 * ('both') both train with the loss falling, on the tiny world. `make` builds the
 * encoder under test with the given base options added to its own.
 * Observed (both backends): mse losses 0.83 → 0.37 (GraphSAGE, max) and 0.84 → 0.47 (GAT) over 8 epochs.
 */
export async function checkMseAndFeatureInput(engine: Engine, make: (graph: InteractionGraph, opts: GraphEncoderOptions) => GraphEncoderModel): Promise<void> {
  const t = syntheticWorld({ preset: 'tiny', seed: 7 }).interactions;
  const graph = InteractionGraph.fromInteractions(t);
  const mse = make(graph, { dim: 8, objective: 'mse', lr: 0.02, batchSize: 128, seed: 3 });
  const features = make(graph, { dim: 8, input: 'both', lr: 0.02, batchSize: 128, seed: 3 });
  try {
    expect(mse.predictsRatings).toBe(true);
    const h = (await mse.fit(t, { epochs: 8 })).history;
    expect(h[7].loss, h.map((r) => r.loss.toFixed(3)).join(' ')).toBeLessThan(0.75 * h[0].loss);
    const pred = await mse.predict(t.user.subarray(0, 50), t.item.subarray(0, 50));
    expect(pred.every((v) => v > 0 && v < 6)).toBe(true);
    const itemFeatures = { nRows: t.nItems, dim: 5, names: ['a', 'b', 'c', 'd', 'e'], data: Float32Array.from({ length: t.nItems * 5 }, (_, k) => Math.sin(k)) };
    const hf = (await features.fit({ ...t, itemFeatures }, { epochs: 4 })).history;
    expect(hf[3].loss, hf.map((r) => r.loss.toFixed(3)).join(' ')).toBeLessThan(hf[0].loss);
  } finally {
    mse.dispose();
    features.dispose();
  }
}
