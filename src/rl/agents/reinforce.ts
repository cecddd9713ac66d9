/**
 * REINFORCE (Williams 1992) over the whole catalogue, and its top-K off-policy corrected
 * form (Chen et al., WSDM 2019), with the softmax policy of softmax-policy.ts:
 *
 *     π(a | s) = softmax_a(φ(s)·e_a + b_a)   over the items outside the history window,
 *     φ(s) = u + MLP(s)  (last layer zeroed: the untrained mode ranks like the GNN).
 *
 * On-policy ('reinforce'): the agent samples its own slates (Gumbel-top-K, without
 * replacement), `observe` keeps each slot's trajectory, and when a slot's episode ends its
 * discounted returns G_t = Σ_k γ^k r_{t+k} are computed and queued. `update` takes every
 * queued step once (at least `batchSize` of them) and minimises
 *
 *     L = −1/N Σ_t (G_t − b(s_t)) log π(a_t | s_t) − η/N Σ_t H(π(·|s_t)) + c_v/N Σ_t (b(s_t) − G_t)²
 *
 * with b a learned baseline (a small value head on the same state vector, its value used
 * as a constant in the policy term), η the entropy bonus, Adam with global-norm clipping.
 *
 * The action a_t learned from is, for slates, the clicked item, and the slate's first item
 * when there was no click (its return is then the discounted future only): the same choice
 * DQN makes, and the one the top-K correction's derivation assumes (the item of the slate
 * the feedback is about).
 *
 * Top-K corrected ('reinforce-topk', `topK: true`): the policy term becomes
 *
 *     −1/N Σ_t w_t λ_K,t (G_t − b(s_t)) log π(a_t | s_t),
 *     w = min(π / max(β, clip), cap),  λ_K = K(1 − π)^{K−1}      (off-policy-correction.ts)
 *
 * where β(a | s) is the behaviour policy's probability of the action: the logged
 * propensity (`behaviour: 'logged'`), or a separately trained behaviour head (`'learned'`,
 * the paper's): a second softmax over the catalogue on the same φ(s) with the gradient
 * blocked from φ (it reads φ detached), fitted by maximum likelihood to the actions taken
 * on the batches that need it (β not given). On-policy, 'logged' is π's own probability
 * when it acted (a batch with steps this agent did not sample falls back to the head).
 *
 * Learning from logs: `trainReinforceFromLog` walks a propensity log (src/rl/log) in
 * minibatches: the state of an event is its logged history window, the return its
 * session's discounted future reward; the uncorrected agent ('reinforce') takes the logged
 * actions at face value (w = 1), the corrected one reweights them.
 *
 * lr = 0 switches learning off: updates compute and report the loss but change nothing.
 *
 * A failure mode to watch (seen on the tiny simulator from 2-item-slate logs with learned
 * β at lr 3e-3, one seed pair in four): π moves its mass off the logged items, every w
 * falls toward 0 (`meanWeight` ≈ 0.001 in the update report) and learning stops where it
 * is; a lower lr (1e-3) recovered it. `meanWeight` and `ess` are reported for that reason.
 */
import { GnnrlError, check } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { DeviceArray } from '../../backend/arrays.js';
import type { ModelState } from '../../models/types.js';
import { rowLogSumExp } from '../../kernels/softmax.js';
import { topK } from '../../kernels/topk.js';
import { Module } from '../../nn/module.js';
import { Linear } from '../../nn/linear.js';
import { noGrad } from '../../tensor/autograd.js';
import { parameter, zeros } from '../../tensor/create.js';
import { add, mul, relu } from '../../tensor/ops/elementwise.js';
import { slice } from '../../tensor/ops/gather.js';
import { mseLoss } from '../../tensor/ops/loss.js';
import { sum } from '../../tensor/ops/reduce.js';
import { Adam, type Optimizer } from '../../tensor/optim.js';
import { Tensor } from '../../tensor/tensor.js';
import { Rng, type RngState } from '../../util/rng.js';
import type { LoggedData } from '../log/format.js';
import type { ActOptions, Agent, Observation, TransitionBatch, UpdateReport } from '../types.js';
import { historyExclusions, windowExclusions, type ExclusionRows } from '../state/exclusions.js';
import type { WindowStateEncoder } from '../state/window-state.js';
import { checkPropensities, importanceWeight, lambdaK, resolveCorrection, type CorrectionOptions, type ResolvedCorrection } from './off-policy-correction.js';
import { factorFormOf, type FactorForm } from './factor-form.js';
import { readAdamState, sectionError, setRngState, writeAdamState, type LearnerState } from './learner-state.js';
import { DEFAULT_CHUNK_ELEMENTS, maskChunk, policyLogits, policyTerms, rowsPerChunk, sampleWithoutReplacement, visitLogits } from './softmax-policy.js';

/**
 * Options of the REINFORCE agents (defaults; ranges). Out-of-range values are `input`
 * errors whose `details.arg` names the option.
 */
export interface ReinforceOptions extends CorrectionOptions {
  /** Discount of the returns G_t (0.9; [0, 1]). */
  gamma?: number;
  /** Adam learning rate (1e-3; ≥ 0, 0 = learning off). */
  lr?: number;
  /** Hidden widths of φ's MLP and of the value head (64 → [64]; positive integers). */
  hidden?: number[];
  /** On-policy: queued steps needed for an update; from logs: the minibatch (512; integer ≥ 1). */
  batchSize?: number;
  /** Entropy bonus η (0.01; ≥ 0). */
  entropy?: number;
  /** Learned baseline b(s) (true). */
  baseline?: boolean;
  /** Weight c_v of the baseline's squared error (0.5; ≥ 0). */
  valueCoef?: number;
  /** Global gradient-norm clip (5; > 0). */
  clipNorm?: number;
  /** Where β comes from in the corrected loss ('learned'; 'logged' | 'learned'). */
  behaviour?: 'logged' | 'learned';
  /**
   * Adam learning rate of the behaviour head (10 × lr; ≥ 0). Its own optimiser and clip:
   * β must track a fixed logger quickly (its logits span the logger's whole skew), while
   * the policy should move slowly; one shared step size did neither.
   */
  behaviourLr?: number;
  /** Bound on one chunk's logits, rows × items (4 Mi; integer ≥ 1). */
  chunkElements?: number;
  /** Seed of initialisation, sampling and log shuffling (1; integer). */
  seed?: number;
  // clip (β floor, 1e-8; [0, 1)) and cap (w cap, 10; (0, ∞]) from CorrectionOptions.
}

/** What `createReinforceAgent` needs (mirrors DqnAgent.create's context). */
export interface ReinforceContext {
  engine: Engine;
  /** State encoder (frozen, or fine-tuned with the policy loss). */
  encoder: WindowStateEncoder;
  /** Slots the environment steps at once. */
  slots: number;
  /** K, items per slate (also the K of λ_K). */
  slateSize: number;
  /** Items of the catalogue (must equal the encoder's). */
  nItems: number;
}

type Resolved = Required<Omit<ReinforceOptions, 'clip' | 'cap'>> & { clip: number; cap: number; topK: boolean };

function resolve(o: ReinforceOptions & { topK?: boolean }): Resolved {
  const num = (v: unknown, arg: string, ok: (x: number) => boolean, want: string) => {
    if (v !== undefined && !(typeof v === 'number' && ok(v))) throw new GnnrlError('input', `reinforce: ${arg}: expected ${want}, got ${JSON.stringify(v)}`, { arg });
  };
  const int = (x: number) => Number.isInteger(x);
  num(o.gamma, 'gamma', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  num(o.lr, 'lr', (x) => x >= 0 && Number.isFinite(x), 'a number >= 0');
  num(o.batchSize, 'batchSize', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.entropy, 'entropy', (x) => x >= 0 && Number.isFinite(x), 'a number >= 0');
  num(o.behaviourLr, 'behaviourLr', (x) => x >= 0 && Number.isFinite(x), 'a number >= 0');
  num(o.valueCoef, 'valueCoef', (x) => x >= 0 && Number.isFinite(x), 'a number >= 0');
  num(o.clipNorm, 'clipNorm', (x) => x > 0, 'a number > 0');
  num(o.chunkElements, 'chunkElements', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.seed, 'seed', (x) => int(x), 'an integer');
  if (o.hidden !== undefined && !(Array.isArray(o.hidden) && o.hidden.every((h) => Number.isInteger(h) && h >= 1))) {
    throw new GnnrlError('input', `reinforce: hidden: expected an array of positive integers, got ${JSON.stringify(o.hidden)}`, { arg: 'hidden' });
  }
  if (o.behaviour !== undefined && o.behaviour !== 'logged' && o.behaviour !== 'learned') {
    throw new GnnrlError('input', `reinforce: behaviour: expected 'logged' or 'learned', got ${JSON.stringify(o.behaviour)}`, { arg: 'behaviour' });
  }
  for (const b of ['baseline', 'topK'] as const) {
    if (o[b] !== undefined && typeof o[b] !== 'boolean') throw new GnnrlError('input', `reinforce: ${b}: expected true or false, got ${JSON.stringify(o[b])}`, { arg: b });
  }
  const corr = resolveCorrection(o, 'reinforce');
  return {
    gamma: o.gamma ?? 0.9,
    lr: o.lr ?? 1e-3,
    hidden: o.hidden ?? [64],
    batchSize: o.batchSize ?? 512,
    entropy: o.entropy ?? 0.01,
    baseline: o.baseline ?? true,
    valueCoef: o.valueCoef ?? 0.5,
    clipNorm: o.clipNorm ?? 5,
    behaviour: o.behaviour ?? 'learned',
    behaviourLr: o.behaviourLr ?? 10 * (o.lr ?? 1e-3),
    chunkElements: o.chunkElements ?? DEFAULT_CHUNK_ELEMENTS,
    seed: o.seed ?? 1,
    clip: corr.clip,
    cap: corr.cap,
    topK: o.topK === true,
  };
}

/** An MLP x → widths…, ReLU between layers. */
function mlp(engine: Engine, widths: number[], rng: Rng): Linear[] {
  const layers: Linear[] = [];
  for (let l = 0; l + 1 < widths.length; l++) layers.push(new Linear(engine, widths[l], widths[l + 1], { rng }));
  return layers;
}

function runMlp(layers: Linear[], x: Tensor): Tensor {
  let h = x;
  layers.forEach((layer, l) => {
    h = layer.forward(h);
    if (l + 1 < layers.length) h = relu(h);
  });
  return h;
}

/** φ, the policy's item head, the baseline and (top-K) the behaviour head. */
class PolicyNetwork extends Module {
  readonly layers: Linear[];
  /** nItems × d. */
  readonly items: Tensor;
  /** nItems × 1. */
  readonly itemBias: Tensor;
  /** b(s): outDim → hidden → 1 (empty without a baseline). */
  readonly value: Linear[];
  /** β's item head (null without the top-K correction). */
  readonly behaviourItems: Tensor | null;
  readonly behaviourBias: Tensor | null;
  private readonly dimension: number;

  constructor(engine: Engine, inDim: number, hidden: number[], dim: number, itemInit: Float32Array, nItems: number, withValue: boolean, withBehaviour: boolean, rng: Rng) {
    super();
    this.dimension = dim;
    this.layers = mlp(engine, [inDim, ...hidden, dim], rng);
    // φ starts as the user's GNN vector: the untrained policy's mode is the GNN ranking.
    this.layers[this.layers.length - 1].weight.fill(0);
    this.items = parameter(Tensor.fromArray(engine, itemInit, [nItems, dim]));
    this.itemBias = parameter(zeros(engine, [nItems, 1]));
    this.value = withValue ? mlp(engine, [inDim, ...hidden, 1], rng) : [];
    this.behaviourItems = withBehaviour ? parameter(Tensor.fromArray(engine, itemInit, [nItems, dim])) : null;
    this.behaviourBias = withBehaviour ? parameter(zeros(engine, [nItems, 1])) : null;
  }

  phi(x: Tensor): Tensor {
    return add(slice(x, 0, this.dimension), runMlp(this.layers, x));
  }

  baseline(x: Tensor): Tensor {
    return runMlp(this.value, x);
  }
}

/** `ReinforceAgent.learnerState()`: the parts of a learner that `state()` leaves out. */
export type ReinforceLearnerState = LearnerState<{ sample: RngState; shuffle: RngState }>;

/** One batch of steps to learn from (host arrays, N rows). */
export interface PolicyBatch {
  user: Int32Array;
  /** N × H windows. */
  history: Int32Array;
  action: Int32Array;
  /** G_t. */
  ret: Float32Array;
  /** β(a | s) per step when known (logged propensity, or π when it acted); null: none. */
  beta: Float64Array | null;
}

/** Growable struct of arrays of queued steps. */
class StepQueue {
  user: Int32Array;
  history: Int32Array;
  action: Int32Array;
  ret: Float32Array;
  beta: Float64Array;
  size = 0;

  constructor(private readonly H: number) {
    this.user = new Int32Array(256);
    this.history = new Int32Array(256 * H);
    this.action = new Int32Array(256);
    this.ret = new Float32Array(256);
    this.beta = new Float64Array(256);
  }

  private grow(): void {
    const n = this.user.length * 2;
    const re = <T extends Int32Array | Float32Array | Float64Array>(a: T, w: number): T => {
      const out = new (a.constructor as new (n: number) => T)(n * w);
      out.set(a);
      return out;
    };
    this.user = re(this.user, 1);
    this.history = re(this.history, this.H);
    this.action = re(this.action, 1);
    this.ret = re(this.ret, 1);
    this.beta = re(this.beta, 1);
  }

  push(user: number, history: ArrayLike<number>, action: number, ret: number, beta: number): void {
    if (this.size === this.user.length) this.grow();
    const i = this.size++;
    this.user[i] = user;
    this.history.set(history, i * this.H);
    this.action[i] = action;
    this.ret[i] = ret;
    this.beta[i] = beta;
  }

  /** A copy of the queued steps (the queue keeps them). */
  rows(): PolicyBatch & { beta: Float64Array } {
    const n = this.size;
    return { user: this.user.slice(0, n), history: this.history.slice(0, n * this.H), action: this.action.slice(0, n), ret: this.ret.slice(0, n), beta: this.beta.slice(0, n) };
  }

  /** The queued steps, emptying the queue. */
  take(): PolicyBatch {
    const b = this.rows();
    this.size = 0;
    return b;
  }
}

/** One slot's episode so far. */
interface Trajectory {
  user: number[];
  history: number[][];
  action: number[];
  reward: number[];
  beta: number[];
}

const emptyTrajectory = (): Trajectory => ({ user: [], history: [], action: [], reward: [], beta: [] });

/**
 * The policy term's per-row coefficients c_r, so that Σ_r c_r log π(a_r|s_r) is the
 * policy loss: c = −A/N (plain), c = −w·λ_K·A/N (corrected, `beta` given), with the
 * advantage A = G − b(s) (b = 0 without a value). w and λ_K are computed from π = exp(logp)
 * and are constants of the loss (the estimator holds them fixed).
 */
export function policyCoefficients(a: {
  logp: ArrayLike<number>;
  ret: ArrayLike<number>;
  value: ArrayLike<number> | null;
  beta: ArrayLike<number> | null;
  K: number;
  correction: ResolvedCorrection;
  N: number;
}): { coef: Float32Array; policyLoss: number; weightSum: number; weightSq: number; lambdaSum: number } {
  const R = a.logp.length;
  const coef = new Float32Array(R);
  let policyLoss = 0;
  let weightSum = 0;
  let weightSq = 0;
  let lambdaSum = 0;
  for (let r = 0; r < R; r++) {
    const adv = a.ret[r] - (a.value ? a.value[r] : 0);
    let scale = 1;
    if (a.beta) {
      const pi = Math.min(1, Math.exp(a.logp[r]));
      const w = importanceWeight(pi, a.beta[r], a.correction);
      const lam = lambdaK(pi, a.K);
      scale = w * lam;
      weightSum += w;
      weightSq += w * w;
      lambdaSum += lam;
    }
    coef[r] = (-scale * adv) / a.N;
    policyLoss += coef[r] * a.logp[r];
  }
  return { coef, policyLoss, weightSum, weightSq, lambdaSum };
}

/**
 * The surrogate whose gradient is the update: Σ c_r log π(a_r|s_r) − η/N Σ H_r
 * + c_v/N Σ (b(s_r) − G_r)² − 1/N Σ log β(a_r|s_r) (the behaviour head's likelihood),
 * the last two when given. Recorded: call `backward()` on it.
 */
export function surrogateLoss(
  terms: { logp: Tensor; entropy: Tensor; value?: Tensor | null; betaLogp?: Tensor | null },
  coef: Float32Array,
  ret: Float32Array,
  o: { entropy: number; valueCoef: number; N: number },
): Tensor {
  const engine = terms.logp.engine;
  const R = coef.length;
  let loss = add(sum(mul(terms.logp, Tensor.fromArray(engine, coef, [R, 1]))), mul(sum(terms.entropy), -o.entropy / o.N));
  if (terms.value && o.valueCoef > 0) loss = add(loss, mul(mseLoss(terms.value, Tensor.fromArray(engine, ret.slice(), [R, 1]), { reduction: 'sum' }), o.valueCoef / o.N));
  if (terms.betaLogp) loss = add(loss, mul(sum(terms.betaLogp), -1 / o.N));
  return loss;
}

export class ReinforceAgent implements Agent {
  readonly kind: string;
  readonly name: string;
  readonly learns = true;
  readonly options: Resolved;
  readonly engine: Engine;
  readonly nItems: number;
  readonly dim: number;
  readonly slateSize: number;
  /** Updates applied. */
  updates = 0;
  private readonly slots: number;
  private readonly historyLen: number;
  private readonly chunkRows: number;
  private readonly sampleRng: Rng;
  /** Shuffles log minibatches (trainReinforceFromLog). */
  readonly shuffleRng: Rng;
  private readonly trajectories: Trajectory[];
  private readonly queue: StepQueue;
  /** The last sampled slates and π of each of their items, for 'logged' β on-policy. */
  private lastActions: Int32Array | null = null;
  private lastProbs: Float64Array | null = null;
  private optimizer: Optimizer | null = null;
  private behaviourOptimizer: Optimizer | null = null;
  private disposed = false;

  private constructor(
    ctx: ReinforceContext,
    opts: Resolved,
    readonly encoder: WindowStateEncoder,
    readonly net: PolicyNetwork,
    streams: { sample: Rng; shuffle: Rng },
  ) {
    this.engine = ctx.engine;
    this.options = opts;
    this.kind = opts.topK ? 'reinforce-topk' : 'reinforce';
    this.name = `REINFORCE${opts.topK ? ' (top-K corrected)' : ''} (${encoder.source} state${encoder.gnn ? ', GNN trained end to end' : encoder.fineTune ? ', fine-tuned' : ''})`;
    this.nItems = encoder.nItems;
    this.dim = encoder.dim;
    this.slots = ctx.slots;
    this.slateSize = ctx.slateSize;
    this.historyLen = encoder.historyLen;
    this.chunkRows = rowsPerChunk(this.nItems, opts.chunkElements);
    this.sampleRng = streams.sample;
    this.shuffleRng = streams.shuffle;
    this.trajectories = Array.from({ length: ctx.slots }, emptyTrajectory);
    this.queue = new StepQueue(this.historyLen);
    const behaviourParams = new Set(opts.topK ? [net.behaviourItems!, net.behaviourBias!] : []);
    if (opts.lr > 0) {
      const params = [...net.parameters().filter((p) => !behaviourParams.has(p)), ...(encoder.fineTune ? encoder.parameters() : [])];
      this.optimizer = new Adam(params, { lr: opts.lr, clipNorm: opts.clipNorm });
      if (behaviourParams.size > 0 && opts.behaviourLr > 0) this.behaviourOptimizer = new Adam([...behaviourParams], { lr: opts.behaviourLr, clipNorm: opts.clipNorm });
    }
  }

  static async create(ctx: ReinforceContext, options: ReinforceOptions & { topK?: boolean } = {}): Promise<ReinforceAgent> {
    const opts = resolve(options);
    const enc = ctx.encoder;
    check(Number.isInteger(ctx.slots) && ctx.slots >= 1, 'slots', `an integer >= 1, got ${ctx.slots}`);
    check(ctx.nItems === enc.nItems, 'nItems', `the encoder's ${enc.nItems} items, got ${ctx.nItems}`);
    check(Number.isInteger(ctx.slateSize) && ctx.slateSize >= 1 && ctx.slateSize <= enc.nItems, 'slateSize', `an integer in [1, ${enc.nItems}], got ${ctx.slateSize}`);
    // Separate streams: initialisation, sampling and shuffling never shift each other.
    const root = new Rng(opts.seed);
    const initRng = root.fork();
    const streams = { sample: root.fork(), shuffle: root.fork() };
    const table = (await enc.itemTable.read()) as Float32Array;
    // 1/√d keeps the initial logits O(1): a soft policy that still leans toward the GNN.
    const itemInit = table.slice(0, enc.nItems * enc.dim).map((v) => v / Math.sqrt(enc.dim));
    const net = new PolicyNetwork(ctx.engine, enc.outDim, opts.hidden, enc.dim, itemInit, enc.nItems, opts.baseline, opts.topK, initRng);
    return new ReinforceAgent(ctx, opts, enc, net, streams);
  }

  /** Steps queued for the next on-policy update. */
  get queued(): number {
    return this.queue.size;
  }

  private phiOf(users: Int32Array, history: Int32Array): (r0: number, r1: number) => Tensor {
    const H = this.historyLen;
    return (r0, r1) => this.net.phi(this.encoder.encode(users.subarray(r0, r1), history.subarray(r0 * H, r1 * H)));
  }

  /** The mode of π as a ranking: top-k of the logits outside `rows` (the topK kernel). */
  private async greedy(users: Int32Array, history: Int32Array, rows: ExclusionRows, k: number): Promise<Int32Array> {
    const engine = this.engine;
    // An empty colIdx still needs one element to bind on WebGPU.
    const excl = { rowPtr: engine.array(rows.rowPtr), colIdx: engine.array(rows.colIdx.length > 0 ? rows.colIdx : new Int32Array(1)) };
    try {
      return await engine.scopeAsync(async () => {
        const phi = noGrad(() => this.net.phi(this.encoder.encode(users, history)));
        const r = topK(engine, { queries: phi.f32('reinforce.act'), batch: users.length, dim: this.dim, items: this.net.items.f32('reinforce.act'), nItems: this.nItems, bias: this.net.itemBias.f32('reinforce.act'), exclude: excl, k });
        const items = (await engine.read(r.indices)) as Int32Array;
        engine.free(r.indices);
        engine.free(r.scores as DeviceArray);
        return items;
      });
    } finally {
      engine.free(excl.rowPtr);
      engine.free(excl.colIdx);
    }
  }

  async rank(obs: Observation, k: number, exclude: ExclusionRows = historyExclusions(obs)): Promise<Int32Array> {
    this.alive();
    check(Number.isInteger(k) && k >= 1 && k <= this.nItems, 'k', `an integer in [1, ${this.nItems}], got ${k}`);
    return this.greedy(obs.user, obs.historyItems, exclude, k);
  }

  /**
   * explore: a slate sampled from π without replacement (training); otherwise π's mode,
   * its top-K (evaluation, serving).
   */
  async act(obs: Observation, opts: ActOptions): Promise<Int32Array> {
    this.alive();
    const k = this.slateSize;
    const rows = historyExclusions(obs);
    if (!opts.explore) {
      const items = await this.greedy(obs.user, obs.historyItems, rows, k);
      for (let j = 0; j < items.length; j++) {
        if (items[j] < 0) throw new GnnrlError('input', `${this.kind}: slot ${Math.floor(j / k)} has fewer than ${k} eligible items`, { arg: 'slateSize' });
      }
      return items;
    }
    const I = this.nItems;
    const out = new Int32Array(obs.batch * k);
    const probs = new Float64Array(obs.batch * k);
    const keys = new Float64Array(I);
    await visitLogits(this.engine, { batch: obs.batch, nItems: I, items: this.net.items, bias: this.net.itemBias, exclude: rows, rowsPerChunk: this.chunkRows, phiOf: this.phiOf(obs.user, obs.historyItems) }, (r0, r1, z) => {
      for (let r = 0; r < r1 - r0; r++) {
        const b = r0 + r;
        if (!sampleWithoutReplacement(z, r, I, k, this.sampleRng, out, b * k, keys)) throw new GnnrlError('input', `${this.kind}: slot ${b} has fewer than ${k} eligible items`, { arg: 'slateSize' });
        const lse = rowLogSumExp(z, r * I, I);
        for (let j = 0; j < k; j++) probs[b * k + j] = Math.exp(z[r * I + out[b * k + j]] - lse);
      }
    });
    this.lastActions = out;
    this.lastProbs = probs;
    return out;
  }

  observe(t: TransitionBatch): void {
    this.alive();
    const { obs, actions, slateSize: k, result } = t;
    const B = obs.batch;
    const H = this.historyLen;
    if (B !== this.slots) throw new GnnrlError('input', `${this.kind}: observe got ${B} slots, the agent was built for ${this.slots}`, { arg: 'batch' });
    if (obs.historyLen !== H) throw new GnnrlError('input', `${this.kind}: observations have a ${obs.historyLen}-item window, the encoder expects ${H}`, { arg: 'historyLen' });
    // π's own probability when it acted: the on-policy 'logged' β (absent for foreign actions).
    const own = this.lastActions === actions ? this.lastProbs : null;
    const gamma = this.options.gamma;
    for (let b = 0; b < B; b++) {
      const tr = this.trajectories[b];
      if (!result.skipped[b]) {
        const c = result.choice[b];
        const pos = c >= 0 ? c : 0;
        tr.user.push(obs.user[b]);
        tr.history.push(Array.from(obs.historyItems.subarray(b * H, (b + 1) * H)));
        tr.action.push(actions[b * k + pos]);
        tr.reward.push(result.reward[b]);
        tr.beta.push(own ? own[b * k + pos] : NaN);
      }
      if (result.done[b]) {
        // G_t backwards over the finished episode, then queue every step once.
        let g = 0;
        const n = tr.reward.length;
        const ret = new Float32Array(n);
        for (let s = n - 1; s >= 0; s--) ret[s] = g = tr.reward[s] + gamma * g;
        for (let s = 0; s < n; s++) this.queue.push(tr.user[s], tr.history[s], tr.action[s], ret[s], tr.beta[s]);
        this.trajectories[b] = emptyTrajectory();
      }
    }
  }

  async update(): Promise<UpdateReport | null> {
    this.alive();
    if (this.queue.size < this.options.batchSize) return null;
    const batch = this.queue.take();
    // 'logged' on-policy means π's own probability when it acted; NaN marks a step whose
    // actions this agent did not sample, and then the whole batch falls back to the head.
    const o = this.options;
    if (!(o.topK && o.behaviour === 'logged' && batch.beta!.every((v) => !Number.isNaN(v)))) batch.beta = null;
    return this.learn(batch);
  }

  /**
   * One gradient step on a batch of steps (on-policy queue or a log minibatch), chunk by
   * chunk of rows; returns the loss and its parts. With the correction, `batch.beta` null
   * means β from the behaviour head.
   */
  async learn(batch: PolicyBatch): Promise<UpdateReport> {
    this.alive();
    const o = this.options;
    const N = batch.user.length;
    const H = this.historyLen;
    const I = this.nItems;
    const K = this.slateSize;
    if (batch.history.length !== N * H || batch.action.length !== N || batch.ret.length !== N || (batch.beta && batch.beta.length !== N)) {
      throw new GnnrlError('input', `${this.kind}: learn: expected ${N} rows in every field (history ${N}×${H})`, { arg: 'batch' });
    }
    const rows = windowExclusions(batch.history, N, H);
    const corr = { clip: o.clip, cap: o.cap };
    let policyLoss = 0;
    let entropySum = 0;
    let valueLoss = 0;
    let behaviourNll = 0;
    let weightSum = 0;
    let weightSq = 0;
    let lambdaSum = 0;
    this.optimizer?.zeroGrad();
    // Every head's gradient, also a behaviour head whose own rate is 0 (nothing else clears it).
    if (this.optimizer) this.net.zeroGrad();
    for (let r0 = 0; r0 < N; r0 += this.chunkRows) {
      const r1 = Math.min(N, r0 + this.chunkRows);
      const R = r1 - r0;
      const actions = batch.action.subarray(r0, r1);
      await this.engine.scopeAsync(async () => {
        const x = this.encoder.encode(batch.user.subarray(r0, r1), batch.history.subarray(r0 * H, r1 * H));
        const phi = this.net.phi(x);
        const mask = maskChunk(this.engine, rows, r0, r1, I);
        const { logp, entropy } = policyTerms(policyLogits(phi, this.net.items, this.net.itemBias, mask), actions);
        const value = o.baseline ? this.net.baseline(x) : null;
        // The behaviour head reads φ detached: its likelihood never moves the policy's state
        // (the paper's block-gradient). It runs only where β is not given (learned β), as
        // it is as costly as the policy's own softmax.
        const betaLogp = o.topK && !batch.beta ? policyTerms(policyLogits(phi.detach(), this.net.behaviourItems!, this.net.behaviourBias!, mask), actions).logp : null;
        const reads = [logp, entropy, ...(value ? [value] : []), ...(betaLogp ? [betaLogp] : [])];
        const host = (await this.engine.readMany(reads.map((t) => t.f32('reinforce.learn')))) as Float32Array[];
        const lp = host[0];
        const ent = host[1];
        const v = value ? host[2] : null;
        const blp = betaLogp ? host[value ? 3 : 2] : null;
        const beta = o.topK ? (batch.beta ? batch.beta.subarray(r0, r1) : Float64Array.from(blp!, (x) => Math.min(1, Math.exp(x)))) : null;
        const ret = batch.ret.subarray(r0, r1);
        const c = policyCoefficients({ logp: lp, ret, value: v, beta, K, correction: corr, N });
        policyLoss += c.policyLoss;
        weightSum += c.weightSum;
        weightSq += c.weightSq;
        lambdaSum += c.lambdaSum;
        for (let r = 0; r < R; r++) {
          entropySum += ent[r];
          if (v) valueLoss += (v[r] - ret[r]) ** 2;
          if (blp) behaviourNll -= blp[r];
        }
        if (!this.optimizer) return;
        surrogateLoss({ logp, entropy, value, betaLogp }, c.coef, ret, { entropy: o.entropy, valueCoef: o.valueCoef, N }).backward();
      });
    }
    if (this.optimizer) {
      this.optimizer.step();
      this.behaviourOptimizer?.step();
      this.encoder.changed();
      this.updates++;
    }
    const extra: Record<string, number> = { policyLoss, entropy: entropySum / N, steps: N };
    if (o.baseline) extra.valueLoss = valueLoss / N;
    if (o.topK) {
      extra.meanWeight = weightSum / N;
      extra.ess = weightSq > 0 ? (weightSum * weightSum) / weightSq : 0;
      extra.meanLambda = lambdaSum / N;
      if (!batch.beta) extra.behaviourNll = behaviourNll / N;
    }
    const loss = policyLoss - (o.entropy * entropySum) / N + (o.baseline ? (o.valueCoef * valueLoss) / N : 0) + (o.topK && !batch.beta ? behaviourNll / N : 0);
    return { loss, extra };
  }

  /**
   * π(a | s) of given actions (host, float64), chunk by chunk: what the correction weighs
   * with, and what tests compare to the float64 reference.
   */
  async probabilities(users: Int32Array, history: Int32Array, actions: Int32Array, head: 'policy' | 'behaviour' = 'policy'): Promise<Float64Array> {
    this.alive();
    const N = users.length;
    const H = this.historyLen;
    check(history.length === N * H && actions.length === N, 'history', `${N} × ${H} window entries and ${N} actions`);
    if (head === 'behaviour' && !this.options.topK) throw new GnnrlError('input', `${this.kind}: has no behaviour head (topK is off)`, { arg: 'head' });
    const I = this.nItems;
    const items = head === 'policy' ? this.net.items : this.net.behaviourItems!;
    const bias = head === 'policy' ? this.net.itemBias : this.net.behaviourBias!;
    const out = new Float64Array(N);
    await visitLogits(this.engine, { batch: N, nItems: I, items, bias, exclude: windowExclusions(history, N, H), rowsPerChunk: this.chunkRows, phiOf: this.phiOf(users, history) }, (r0, r1, z) => {
      for (let r = 0; r < r1 - r0; r++) out[r0 + r] = Math.exp(z[r * I + actions[r0 + r]] - rowLogSumExp(z, r * I, I));
    });
    return out;
  }

  async state(): Promise<ModelState> {
    this.alive();
    const arrays: Record<string, Float32Array> = {};
    for (const [n, v] of Object.entries(await this.net.state())) arrays[`policy.${n}`] = v;
    Object.assign(arrays, await this.encoder.stateArrays());
    return {
      kind: this.kind,
      config: { ...this.options, state: this.encoder.source, fineTune: this.encoder.fineTune, fusion: this.encoder.gnn ? 'gnn' : this.encoder.fineTune ? 'tables' : 'frozen', pool: this.encoder.pool, historyLen: this.historyLen, dim: this.dim, nItems: this.nItems, nUsers: this.encoder.nUsers, slateSize: this.slateSize, updates: this.updates },
      arrays,
    };
  }

  /** Restores the networks (and the update count) from `state()` of an agent with the same shapes. */
  load(state: ModelState): void {
    this.alive();
    if (state.kind !== this.kind) throw new GnnrlError('input', `${this.kind}: cannot load a '${state.kind}' state`, { arg: 'state', field: 'kind' });
    const cfg = state.config as Record<string, unknown>;
    if (cfg.nItems !== this.nItems) throw new GnnrlError('input', `${this.kind}: the state is for ${String(cfg.nItems)} items, this catalogue has ${this.nItems}`, { arg: 'state', field: 'nItems' });
    const part: Record<string, Float32Array> = {};
    for (const [n, v] of Object.entries(state.arrays)) if (n.startsWith('policy.')) part[n.slice('policy.'.length)] = v as Float32Array;
    this.net.load(part);
    this.encoder.loadStateArrays(state.arrays, this.kind);
    this.updates = Number(cfg.updates ?? 0);
  }

  /**
   * π's logits in factor form on the host (z = φ(s)·e_a + b_a before the window mask):
   * φ of each state and the policy's item head. Ranking by them is π's mode, `rank`'s order.
   */
  factorForm(users: Int32Array, history: Int32Array): Promise<FactorForm> {
    this.alive();
    return factorFormOf(this.engine, { users, history, historyLen: this.historyLen, dim: this.dim, phi: (u, h) => this.net.phi(this.encoder.encode(u, h)), items: this.net.items, itemBias: this.net.itemBias });
  }

  /** The item heads with one row per item: the policy's, and the behaviour head's under the correction. */
  get itemHeads(): { items: Tensor; bias: Tensor }[] {
    const heads = [{ items: this.net.items, bias: this.net.itemBias }];
    if (this.net.behaviourItems) heads.push({ items: this.net.behaviourItems, bias: this.net.behaviourBias! });
    return heads;
  }

  /**
   * What an online learner needs beyond `state()` to carry on as the same agent: the
   * optimisers' moments and step counts ('optimizer': the policy's Adam as `step`, `m.<p>`,
   * `v.<p>`, the behaviour head's under `behaviour.`), the steps queued for the next update
   * ('replay': `queue.user`, `queue.history`, `queue.action`, `queue.ret`, `queue.beta`)
   * and the sampling and shuffling RNG words ('rng'). An unfinished episode is not part of
   * it (a served agent's episodes are one event long): `learnerState` refuses one.
   */
  async learnerState(): Promise<ReinforceLearnerState> {
    this.alive();
    const open = this.trajectories.findIndex((t) => t.action.length > 0);
    if (open >= 0) throw new GnnrlError('state', `${this.kind}: learnerState: slot ${open} is in an unfinished episode, which a snapshot does not hold; end it first`);
    const optimizer: Record<string, Float32Array | Float64Array> = {};
    if (this.optimizer) await readAdamState(this.engine, this.optimizer, optimizer, '', this.kind);
    if (this.behaviourOptimizer) await readAdamState(this.engine, this.behaviourOptimizer, optimizer, 'behaviour.', this.kind);
    const q = this.queue.rows();
    const replay = { 'queue.user': q.user, 'queue.history': q.history, 'queue.action': q.action, 'queue.ret': q.ret, 'queue.beta': q.beta };
    return { optimizer, replay, rng: { sample: this.sampleRng.getState(), shuffle: this.shuffleRng.getState() } };
  }

  /** Restores `learnerState()` of an agent with the same options and shapes; `what` names the source in errors. */
  loadLearnerState(s: ReinforceLearnerState, what = 'learner state'): void {
    this.alive();
    const bad = sectionError(what);
    if (this.optimizer) writeAdamState(this.engine, this.optimizer, s.optimizer, bad, '', this.kind);
    if (this.behaviourOptimizer) writeAdamState(this.engine, this.behaviourOptimizer, s.optimizer, bad, 'behaviour.', this.kind);
    const H = this.historyLen;
    const r = s.replay ?? {};
    const user = r['queue.user'];
    if (!(user instanceof Int32Array)) throw bad('replay', "'queue.user': expected i32 users of the queued steps");
    const n = user.length;
    const want = [['queue.history', Int32Array, n * H, 'i32'], ['queue.action', Int32Array, n, 'i32'], ['queue.ret', Float32Array, n, 'f32'], ['queue.beta', Float64Array, n, 'f64']] as const;
    for (const [name, type, len, tag] of want) {
      const a = r[name];
      if (!(a instanceof type && a.length === len)) throw bad('replay', `'${name}': expected ${len} ${tag} values (${n} queued steps), got ${a ? a.length : 'nothing'}`);
    }
    setRngState(this.sampleRng, s.rng?.sample, 'sample', bad);
    setRngState(this.shuffleRng, s.rng?.shuffle, 'shuffle', bad);
    const q = this.queue;
    q.size = 0;
    for (let j = 0; j < n; j++) q.push(user[j], (r['queue.history'] as Int32Array).subarray(j * H, (j + 1) * H), (r['queue.action'] as Int32Array)[j], (r['queue.ret'] as Float32Array)[j], (r['queue.beta'] as Float64Array)[j]);
  }

  private alive(): void {
    if (this.disposed) throw new GnnrlError('state', `${this.kind}: used after dispose()`);
  }

  /** Frees the networks and the optimiser (not the encoder, which the caller owns). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer?.dispose();
    this.behaviourOptimizer?.dispose();
    this.net.dispose();
  }
}

/**
 * Builds a REINFORCE agent ('reinforce', or 'reinforce-topk' with `topK: true`), the way
 * the registry builds DQN: `createReinforceAgent({ engine, encoder, slots: env.batch,
 * slateSize: env.slateSize, nItems: env.nItems }, { seed, ...options })`. The encoder stays
 * the caller's to dispose.
 *
 * Options (defaults; ranges): gamma (0.9; [0, 1]), lr (1e-3; ≥ 0, 0 = off), hidden ([64];
 * positive integers), batchSize (512; ≥ 1), entropy η (0.01; ≥ 0), baseline (true),
 * valueCoef (0.5; ≥ 0), clipNorm (5; > 0), behaviour ('learned'; 'logged' | 'learned'),
 * behaviourLr (10 × lr; ≥ 0),
 * clip β floor (1e-8; [0, 1)), cap on w (10; (0, ∞]), chunkElements (4 Mi; ≥ 1),
 * seed (1; integer), topK (false).
 */
export function createReinforceAgent(args: ReinforceContext, opts: ReinforceOptions & { topK?: boolean } = {}): Promise<ReinforceAgent> {
  return ReinforceAgent.create(args, opts);
}

export interface LogTrainOptions {
  /** Passes over the log (1; integer ≥ 1). */
  epochs?: number;
  /** Minibatch (the agent's batchSize; integer ≥ 1). */
  batchSize?: number;
  /** β of the corrected loss: the logged propensities or the behaviour head (the agent's option). */
  behaviour?: 'logged' | 'learned';
  /** Discount of the logged returns (the agent's gamma). */
  gamma?: number;
  /** Called after each epoch with its mean loss. */
  onEpoch?: (epoch: number, meanLoss: number) => void | Promise<void>;
}

export interface LogTrainResult {
  epochs: number;
  updates: number;
  seconds: number;
  /** Mean loss of the last epoch. */
  loss: number;
  /** With the correction: mean w and its effective sample size over the last epoch's minibatches (means). */
  meanWeight: number | null;
  ess: number | null;
}

/**
 * The per-event view of a log for `agent`: states (windows right-aligned to the agent's
 * H), actions (clicked item, else the slate's first), discounted returns over each session
 * (or each user's events when sessions are not logged), and the logged per-item β.
 */
export function logSteps(log: LoggedData, agent: { nItems: number; nUsers: number; historyLen: number }, gamma: number, needLogged: boolean): PolicyBatch {
  const n = log.n;
  if (!(n >= 1)) throw new GnnrlError('input', 'log: the log has no events', { arg: 'log', field: 'n' });
  const K = log.slateSize;
  const Hl = log.historyLen;
  const H = agent.historyLen;
  for (let j = 0; j < n; j++) {
    if (!(log.user[j] >= 0 && log.user[j] < agent.nUsers)) throw new GnnrlError('input', `log: event ${j}: user ${log.user[j]} is outside the agent's ${agent.nUsers} users (a log of another catalogue?)`, { arg: 'log', field: 'user', index: j });
  }
  for (let j = 0; j < log.slate.length; j++) {
    if (!(log.slate[j] >= 0 && log.slate[j] < agent.nItems)) throw new GnnrlError('input', `log: event ${Math.floor(j / K)}: item ${log.slate[j]} is outside the agent's ${agent.nItems} items (a log of another catalogue?)`, { arg: 'log', field: 'nItems', index: Math.floor(j / K) });
  }
  for (let j = 0; j < log.history.length; j++) {
    if (log.history[j] >= agent.nItems) throw new GnnrlError('input', `log: event ${Math.floor(j / Hl)}: history item ${log.history[j]} is outside the agent's ${agent.nItems} items (a log of another catalogue?)`, { arg: 'log', field: 'nItems', index: Math.floor(j / Hl) });
  }
  checkPropensities(log.propensity, 'log');
  const history = new Int32Array(n * H).fill(-1);
  const action = new Int32Array(n);
  let beta: Float64Array | null = null;
  if (needLogged) {
    if (K > 1 && !log.positionPropensity) {
      throw new GnnrlError('input', `log: behaviour 'logged' needs each item's own propensity, but this log of ${K}-item slates has only whole-slate propensities (no positionPropensities); use behaviour 'learned'`, { arg: 'behaviour', field: 'positionPropensities' });
    }
    beta = new Float64Array(n);
    if (log.positionPropensity) checkPropensities(log.positionPropensity, 'log.positionPropensities');
  }
  for (let j = 0; j < n; j++) {
    // Right-aligned windows: keep the newest min(H, Hl) entries.
    const m = Math.min(H, Hl);
    for (let t = 0; t < m; t++) history[j * H + H - m + t] = log.history[j * Hl + Hl - m + t];
    const pos = log.position[j] >= 0 ? log.position[j] : 0;
    action[j] = log.slate[j * K + pos];
    if (beta) beta[j] = K === 1 ? log.propensity[j] : log.positionPropensity![j * K + pos];
  }
  // Returns within each session, in logged order (time, then step, then line).
  const key = log.session ?? log.user;
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => key[a] - key[b] || log.time[a] - log.time[b] || log.step[a] - log.step[b] || a - b);
  const ret = new Float32Array(n);
  let g = 0;
  for (let q = n - 1; q >= 0; q--) {
    const j = order[q];
    if (q === n - 1 || key[order[q + 1]] !== key[j]) g = 0;
    ret[j] = g = log.reward[j] + gamma * g;
  }
  return { user: log.user.slice(), history, action, ret, beta };
}

/**
 * Trains `agent` from a propensity log (src/rl/log: `loadLog`, `collectLog`): epochs of
 * shuffled minibatches of `logSteps`. The uncorrected agent takes the logged actions as
 * they are; the corrected one weighs each by w·λ_K with β the logged propensity
 * (`behaviour: 'logged'`) or its behaviour head (`'learned'`). Bad logs (no events, ids
 * outside the agent's catalogue, propensities outside (0, 1]) are `input` errors naming
 * the field and event.
 */
export async function trainReinforceFromLog(agent: ReinforceAgent, log: LoggedData, opts: LogTrainOptions = {}): Promise<LogTrainResult> {
  const epochs = opts.epochs ?? 1;
  check(Number.isInteger(epochs) && epochs >= 1, 'epochs', `an integer >= 1, got ${epochs}`);
  const batchSize = opts.batchSize ?? agent.options.batchSize;
  check(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', `an integer >= 1, got ${batchSize}`);
  const behaviour = opts.behaviour ?? agent.options.behaviour;
  if (behaviour !== 'logged' && behaviour !== 'learned') throw new GnnrlError('input', `behaviour: expected 'logged' or 'learned', got ${JSON.stringify(behaviour)}`, { arg: 'behaviour' });
  const gamma = opts.gamma ?? agent.options.gamma;
  check(gamma >= 0 && gamma <= 1, 'gamma', `a number in [0, 1], got ${gamma}`);
  const enc = agent.encoder;
  const steps = logSteps(log, { nItems: agent.nItems, nUsers: enc.nUsers, historyLen: enc.historyLen }, gamma, agent.options.topK && behaviour === 'logged');
  const t0 = performance.now();
  const n = steps.user.length;
  const H = enc.historyLen;
  const perm = Int32Array.from({ length: n }, (_, j) => j);
  let loss = 0;
  let meanWeight: number | null = null;
  let ess: number | null = null;
  let updates = 0;
  for (let e = 0; e < epochs; e++) {
    agent.shuffleRng.shuffle(perm);
    let lossSum = 0;
    let wSum = 0;
    let essSum = 0;
    let batches = 0;
    for (let s = 0; s < n; s += batchSize) {
      const idx = perm.subarray(s, Math.min(n, s + batchSize));
      const m = idx.length;
      const b: PolicyBatch = { user: new Int32Array(m), history: new Int32Array(m * H), action: new Int32Array(m), ret: new Float32Array(m), beta: steps.beta ? new Float64Array(m) : null };
      idx.forEach((j, q) => {
        b.user[q] = steps.user[j];
        b.history.set(steps.history.subarray(j * H, (j + 1) * H), q * H);
        b.action[q] = steps.action[j];
        b.ret[q] = steps.ret[j];
        if (b.beta) b.beta[q] = steps.beta![j];
      });
      const rep = await agent.learn(b);
      lossSum += rep.loss;
      if (rep.extra?.meanWeight !== undefined) {
        wSum += rep.extra.meanWeight;
        essSum += rep.extra.ess;
      }
      batches++;
      updates++;
    }
    loss = lossSum / batches;
    if (agent.options.topK) {
      meanWeight = wSum / batches;
      ess = essSum / batches;
    }
    await opts.onEpoch?.(e + 1, loss);
  }
  return { epochs, updates, seconds: (performance.now() - t0) / 1000, loss, meanWeight, ess };
}

