/**
 * The model both serving benches serve: an SVD (d 64, one epoch) over a seeded synthetic
 * world of `nItems` items (1,000 users at 2,000 items, else 5,000), written to `file` as
 * `gnnrl train` writes a checkpoint.
 */
import type { Engine } from '../src/engine.js';
import type { Interactions } from '../src/data/interactions.js';
import { syntheticWorld } from '../src/data/synthetic.js';
import { getModel } from '../src/models/registry.js';
import { saveTrainedModel } from '../src/models/trained-checkpoint.js';
import type { RecommenderModel } from '../src/models/types.js';

export async function servedSvd(engine: Engine, nItems: number, file: string): Promise<{ x: Interactions; model: RecommenderModel }> {
  const nUsers = nItems === 2000 ? 1000 : 5000;
  const x = syntheticWorld({ nUsers, nItems, dim: 8, meanEvents: 20, seed: 1 }).interactions;
  const entry = getModel('svd');
  const model = await entry.create({ engine, train: x, options: { dim: 64, seed: 1 } });
  await model.fit(x, { epochs: 1 });
  await saveTrainedModel(file, model, entry, x, { bestEpoch: 1, data: 'synthetic', split: 'none', val: 0, seed: 1, gnnrl: 'bench' });
  return { x, model };
}
