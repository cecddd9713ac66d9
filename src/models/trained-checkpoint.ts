/**
 * The checkpoint of a trained model, as `gnnrl train` writes it and `restoreModel`
 * (registry.ts) reads it back: the model's state, its metadata (registry name, sizes,
 * external ids in dense order, how it was trained) and, for graph encoders, the training
 * edges their graph is rebuilt from. Here, in models/, so that serving can save and
 * restore a model without the CLI.
 */
import { interactionsSha256, type Interactions } from '../data/interactions.js';
import { saveCheckpoint } from './checkpoint.js';
import type { ModelEntry } from './registry.js';
import type { RecommenderModel } from './types.js';

/** How the model was trained, recorded in the checkpoint's metadata. */
export interface TrainingRecord {
  /** Epoch whose parameters the model holds (FitResult.bestEpoch). */
  bestEpoch: number;
  /** The data's description (e.g. 'movielens:data/ml-100k'). */
  data: string;
  /** The split spec (e.g. 'user-time:0.8'), the validation fraction and the seed. */
  split: string;
  val: number;
  seed: number;
  /** The gnnrl version that trained it. */
  gnnrl: string;
}

/**
 * Writes `model`, fitted on `train` (the log it was fit on, with its id maps), to `path`
 * atomically. `entry` is its registry entry (its name is stored). Every model keeps its
 * training edges beside its parameters.
 */
export async function saveTrainedModel(path: string, model: RecommenderModel, entry: Pick<ModelEntry, 'name' | 'kind'>, train: Interactions, run: TrainingRecord): Promise<void> {
  const state = await model.state();
  const meta = {
    model: entry.name,
    display: model.name,
    bestEpoch: run.bestEpoch,
    nUsers: train.nUsers,
    nItems: train.nItems,
    data: run.data,
    split: run.split,
    val: run.val,
    seed: run.seed,
    gnnrl: run.gnnrl,
    created: new Date().toISOString(),
    // Which log the model was fit on, so a server or a resumed job can tell it apart from another.
    dataHash: interactionsSha256(train),
    // External ids in dense order, so a server can map a request's ids to rows.
    ids: { users: train.userIds.toJSON().ids, items: train.itemIds.toJSON().ids },
  };
  // The training edges travel with every model: encoders are rebuilt on their graph, and
  // a server needs them for every model (what each user has seen, popularity, fold-in).
  const extras = { 'graph.user': train.user, 'graph.item': train.item };
  await saveCheckpoint(path, state, meta, { extras });
}
