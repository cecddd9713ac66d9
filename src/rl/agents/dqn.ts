/**
 * DQN (Mnih et al. 2015) and Double DQN (van Hasselt et al. 2016) over the whole
 * catalogue, with a factorised Q-function so the max over thousands of items is one
 * fused kernel rather than a forward pass per item:
 *
 *     Q(s, a) = φ(s) · e_a + b_a,     φ = MLP(state vector),  e_a, b_a learned per item.
 *
 * The state vector is the WindowStateEncoder's [user | window items] from a GNN. φ is a
 * residual over the user's own vector (φ(s) = u + MLP(s), the MLP's last layer zeroed) and
 * e_a starts from the same GNN's item vectors, so the untrained agent ranks like the GNN
 * and learning corrects it toward long-term value. Per update, the paper's loop:
 *
 *     sample a minibatch (uniform or prioritised) of (s, a, R, done, s', γ^m)
 *     plain:  y = R + γ^m (1 − done) · max_a' Q_target(s', a')           (qTargets)
 *     double: a* = argmax_a' Q_online(s', a') (topK, k = 1);  y = R + γ^m (1 − done) · Q_target(s', a*)
 *     minimise Huber(Q_online(s, a) − y), importance-weighted under PER
 *     every `targetUpdate` updates copy online → target (or Polyak with `tau`)
 *
 * The max skips the items in s'’s history window (the simulator penalises repeats and the
 * greedy policy never shows them), so the target values the policy that will act.
 * The Huber gradient is formed on the host from the read-back TD errors (needed anyway for
 * PER's priorities): the loss differentiated is Σ_i c_i · Q(s_i, a_i) with
 * c_i = w_i · clip(δ_i, ±κ) / B, whose gradient is exactly the weighted Huber loss's.
 *
 * lr = 0 switches learning off: `update` still computes and reports the loss but changes
 * nothing (the control arm of the learning tests).
 *
 * Dueling head (`dueling`, Wang et al. 2016), in the factor form:
 *
 *     Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a'),   A(s, a) = φ(s)·e_a + b_a,  V(s) = w_v·φ(s) + c_v,
 *
 * so mean_a' A = φ(s)·ē + b̄ with ē, b̄ the mean item row and bias over the whole catalogue
 * (computed by autograd ops, so the TD gradient reaches every item row through them). The
 * per-state terms V − φ·ē − b̄ do not depend on a: acting, greedy slates, `rank` and the
 * max/argmax of the targets are the topK/qTargets kernels over A, unchanged; the targets
 * add γ^m(1 − done)·(V_t(s') − φ_t(s')·ē_t − b̄_t) per row on the host. w_v starts at the
 * mean of the initial item rows and c_v at 0 (= b̄ at the start), so V = φ·ē and mean A
 * cancel: the untrained dueling agent has exactly the plain agent's Q (up to rounding), its
 * predictions and its targets, not merely its ranking.
 *
 * Exploration (`exploration`): 'epsilon' (default) replaces a slot's greedy slate by a
 * uniformly random one with probability ε; 'boltzmann' draws every slot's slate without
 * replacement from softmax(Q(s, ·)/τ) over the items outside the slot's window, by
 * Gumbel-top-K over Q in row chunks (softmax-policy.ts), so no batch × catalogue matrix
 * exists beyond one chunk's. Both anneal with the acting step (`epsilon`, `temperature`).
 */
import { GnnrlError, check } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { DeviceArray } from '../../backend/arrays.js';
import type { ModelState } from '../../models/types.js';
import { rowDot } from '../../models/encoders/rows.js';
import { qTargetsAsync } from '../../kernels/qtarget.js';
import { topKAsync } from '../../kernels/topk.js';
import { Module } from '../../nn/module.js';
import { Linear } from '../../nn/linear.js';
import { noGrad } from '../../tensor/autograd.js';
import { parameter, zeros } from '../../tensor/create.js';
import { add, binaryRaw, mul, relu, sub } from '../../tensor/ops/elementwise.js';
import { mean, sum } from '../../tensor/ops/reduce.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { gather, slice } from '../../tensor/ops/gather.js';
import { Adam, type Optimizer } from '../../tensor/optim.js';
import { Tensor } from '../../tensor/tensor.js';
import { Rng, type RngState } from '../../util/rng.js';
import type { ActOptions, Agent, Observation, TransitionBatch, UpdateReport } from '../types.js';
import { ReplayBuffer, transitionSchema, type FieldArray, type FieldSpec } from '../memory/replay.js';
import { PrioritizedReplay } from '../memory/prioritized.js';
import { NStepAccumulator } from '../memory/nstep.js';
import { exponentialSchedule, linearSchedule, toSchedule, type Schedule, type ScheduleLike } from '../schedules.js';
import { MASKED, policyLogits, rowsPerChunk, sampleWithoutReplacement } from './softmax-policy.js';
import { historyExclusions, isExcluded, windowExclusions, type ExclusionRows } from '../state/exclusions.js';
import type { WindowStateEncoder } from '../state/window-state.js';
import { storeWindowTransitions } from '../memory/window-transitions.js';
import { factorFormOf, type FactorForm } from './factor-form.js';
import { readAdamState, sectionError, setRngState, writeAdamState, type LearnerState } from './learner-state.js';

export interface DqnOptions {
  /** Double DQN's decoupled argmax (default false; the 'double-dqn' agent sets it). */
  double?: boolean;
  /** Discount (default 0.9). */
  gamma?: number;
  /** Adam learning rate (default 1e-3); 0 switches learning off. */
  lr?: number;
  /** Hidden widths of φ (default [128]). */
  hidden?: number[];
  /** Transitions per update (default 256). */
  batchSize?: number;
  /** Replay capacity in transitions (default 50 000). */
  capacity?: number;
  /** Transitions stored before the first update (default 1 000). */
  learningStarts?: number;
  /** Hard target copy every this many updates (default 200). */
  targetUpdate?: number;
  /** Polyak rate: target ← (1 − τ)·target + τ·online after every update (overrides targetUpdate). */
  tau?: number;
  /** ε of ε-greedy per acting step (default linear 1 → 0.05 over 3 000 steps). */
  epsilon?: ScheduleLike;
  /** n of n-step returns (default 1). */
  nStep?: number;
  /** Prioritised replay (default false) and its α, β₀. */
  prioritized?: boolean;
  alpha?: number;
  beta0?: number;
  betaSteps?: number;
  /** Huber threshold κ (default 1). */
  huberDelta?: number;
  /** Global gradient-norm clip (default 10). */
  clipNorm?: number;
  /**
   * Dueling head, Q = V(s) + A(s, a) − mean_a' A(s, a') (default false). Rankings are those
   * of A; `factorForm` serves A, i.e. Q minus a per-state constant.
   */
  dueling?: boolean;
  /** 'epsilon' (ε-greedy, default) or 'boltzmann' (slates drawn from softmax(Q/τ) without replacement). */
  exploration?: 'epsilon' | 'boltzmann';
  /**
   * τ of Boltzmann exploration per acting step, every value > 0 (default exponential
   * 1 → 0.05 with a half-life of 500 steps: Q starts at the O(1) reward scale, where τ = 1
   * spreads the draws over many items and τ = 0.05 leaves mostly the near-best ones).
   */
  temperature?: ScheduleLike;
  seed?: number;
}

export interface DqnContext {
  engine: Engine;
  /** State encoder of the online network (and, when frozen, of the target too). */
  encoder: WindowStateEncoder;
  /** Slots the environment steps at once. */
  slots: number;
  slateSize: number;
}

type Resolved = Required<Omit<DqnOptions, 'tau' | 'epsilon' | 'temperature'>> & { tau: number | null; epsilon: Schedule; temperature: Schedule };

/** The default τ schedule of Boltzmann exploration (see `DqnOptions.temperature`). */
export const DEFAULT_TEMPERATURE = { kind: 'exponential', start: 1, end: 0.05, halfLife: 500 } as const;

/** A τ schedule whose every value is > 0: constant value, or start and end, > 0 (linear and exponential stay between them). */
function positiveSchedule(s: Schedule, arg: string): Schedule {
  const spec = s.spec as unknown as Record<string, unknown>;
  const keys = spec.kind === 'constant' ? ['value'] : ['start', 'end'];
  for (const k of keys) {
    const v = spec[k];
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new GnnrlError('input', `dqn: ${arg}.${k}: expected a finite number > 0 (a temperature), got ${JSON.stringify(v)}`, { arg });
  }
  return s;
}

function resolve(o: DqnOptions): Resolved {
  const num = (v: unknown, arg: string, ok: (x: number) => boolean, want: string) => {
    if (v !== undefined && !(typeof v === 'number' && ok(v))) throw new GnnrlError('input', `dqn: ${arg}: expected ${want}, got ${JSON.stringify(v)}`, { arg });
  };
  const int = (x: number) => Number.isInteger(x);
  num(o.gamma, 'gamma', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  num(o.lr, 'lr', (x) => x >= 0 && Number.isFinite(x), 'a number >= 0');
  num(o.batchSize, 'batchSize', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.capacity, 'capacity', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.learningStarts, 'learningStarts', (x) => int(x) && x >= 0, 'an integer >= 0');
  num(o.targetUpdate, 'targetUpdate', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.tau, 'tau', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  num(o.nStep, 'nStep', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.huberDelta, 'huberDelta', (x) => x > 0, 'a number > 0');
  num(o.clipNorm, 'clipNorm', (x) => x > 0, 'a number > 0');
  num(o.seed, 'seed', (x) => int(x), 'an integer');
  if (o.hidden !== undefined && !(Array.isArray(o.hidden) && o.hidden.every((h) => Number.isInteger(h) && h >= 1))) {
    throw new GnnrlError('input', `dqn: hidden: expected an array of positive integers, got ${JSON.stringify(o.hidden)}`, { arg: 'hidden' });
  }
  if (o.dueling !== undefined && typeof o.dueling !== 'boolean') throw new GnnrlError('input', `dqn: dueling: expected true or false, got ${JSON.stringify(o.dueling)}`, { arg: 'dueling' });
  if (o.exploration !== undefined && o.exploration !== 'epsilon' && o.exploration !== 'boltzmann') {
    throw new GnnrlError('input', `dqn: exploration: expected 'epsilon' or 'boltzmann', got ${JSON.stringify(o.exploration)}`, { arg: 'exploration' });
  }
  return {
    double: o.double === true,
    gamma: o.gamma ?? 0.9,
    lr: o.lr ?? 1e-3,
    hidden: o.hidden ?? [128],
    batchSize: o.batchSize ?? 256,
    capacity: o.capacity ?? 50_000,
    learningStarts: o.learningStarts ?? 1000,
    targetUpdate: o.targetUpdate ?? 200,
    tau: o.tau ?? null,
    epsilon: o.epsilon === undefined ? linearSchedule(1, 0.05, 3000) : toSchedule(o.epsilon, 'epsilon'),
    nStep: o.nStep ?? 1,
    prioritized: o.prioritized === true,
    alpha: o.alpha ?? 0.6,
    beta0: o.beta0 ?? 0.4,
    betaSteps: o.betaSteps ?? 100_000,
    huberDelta: o.huberDelta ?? 1,
    clipNorm: o.clipNorm ?? 10,
    dueling: o.dueling === true,
    exploration: o.exploration ?? 'epsilon',
    temperature: positiveSchedule(o.temperature === undefined ? exponentialSchedule(DEFAULT_TEMPERATURE) : toSchedule(o.temperature, 'temperature'), 'temperature'),
    seed: o.seed ?? 1,
  };
}

/** φ and the per-item head: everything of Q except the state encoder. */
class QNetwork extends Module {
  readonly layers: Linear[];
  /** nItems × d. */
  readonly items: Tensor;
  /** nItems × 1. */
  readonly itemBias: Tensor;
  /** The dueling head's V(s) = w_v·φ(s) + c_v (Linear dim → 1), null without one. Last, so a plain network's parameters keep their order. */
  readonly value: Linear | null;

  constructor(engine: Engine, inDim: number, hidden: number[], dim: number, itemInit: Float32Array, nItems: number, rng: Rng, dueling = false) {
    super();
    const widths = [inDim, ...hidden, dim];
    this.layers = [];
    for (let l = 0; l + 1 < widths.length; l++) this.layers.push(new Linear(engine, widths[l], widths[l + 1], { rng }));
    // The MLP's output starts at zero, so φ(s) starts as the user's GNN vector and the
    // first greedy policy is the GNN's own ranking; learning moves it from there.
    this.layers[this.layers.length - 1].weight.fill(0);
    this.dimension = dim;
    this.items = parameter(Tensor.fromArray(engine, itemInit, [nItems, dim]));
    this.itemBias = parameter(zeros(engine, [nItems, 1]));
    this.value = null;
    if (dueling) {
      // Its own seed, not `rng`: the dueling head leaves φ's initialisation as it is.
      const v = new Linear(engine, dim, 1, { rng: 0 });
      // w_v = ē and c_v = 0 = b̄ at the start: V(s) = mean_a A(s, a), so Q = A exactly.
      const mean = new Float64Array(dim);
      for (let i = 0; i < nItems; i++) for (let k = 0; k < dim; k++) mean[k] += itemInit[i * dim + k];
      engine.write(v.weight.data, Float32Array.from(mean, (x) => x / nItems));
      this.value = v;
    }
  }

  private readonly dimension: number;
  /**
   * Rows 0 … activeItems − 1 of the head are items; the rest are spare rows a served agent
   * keeps for items that arrive later (bias INACTIVE). null: every row is an item.
   */
  private active: { n: number; weights: Tensor } | null = null;

  /**
   * Only the first `n` item rows take part in the dueling mean ē, b̄: a spare row's INACTIVE
   * bias (−10⁴) would otherwise pull b̄, and with it every Q, by −10⁴·spare/nItems. The
   * rankings do not depend on it, but the TD targets of online learning do.
   */
  setActiveItems(n: number): void {
    const rows = this.items.shape[0];
    check(Number.isInteger(n) && n >= 1 && n <= rows, 'activeItems', `an integer in 1 … ${rows}, got ${n}`);
    this.active?.weights.dispose();
    if (n === rows) {
      this.active = null;
      return;
    }
    const w = new Float32Array(rows);
    w.fill(1 / n, 0, n);
    this.active = { n, weights: Tensor.fromArray(this.items.engine, w, [1, rows]) };
  }

  override dispose(): void {
    this.active?.weights.dispose();
    this.active = null;
    super.dispose();
  }

  /** How many leading item rows are items (see setActiveItems). */
  get activeItems(): number {
    return this.active?.n ?? this.items.shape[0];
  }

  /**
   * Q(s, a) − A(s, a) = V(s) − φ(s)·ē − b̄ per state, [B, 1] (recorded): ē, b̄ the mean item
   * row and bias over the catalogue's active items. Null without a dueling head.
   */
  stateTerm(phi: Tensor): Tensor | null {
    if (!this.value) return null;
    const w = this.active?.weights;
    const meanRow = w ? matmul(w, this.items) : mean(this.items, 0).reshape([1, this.dimension]);
    const meanBias = w ? matmul(w, this.itemBias) : mean(this.itemBias, 0);
    const meanA = add(matmul(phi, meanRow, { transB: true }), meanBias);
    return sub(this.value.forward(phi), meanA);
  }

  /** Q(s_i, a_i) per row, [B, 1] (recorded). */
  q(phi: Tensor, actions: Int32Array): Tensor {
    const adv = add(rowDot(phi, gather(this.items, actions)), gather(this.itemBias, actions));
    const st = this.stateTerm(phi);
    return st ? add(adv, st) : adv;
  }

  /** φ(s) = u + MLP(s), u being the first `dim` columns of the state (the user's vector). */
  phi(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, l) => {
      h = layer.forward(h);
      if (l + 1 < this.layers.length) h = relu(h);
    });
    return add(slice(x, 0, this.dimension), h);
  }
}

export class DqnAgent implements Agent {
  readonly kind: string;
  readonly name: string;
  readonly learns = true;
  readonly options: Resolved;
  readonly engine: Engine;
  readonly nItems: number;
  readonly dim: number;
  /** Acting steps taken with exploration (ε's step). */
  actSteps = 0;
  /** Updates applied. */
  updates = 0;
  private readonly slots: number;
  private readonly slateSize: number;
  private readonly historyLen: number;
  private readonly exploreRng: Rng;
  /** The replay buffer's sampling stream (kept for `learnerState`). */
  private readonly replayRng: Rng;
  private readonly replay: ReplayBuffer | PrioritizedReplay;
  private readonly nstep: NStepAccumulator | null;
  private optimizer: Optimizer | null = null;
  private disposed = false;

  private constructor(
    ctx: DqnContext,
    opts: Resolved,
    readonly encoder: WindowStateEncoder,
    readonly targetEncoder: WindowStateEncoder,
    readonly online: QNetwork,
    readonly target: QNetwork,
    streams: { explore: Rng; replay: Rng },
  ) {
    this.engine = ctx.engine;
    this.options = opts;
    this.kind = opts.double ? 'double-dqn' : 'dqn';
    this.name = `${opts.dueling ? 'Dueling ' : ''}${opts.double ? 'Double DQN' : 'DQN'} (${encoder.source} state${encoder.gnn ? ', GNN trained end to end' : encoder.fineTune ? ', fine-tuned' : ''})`;
    this.nItems = encoder.nItems;
    this.dim = encoder.dim;
    this.slots = ctx.slots;
    this.slateSize = ctx.slateSize;
    this.historyLen = encoder.historyLen;
    this.exploreRng = streams.explore;
    const replayRng = streams.replay;
    this.replayRng = replayRng;
    const H = this.historyLen;
    const current: FieldSpec[] = [
      { name: 'user', dtype: 'i32', width: 1 },
      { name: 'history', dtype: 'i32', width: H },
      { name: 'action', dtype: 'i32', width: 1 },
    ];
    const next: FieldSpec[] = [
      { name: 'nextUser', dtype: 'i32', width: 1 },
      { name: 'nextHistory', dtype: 'i32', width: H },
    ];
    this.nstep = opts.nStep > 1 ? new NStepAccumulator({ slots: ctx.slots, n: opts.nStep, gamma: opts.gamma, current, next }) : null;
    const schema = this.nstep ? this.nstep.outputSchema() : transitionSchema({ historyLen: H, slateSize: 1 });
    this.replay = opts.prioritized
      ? new PrioritizedReplay({ schema, capacity: opts.capacity, rng: replayRng, alpha: opts.alpha, beta0: opts.beta0, betaSteps: opts.betaSteps })
      : new ReplayBuffer({ schema, capacity: opts.capacity, rng: replayRng });
    if (opts.lr > 0) {
      const params = [...this.online.parameters(), ...(encoder.fineTune ? encoder.parameters() : [])];
      this.optimizer = new Adam(params, { lr: opts.lr, clipNorm: opts.clipNorm });
    }
  }

  static async create(ctx: DqnContext, options: DqnOptions = {}): Promise<DqnAgent> {
    const opts = resolve(options);
    check(Number.isInteger(ctx.slots) && ctx.slots >= 1, 'slots', `an integer >= 1, got ${ctx.slots}`);
    check(Number.isInteger(ctx.slateSize) && ctx.slateSize >= 1 && ctx.slateSize <= ctx.encoder.nItems, 'slateSize', `an integer in [1, ${ctx.encoder.nItems}], got ${ctx.slateSize}`);
    const enc = ctx.encoder;
    // Separate streams: initialisation, exploration and replay sampling never shift each other.
    const root = new Rng(opts.seed);
    const initRng = root.fork();
    const streams = { explore: root.fork(), replay: root.fork() };
    // The item head starts at the encoder's (scaled) item vectors: Q's first ranking is
    // the GNN's affinity through a random φ, and learning reshapes it from there.
    const tableAll = (await enc.itemTable.read()) as Float32Array;
    // Scaled by 1/√d so that the initial Q = u·e/√d is O(1), the scale of the rewards.
    const itemInit = tableAll.slice(0, enc.nItems * enc.dim).map((v) => v / Math.sqrt(enc.dim));
    const online = new QNetwork(ctx.engine, enc.outDim, opts.hidden, enc.dim, itemInit, enc.nItems, initRng, opts.dueling);
    const target = new QNetwork(ctx.engine, enc.outDim, opts.hidden, enc.dim, itemInit, enc.nItems, initRng, opts.dueling);
    target.load(await online.state());
    const targetEncoder = enc.fineTune ? await enc.copy() : enc;
    return new DqnAgent(ctx, opts, enc, targetEncoder, online, target, streams);
  }

  /** ε at the current acting step. */
  get epsilon(): number {
    return this.options.epsilon.value(this.actSteps);
  }

  /** τ of Boltzmann exploration at the current acting step. */
  get temperature(): number {
    return this.options.temperature.value(this.actSteps);
  }

  /** The exploration quantity of the active scheme: τ under 'boltzmann', ε otherwise. */
  get exploration(): number {
    return this.options.exploration === 'boltzmann' ? this.temperature : this.epsilon;
  }

  /**
   * How many leading rows of the Q head are items, for the dueling mean (a served agent's
   * spare rows for later items are not). Both networks; without a dueling head it changes
   * nothing.
   */
  setActiveItems(n: number): void {
    this.alive();
    this.online.setActiveItems(n);
    this.target.setActiveItems(n);
  }

  get activeItems(): number {
    return this.online.activeItems;
  }

  /** Transitions in replay. */
  get replaySize(): number {
    return this.replay.size;
  }

  private upload(rows: ExclusionRows): { rowPtr: DeviceArray<'i32'>; colIdx: DeviceArray<'i32'> } {
    // An empty colIdx still needs one element to bind on WebGPU.
    return { rowPtr: this.engine.array(rows.rowPtr), colIdx: this.engine.array(rows.colIdx.length > 0 ? rows.colIdx : new Int32Array(1)) };
  }

  private freeRows(r: { rowPtr: DeviceArray<'i32'>; colIdx: DeviceArray<'i32'> }): void {
    this.engine.free(r.rowPtr);
    this.engine.free(r.colIdx);
  }

  /** The greedy slate of `net` for states (B rows), skipping each row's excluded items. */
  private async greedy(net: QNetwork, enc: WindowStateEncoder, users: Int32Array, history: Int32Array, rows: ExclusionRows, k: number, withScores = false): Promise<{ items: Int32Array; scores: Float32Array | null }> {
    const B = users.length;
    const excl = this.upload(rows);
    try {
      return await this.engine.scopeAsync(async () => {
        const phi = noGrad(() => net.phi(enc.encode(users, history)));
        const r = await topKAsync(this.engine, {
          queries: phi.f32('dqn.act'),
          batch: B,
          dim: this.dim,
          items: net.items.f32('dqn.act'),
          nItems: this.nItems,
          bias: net.itemBias.f32('dqn.act'),
          exclude: excl,
          k,
        });
        // Acting needs only the items; the scores come back for diagnostics alone.
        const [items, scores] = withScores ? await this.engine.readMany<'i32' | 'f32'>([r.indices, r.scores]) : [await this.engine.read(r.indices), null];
        this.engine.free(r.indices);
        this.engine.free(r.scores);
        return { items: items as Int32Array, scores: scores as Float32Array | null };
      });
    } finally {
      this.freeRows(excl);
    }
  }

  /**
   * The online Q-function in factor form on the host: φ(s) for each state (users B and
   * their windows B × H) and the item head, so Q(s, a) = φ(s)·e_a + b_a can be ranked
   * anywhere — serving scores it on the host, off the engine's queue. With the dueling
   * head this is the advantage A(s, a) = φ(s)·e_a + b_a: the served scores are Q minus the
   * per-state constant V(s) − mean_a' A(s, a'), so every ranking is Q's.
   */
  factorForm(users: Int32Array, history: Int32Array): Promise<FactorForm> {
    this.alive();
    return factorFormOf(this.engine, { users, history, historyLen: this.historyLen, dim: this.dim, phi: (u, h) => this.online.phi(this.encoder.encode(u, h)), items: this.online.items, itemBias: this.online.itemBias });
  }

  /** Q-values of the greedy slate (diagnostics, tests). */
  async greedySlate(obs: Observation): Promise<{ items: Int32Array; scores: Float32Array }> {
    const r = await this.greedy(this.online, this.encoder, obs.user, obs.historyItems, historyExclusions(obs), this.slateSize, true);
    const scores = r.scores!;
    if (this.options.dueling) {
      // The kernel ranks A; Q adds each state's V − mean A.
      const st = await this.stateTerms(this.online, this.encoder, obs.user, obs.historyItems);
      const k = this.slateSize;
      for (let j = 0; j < scores.length; j++) if (r.items[j] >= 0) scores[j] += st[Math.floor(j / k)];
    }
    return { items: r.items, scores };
  }

  /** V(s) − φ(s)·ē − b̄ of `net` per state (Q − A under the dueling head), on the host. */
  private async stateTerms(net: QNetwork, enc: WindowStateEncoder, users: Int32Array, history: Int32Array): Promise<Float32Array> {
    return this.engine.scopeAsync(async () => (await noGrad(() => net.stateTerm(net.phi(enc.encode(users, history)))!).read()) as Float32Array);
  }

  /**
   * The online Q(s_i, a_i) of states (users B, windows B × H) and actions B, [B, 1] and
   * recorded: the prediction `update` differentiates (tests check its gradient). Call it
   * inside an engine scope.
   */
  qPrediction(users: Int32Array, history: Int32Array, actions: Int32Array): Tensor {
    this.alive();
    return this.online.q(this.online.phi(this.encoder.encode(users, history)), actions);
  }

  /** The online network's top-k per slot (ranking metrics), skipping `exclude` (default: the window). */
  async rank(obs: Observation, k: number, exclude: ExclusionRows = historyExclusions(obs)): Promise<Int32Array> {
    this.alive();
    check(Number.isInteger(k) && k >= 1 && k <= this.nItems, 'k', `an integer in [1, ${this.nItems}], got ${k}`);
    return (await this.greedy(this.online, this.encoder, obs.user, obs.historyItems, exclude, k)).items;
  }

  async act(obs: Observation, opts: ActOptions): Promise<Int32Array> {
    this.alive();
    const k = this.slateSize;
    const rows = historyExclusions(obs);
    if (opts.explore && this.options.exploration === 'boltzmann') {
      // Every slot samples; no greedy pass is needed (the sampler checks eligibility).
      const slates = await this.boltzmannSlates(obs, rows, k, this.temperature);
      this.actSteps++;
      return slates;
    }
    const { items } = await this.greedy(this.online, this.encoder, obs.user, obs.historyItems, rows, k);
    for (let j = 0; j < items.length; j++) {
      if (items[j] < 0) throw new GnnrlError('input', `${this.kind}: slot ${Math.floor(j / k)} has fewer than ${k} eligible items`, { arg: 'slateSize' });
    }
    if (opts.explore) {
      const eps = this.epsilon;
      this.actSteps++;
      for (let b = 0; b < obs.batch; b++) {
        if (this.exploreRng.next() >= eps) continue;
        // A uniformly random slate of distinct items outside the window.
        for (let j = 0; j < k; j++) {
          let i: number;
          let clash: boolean;
          do {
            i = this.exploreRng.int(this.nItems);
            clash = isExcluded(rows, b, i);
            for (let q = 0; q < j && !clash; q++) clash = items[b * k + q] === i;
          } while (clash);
          items[b * k + j] = i;
        }
      }
    }
    return items;
  }

  /**
   * Each slot's slate drawn without replacement from softmax(Q(s, ·)/τ) over the items
   * outside its window: the k largest of Q/τ + Gumbel noise (Plackett–Luce), in row chunks
   * so at most one chunk's rows × nItems Q-values exist at once. On the host, each row is
   * shifted by its eligible max before the division (softmax is shift-free), so no τ, however
   * small, pushes an eligible item's logit down to the mask value.
   */
  private async boltzmannSlates(obs: Observation, rows: ExclusionRows, k: number, tau: number): Promise<Int32Array> {
    const B = obs.batch;
    const I = this.nItems;
    const H = this.historyLen;
    const out = new Int32Array(B * k);
    const keys = new Float64Array(I);
    const floor = MASKED / 4;
    const chunk = rowsPerChunk(I);
    for (let r0 = 0; r0 < B; r0 += chunk) {
      const r1 = Math.min(B, r0 + chunk);
      const z = await this.engine.scopeAsync(async () => {
        const q = noGrad(() => policyLogits(this.online.phi(this.encoder.encode(obs.user.subarray(r0, r1), obs.historyItems.subarray(r0 * H, r1 * H))), this.online.items, this.online.itemBias, null));
        return (await q.read()) as Float32Array;
      });
      for (let b = r0; b < r1; b++) {
        const base = (b - r0) * I;
        for (let e = rows.rowPtr[b]; e < rows.rowPtr[b + 1]; e++) z[base + rows.colIdx[e]] = -Infinity;
        let max = -Infinity;
        for (let a = 0; a < I; a++) if (z[base + a] > max) max = z[base + a];
        for (let a = 0; a < I; a++) {
          const v = z[base + a];
          z[base + a] = v === -Infinity ? MASKED : Math.max(floor, (v - max) / tau);
        }
        if (!sampleWithoutReplacement(z, b - r0, I, k, this.exploreRng, out, b * k, keys)) {
          throw new GnnrlError('input', `${this.kind}: slot ${b} has fewer than ${k} eligible items`, { arg: 'slateSize' });
        }
      }
    }
    return out;
  }

  observe(t: TransitionBatch): void {
    this.alive();
    storeWindowTransitions({ kind: this.kind, slots: this.slots, historyLen: this.historyLen }, this.replay, this.nstep, t);
  }

  async update(): Promise<UpdateReport | null> {
    this.alive();
    const o = this.options;
    if (this.replay.size < Math.max(o.learningStarts, 1)) return null;
    const B = o.batchSize;
    const s = this.replay.sample(B);
    const f = s.fields;
    const weights = 'weights' in s ? (s as { weights: Float32Array }).weights : null;
    const user = f.user as Int32Array;
    const history = f.history as Int32Array;
    const action = f.action as Int32Array;
    const nextUser = f.nextUser as Int32Array;
    const nextHistory = f.nextHistory as Int32Array;
    const reward = f.reward as Float32Array;
    const done = f.done as Uint8Array;
    const gammaN = (f.gammaN as Float32Array | undefined) ?? null;
    // y = R + γ^m(1 − done)·Q: fold γ^m into the kernel's (1 − done) and run it with γ = 1.
    const y = await this.targetsFor({ nextUser, nextHistory, reward, done, gammaN });

    let lossSum = 0;
    let qSum = 0;
    const td = new Float32Array(B);
    await this.engine.scopeAsync(async () => {
      this.optimizer?.zeroGrad();
      const pred = this.qPrediction(user, history, action);
      const q = (await pred.read()) as Float32Array;
      const kappa = o.huberDelta;
      const coef = new Float32Array(B);
      for (let i = 0; i < B; i++) {
        const d = q[i] - y[i];
        const w = weights ? weights[i] : 1;
        const ad = Math.abs(d);
        td[i] = d;
        qSum += q[i];
        lossSum += w * (ad <= kappa ? 0.5 * d * d : kappa * (ad - 0.5 * kappa));
        coef[i] = (w * Math.max(-kappa, Math.min(kappa, d))) / B;
      }
      if (this.optimizer) {
        const surrogate = sum(mul(pred, Tensor.fromArray(this.engine, coef, [B, 1])));
        surrogate.backward();
        // The item head can be millions of values: a served agent's event loop runs meanwhile.
        await this.optimizer.stepAsync();
      }
    });
    // End-to-end fusion: the GNN moved, so acting's cached vectors are stale.
    if (this.optimizer) this.encoder.changed();
    if (this.replay instanceof PrioritizedReplay) this.replay.updatePriorities(s.indices, td);
    if (this.optimizer) {
      this.updates++;
      this.syncTarget();
    }
    const extra: Record<string, number> = { meanQ: qSum / B };
    if (weights) extra.meanWeight = weights.reduce((a, w) => a + w, 0) / B;
    // `exploration` is the active scheme's quantity; `extra.temperature` tells τ from ε.
    if (o.exploration === 'boltzmann') extra.temperature = this.temperature;
    return { loss: lossSum / B, exploration: this.exploration, extra };
  }

  /**
   * The TD targets y of transitions (host arrays, B rows), plain or Double, masking each
   * s'’s window: y = R + γ^m(1 − done)·Q_target(s', a*), γ^m = gammaN or γ. Dueling: a* and
   * the max are over A, and Q_target(s', a*) = A_t(s', a*) + V_t(s') − φ_t(s')·ē_t − b̄_t.
   */
  async targetsFor(t: { nextUser: Int32Array; nextHistory: Int32Array; reward: Float32Array; done: Uint8Array; gammaN?: Float32Array | null }): Promise<Float32Array> {
    this.alive();
    const { nextUser, nextHistory, reward } = t;
    const B = nextUser.length;
    if (nextHistory.length !== B * this.historyLen || reward.length !== B || t.done.length !== B || (t.gammaN && t.gammaN.length !== B)) {
      throw new GnnrlError('input', `${this.kind}: targetsFor: expected ${B} rows in every field (nextHistory ${B}×${this.historyLen})`, { arg: 'transitions' });
    }
    const notDone = new Float32Array(B);
    for (let i = 0; i < B; i++) notDone[i] = t.done[i] ? 0 : t.gammaN ? t.gammaN[i] : this.options.gamma;
    const rows = windowExclusions(nextHistory, B, this.historyLen);
    if (this.options.double) {
      const { items: best } = await this.greedy(this.online, this.encoder, nextUser, nextHistory, rows, 1);
      const safe = best.map((i) => (i < 0 ? 0 : i));
      const v = await this.engine.scopeAsync(async () => {
        const phiT = noGrad(() => this.target.phi(this.targetEncoder.encode(nextUser, nextHistory)));
        const qa = noGrad(() => this.target.q(phiT, safe));
        return (await qa.read()) as Float32Array;
      });
      const y = new Float32Array(B);
      for (let i = 0; i < B; i++) y[i] = reward[i] + (best[i] < 0 ? 0 : notDone[i] * v[i]);
      return y;
    }
    const excl = this.upload(rows);
    const r = this.engine.array(reward);
    // qTargets computes r + γ(1 − done)·max Q with γ = 1 and done' = 1 − γ^m(1 − done).
    const doneEff = new Float32Array(B);
    for (let i = 0; i < B; i++) doneEff[i] = 1 - notDone[i];
    const dn = this.engine.array(doneEff);
    try {
      return await this.engine.scopeAsync(async () => {
        const phiT = noGrad(() => this.target.phi(this.targetEncoder.encode(nextUser, nextHistory)));
        const out = await qTargetsAsync(this.engine, {
          next: phiT.f32('dqn.targets'),
          batch: B,
          dim: this.dim,
          nItems: this.nItems,
          online: this.target.items.f32('dqn.targets'),
          target: this.target.items.f32('dqn.targets'),
          onlineBias: this.target.itemBias.f32('dqn.targets'),
          targetBias: this.target.itemBias.f32('dqn.targets'),
          reward: r,
          done: dn,
          exclude: excl,
          gamma: 1,
          double: false,
        });
        const st = noGrad(() => this.target.stateTerm(phiT));
        const [y, terms] = (st ? await this.engine.readMany([out.y, st.f32('dqn.targets')]) : [await this.engine.read(out.y), null]) as [Float32Array, Float32Array | null];
        this.engine.free(out.y);
        this.engine.free(out.argmax);
        // Dueling: the kernel's max is over A; add γ'·(V_t − φ_t·ē_t − b̄_t) per row.
        if (terms) for (let i = 0; i < B; i++) y[i] += notDone[i] * terms[i];
        return y;
      });
    } finally {
      this.freeRows(excl);
      this.engine.free(r);
      this.engine.free(dn);
    }
  }

  /** Hard copy every `targetUpdate` updates, or Polyak averaging after each. */
  private syncTarget(): void {
    const o = this.options;
    if (o.tau === null && this.updates % o.targetUpdate !== 0) return;
    const pairs: [Tensor, Tensor][] = [];
    const on = this.online.parameters();
    const tg = this.target.parameters();
    on.forEach((p, i) => pairs.push([tg[i], p]));
    if (this.encoder.fineTune) {
      const eo = this.encoder.parameters();
      const et = this.targetEncoder.parameters();
      eo.forEach((p, i) => pairs.push([et[i], p]));
    }
    noGrad(() =>
      this.engine.scope(() => {
        for (const [t, p] of pairs) {
          const src = o.tau === null ? p : binaryRaw('lincomb', t, p, { alpha: 1 - o.tau, beta: o.tau }, 'polyak');
          t.fill(0).addInPlace(src);
        }
      }),
    );
    this.targetEncoder.changed();
  }

  async state(): Promise<ModelState> {
    this.alive();
    const arrays: Record<string, Float32Array> = {};
    for (const [n, v] of Object.entries(await this.online.state())) arrays[`online.${n}`] = v;
    for (const [n, v] of Object.entries(await this.target.state())) arrays[`target.${n}`] = v;
    Object.assign(arrays, await this.encoder.stateArrays());
    // Fine-tuned: the target's own copy of the tables too ('targetEncoder.users', '.items').
    if (this.targetEncoder !== this.encoder) for (const [n, v] of Object.entries(await this.targetEncoder.stateArrays())) arrays[`target${n[0].toUpperCase()}${n.slice(1)}`] = v;
    const { epsilon, temperature, ...rest } = this.options;
    return {
      kind: this.kind,
      config: { ...rest, epsilon: epsilon.spec, temperature: temperature.spec, state: this.encoder.source, fineTune: this.encoder.fineTune, fusion: this.encoder.gnn ? 'gnn' : this.encoder.fineTune ? 'tables' : 'frozen', pool: this.encoder.pool, historyLen: this.historyLen, dim: this.dim, nItems: this.nItems, nUsers: this.encoder.nUsers, slateSize: this.slateSize, actSteps: this.actSteps, updates: this.updates },
      arrays,
    };
  }

  /** Restores the networks (and counters) from `state()` of an agent with the same shapes. */
  load(state: ModelState): void {
    this.alive();
    if (state.kind !== this.kind) throw new GnnrlError('input', `${this.kind}: cannot load a '${state.kind}' state`, { arg: 'state', field: 'kind' });
    const cfg = state.config as Record<string, unknown>;
    if (cfg.nItems !== this.nItems) throw new GnnrlError('input', `${this.kind}: the state is for ${String(cfg.nItems)} items, this environment has ${this.nItems}`, { arg: 'state', field: 'nItems' });
    // States written before the dueling head existed have no 'dueling': plain.
    const dueling = cfg.dueling === true;
    if (dueling !== this.options.dueling) {
      throw new GnnrlError('input', `${this.kind}: the state is of a ${dueling ? 'dueling' : 'plain (non-dueling)'} Q-network, this agent ${this.options.dueling ? 'has' : 'has no'} dueling head (option 'dueling')`, { arg: 'state', field: 'dueling' });
    }
    const part = (prefix: string) => {
      const out: Record<string, Float32Array> = {};
      for (const [n, v] of Object.entries(state.arrays)) if (n.startsWith(prefix)) out[n.slice(prefix.length)] = v as Float32Array;
      return out;
    };
    this.online.load(part('online.'));
    this.target.load(part('target.'));
    this.encoder.loadStateArrays(state.arrays, this.kind);
    // The target's own copy ('targetEncoder.*' → 'encoder.*': its tables, and a fused GNN's parameters).
    const targetArrays: Record<string, Float32Array> = {};
    for (const [n, v] of Object.entries(state.arrays)) if (n.startsWith('targetEncoder.')) targetArrays[`encoder.${n.slice('targetEncoder.'.length)}`] = v as Float32Array;
    // States written before the target's tables were saved leave the target's as they are.
    if (this.targetEncoder !== this.encoder && targetArrays['encoder.users'] && targetArrays['encoder.items']) this.targetEncoder.loadStateArrays(targetArrays, this.kind);
    this.actSteps = Number(cfg.actSteps ?? 0);
    this.updates = Number(cfg.updates ?? 0);
  }

  /**
   * What an online learner needs beyond `state()` to carry on as the same agent: Adam's
   * moments and step count ('optimizer': `step`, `m.<p>`, `v.<p>` per parameter in
   * optimiser order), the replay buffer ('replay': `position` = [capacity, size, next],
   * `field.<name>` = the rows held, and under PER `priorities` and `per` = [maxPriority,
   * step]) and the exploration and replay-sampling RNG words ('rng'). A pending n-step
   * window is not part of it (served agents run n = 1): `learnerState` refuses one.
   */
  async learnerState(): Promise<DqnLearnerState> {
    this.alive();
    if (this.nstep) {
      for (let b = 0; b < this.slots; b++) {
        if (this.nstep.pending(b) > 0) throw new GnnrlError('state', `${this.kind}: learnerState: slot ${b} has pending n-step transitions, which a snapshot does not hold; flush them first`);
      }
    }
    const optimizer: Record<string, Float32Array | Float64Array> = {};
    if (this.optimizer) await readAdamState(this.engine, this.optimizer, optimizer, '', this.kind);
    const replay: Record<string, FieldArray> = {};
    const r = this.replay instanceof PrioritizedReplay ? this.replay.state() : null;
    const plain = r ? r.replay : (this.replay as ReplayBuffer).state();
    replay.position = Float64Array.of(plain.position.capacity, plain.position.size, plain.position.next);
    for (const [name, a] of Object.entries(plain.fields)) replay[`field.${name}`] = a;
    if (r) {
      replay.priorities = r.priorities;
      replay.per = Float64Array.of(r.maxPriority, r.step);
    }
    return { optimizer, replay, rng: { explore: this.exploreRng.getState(), replay: this.replayRng.getState() } };
  }

  /** Restores `learnerState()` of an agent with the same options and shapes; `what` names the source in errors. */
  loadLearnerState(s: DqnLearnerState, what = 'learner state'): void {
    this.alive();
    const bad = sectionError(what);
    if (this.optimizer) writeAdamState(this.engine, this.optimizer, s.optimizer, bad, '', this.kind);
    const pos = s.replay?.position;
    if (!(pos instanceof Float64Array && pos.length === 3)) throw bad('replay', "'position': expected three f64 values [capacity, size, next]");
    const fields: Record<string, FieldArray> = {};
    for (const f of this.replay.schema) {
      const a = s.replay[`field.${f.name}`];
      if (a === undefined) throw bad('replay', `the field '${f.name}' is missing`);
      fields[f.name] = a;
    }
    const position = { capacity: pos[0], size: pos[1], next: pos[2], schema: this.replay.schema.map((f) => ({ ...f })) };
    try {
      if (this.replay instanceof PrioritizedReplay) {
        const per = s.replay.per;
        if (!(per instanceof Float64Array && per.length === 2)) throw bad('replay', "'per': expected two f64 values [maxPriority, step] (the agent uses prioritised replay)");
        this.replay.load({ replay: { position, fields }, priorities: s.replay.priorities as Float64Array, maxPriority: per[0], step: per[1] });
      } else this.replay.load({ position, fields });
    } catch (e) {
      if (e instanceof GnnrlError && e.code === 'format') throw e;
      throw bad('replay', (e as Error).message);
    }
    setRngState(this.exploreRng, s.rng?.explore, 'explore', bad);
    setRngState(this.replayRng, s.rng?.replay, 'replay', bad);
  }

  private alive(): void {
    if (this.disposed) throw new GnnrlError('state', `${this.kind}: used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer?.dispose();
    this.online.dispose();
    this.target.dispose();
    if (this.targetEncoder !== this.encoder) this.targetEncoder.dispose();
  }
}

/** `DqnAgent.learnerState()`: the parts of a learner that `state()` leaves out. */
export type DqnLearnerState = LearnerState<{ explore: RngState; replay: RngState }>;
