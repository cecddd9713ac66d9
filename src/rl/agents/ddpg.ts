/**
 * DDPG and TD3 recommenders with the Wolpertinger action scheme (Dulac-Arnold et al.
 * 2015, "Deep RL in large discrete action spaces"): the actor proposes a point in the
 * item-embedding space and the catalogue is searched around it, so acting costs one
 * top-k over the items plus k critic evaluations, whatever the catalogue's size.
 *
 *     s = [u | e_1 … e_H]                    the WindowStateEncoder's vector (as DQN)
 *     â = μ(s) + ε                           proto-action; ε Gaussian or OU per slot (explore only)
 *     C = the k items nearest â by ⟨â, e_i⟩  topK over the item table, the window excluded
 *     slate = the slateSize items of C with the highest Q(s, e_i)   (the critic re-ranks)
 *
 * Replay stores (s, a = e_chosen, R, done, s′, γ^m), n-step optional; the item learned from
 * is the one the user took, else the slate's first (as DQN). The update is DdpgCore's
 * (ddpg-core.ts), with the Wolpertinger target by default: the policy's action in s′ is
 * the best real item among the k nearest μ′(s′), so
 *
 *     y = R + γ^m (1 − done) · max_{c ∈ kNN(μ′(s′))} min_j Q′_j(s′, e_c)
 *
 * (`targetAction: 'proto'` bootstraps from Q′(s′, μ′(s′)) itself, DDPG's plain target).
 * The item vectors are the encoder's (RMS-scaled) item table, frozen: actions live in a
 * fixed space, and the state encoder must be frozen too (no fineTune).
 *
 * Options (`DdpgOptions`, checked by `createDdpgAgent` with `input` errors naming the
 * option; the registry's check table can copy these lines):
 *
 *   gamma            number in [0, 1]            0.9
 *   lr               number >= 0                 sets actorLr and criticLr when they are not given
 *   actorLr          number >= 0                 1e-3 (0 = the actor does not learn)
 *   criticLr         number >= 0                 1e-3 (0 = the critic does not learn; both 0 = learning off)
 *   hidden           non-empty array of ints >= 1  [64] (actor and critic)
 *   actorHidden      array of ints >= 1          = hidden
 *   criticHidden     array of ints >= 1          = hidden
 *   tau              number in (0, 1]            0.01 (Polyak rate of the targets)
 *   batchSize        integer >= 1                128
 *   capacity         integer >= 1                50 000
 *   learningStarts   integer >= 0                500 (transitions before the first update)
 *   nStep            integer >= 1                1
 *   knn              integer in [1, 128]         20 (candidates per proto-action; at least slateSize are used)
 *   noise            'gaussian' | 'ou'           'gaussian'
 *   sigma            number >= 0                 0.3 (noise scale, in action units)
 *   theta            number in (0, 1]            0.15 (OU mean reversion)
 *   head             'tanh' | 'linear'           'tanh'
 *   actionScale      number > 0                  2 (tanh range ±actionScale; item entries have RMS 1)
 *   targetAction     'knn' | 'proto'             'knn'
 *   clipNorm         number > 0                  10
 *   td3              boolean                     false (the 'td3' agent sets it)
 *   policyDelay      integer >= 1                td3 ? 2 : 1
 *   targetNoise      number >= 0                 td3 ? 0.2 : 0
 *   targetNoiseClip  number > 0                  td3 ? 0.5 : none
 *   seed             integer                     1
 *
 * lr 0 (actorLr 0 and criticLr 0) switches learning off: `update` reports the losses and
 * changes nothing (the control arm of the learning tests).
 */
import { GnnrlError, check } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { DeviceArray } from '../../backend/arrays.js';
import type { ModelState } from '../../models/types.js';
import { TOPK_MAX, topK } from '../../kernels/topk.js';
import { noGrad } from '../../tensor/autograd.js';
import { add } from '../../tensor/ops/elementwise.js';
import { gather } from '../../tensor/ops/gather.js';
import { Tensor } from '../../tensor/tensor.js';
import { Rng } from '../../util/rng.js';
import type { ActOptions, Agent, Observation, TransitionBatch, UpdateReport } from '../types.js';
import { ReplayBuffer, transitionSchema, type FieldSpec } from '../memory/replay.js';
import { NStepAccumulator } from '../memory/nstep.js';
import { createNoise, type Noise, type NoiseKind } from '../noise.js';
import { historyExclusions, windowExclusions, type ExclusionRows } from '../state/exclusions.js';
import type { WindowStateEncoder } from '../state/window-state.js';
import { DdpgCore, type VectorHead } from '../../nn/ddpg-core.js';
import { storeWindowTransitions } from '../memory/window-transitions.js';

export interface DdpgOptions {
  gamma?: number;
  lr?: number;
  actorLr?: number;
  criticLr?: number;
  hidden?: number[];
  actorHidden?: number[];
  criticHidden?: number[];
  tau?: number;
  batchSize?: number;
  capacity?: number;
  learningStarts?: number;
  nStep?: number;
  knn?: number;
  noise?: NoiseKind;
  sigma?: number;
  theta?: number;
  head?: VectorHead;
  actionScale?: number;
  targetAction?: 'knn' | 'proto';
  clipNorm?: number;
  td3?: boolean;
  policyDelay?: number;
  targetNoise?: number;
  targetNoiseClip?: number;
  seed?: number;
}

export interface DdpgContext {
  engine: Engine;
  /** Frozen state encoder; its item table is also the action space. Not owned by the agent. */
  encoder: WindowStateEncoder;
  /** Slots the environment steps at once. */
  slots: number;
  slateSize: number;
  /** Items of the environment (must be the encoder's). */
  nItems: number;
}

type Resolved = {
  gamma: number;
  actorLr: number;
  criticLr: number;
  actorHidden: number[];
  criticHidden: number[];
  tau: number;
  batchSize: number;
  capacity: number;
  learningStarts: number;
  nStep: number;
  knn: number;
  noise: NoiseKind;
  sigma: number;
  theta: number;
  head: VectorHead;
  actionScale: number;
  targetAction: 'knn' | 'proto';
  clipNorm: number;
  td3: boolean;
  policyDelay?: number;
  targetNoise?: number;
  targetNoiseClip?: number;
  seed: number;
};

/** Every option key `DdpgOptions` takes (for the registry's unknown-key check). */
export const DDPG_OPTION_KEYS: readonly string[] = ['gamma', 'lr', 'actorLr', 'criticLr', 'hidden', 'actorHidden', 'criticHidden', 'tau', 'batchSize', 'capacity', 'learningStarts', 'nStep', 'knn', 'noise', 'sigma', 'theta', 'head', 'actionScale', 'targetAction', 'clipNorm', 'td3', 'policyDelay', 'targetNoise', 'targetNoiseClip', 'seed'];
const KNOWN = new Set(DDPG_OPTION_KEYS);

function resolve(o: DdpgOptions): Resolved {
  const bad = (arg: string, want: string, v: unknown): never => {
    throw new GnnrlError('input', `ddpg: ${arg}: expected ${want}, got ${JSON.stringify(v)}`, { arg });
  };
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) bad(k, `a known option (${[...KNOWN].join(', ')})`, (o as Record<string, unknown>)[k]);
  const num = (v: unknown, arg: string, ok: (x: number) => boolean, want: string) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && ok(v))) bad(arg, want, v);
  };
  const int = (x: number) => Number.isInteger(x);
  num(o.gamma, 'gamma', (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
  num(o.lr, 'lr', (x) => x >= 0, 'a number >= 0');
  num(o.batchSize, 'batchSize', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.capacity, 'capacity', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.learningStarts, 'learningStarts', (x) => int(x) && x >= 0, 'an integer >= 0');
  num(o.nStep, 'nStep', (x) => int(x) && x >= 1, 'an integer >= 1');
  num(o.knn, 'knn', (x) => int(x) && x >= 1 && x <= TOPK_MAX, `an integer in [1, ${TOPK_MAX}]`);
  num(o.sigma, 'sigma', (x) => x >= 0, 'a number >= 0');
  num(o.theta, 'theta', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  if (o.td3 !== undefined && typeof o.td3 !== 'boolean') bad('td3', 'true or false', o.td3);
  if (o.noise !== undefined && o.noise !== 'gaussian' && o.noise !== 'ou') bad('noise', "'gaussian' or 'ou'", o.noise);
  if (o.targetAction !== undefined && o.targetAction !== 'knn' && o.targetAction !== 'proto') bad('targetAction', "'knn' or 'proto'", o.targetAction);
  if (o.hidden !== undefined && !(Array.isArray(o.hidden) && o.hidden.length > 0 && o.hidden.every((h) => int(h) && h >= 1))) bad('hidden', 'a non-empty array of positive integers', o.hidden);
  // The rest (actorLr, criticLr, tau, head, actionScale, clipNorm, td3, policyDelay,
  // targetNoise, targetNoiseClip, seed, *Hidden) DdpgCore checks with the same wording.
  const hidden = o.hidden ?? [64];
  return {
    gamma: o.gamma ?? 0.9,
    actorLr: o.actorLr ?? o.lr ?? 1e-3,
    criticLr: o.criticLr ?? o.lr ?? 1e-3,
    actorHidden: o.actorHidden ?? hidden,
    criticHidden: o.criticHidden ?? hidden,
    tau: o.tau ?? 0.01,
    batchSize: o.batchSize ?? 128,
    capacity: o.capacity ?? 50_000,
    learningStarts: o.learningStarts ?? 500,
    nStep: o.nStep ?? 1,
    knn: o.knn ?? 20,
    noise: o.noise ?? 'gaussian',
    sigma: o.sigma ?? 0.3,
    theta: o.theta ?? 0.15,
    head: o.head ?? 'tanh',
    actionScale: o.actionScale ?? 2,
    targetAction: o.targetAction ?? 'knn',
    clipNorm: o.clipNorm ?? 10,
    td3: o.td3 === true,
    policyDelay: o.policyDelay,
    targetNoise: o.targetNoise,
    targetNoiseClip: o.targetNoiseClip,
    seed: o.seed ?? 1,
  };
}

/** Candidates of B states: item indices in proto-action order (−1 padded) and Q of the first kCritic. */
interface Scored {
  idx: Int32Array;
  kTop: number;
  q: Float32Array;
  kCritic: number;
}

export class DdpgAgent implements Agent {
  readonly kind: string;
  readonly name: string;
  readonly learns = true;
  readonly options: Resolved;
  readonly engine: Engine;
  readonly nItems: number;
  readonly dim: number;
  /** Acting steps taken with exploration. */
  actSteps = 0;
  private readonly slots: number;
  private readonly slateSize: number;
  private readonly historyLen: number;
  /** Candidates per proto-action: max(knn, slateSize), within the catalogue and topK's limit. */
  private readonly kc: number;
  private readonly replay: ReplayBuffer;
  private readonly nstep: NStepAccumulator | null;
  private readonly noise: Noise;
  private disposed = false;

  private constructor(
    ctx: DdpgContext,
    opts: Resolved,
    readonly encoder: WindowStateEncoder,
    readonly core: DdpgCore,
    /** nItems × d, the action space (the encoder's item rows, without its padding row). */
    readonly items: Tensor,
    streams: { noise: number; replay: Rng },
  ) {
    this.engine = ctx.engine;
    this.options = opts;
    this.kind = opts.td3 ? 'td3' : 'ddpg';
    this.name = `${opts.td3 ? 'TD3' : 'DDPG'} (Wolpertinger k=${opts.knn}, ${encoder.source} state)`;
    this.nItems = encoder.nItems;
    this.dim = encoder.dim;
    this.slots = ctx.slots;
    this.slateSize = ctx.slateSize;
    this.historyLen = encoder.historyLen;
    this.kc = Math.min(Math.max(opts.knn, ctx.slateSize), TOPK_MAX, this.nItems);
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
    this.replay = new ReplayBuffer({ schema, capacity: opts.capacity, rng: streams.replay });
    this.noise = createNoise({ kind: opts.noise, slots: ctx.slots, dim: this.dim, sigma: opts.sigma, theta: opts.theta, seed: streams.noise });
  }

  static async create(ctx: DdpgContext, options: DdpgOptions = {}): Promise<DdpgAgent> {
    const opts = resolve(options);
    const enc = ctx.encoder;
    check(Number.isInteger(ctx.slots) && ctx.slots >= 1, 'slots', `an integer >= 1, got ${ctx.slots}`);
    check(Number.isInteger(ctx.slateSize) && ctx.slateSize >= 1 && ctx.slateSize <= Math.min(enc.nItems, TOPK_MAX), 'slateSize', `an integer in [1, ${Math.min(enc.nItems, TOPK_MAX)}], got ${ctx.slateSize}`);
    check(ctx.nItems === enc.nItems, 'nItems', `the encoder's ${enc.nItems} items, got ${ctx.nItems}`);
    if (enc.fineTune) throw new GnnrlError('input', 'ddpg: the state encoder must be frozen (fineTune false): its item table is the fixed action space', { arg: 'fineTune' });
    const root = new Rng(opts.seed);
    const coreSeed = root.nextU32() | 0;
    const noiseSeed = root.nextU32() | 0;
    const replay = root.fork();
    const core = await DdpgCore.create(ctx.engine, {
      stateDim: enc.outDim,
      action: 'vector',
      actionDim: enc.dim,
      head: opts.head,
      actionScale: opts.actionScale,
      actorHidden: opts.actorHidden,
      criticHidden: opts.criticHidden,
      actorLr: opts.actorLr,
      criticLr: opts.criticLr,
      tau: opts.tau,
      clipNorm: opts.clipNorm,
      td3: opts.td3,
      policyDelay: opts.policyDelay,
      targetNoise: opts.targetNoise,
      targetNoiseClip: opts.targetNoiseClip,
      seed: coreSeed,
    });
    const table = (await enc.itemTable.read()) as Float32Array;
    const items = ctx.engine.keep(Tensor.fromArray(ctx.engine, table.slice(0, enc.nItems * enc.dim), [enc.nItems, enc.dim]));
    return new DdpgAgent(ctx, opts, enc, core, items, { noise: noiseSeed, replay });
  }

  /** Transitions in replay. */
  get replaySize(): number {
    return this.replay.size;
  }

  /** Critic updates applied. */
  get updates(): number {
    return this.core.updates;
  }

  private upload(rows: ExclusionRows): { rowPtr: DeviceArray<'i32'>; colIdx: DeviceArray<'i32'> } {
    // An empty colIdx still needs one element to bind on WebGPU.
    return { rowPtr: this.engine.array(rows.rowPtr), colIdx: this.engine.array(rows.colIdx.length > 0 ? rows.colIdx : new Int32Array(1)) };
  }

  /** The kTop items nearest each query row (B × d tensor) by inner product, excluded rows skipped; host indices. */
  private async nearest(queries: Tensor, rows: ExclusionRows, kTop: number): Promise<Int32Array> {
    const B = queries.shape[0];
    const excl = this.upload(rows);
    try {
      const r = topK(this.engine, { queries: queries.f32('ddpg.knn'), batch: B, dim: this.dim, items: this.items.f32('ddpg.knn'), nItems: this.nItems, exclude: excl, k: kTop });
      const idx = (await this.engine.read(r.indices)) as Int32Array;
      this.engine.free(r.indices);
      this.engine.free(r.scores);
      return idx;
    } finally {
      this.engine.free(excl.rowPtr);
      this.engine.free(excl.colIdx);
    }
  }

  /** Rows of `idx` (B × k, −1 padded) as a B·k gather index (padding → item 0) and a validity mask. */
  private static safeIndex(idx: Int32Array): { safe: Int32Array; valid: Uint8Array } {
    const safe = new Int32Array(idx.length);
    const valid = new Uint8Array(idx.length);
    for (let i = 0; i < idx.length; i++) {
      valid[i] = idx[i] >= 0 ? 1 : 0;
      safe[i] = idx[i] >= 0 ? idx[i] : 0;
    }
    return { safe, valid };
  }

  /**
   * Wolpertinger scoring of B states: the kTop items nearest μ(s) (+ noise), and the online
   * critic Q₁(s, e_c) of the first kCritic of them (−∞ for padding).
   */
  private async score(users: Int32Array, history: Int32Array, rows: ExclusionRows, kTop: number, kCritic: number, noise: Float32Array | null): Promise<Scored> {
    const B = users.length;
    return this.engine.scopeAsync(async () => {
      const s = noGrad(() => this.encoder.encode(users, history));
      let proto = noGrad(() => this.core.policy(s));
      if (noise) proto = noGrad(() => add(proto, Tensor.fromArray(this.engine, noise, [B, this.dim])));
      const idx = await this.nearest(proto, rows, kTop);
      const sub = new Int32Array(B * kCritic);
      for (let b = 0; b < B; b++) sub.set(idx.subarray(b * kTop, b * kTop + kCritic), b * kCritic);
      const { safe, valid } = DdpgAgent.safeIndex(sub);
      const rep = new Int32Array(B * kCritic);
      for (let i = 0; i < rep.length; i++) rep[i] = Math.floor(i / kCritic);
      const q = (await noGrad(() => this.core.q(gather(s, rep), gather(this.items, safe))).read()) as Float32Array;
      for (let i = 0; i < q.length; i++) if (!valid[i]) q[i] = -Infinity;
      return { idx, kTop, q, kCritic };
    });
  }

  /** Row b's critic-scored candidates, best Q first (ties: nearer the proto-action first), padding dropped. */
  private static byQ(sc: Scored, b: number): number[] {
    const order: number[] = [];
    for (let c = 0; c < sc.kCritic; c++) if (sc.idx[b * sc.kTop + c] >= 0) order.push(c);
    order.sort((x, y) => sc.q[b * sc.kCritic + y] - sc.q[b * sc.kCritic + x] || x - y);
    return order.map((c) => sc.idx[b * sc.kTop + c]);
  }

  async act(obs: Observation, opts: ActOptions): Promise<Int32Array> {
    this.alive();
    const B = obs.batch;
    const K = this.slateSize;
    let noise: Float32Array | null = null;
    if (opts.explore) {
      if (B !== this.slots) throw new GnnrlError('input', `${this.kind}: act got ${B} slots, the agent's noise was built for ${this.slots}`, { arg: 'batch' });
      // A new episode (a new user) restarts its slot's noise process.
      for (let b = 0; b < B; b++) if (obs.stepInEpisode[b] === 0) this.noise.reset(b);
      noise = this.noise.sample();
      this.actSteps++;
    }
    const sc = await this.score(obs.user, obs.historyItems, historyExclusions(obs), this.kc, this.kc, noise);
    const out = new Int32Array(B * K);
    for (let b = 0; b < B; b++) {
      const ranked = DdpgAgent.byQ(sc, b);
      if (ranked.length < K) throw new GnnrlError('input', `${this.kind}: slot ${b} has fewer than ${K} eligible items`, { arg: 'slateSize' });
      for (let j = 0; j < K; j++) out[b * K + j] = ranked[j];
    }
    return out;
  }

  /**
   * The greedy ranking: the critic's order over the actor's kNN candidates, then the
   * rest by proto-action score (inner product with μ(s)); k items per slot, −1 past the
   * eligible ones, skipping `exclude` (default: each slot's window).
   */
  async rank(obs: Observation, k: number, exclude: ExclusionRows = historyExclusions(obs)): Promise<Int32Array> {
    this.alive();
    const kMax = Math.min(this.nItems, TOPK_MAX);
    check(Number.isInteger(k) && k >= 1 && k <= kMax, 'k', `an integer in [1, ${kMax}], got ${k}`);
    const kTop = Math.max(k, this.kc);
    const sc = await this.score(obs.user, obs.historyItems, exclude, kTop, this.kc, null);
    const out = new Int32Array(obs.batch * k).fill(-1);
    for (let b = 0; b < obs.batch; b++) {
      const list = DdpgAgent.byQ(sc, b);
      for (let c = this.kc; c < kTop && list.length < k; c++) {
        const i = sc.idx[b * kTop + c];
        if (i >= 0) list.push(i);
      }
      for (let j = 0; j < Math.min(k, list.length); j++) out[b * k + j] = list[j];
    }
    return out;
  }

  /** μ(s) for the states of `obs` (diagnostics, tests): B × d on the host. */
  async protoActions(obs: Observation): Promise<Float32Array> {
    this.alive();
    return this.engine.scopeAsync(async () => (await noGrad(() => this.core.policy(this.encoder.encode(obs.user, obs.historyItems))).read()) as Float32Array);
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
    const f = this.replay.sample(B).fields;
    const user = f.user as Int32Array;
    const history = f.history as Int32Array;
    const action = f.action as Int32Array;
    const nextUser = f.nextUser as Int32Array;
    const nextHistory = f.nextHistory as Int32Array;
    const r = f.reward as Float32Array;
    const done = f.done as Uint8Array;
    const discount = (f.gammaN as Float32Array | undefined) ?? new Float32Array(B).fill(o.gamma);
    const y = o.targetAction === 'knn' ? await this.targetsFor({ nextUser, nextHistory, reward: r, done, gammaN: discount }) : undefined;
    const rep = await this.engine.scopeAsync(async () => {
      const s = noGrad(() => this.encoder.encode(user, history));
      const s2 = noGrad(() => this.encoder.encode(nextUser, nextHistory));
      const a = noGrad(() => gather(this.items, action));
      return this.core.update({ s, a, r, s2, done, discount, y });
    });
    const extra: Record<string, number> = { meanQ: rep.meanQ, meanTarget: rep.meanTarget };
    if (rep.actorLoss !== null) extra.actorLoss = rep.actorLoss;
    return { loss: rep.criticLoss, exploration: this.noise.sigma, extra };
  }

  /**
   * The Wolpertinger targets of transitions (host arrays, B rows): the policy's action in
   * s′ is the best real item among the kNN of μ′(s′) outside s′'s window, so
   * y = R + γ^m(1 − done)·max_c min_j Q′_j(s′, e_c), γ^m = gammaN or γ.
   */
  async targetsFor(t: { nextUser: Int32Array; nextHistory: Int32Array; reward: Float32Array; done: Uint8Array; gammaN?: Float32Array | null }): Promise<Float32Array> {
    this.alive();
    const B = t.nextUser.length;
    if (t.nextHistory.length !== B * this.historyLen || t.reward.length !== B || t.done.length !== B || (t.gammaN && t.gammaN.length !== B)) {
      throw new GnnrlError('input', `${this.kind}: targetsFor: expected ${B} rows in every field (nextHistory ${B}×${this.historyLen})`, { arg: 'transitions' });
    }
    const discount = t.gammaN ?? new Float32Array(B).fill(this.options.gamma);
    return this.engine.scopeAsync(async () => {
      const s2 = noGrad(() => this.encoder.encode(t.nextUser, t.nextHistory));
      const idx = await this.nearest(this.core.targetPolicy(s2), windowExclusions(t.nextHistory, B, this.historyLen), this.kc);
      const { safe, valid } = DdpgAgent.safeIndex(idx);
      const candidates = noGrad(() => gather(this.items, safe));
      return (await this.core.candidateTargets({ s2, candidates, valid, k: this.kc, r: t.reward, done: t.done, discount })).y;
    });
  }

  /** Candidates per proto-action (max(knn, slateSize), capped by the catalogue and topK). */
  get candidates(): number {
    return this.kc;
  }

  async state(): Promise<ModelState> {
    this.alive();
    const { policyDelay, targetNoise, targetNoiseClip, ...rest } = this.options;
    const c = this.core.options;
    return {
      kind: this.kind,
      config: {
        ...rest,
        policyDelay: c.policyDelay,
        targetNoise: c.targetNoise,
        targetNoiseClip: Number.isFinite(c.targetNoiseClip) ? c.targetNoiseClip : null,
        twin: c.twin,
        state: this.encoder.source,
        pool: this.encoder.pool,
        historyLen: this.historyLen,
        dim: this.dim,
        nItems: this.nItems,
        nUsers: this.encoder.nUsers,
        slateSize: this.slateSize,
        actSteps: this.actSteps,
        updates: this.core.updates,
        actorUpdates: this.core.actorUpdates,
      },
      arrays: await this.core.state(),
    };
  }

  /** Restores the networks and counters from `state()` of an agent with the same shapes. */
  load(state: ModelState): void {
    this.alive();
    if (state.kind !== this.kind) throw new GnnrlError('input', `${this.kind}: cannot load a '${state.kind}' state`, { arg: 'state', field: 'kind' });
    const cfg = state.config as Record<string, unknown>;
    if (cfg.nItems !== this.nItems || cfg.dim !== this.dim) throw new GnnrlError('input', `${this.kind}: the state is for ${String(cfg.nItems)} items of dimension ${String(cfg.dim)}, this agent has ${this.nItems} × ${this.dim}`, { arg: 'state', field: 'nItems' });
    this.core.load(state.arrays as Record<string, Float32Array>);
    this.actSteps = Number(cfg.actSteps ?? 0);
    this.core.updates = Number(cfg.updates ?? 0);
    this.core.actorUpdates = Number(cfg.actorUpdates ?? 0);
  }

  private alive(): void {
    if (this.disposed) throw new GnnrlError('state', `${this.kind}: used after dispose()`);
  }

  /** Frees the networks and the action table (not the encoder, which the caller owns). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.core.dispose();
    this.items.dispose();
  }
}

/**
 * Builds a DDPG (or, with `td3: true`, TD3) agent for the registry, called like
 * `DqnAgent.create` in `createAgent`'s 'dqn' case:
 *
 *     const agent = await createDdpgAgent({ engine, encoder, slots: env.batch, slateSize: k, nItems: env.nItems },
 *                                         { seed: ctx.seed, ...given, td3: info.name === 'td3' });
 *
 * Bad options are `input` errors whose `details.arg` names the option (the registry
 * wraps them as agent-options errors, as for DQN). The agent does not own `encoder`.
 */
export function createDdpgAgent(args: DdpgContext, opts: DdpgOptions & { td3?: boolean } = {}): Promise<DdpgAgent> {
  return DdpgAgent.create(args, opts);
}
