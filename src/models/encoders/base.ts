/**
 * GraphEncoderModel: what every graph encoder (LightGCN, GCN, GraphSAGE, GAT) shares as
 * a `RecommenderModel`. A subclass says only how node embeddings are computed; this
 * class owns the rest: the input layer (id embeddings and/or projected node features),
 * the objective (BPR over sampled negatives, or rating regression u·i + b_u + b_i + μ),
 * the training step, the epoch loop with validation and best-epoch restore, the cached
 * final embeddings that ranking and prediction read, and state / fromState.
 *
 * Subclass contract (see the abstract members below):
 * - `buildParameters(rng)` creates the encoder's own layers as one `Module` and returns
 *   it (called once, lazily: at the first `fit` or in `fromState`, never from a
 *   constructor); the base keeps it and exposes it as `this.net`;
 * - `encode(ego)` maps the ego embeddings [nUsers + nItems, dim] (users first, on the
 *   tape) to final embeddings [nUsers + nItems, outputDim()], same row order;
 * - optionally `encodeNodes(ego, nodes)` returns the final embeddings of the given rows
 *   only (mini-batch models with sampled neighbourhoods override it; the default runs
 *   `encode` and gathers);
 * - optionally `outputDim()` (default `dim`) and `encoderConfig()` (the subclass's own
 *   resolved options, JSON, so `fromState` can rebuild it through its constructor).
 *
 * Node numbering everywhere: user u is row u, item i is row nUsers + i.
 *
 * The step keeps the GPU fed: all host data of a batch is uploaded before its first
 * dispatch (a write submits pending commands, so uploads in mid-step would split it),
 * the loss is summed on the device and read every `syncEvery` batches, and the
 * adjacency is uploaded once per engine by the graph.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { DeviceArray } from '../../backend/arrays.js';
import type { AdjacencyOptions } from '../../native.js';
import type { Interactions } from '../../data/interactions.js';
import type { FeatureTable } from '../../data/features-types.js';
import { bprBatches, PositiveIndex } from '../../data/negatives.js';
import type { InteractionGraph } from '../../graph/interaction-graph.js';
import type { PlannedCsr } from '../../kernels/spmm.js';
import { Rng, hashU32 } from '../../util/rng.js';
import { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../tensor/autograd.js';
import { parameter, randNormal, zeros } from '../../tensor/create.js';
import { add, mul, square, sub } from '../../tensor/ops/elementwise.js';
import { sum } from '../../tensor/ops/reduce.js';
import { gather, gatherIndices } from '../../tensor/ops/gather.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { bprLoss, mseLoss } from '../../tensor/ops/loss.js';
import { Adam, type Optimizer } from '../../tensor/optim.js';
import { Module } from '../../nn/module.js';
import { ParamSnapshot } from '../../nn/param-snapshot.js';
import { validationMetrics } from '../../eval/validate.js';
import { runEpochLoop } from '../fit-loop.js';
import { recommendFromFactors, resolveExclusions } from '../../rank/rank.js';
import type { FactorScores, FitOptions, FitResult, ModelState, Recommendations, RecommenderModel, RecommendOptions } from '../types.js';
import { InputLayer } from './features.js';
import { rowDot, sliceRows, splitRows } from './rows.js';
import { resolveEncoderOptions, type GraphEncoderOptions, type ResolvedEncoderOptions } from './options.js';
import { ratingBatches, type RatingBatch } from './rating-batches.js';

// The options moved to options.ts; re-exported so existing imports keep working.
export { ENCODER_DEFAULTS, ENCODER_MAX_DIM, encoderDim, resolveEncoderOptions, type GraphEncoderOptions, type ResolvedEncoderOptions } from './options.js';

/** A concrete encoder class, for the generic `fromState`. */
export type EncoderClass<T extends GraphEncoderModel> = new (engine: Engine, graph: InteractionGraph, options: never) => T;

/** Every trainable tensor of an encoder model, under stable names for state(). */
class EncoderParams<M extends Module> extends Module {
  constructor(
    readonly input: InputLayer,
    readonly encoder: M,
    /** [nUsers, 1] and [nItems, 1] rating biases ('mse' only). */
    readonly userBias: Tensor | null,
    readonly itemBias: Tensor | null,
  ) {
    super();
  }

  override dispose(): void {
    this.input.dispose();
    this.encoder.dispose();
    this.userBias?.dispose();
    this.itemBias?.dispose();
  }
}

interface FeatureMeta {
  dim: number;
  names: string[];
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A fitted graph encoder as a differentiable function (`GraphEncoderModel.trainableCopy`). */
export interface TrainableEncoder {
  readonly kind: string;
  /** Width of the output vectors. */
  readonly dim: number;
  readonly nUsers: number;
  readonly nItems: number;
  /** Every tensor the vectors depend on (ego embeddings, layer weights). */
  parameters(): Tensor[];
  /** Output vectors of every user [nUsers, dim] and item [nItems, dim]. */
  forward(): { users: Tensor; items: Tensor };
  /** Call after changing the parameters, so the copy's own recommend/factors recompute. */
  changed(): void;
  /** A further copy with the parameters as they are now (a target network's). */
  clone(): Promise<TrainableEncoder>;
  state(): Promise<Record<string, Float32Array>>;
  load(state: Record<string, Float32Array>): void;
  dispose(): void;
}

/** The shared recommender machinery of graph encoders; see the file comment for the subclass contract. */
export abstract class GraphEncoderModel<M extends Module = Module> implements RecommenderModel {
  /** Registry name ('lightgcn', 'gcn', …). */
  abstract readonly kind: string;
  /** Display name ('LightGCN', …). */
  abstract readonly name: string;
  readonly engine: Engine;
  /** The training log's graph (users first, then items, in the adjacency). */
  readonly graph: InteractionGraph;
  readonly options: Readonly<ResolvedEncoderOptions>;

  private params: EncoderParams<M> | null = null;
  private fitted = false;
  /** Global mean rating ('mse'), fixed when the parameters are built. */
  private mu = 0;
  private seen: PositiveIndex | null = null;
  private final: { users: Tensor; items: Tensor; hostUserBias: Float32Array | null } | null = null;
  private finalStale = true;
  private readonly best: ParamSnapshot;
  private featureTables: { user?: FeatureTable; item?: FeatureTable } = {};
  /** Epochs trained over every fit (seeds each epoch's shuffle and negatives). */
  private epochsDone = 0;
  private disposed = false;

  protected constructor(engine: Engine, graph: InteractionGraph, options: GraphEncoderOptions = {}, defaults: Partial<ResolvedEncoderOptions> = {}) {
    if (!graph || typeof graph.adjacencyOnDevice !== 'function') {
      throw new GnnrlError('input', 'encoder: graph: expected an InteractionGraph of the training log (InteractionGraph.fromInteractions)', { arg: 'graph' });
    }
    this.engine = engine;
    this.graph = graph;
    this.best = new ParamSnapshot(engine);
    this.options = Object.freeze(resolveEncoderOptions(options ?? {}, defaults));
  }

  // ------------------------------------------------------------ subclass API

  /** Creates the encoder's own layers (once; `this.net` afterwards). Draw initial values from `rng`. */
  protected abstract buildParameters(rng: Rng): M;

  /**
   * Final embeddings of every node [nUsers + nItems, outputDim()] from the ego embeddings
   * [nUsers + nItems, dim], users first. Runs on the tape during training and under
   * `noGrad` for the cached inference embeddings.
   */
  protected abstract encode(ego: Tensor): Tensor;

  /**
   * Final embeddings of the rows `nodes` (an i32 tensor made from host data:
   * `nodes.hostIndices` holds them) → [nodes.size, outputDim()]. The default encodes the
   * whole graph and gathers; sampled mini-batch encoders override it.
   */
  protected encodeNodes(ego: Tensor, nodes: Tensor): Tensor {
    return gather(this.encode(ego), nodes);
  }

  /**
   * Epochs begun over this model's life, the running one included; saved in `state()`,
   * so a restored model goes on with the random streams an uninterrupted one would use.
   */
  protected get epochsStarted(): number {
    return this.epochsDone;
  }

  /** Width of the final embeddings (default `dim`). */
  protected outputDim(): number {
    return this.options.dim;
  }

  /** The subclass's resolved options, JSON-serialisable, as its constructor takes them. */
  protected encoderConfig(): Record<string, unknown> {
    return {};
  }

  /** The encoder's layers, once built. */
  protected get net(): M {
    if (!this.params) throw new GnnrlError('state', `${this.name}: parameters are not built yet (call fit() or fromState())`);
    return this.params.encoder;
  }

  /** The training graph's adjacency of this kind on the engine (uploaded once, cached by the graph). */
  protected adjacency(opts: AdjacencyOptions = {}): PlannedCsr {
    return this.graph.adjacencyOnDevice(this.engine, opts);
  }

  /** All node rows: nUsers + nItems. */
  protected get nodeCount(): number {
    return this.graph.nUsers + this.graph.nItems;
  }

  // ------------------------------------------------------------ RecommenderModel

  get predictsRatings(): boolean {
    return this.options.objective === 'mse';
  }

  get nUsers(): number {
    return this.fitted ? this.graph.nUsers : 0;
  }

  get nItems(): number {
    return this.fitted ? this.graph.nItems : 0;
  }

  /**
   * Trains on `train` (the log `graph` was built from; sizes must match). Training
   * continues from the current parameters when called again. After it, the final
   * embeddings are computed once and cached for ranking and prediction.
   */
  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.assertAlive();
    this.checkLog(train, 'train');
    if (train.user.length === 0) throw new GnnrlError('input', `${this.name}.fit: train: expected at least one interaction, got an empty log`, { arg: 'train' });
    const o = this.options;
    if (o.objective === 'mse' && !train.rating) {
      throw new GnnrlError('input', `${this.name}.fit: objective 'mse' regresses ratings, but train.rating is null (implicit feedback); use objective: 'bpr'`, { arg: 'objective' });
    }
    if (opts.validation) this.checkLog(opts.validation, 'validation');
    if (!this.params) this.build(train.userFeatures, train.itemFeatures, o.objective === 'mse' ? meanOf(train.rating!) : 0);
    const params = this.params!;
    const seen = PositiveIndex.of(train);
    this.seen = seen;
    this.fitted = true;
    const optimizers = this.makeOptimizers(params);
    const lossSum = this.engine.keep(zeros(this.engine, []));
    let result: FitResult;
    try {
      result = await runEpochLoop(
        {
          defaultEpochs: o.epochs,
          defaultMonitor: o.objective === 'mse' ? 'rmse' : 'ndcg@20',
          runEpoch: (_epoch, progress, signal) => this.runEpoch(train, seen, optimizers, lossSum, progress, signal),
          validate: async () => {
            await this.ensureFinal();
            return validationMetrics(this, seen, opts.validation!, { k: 20, engine: this.engine, maxUsers: o.validationUsers ?? undefined, seed: o.seed });
          },
          saveBest: () => this.best.save(this.params!.parameters()),
          restoreBest: () => {
            if (this.best.restore(this.params!.parameters())) this.finalStale = true;
          },
        },
        opts,
      );
    } finally {
      for (const opt of optimizers) opt.dispose();
      lossSum.dispose();
      this.best.dispose();
    }
    await this.ensureFinal();
    return result;
  }

  async predict(users: Int32Array, items: Int32Array): Promise<Float32Array> {
    const f = await this.ready('predict');
    if (users.length !== items.length) {
      throw new GnnrlError('input', `${this.name}.predict: users has ${users.length} entries but items has ${items.length} (one pair per position)`, { arg: 'items' });
    }
    checkIndices(users, this.graph.nUsers, `${this.name}.predict`, 'users');
    checkIndices(items, this.graph.nItems, `${this.name}.predict`, 'items');
    const out = new Float32Array(users.length);
    const CHUNK = 65536;
    for (let s = 0; s < users.length; s += CHUNK) {
      const u = users.subarray(s, s + CHUNK);
      const it = items.subarray(s, s + CHUNK);
      const t = noGrad(() =>
        this.engine.scope(() => {
          let score = rowDot(gather(f.users, u), gather(f.items, it));
          if (this.params!.userBias && this.params!.itemBias) {
            score = add(add(add(score, gather(this.params!.userBias, u)), gather(this.params!.itemBias, it)), this.mu);
          }
          return score;
        }),
      );
      out.set((await t.read()) as Float32Array, s);
      t.dispose();
    }
    return out;
  }

  /** Factor form on the engine (valid until the next `fit` or `dispose`): u·i + b_i. */
  async factors(): Promise<FactorScores> {
    const f = await this.ready('factors');
    const bias = this.params!.itemBias;
    return {
      dim: this.outputDim(),
      users: f.users.data as DeviceArray<'f32'>,
      items: f.items.data as DeviceArray<'f32'>,
      itemBias: bias ? (bias.data as DeviceArray<'f32'>) : undefined,
    };
  }

  async scoreItems(users: Int32Array): Promise<Float32Array> {
    const f = await this.ready('scoreItems');
    checkIndices(users, this.graph.nUsers, `${this.name}.scoreItems`, 'users');
    const nI = this.graph.nItems;
    const out = new Float32Array(users.length * nI);
    // Bounded score blocks: a few million floats per matmul.
    const rows = Math.max(1, Math.floor((1 << 22) / Math.max(1, nI)));
    const { userBias, itemBias } = this.params!;
    for (let s = 0; s < users.length; s += rows) {
      const u = users.subarray(s, s + rows);
      const t = noGrad(() =>
        this.engine.scope(() => {
          let sc = matmul(gather(f.users, u), f.items, { transB: true });
          if (userBias && itemBias) sc = add(add(add(sc, itemBias.reshape([1, nI])), gather(userBias, u)), this.mu);
          return sc;
        }),
      );
      out.set((await t.read()) as Float32Array, s * nI);
      t.dispose();
    }
    return out;
  }

  /**
   * Top-k over the catalogue through the top-K kernel on the engine. Scores are
   * predictions: for 'mse' models the user's bias and μ are added back to the factor
   * scores the kernel ranks by (they do not change the order).
   */
  async recommend(users: Int32Array, k: number, opts?: RecommendOptions): Promise<Recommendations> {
    const f = await this.ready('recommend');
    const rec = await recommendFromFactors(await this.factors(), this.graph.nUsers, this.graph.nItems, users, k, resolveExclusions(opts, this.seen, users), this.engine);
    if (f.hostUserBias) {
      for (let r = 0; r < users.length; r++) {
        const c = f.hostUserBias[users[r]] + this.mu;
        for (let j = r * k; j < (r + 1) * k; j++) if (rec.items[j] >= 0) rec.scores[j] += c;
      }
    }
    return rec;
  }

  /** Config (resolved options, sizes, μ, feature layout) and every parameter by name; feature tables too. */
  async state(): Promise<ModelState> {
    this.assertAlive();
    if (!this.params || !this.fitted) throw new GnnrlError('state', `${this.name}.state: the model has no parameters yet; call fit() first`);
    const arrays: Record<string, Float32Array | Int32Array> = { ...(await this.params.state()) };
    const meta = (t?: FeatureTable): FeatureMeta | null => (t ? { dim: t.dim, names: [...t.names] } : null);
    if (this.featureTables.user) arrays['features.user'] = this.featureTables.user.data.slice();
    if (this.featureTables.item) arrays['features.item'] = this.featureTables.item.data.slice();
    return {
      kind: this.kind,
      config: {
        ...this.options,
        ...this.encoderConfig(),
        nUsers: this.graph.nUsers,
        nItems: this.graph.nItems,
        mu: this.mu,
        epochsDone: this.epochsDone,
        userFeatures: meta(this.featureTables.user),
        itemFeatures: meta(this.featureTables.item),
      },
      arrays,
    };
  }

  /**
   * Rebuilds a fitted encoder from `state()` on `graph` (the same training graph):
   * `LightGCN.fromState(engine, graph, state)`. Training items are excluded from
   * recommendations through the graph's user rows.
   */
  static fromState<T extends GraphEncoderModel>(this: EncoderClass<T>, engine: Engine, graph: InteractionGraph, state: ModelState): T {
    const model = new this(engine, graph, state.config as never);
    model.restore(state);
    return model;
  }

  /**
   * A copy of this fitted encoder as a differentiable function of its own parameters, for
   * a loss outside the model (the RL fusion: a TD or policy loss back-propagated through
   * the graph convolution into the ego embeddings and the layers' weights). It is a copy so
   * that this model — which a run may share with other agents and baselines — never moves.
   * `forward()` encodes the whole graph, on the tape when gradients are enabled.
   */
  async trainableCopy(): Promise<TrainableEncoder> {
    await this.ready('trainableCopy');
    const copy = GraphEncoderModel.fromState.call(this.constructor as EncoderClass<GraphEncoderModel>, this.engine, this.graph, await this.state()) as GraphEncoderModel;
    return copy.asTrainable();
  }

  private asTrainable(): TrainableEncoder {
    const params = this.params!;
    // The embedding layers and the convolutions; the rating biases ('mse') are not part of the vectors.
    const list = [...params.input.parameters(), ...params.encoder.parameters()];
    const nU = this.graph.nUsers;
    return {
      kind: this.kind,
      dim: this.outputDim(),
      nUsers: this.graph.nUsers,
      nItems: this.graph.nItems,
      parameters: () => list,
      forward: () => {
        const z = this.encode(params.input.forward());
        return { users: sliceRows(z, 0, nU), items: sliceRows(z, nU, this.nodeCount) };
      },
      changed: () => {
        this.finalStale = true;
      },
      clone: () => this.trainableCopy(),
      state: async () => params.state(),
      load: (s) => params.load(s),
      dispose: () => this.dispose(),
    };
  }

  /** Frees parameters, cached embeddings and snapshots. The graph's device adjacency is the graph's (`graph.releaseDevice(engine)`). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.params?.dispose();
    this.params = null;
    this.dropFinal();
    this.best.dispose();
  }

  // ------------------------------------------------------------ internals

  private assertAlive(): void {
    if (this.disposed) throw new GnnrlError('state', `${this.name}: this model was disposed`);
  }

  private checkLog(x: Interactions, arg: string): void {
    if (!x || !(x.user instanceof Int32Array) || !(x.item instanceof Int32Array)) {
      throw new GnnrlError('input', `${this.name}.fit: ${arg}: expected an Interactions log`, { arg });
    }
    const g = this.graph;
    if (x.nUsers !== g.nUsers || x.nItems !== g.nItems) {
      throw new GnnrlError(
        'input',
        `${this.name}.fit: ${arg} has ${x.nUsers} users × ${x.nItems} items but the graph has ${g.nUsers} × ${g.nItems}; ` +
          'build the graph from the training log: InteractionGraph.fromInteractions({ users: train.user, items: train.item, nUsers: train.nUsers, nItems: train.nItems })',
        { arg },
      );
    }
  }

  private build(userFeatures: FeatureTable | undefined, itemFeatures: FeatureTable | undefined, mu: number): void {
    const o = this.options;
    const g = this.graph;
    const rng = new Rng(o.seed);
    const input = new InputLayer(this.engine, { nUsers: g.nUsers, nItems: g.nItems, dim: o.dim, mode: o.input, initStd: o.initStd, rng, userFeatures, itemFeatures });
    let encoder: M;
    try {
      encoder = this.buildParameters(rng);
    } catch (err) {
      input.dispose();
      throw err;
    }
    const mse = o.objective === 'mse';
    // Small random biases rather than zeros: the step's l2 term then has a gradient to shape from the first batch.
    const bias = (n: number) => parameter(randNormal(this.engine, [n, 1], { std: 0.01, rng }));
    this.params = new EncoderParams(input, encoder, mse ? bias(g.nUsers) : null, mse ? bias(g.nItems) : null);
    this.mu = mu;
    this.featureTables = { user: o.input === 'id' ? undefined : userFeatures, item: o.input === 'id' ? undefined : itemFeatures };
  }

  /** Separate groups so `weightDecay` reaches the encoder's weights, not the embeddings (which `l2` regularises per batch). */
  private makeOptimizers(params: EncoderParams<M>): Optimizer[] {
    const o = this.options;
    const dense = params.encoder.parameters();
    const rest = params.parameters().filter((p) => !dense.includes(p));
    if (o.weightDecay === 0 || dense.length === 0) return [new Adam(params.parameters(), { lr: o.lr })];
    return [new Adam(rest, { lr: o.lr }), new Adam(dense, { lr: o.lr, weightDecay: o.weightDecay })];
  }

  private async runEpoch(
    train: Interactions,
    seen: PositiveIndex,
    optimizers: Optimizer[],
    lossSum: Tensor,
    progress: (p: { done: number; total: number; loss: number }) => void,
    signal?: AbortSignal,
  ): Promise<{ loss: number; samples: number }> {
    const o = this.options;
    const epochSeed = hashU32(o.seed, ++this.epochsDone);
    const batches =
      o.objective === 'bpr'
        ? bprBatches(train, { batchSize: o.batchSize, seed: epochSeed, exclude: seen, strategy: o.negatives, popularityExponent: o.popularityExponent })
        : ratingBatches(train, o.batchSize, epochSeed);
    lossSum.fill(0);
    this.finalStale = true;
    const total = train.user.length;
    let steps = 0;
    let done = 0;
    for (const b of batches) {
      if (signal?.aborted) break;
      if ('pos' in b) this.bprStep(b.users, b.pos, b.neg, optimizers, lossSum);
      else this.ratingStep(b, optimizers, lossSum);
      steps++;
      done += b.users.length;
      if (steps % o.syncEvery === 0) {
        // The one readback in the loop: it bounds the queued work and feeds progress.
        const running = (await this.engine.read(lossSum.f32('fit')))[0] / steps;
        progress({ done, total, loss: running });
        await yieldToEventLoop();
      }
    }
    const loss = steps > 0 ? (await this.engine.read(lossSum.f32('fit')))[0] / steps : NaN;
    return { loss, samples: done };
  }

  /** l2/2 · Σ‖rows‖² / batch over the ego rows of the batch's nodes. */
  private egoPenalty(ego: Tensor, nodes: Tensor, batch: number): Tensor {
    return mul(sum(square(gather(ego, nodes))), this.options.l2 / (2 * batch));
  }

  private bprStep(users: Int32Array, pos: Int32Array, neg: Int32Array, optimizers: Optimizer[], lossSum: Tensor): void {
    const B = users.length;
    const nU = this.graph.nUsers;
    const nodesHost = new Int32Array(3 * B);
    nodesHost.set(users);
    for (let j = 0; j < B; j++) {
      nodesHost[B + j] = nU + pos[j];
      nodesHost[2 * B + j] = nU + neg[j];
    }
    this.engine.scope(() => {
      const nodes = gatherIndices(this.engine, nodesHost, this.nodeCount);
      for (const opt of optimizers) opt.zeroGrad();
      const ego = this.params!.input.forward();
      const [zu, zp, zn] = splitRows(this.encodeNodes(ego, nodes), 3);
      // Made after encodeNodes: sampled encoders upload their blocks there, and an upload
      // after a recorded clear would split the step into two submits.
      const zeroColumn = zeros(this.engine, [B, 1]);
      // −log σ(u·p − u·n) as bprLoss(u·(p − n), 0): one row reduction instead of two.
      let loss = bprLoss(rowDot(zu, sub(zp, zn)), zeroColumn);
      if (this.options.l2 > 0) loss = add(loss, this.egoPenalty(ego, nodes, B));
      loss.backward();
      for (const opt of optimizers) opt.step();
      lossSum.addInPlace(loss);
    });
  }

  private ratingStep(b: RatingBatch, optimizers: Optimizer[], lossSum: Tensor): void {
    const B = b.users.length;
    const g = this.graph;
    const nodesHost = new Int32Array(2 * B);
    nodesHost.set(b.users);
    for (let j = 0; j < B; j++) nodesHost[B + j] = g.nUsers + b.items[j];
    const { userBias, itemBias } = this.params!;
    this.engine.scope(() => {
      const nodes = gatherIndices(this.engine, nodesHost, this.nodeCount);
      const ui = gatherIndices(this.engine, b.users, g.nUsers);
      const ii = gatherIndices(this.engine, b.items, g.nItems);
      const target = Tensor.fromArray(this.engine, b.ratings, [B, 1]);
      for (const opt of optimizers) opt.zeroGrad();
      const ego = this.params!.input.forward();
      const [zu, zi] = splitRows(this.encodeNodes(ego, nodes), 2);
      const bu = gather(userBias!, ui);
      const bi = gather(itemBias!, ii);
      const pred = add(add(add(rowDot(zu, zi), bu), bi), this.mu);
      let loss = mseLoss(pred, target);
      if (this.options.l2 > 0) {
        const biasSq = add(sum(square(bu)), sum(square(bi)));
        loss = add(add(loss, this.egoPenalty(ego, nodes, B)), mul(biasSq, this.options.l2 / (2 * B)));
      }
      loss.backward();
      for (const opt of optimizers) opt.step();
      lossSum.addInPlace(loss);
    });
  }

  private dropFinal(): void {
    if (!this.final) return;
    this.final.users.dispose();
    this.final.items.dispose();
    this.final = null;
  }

  /** The cached final embeddings, recomputed (once, without the tape) when training changed them. */
  private async ensureFinal(): Promise<{ users: Tensor; items: Tensor; hostUserBias: Float32Array | null }> {
    if (this.final && !this.finalStale) return this.final;
    this.dropFinal();
    const nU = this.graph.nUsers;
    const split = noGrad(() =>
      this.engine.scope(() => {
        const z = this.encode(this.params!.input.forward());
        // Own copies of both halves, so the whole-graph tensor is freed with the scope.
        const users = sliceRows(z, 0, nU);
        const items = sliceRows(z, nU, this.nodeCount);
        return { users: users === z ? users.clone() : users, items };
      }),
    );
    this.engine.keep(split.users);
    this.engine.keep(split.items);
    const ub = this.params!.userBias;
    this.final = { ...split, hostUserBias: ub ? ((await ub.read()) as Float32Array) : null };
    this.finalStale = false;
    return this.final;
  }

  private async ready(fn: string): Promise<{ users: Tensor; items: Tensor; hostUserBias: Float32Array | null }> {
    this.assertAlive();
    if (!this.params || !this.fitted) throw new GnnrlError('state', `${this.name}.${fn}: the model is not fitted; call fit() or fromState() first`);
    return this.ensureFinal();
  }

  /** Loads `state` into this freshly constructed model (see the static `fromState`). */
  protected restore(state: ModelState): void {
    if (!state || typeof state !== 'object' || !state.config || !state.arrays) {
      throw new GnnrlError('input', `${this.name}.fromState: state: expected { kind, config, arrays } from state()`, { arg: 'state' });
    }
    if (state.kind !== this.kind) throw new GnnrlError('input', `${this.name}.fromState: state is of kind '${state.kind}', not '${this.kind}'`, { arg: 'state' });
    const c = state.config;
    const g = this.graph;
    if (c.nUsers !== g.nUsers || c.nItems !== g.nItems) {
      throw new GnnrlError('input', `${this.name}.fromState: the state was fit on ${c.nUsers} users × ${c.nItems} items but the graph has ${g.nUsers} × ${g.nItems}; pass the training graph`, {
        arg: 'graph',
      });
    }
    const table = (side: 'user' | 'item', rows: number): FeatureTable | undefined => {
      const meta = c[`${side}Features`] as FeatureMeta | null | undefined;
      const data = state.arrays[`features.${side}`];
      if (!meta) return undefined;
      if (!(data instanceof Float32Array)) throw new GnnrlError('input', `${this.name}.fromState: state.arrays lacks 'features.${side}'`, { arg: 'state', field: `features.${side}` });
      return { nRows: rows, dim: meta.dim, names: meta.names, data };
    };
    this.build(table('user', g.nUsers), table('item', g.nItems), typeof c.mu === 'number' ? c.mu : 0);
    const paramArrays: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(state.arrays)) {
      if (k.startsWith('features.')) continue;
      if (!(v instanceof Float32Array)) throw new GnnrlError('input', `${this.name}.fromState: state.arrays['${k}'] must be a Float32Array`, { arg: 'state', field: k });
      paramArrays[k] = v;
    }
    this.params!.load(paramArrays);
    this.epochsDone = typeof c.epochsDone === 'number' ? c.epochsDone : 0;
    this.seen = new PositiveIndex(g.userItem.rowPtr, g.userItem.colIdx, g.nItems);
    this.fitted = true;
    this.finalStale = true;
  }
}

function meanOf(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return a.length ? s / a.length : 0;
}

function checkIndices(a: Int32Array, n: number, fn: string, arg: string): void {
  if (!(a instanceof Int32Array)) throw new GnnrlError('input', `${fn}: ${arg}: expected an Int32Array`, { arg });
  for (let j = 0; j < a.length; j++) {
    if (!(a[j] >= 0 && a[j] < n)) throw new GnnrlError('input', `${fn}: ${arg}[${j}] = ${a[j]} is outside [0, ${n})`, { arg, index: j });
  }
}
