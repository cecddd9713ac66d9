/**
 * The model registry: every recommender gnnrl can train, by name. The train job, the
 * checkpoint loader and (later) serving look models up here, so a name in a config file,
 * a checkpoint's `kind` and a table row all mean the same class.
 *
 * Model modules are imported lazily (on `create`/`fromState`): asking for `svd` does not
 * load the graph encoders, and the list of names works before any model module exists.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { Interactions } from '../data/interactions.js';
import { InteractionGraph } from '../graph/interaction-graph.js';
import type { Checkpoint } from './checkpoint.js';
import type { ModelState, RecommenderModel } from './types.js';

/**
 * Options every model understands in its own terms (the registry maps them to each
 * constructor's names). `extra` holds model-specific options passed through as given
 * (from the config file's `modelOptions.<name>`), overriding the common ones.
 */
export interface CommonModelOptions {
  /** Embedding / factor size. */
  dim?: number;
  /** Learning rate. */
  lr?: number;
  /** Examples per optimiser step. */
  batchSize?: number;
  /** Seed of initialisation and sampling. */
  seed?: number;
  /** Per-epoch validation ranks at most this many users (a fixed seeded sample); default all. */
  validationUsers?: number;
  extra?: Record<string, unknown>;
}

/** What `create` gets: the engine, the training log, its graph (built for encoders) and options. */
export interface CreateContext {
  engine: Engine;
  train: Interactions;
  /** The training log's user-item graph; present whenever the model is an encoder. */
  graph?: InteractionGraph;
  options: CommonModelOptions;
}

/** What `fromState` gets. */
export interface RestoreContext {
  engine: Engine;
  /** Required by encoders: the graph they were trained on. */
  graph?: InteractionGraph;
}

export interface ModelEntry {
  /** Canonical registry name ('svdpp'). */
  name: string;
  /** Table name ('SVD++'). */
  display: string;
  /** Graph encoders need the interaction graph; baselines only the log. */
  kind: 'encoder' | 'baseline';
  /** True when the model needs explicit ratings (cannot be fit on implicit feedback). */
  needsRatings: boolean;
  /** True when the model trains in epochs (reports loss per epoch, early-stops on validation). */
  iterative: boolean;
  /**
   * True when the model reads MovieLens side features and timestamps (DDPG-LA): the train
   * job then loads the side files with MovieLens data, and the model's own coded error
   * names the missing file or column otherwise.
   */
  needsSideFeatures?: boolean;
  /** One line for `--help` and listings. */
  summary: string;
  create(ctx: CreateContext): Promise<RecommenderModel>;
  fromState(ctx: RestoreContext, state: ModelState): Promise<RecommenderModel>;
}

type Factory = Pick<ModelEntry, 'create' | 'fromState'>;

/** Static facts of each model; the factories are attached below, loaded on first use. */
interface Info {
  name: string;
  display: string;
  kind: ModelEntry['kind'];
  needsRatings: boolean;
  iterative: boolean;
  needsSideFeatures?: boolean;
  summary: string;
  /** Restorable by name (getModel) but not listed, so `gnnrl train` and 'all' never offer it. */
  internal?: boolean;
  load?: () => Promise<Factory>;
}

function needGraph(name: string, graph: InteractionGraph | undefined): InteractionGraph {
  if (!graph) throw new GnnrlError('input', `model '${name}': an encoder needs the training graph (ctx.graph)`, { arg: 'graph' });
  return graph;
}

/** Drops undefined values so a constructor's own defaults apply. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

/** DDPG-LA and its seven ablations (src/models/ddpg-la/): ratings, timestamps and MovieLens side files. */
function ddpgLaInfos(): Info[] {
  const rows: [string, string, string][] = [
    ['ddpg-la', 'DDPG-LA', 'DDPG rating agent, state = RLSTM long-term + T-self-attention short-term interest'],
    ['ddpg-rlstm', 'DDPG+RLSTM', 'DDPG-LA ablation: RLSTM long-term interest only'],
    ['ddpg-lstm', 'DDPG+LSTM', 'DDPG-LA ablation: plain LSTM long-term interest only'],
    ['ddpg-tsa', 'DDPG+T_self_attention', 'DDPG-LA ablation: T-self-attention short-term interest only'],
    ['ddpg-sa', 'DDPG+self_attention', 'DDPG-LA ablation: plain self-attention short-term interest only'],
    ['ddpg-rlstm-sa', 'DDPG+RLSTM+self_attention', 'DDPG-LA ablation: RLSTM + plain self-attention'],
    ['ddpg-lstm-tsa', 'DDPG+LSTM+T_self_attention', 'DDPG-LA ablation: plain LSTM + T-self-attention'],
    ['ddpg-lstm-sa', 'DDPG+LSTM+self_attention', 'DDPG-LA ablation: plain LSTM + plain self-attention'],
  ];
  return rows.map(([name, display, summary]) => ({ name, display, kind: 'baseline', needsRatings: true, iterative: true, needsSideFeatures: true, summary }));
}
const DDPG_LA_INFOS = ddpgLaInfos();

const INFOS: Info[] = [
  { name: 'popularity', display: 'Popularity', kind: 'baseline', needsRatings: false, iterative: false, summary: 'most interacted-with items first' },
  { name: 'baseline-only', display: 'BaselineOnly', kind: 'baseline', needsRatings: true, iterative: true, summary: 'global mean + user and item biases' },
  { name: 'knn-basic', display: 'KNNBasic', kind: 'baseline', needsRatings: true, iterative: false, summary: 'neighbourhood CF on raw ratings' },
  { name: 'knn-means', display: 'KNNWithMeans', kind: 'baseline', needsRatings: true, iterative: false, summary: 'neighbourhood CF on mean-centred ratings' },
  { name: 'knn-baseline', display: 'KNNBaseline', kind: 'baseline', needsRatings: true, iterative: false, summary: 'neighbourhood CF on baseline residuals' },
  { name: 'svd', display: 'SVD', kind: 'baseline', needsRatings: true, iterative: true, summary: 'biased matrix factorisation (Funk SVD) by SGD' },
  { name: 'svdpp', display: 'SVD++', kind: 'baseline', needsRatings: true, iterative: true, summary: 'SVD with implicit feedback factors' },
  { name: 'nmf', display: 'NMF', kind: 'baseline', needsRatings: true, iterative: true, summary: 'non-negative matrix factorisation' },
  ...DDPG_LA_INFOS,
  { name: 'vectors', display: 'Fixed vectors', kind: 'baseline', needsRatings: false, iterative: false, internal: true, summary: 'user and item vectors given in code, scored by dot product (the saved state of an RL agent on pretrained vectors)' },
  { name: 'lightgcn', display: 'LightGCN', kind: 'encoder', needsRatings: false, iterative: true, summary: 'linear graph propagation of ID embeddings, BPR loss' },
  { name: 'gcn', display: 'GCN', kind: 'encoder', needsRatings: false, iterative: true, summary: 'graph convolutional encoder' },
  { name: 'sage', display: 'GraphSAGE', kind: 'encoder', needsRatings: false, iterative: true, summary: 'GraphSAGE encoder (neighbour aggregation + self)' },
  { name: 'gat', display: 'GAT', kind: 'encoder', needsRatings: false, iterative: true, summary: 'graph attention encoder' },
];

/** Other spellings people type, mapped to canonical names. */
const ALIASES: Record<string, string> = {
  pop: 'popularity',
  baseline: 'baseline-only',
  baselineonly: 'baseline-only',
  'baseline_only': 'baseline-only',
  knn: 'knn-basic',
  knnbasic: 'knn-basic',
  'knn-with-means': 'knn-means',
  knnwithmeans: 'knn-means',
  knnbaseline: 'knn-baseline',
  funksvd: 'svd',
  'svd++': 'svdpp',
  'svd-pp': 'svdpp',
  'light-gcn': 'lightgcn',
  graphsage: 'sage',
  'graph-sage': 'sage',
};

/**
 * Models `--model` trains when none is named: one of each family that fits in a few
 * minutes on the default data on a CPU or a software adapter.
 */
export const DEFAULT_MODELS: readonly string[] = ['popularity', 'baseline-only', 'svd', 'lightgcn'];

const ENTRIES = new Map<string, ModelEntry>();
const INTERNAL = new Set(INFOS.filter((i) => i.internal).map((i) => i.name));
for (const info of INFOS) {
  let factory: Promise<Factory> | undefined;
  const get = (): Promise<Factory> => {
    if (!info.load) {
      return Promise.reject(new GnnrlError('state', `model '${info.name}' (${info.display}) is registered but not built into this version of gnnrl yet`, { arg: 'model' }));
    }
    factory ??= info.load();
    return factory;
  };
  ENTRIES.set(info.name, {
    name: info.name,
    display: info.display,
    kind: info.kind,
    needsRatings: info.needsRatings,
    iterative: info.iterative,
    ...(info.needsSideFeatures ? { needsSideFeatures: true } : {}),
    summary: info.summary,
    create: async (ctx) => (await get()).create(ctx),
    fromState: async (ctx, state) => (await get()).fromState(ctx, state),
  });
}

/** Canonical names, in registry order (baselines, then encoders). */
export function modelNames(): string[] {
  return [...ENTRIES.keys()].filter((n) => !INTERNAL.has(n));
}

/** Every listed entry, in registry order. */
export function listModels(): ModelEntry[] {
  return [...ENTRIES.values()].filter((e) => !INTERNAL.has(e.name));
}

/** Canonical name for a name or alias (case-insensitive); throws listing the valid names. */
export function resolveModelName(name: string, arg = 'model'): string {
  const key = String(name).trim().toLowerCase();
  if (ENTRIES.has(key)) return key;
  const alias = ALIASES[key];
  if (alias) return alias;
  throw new GnnrlError('input', `${arg}: unknown model '${name}'; valid models: ${modelNames().join(', ')} (or 'all'; aliases: ${Object.keys(ALIASES).join(', ')})`, { arg });
}

/** The entry for a name or alias. */
export function getModel(name: string): ModelEntry {
  return ENTRIES.get(resolveModelName(name))!;
}

/** A comma list or array of names ('all' = every model) → distinct canonical names, in the order given. */
export function parseModelList(names: string | readonly string[], arg = 'model'): string[] {
  const list = typeof names === 'string' ? names.split(',') : [...names];
  const out: string[] = [];
  for (const raw of list) {
    const n = raw.trim();
    if (!n) throw new GnnrlError('input', `${arg}: empty model name in the list`, { arg });
    const names = n.toLowerCase() === 'all' ? modelNames() : [resolveModelName(n, arg)];
    for (const c of names) if (!out.includes(c)) out.push(c);
  }
  if (out.length === 0) throw new GnnrlError('input', `${arg}: expected at least one model`, { arg });
  return out;
}

/** The training graph of an encoder: dense ids, unweighted; the same construction at train and restore time. */
export function trainingGraph(users: Int32Array, items: Int32Array, nUsers: number, nItems: number): InteractionGraph {
  return InteractionGraph.fromInteractions({ users, items, nUsers, nItems }, { ids: 'dense' });
}

/**
 * Rebuilds a fitted model from a checkpoint written by the train job: encoders get their
 * graph back from the training edges saved beside the parameters (`graph.user`,
 * `graph.item`, and `nUsers`/`nItems` in the meta).
 */
export async function restoreModel(ckpt: Checkpoint, engine: Engine): Promise<RecommenderModel> {
  const entry = getModel(ckpt.state.kind);
  let graph: InteractionGraph | undefined;
  if (entry.kind === 'encoder') {
    const users = ckpt.extras['graph.user'];
    const items = ckpt.extras['graph.item'];
    const nUsers = Number(ckpt.meta.nUsers);
    const nItems = Number(ckpt.meta.nItems);
    if (!(users instanceof Int32Array) || !(items instanceof Int32Array) || !Number.isInteger(nUsers) || !Number.isInteger(nItems)) {
      throw new GnnrlError('format', `checkpoint ${ckpt.source}: encoder '${entry.name}' needs its training graph (extras graph.user/graph.item and meta nUsers/nItems), which the file lacks`, { file: ckpt.source });
    }
    graph = trainingGraph(users, items, nUsers, nItems);
  }
  return entry.fromState({ engine, graph }, ckpt.state);
}

/** Attaches a model's factory (for the implementation files' registration, kept in one place below). */
function attach(name: string, load: () => Promise<Factory>): void {
  const info = INFOS.find((i) => i.name === name);
  if (!info) throw new GnnrlError('state', `registry: no model '${name}'`);
  info.load = load;
}

// ---------------------------------------------------------------- factories
// Each maps the common options to the constructor's own names; model-specific options
// from `options.extra` are passed through last, so a config file can set anything the
// constructor accepts (and the constructor's own checks name a bad one).

/** Baselines: `new X(options, { engine })`, `X.fromState(state, { engine })`. */
interface BaselineClass {
  new (options: never, ctx: { engine?: Engine; validationUsers?: number }): RecommenderModel;
  fromState(state: ModelState, ctx: { engine?: Engine }): RecommenderModel;
}

/** Encoders: `new X(engine, graph, options)`, `X.fromState(engine, graph, state)`. */
interface EncoderClassLike {
  new (engine: Engine, graph: InteractionGraph, options: never): RecommenderModel;
  fromState(engine: Engine, graph: InteractionGraph, state: ModelState): RecommenderModel;
}

function baseline(cls: BaselineClass, map: (o: CommonModelOptions) => Record<string, unknown>): Factory {
  return {
    create: async ({ engine, options }) => new cls({ ...defined(map(options)), ...options.extra } as never, { engine, validationUsers: options.validationUsers }),
    fromState: async ({ engine }, state) => cls.fromState(state, { engine }),
  };
}

function encoder(name: string, cls: EncoderClassLike): Factory {
  return {
    create: async ({ engine, graph, options: o }) =>
      new cls(engine, needGraph(name, graph), { ...defined({ dim: o.dim, lr: o.lr, batchSize: o.batchSize, seed: o.seed, validationUsers: o.validationUsers }), ...o.extra } as never),
    fromState: async ({ engine, graph }, state) => cls.fromState(engine, needGraph(name, graph), state),
  };
}

attach('popularity', async () => baseline((await import('./baselines/popularity.js')).Popularity, () => ({})));
// BaselineOnly's default method is ALS (no learning rate); seed matters under method 'sgd'.
attach('baseline-only', async () => baseline((await import('./baselines/baseline-only.js')).BaselineOnly, (o) => ({ seed: o.seed })));
// KNN has no dimension, rate or randomness; its `k` is the neighbourhood size, set through extra options.
attach('knn-basic', async () => baseline((await import('./baselines/knn.js')).KNNBasic, () => ({})));
attach('knn-means', async () => baseline((await import('./baselines/knn.js')).KNNWithMeans, () => ({})));
attach('knn-baseline', async () => baseline((await import('./baselines/knn.js')).KNNBaseline, () => ({})));
attach('svd', async () => baseline((await import('./baselines/svd.js')).SVD, (o) => ({ factors: o.dim, lr: o.lr, seed: o.seed })));
attach('svdpp', async () => baseline((await import('./baselines/svdpp.js')).SVDpp, (o) => ({ factors: o.dim, lr: o.lr, seed: o.seed })));
// NMF's updates are multiplicative (no learning rate for the factors).
attach('nmf', async () => baseline((await import('./baselines/nmf.js')).NMF, (o) => ({ factors: o.dim, seed: o.seed })));
// Fixed vectors: the tables come from code (options.extra), never from a config file.
attach('vectors', async () => {
  const { FixedVectors } = await import('./baselines/fixed-vectors.js');
  return {
    create: async ({ engine, options }) => {
      const x = (options.extra ?? {}) as Record<string, unknown>;
      if (!(x.users instanceof Float32Array && x.items instanceof Float32Array)) {
        throw new GnnrlError('input', "model 'vectors': its user and item tables come from code (options.extra { dim, users, items }); gnnrl rl writes it for states of pretrained vectors", { arg: 'model' });
      }
      return new FixedVectors({ dim: Number(x.dim), users: x.users, items: x.items }, { engine, validationUsers: options.validationUsers });
    },
    fromState: async ({ engine }, state) => FixedVectors.fromState(state, { engine }),
  };
});
// DDPG-LA: the common options map to the actor's and critic's rate (lr), the LSTM width
// (dim), users per batch (batchSize) and the seed; the variant comes from the name.
for (const info of DDPG_LA_INFOS) {
  attach(info.name, async () => {
    const { DdpgLaModel } = await import('./ddpg-la/model.js');
    return {
      create: async ({ engine, options: o }) =>
        new DdpgLaModel({ ...defined({ hidden: o.dim, actorLr: o.lr, criticLr: o.lr === undefined ? undefined : 10 * o.lr, batchUsers: o.batchSize, seed: o.seed }), ...o.extra, variant: info.name } as never, { engine }),
      fromState: async ({ engine }, state) => DdpgLaModel.fromState(state, { engine }),
    };
  });
}
attach('lightgcn', async () => encoder('lightgcn', (await import('./encoders/lightgcn.js')).LightGCN));
attach('gcn', async () => encoder('gcn', (await import('./encoders/gcn.js')).GCN));
attach('sage', async () => encoder('sage', (await import('./encoders/sage.js')).GraphSAGE));
attach('gat', async () => encoder('gat', (await import('./encoders/gat.js')).GAT));
