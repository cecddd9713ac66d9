/**
 * The actor–critic core of DDPG (Lillicrap et al. 2016) and TD3 (Fujimoto et al. 2018),
 * over state vectors and continuous actions, with nothing of users or items in it: the
 * recommender agent (ddpg.ts) maps its actions to items, a rating agent (DDPG-LA) uses a
 * scalar action. Per update, the papers' loop:
 *
 *     a' = μ'(s')                      TD3: a' = clip(μ'(s') + clip(N(0, σ̃²), ±c), action range)
 *     y  = r + γ^m (1 − done) · Q'(s', a')          TD3: min(Q'₁, Q'₂)(s', a')
 *     critic:  minimise Σ_j mean (Q_j(s, a) − y)²                     (Adam, criticLr)
 *     actor (every `policyDelay` updates):  minimise −mean Q₁(s, μ(s))   (Adam, actorLr)
 *     then every target ← (1 − τ)·target + τ·online (Polyak; TD3 on actor steps only)
 *
 * Networks: μ(s) = head(MLP(s)) with head tanh·scale or linear (a d-vector, e.g. a
 * proto-item in embedding space) or sigmoid (a scalar in [0, 1]); Q(s, a) = MLP([s | a]).
 * The targets y are formed on the host from one readback (also what the twin-min and the
 * tests need); the losses are differentiated on the device.
 *
 * State encoding stays outside: `update` takes s and s' as host rows or as Tensors. The
 * hook for an encoder that trains with the actor (DDPG-LA): build `s` inside the caller's
 * `engine.scopeAsync` as a Tensor that carries grad (its encoder's forward pass), and pass
 * the encoder's parameters as `actorExtraParams` at `create`. The critic then sees
 * `s.detach()` (its TD loss does not move the encoder), the actor loss −Q₁(s, μ(s))
 * back-propagates into the encoder, and the actor's Adam steps the encoder with the actor.
 * `actorLoss(s)` and `criticLoss(s, a, y)` are public for callers that run their own steps.
 *
 * lr 0 switches a network's learning off (actorLr 0 and criticLr 0: `update` computes and
 * reports the losses and changes nothing), the control arm of the learning tests.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { noGrad } from '../tensor/autograd.js';
import { binaryRaw, mul, relu, sigmoid, sub, tanh } from '../tensor/ops/elementwise.js';
import { mean } from '../tensor/ops/reduce.js';
import { concat, gather } from '../tensor/ops/gather.js';
import { mseLoss } from '../tensor/ops/loss.js';
import { Adam } from '../tensor/optim.js';
import { Tensor } from '../tensor/tensor.js';
import { Rng } from '../util/rng.js';

export type ActionKind = 'vector' | 'scalar';
export type VectorHead = 'tanh' | 'linear';

export interface DdpgCoreOptions {
  /** Width of a state row. */
  stateDim: number;
  /** 'vector' (actionDim values through `head`) or 'scalar' (one value in [0, 1] by sigmoid). Default 'vector'. */
  action?: ActionKind;
  /** Action width for 'vector' (required there); 'scalar' is 1. */
  actionDim?: number;
  /** Output of a vector actor: 'tanh' (scaled to ±actionScale, default) or 'linear' (unbounded). */
  head?: VectorHead;
  /** Range of the tanh head, ±actionScale (default 1). */
  actionScale?: number;
  /** Hidden widths of the actor MLP (default [64]). */
  actorHidden?: number[];
  /** Hidden widths of the critic MLP (default [64]). */
  criticHidden?: number[];
  /** Adam learning rates (defaults 1e-3 and 1e-3); 0 switches that network's learning off. */
  actorLr?: number;
  criticLr?: number;
  /** Polyak rate τ of the soft target updates, in (0, 1] (default 0.01). */
  tau?: number;
  /** Global gradient-norm clip per optimiser (default 10). */
  clipNorm?: number;
  /** TD3: twin critics, policyDelay 2, target smoothing 0.2 / 0.5 unless given (default false). */
  td3?: boolean;
  /** Two critics, the min of their targets in y (default: td3). */
  twin?: boolean;
  /** Actor (and target) update every this many critic updates (default td3 ? 2 : 1). */
  policyDelay?: number;
  /** σ̃ of the target policy smoothing noise, in action units (default td3 ? 0.2 : 0). */
  targetNoise?: number;
  /** Clip c of the smoothing noise (default td3 ? 0.5 : ∞). */
  targetNoiseClip?: number;
  /** Seed of the initial weights and the smoothing noise (default 1). */
  seed?: number;
  /**
   * λ of an action penalty in the actor's loss, −mean Q₁(s, μ(s)) + λ·mean_rows ‖μ(s) − c‖²
   * with c the middle of the action range (0.5 for a scalar action, 0 for a vector one):
   * keeps a bounded actor off its saturated ends (default 0 = the papers' loss).
   */
  actionPenalty?: number;
  /**
   * Whether the actor's loss reaches an encoder behind s through the critic's state input
   * too (default true, the hook as written). false: Q₁(s.detach(), μ(s)), so an encoder
   * trained with the actor moves only through the action, by ∂Q/∂a · ∂μ/∂s, and cannot
   * raise −loss by moving s to where the critic's value is high.
   */
  criticStateGrad?: boolean;
  /** Parameters outside the core that the actor's optimiser also steps (a state encoder trained with the actor). */
  actorExtraParams?: Tensor[];
}

export interface ResolvedCoreOptions {
  stateDim: number;
  action: ActionKind;
  actionDim: number;
  head: VectorHead | 'sigmoid';
  actionScale: number;
  actorHidden: number[];
  criticHidden: number[];
  actorLr: number;
  criticLr: number;
  tau: number;
  clipNorm: number;
  td3: boolean;
  twin: boolean;
  policyDelay: number;
  targetNoise: number;
  targetNoiseClip: number;
  actionPenalty: number;
  criticStateGrad: boolean;
  seed: number;
}

/** Rows a batch holds: host typed arrays (uploaded per update) or tensors already on the device. */
export type Rows = Float32Array | Tensor;

/** A batch of transitions for `update`, B rows. */
export interface DdpgBatch {
  /** B × stateDim. A Tensor that carries grad is the encoder hook (see the file comment). */
  s: Rows;
  /** B × actionDim actions taken. */
  a: Rows;
  /** B rewards (the n-step discounted sum R for n-step returns). */
  r: Float32Array;
  /** B × stateDim next states (s after the m steps of R). */
  s2: Rows;
  /** B flags: 1 where the episode ended within the m steps (no bootstrap). */
  done: Uint8Array | Float32Array;
  /** B discounts γ^m of the bootstrap term. */
  discount: Float32Array;
  /**
   * Targets the caller formed itself (B values), e.g. by `candidateTargets` over discrete
   * candidates (Wolpertinger); when given, `update` skips `targets` and ignores s2.
   */
  y?: Float32Array;
}

export interface DdpgUpdateReport {
  /** Σ_j mean (Q_j(s, a) − y)² before the step. */
  criticLoss: number;
  /** −mean Q₁(s, μ(s)) on actor steps, else null. */
  actorLoss: number | null;
  /** mean Q₁(s, a). */
  meanQ: number;
  /** mean y. */
  meanTarget: number;
}

/** Target values and the pieces that make them (tests compare them with a reference). */
export interface TargetReport {
  y: Float32Array;
  /** Q'_j(s', a') per critic. */
  q: Float32Array[];
  /** a' = the (smoothed, clipped) target action, B × actionDim. */
  a2: Float32Array;
}

const posInt = (x: unknown, min: number) => typeof x === 'number' && Number.isInteger(x) && x >= min;

function fail(arg: string, want: string, got: unknown): never {
  throw new GnnrlError('input', `ddpg: ${arg}: expected ${want}, got ${JSON.stringify(got)}`, { arg });
}

function resolveCore(o: DdpgCoreOptions): ResolvedCoreOptions {
  const num = (v: unknown, arg: string, ok: (x: number) => boolean, want: string) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && ok(v))) fail(arg, want, v);
  };
  if (!posInt(o.stateDim, 1)) fail('stateDim', 'an integer >= 1', o.stateDim);
  const action = o.action ?? 'vector';
  if (action !== 'vector' && action !== 'scalar') fail('action', "'vector' or 'scalar'", o.action);
  if (action === 'vector' && !posInt(o.actionDim, 1)) fail('actionDim', 'an integer >= 1 (the width of a vector action)', o.actionDim);
  if (action === 'scalar' && o.actionDim !== undefined && o.actionDim !== 1) fail('actionDim', '1 (or nothing) for a scalar action', o.actionDim);
  if (o.head !== undefined && o.head !== 'tanh' && o.head !== 'linear') fail('head', "'tanh' or 'linear'", o.head);
  if (action === 'scalar' && o.head !== undefined) fail('head', 'nothing for a scalar action (always sigmoid)', o.head);
  num(o.actionScale, 'actionScale', (x) => x > 0, 'a number > 0');
  for (const arg of ['actorHidden', 'criticHidden'] as const) {
    const h = o[arg];
    if (h !== undefined && !(Array.isArray(h) && h.every((w) => posInt(w, 1)))) fail(arg, 'an array of positive integers', h);
  }
  num(o.actorLr, 'actorLr', (x) => x >= 0, 'a number >= 0');
  num(o.criticLr, 'criticLr', (x) => x >= 0, 'a number >= 0');
  num(o.tau, 'tau', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  num(o.clipNorm, 'clipNorm', (x) => x > 0, 'a number > 0');
  num(o.policyDelay, 'policyDelay', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
  num(o.targetNoise, 'targetNoise', (x) => x >= 0, 'a number >= 0');
  num(o.actionPenalty, 'actionPenalty', (x) => x >= 0, 'a number >= 0');
  if (o.targetNoiseClip !== undefined && !(typeof o.targetNoiseClip === 'number' && o.targetNoiseClip > 0)) fail('targetNoiseClip', 'a number > 0', o.targetNoiseClip);
  num(o.seed, 'seed', (x) => Number.isInteger(x), 'an integer');
  for (const arg of ['td3', 'twin', 'criticStateGrad'] as const) if (o[arg] !== undefined && typeof o[arg] !== 'boolean') fail(arg, 'true or false', o[arg]);
  const td3 = o.td3 === true;
  return {
    stateDim: o.stateDim,
    action,
    actionDim: action === 'scalar' ? 1 : o.actionDim!,
    head: action === 'scalar' ? 'sigmoid' : (o.head ?? 'tanh'),
    actionScale: o.actionScale ?? 1,
    actorHidden: o.actorHidden ?? [64],
    criticHidden: o.criticHidden ?? [64],
    actorLr: o.actorLr ?? 1e-3,
    criticLr: o.criticLr ?? 1e-3,
    tau: o.tau ?? 0.01,
    clipNorm: o.clipNorm ?? 10,
    td3,
    twin: o.twin ?? td3,
    policyDelay: o.policyDelay ?? (td3 ? 2 : 1),
    targetNoise: o.targetNoise ?? (td3 ? 0.2 : 0),
    targetNoiseClip: o.targetNoiseClip ?? (td3 ? 0.5 : Infinity),
    actionPenalty: o.actionPenalty ?? 0,
    criticStateGrad: o.criticStateGrad ?? true,
    seed: o.seed ?? 1,
  };
}

/** Linear layers with ReLU between them (none after the last). */
export class Mlp extends Module {
  readonly layers: Linear[] = [];
  constructor(engine: Engine, widths: number[], rng: Rng) {
    super();
    for (let l = 0; l + 1 < widths.length; l++) this.layers.push(new Linear(engine, widths[l], widths[l + 1], { rng }));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((layer, l) => {
      h = layer.forward(h);
      if (l + 1 < this.layers.length) h = relu(h);
    });
    return h;
  }
}

/**
 * Polyak averaging in place: target ← (1 − τ)·target + τ·source for each pair (τ = 1 is a
 * hard copy). Not recorded.
 */
export function polyakUpdate(targets: Tensor[], sources: Tensor[], tau: number): void {
  if (targets.length !== sources.length) throw new GnnrlError('input', `polyakUpdate: ${targets.length} targets for ${sources.length} sources`, { arg: 'targets' });
  if (!(tau > 0 && tau <= 1)) throw new GnnrlError('input', `polyakUpdate: tau: expected a number in (0, 1], got ${tau}`, { arg: 'tau' });
  if (targets.length === 0) return;
  const engine = targets[0].engine;
  noGrad(() =>
    engine.scope(() => {
      targets.forEach((t, i) => {
        const p = sources[i];
        if (p.size !== t.size) throw new GnnrlError('input', `polyakUpdate: targets[${i}] has ${t.size} values, its source ${p.size}`, { arg: 'targets', index: i });
        // lincomb writes a fresh tensor (a binding may not be read and written at once); copy it back.
        const src = tau === 1 ? p : binaryRaw('lincomb', t, p, { alpha: 1 - tau, beta: tau }, 'polyak');
        t.fill(0).addInPlace(src);
      });
    }),
  );
}

export class DdpgCore {
  readonly options: ResolvedCoreOptions;
  /** μ: the MLP before the head. */
  readonly actor: Mlp;
  readonly actorTarget: Mlp;
  /** Q₁ (and Q₂ when twin). */
  readonly critics: Mlp[];
  readonly criticTargets: Mlp[];
  /** Critic updates taken (the policy delay counts these). */
  updates = 0;
  /** Actor updates taken. */
  actorUpdates = 0;
  private readonly actorOpt: Adam | null;
  private readonly criticOpt: Adam | null;
  private readonly noiseRng: Rng;
  private disposed = false;

  private constructor(
    readonly engine: Engine,
    opts: ResolvedCoreOptions,
    nets: { actor: Mlp; actorTarget: Mlp; critics: Mlp[]; criticTargets: Mlp[] },
    extra: Tensor[],
    noiseRng: Rng,
  ) {
    this.options = opts;
    this.actor = nets.actor;
    this.actorTarget = nets.actorTarget;
    this.critics = nets.critics;
    this.criticTargets = nets.criticTargets;
    this.noiseRng = noiseRng;
    this.actorOpt = opts.actorLr > 0 ? new Adam([...this.actor.parameters(), ...extra], { lr: opts.actorLr, clipNorm: opts.clipNorm }) : null;
    this.criticOpt = opts.criticLr > 0 ? new Adam(this.critics.flatMap((c) => c.parameters()), { lr: opts.criticLr, clipNorm: opts.clipNorm }) : null;
  }

  static async create(engine: Engine, options: DdpgCoreOptions): Promise<DdpgCore> {
    const o = resolveCore(options);
    const extra = options.actorExtraParams ?? [];
    extra.forEach((p, i) => {
      if (!(p instanceof Tensor) || !p.requiresGrad) throw new GnnrlError('input', `ddpg: actorExtraParams[${i}] is not a parameter (make it with parameter())`, { arg: 'actorExtraParams', index: i });
    });
    // Separate streams: the weights of each network, and the smoothing noise, never shift each other.
    const root = new Rng(o.seed);
    const actorRng = root.fork();
    const criticRngs = [root.fork(), root.fork()];
    const noiseRng = root.fork();
    const actorWidths = [o.stateDim, ...o.actorHidden, o.actionDim];
    const criticWidths = [o.stateDim + o.actionDim, ...o.criticHidden, 1];
    const actor = new Mlp(engine, actorWidths, actorRng);
    const actorTarget = new Mlp(engine, actorWidths, new Rng(0));
    actorTarget.load(await actor.state());
    const n = o.twin ? 2 : 1;
    const critics: Mlp[] = [];
    const criticTargets: Mlp[] = [];
    for (let j = 0; j < n; j++) {
      const c = new Mlp(engine, criticWidths, criticRngs[j]);
      const t = new Mlp(engine, criticWidths, new Rng(0));
      t.load(await c.state());
      critics.push(c);
      criticTargets.push(t);
    }
    return new DdpgCore(engine, o, { actor, actorTarget, critics, criticTargets }, extra, noiseRng);
  }

  get learns(): boolean {
    return this.actorOpt !== null || this.criticOpt !== null;
  }

  /** The action head on the MLP's output. */
  private head(h: Tensor): Tensor {
    const o = this.options;
    if (o.head === 'sigmoid') return sigmoid(h);
    if (o.head === 'linear') return h;
    return o.actionScale === 1 ? tanh(h) : mul(tanh(h), o.actionScale);
  }

  /** μ(s) of the online actor, B × actionDim (recorded for autograd unless under noGrad). */
  policy(s: Tensor): Tensor {
    this.alive();
    this.checkRows(s, this.options.stateDim, 's');
    return this.head(this.actor.forward(s));
  }

  /** μ'(s) of the target actor (never recorded). */
  targetPolicy(s: Tensor): Tensor {
    this.alive();
    return noGrad(() => this.head(this.actorTarget.forward(s)));
  }

  /** Q_j(s, a), B × 1, of online critic j (0 or 1). */
  q(s: Tensor, a: Tensor, j = 0): Tensor {
    this.alive();
    this.checkRows(a, this.options.actionDim, 'a');
    return this.critics[j].forward(concat([s, a]));
  }

  /** Q'_j(s, a) of target critic j (never recorded). */
  targetQ(s: Tensor, a: Tensor, j = 0): Tensor {
    this.alive();
    return noGrad(() => this.criticTargets[j].forward(concat([s, a])));
  }

  /** μ(s) on the host for B state rows (acting; no gradient). */
  async act(s: Rows): Promise<Float32Array> {
    this.alive();
    return this.engine.scopeAsync(async () => (await noGrad(() => this.policy(this.rows(s, this.options.stateDim, 's'))).read()) as Float32Array);
  }

  /** The range actions are clipped to after target smoothing ([lo, hi], ±∞ for a linear head). */
  get actionRange(): [number, number] {
    const o = this.options;
    if (o.head === 'sigmoid') return [0, 1];
    if (o.head === 'linear') return [-Infinity, Infinity];
    return [-o.actionScale, o.actionScale];
  }

  /**
   * y = r + γ^m(1 − done)·min_j Q'_j(s', a'), a' = μ'(s') smoothed and clipped (TD3), one
   * value per row, with the pieces. Draws the smoothing noise from the core's stream.
   */
  async targets(batch: Pick<DdpgBatch, 's2' | 'r' | 'done' | 'discount'>): Promise<TargetReport> {
    this.alive();
    const o = this.options;
    const B = batch.r.length;
    if (batch.done.length !== B || batch.discount.length !== B) throw new GnnrlError('input', `ddpg: targets: r, done and discount must have one value per row (${B}), got ${batch.done.length} and ${batch.discount.length}`, { arg: 'batch' });
    return this.engine.scopeAsync(async () => {
      const s2 = noGrad(() => this.rows(batch.s2, o.stateDim, 's2', B)).detach();
      let a2 = this.targetPolicy(s2);
      let a2Host: Float32Array;
      if (o.targetNoise > 0) {
        // Target policy smoothing on the host: a readback of B × actionDim, small next to the step.
        a2Host = (await a2.read()) as Float32Array;
        smoothActions(a2Host, o.targetNoise, o.targetNoiseClip, this.actionRange, this.noiseRng);
        a2 = Tensor.fromArray(this.engine, a2Host, [B, o.actionDim]);
      } else a2Host = new Float32Array(0);
      const qs = this.criticTargets.map((_, j) => this.targetQ(s2, a2, j));
      const read = (await this.engine.readMany([...qs.map((t) => t.f32('ddpg.targets')), ...(a2Host.length ? [] : [a2.f32('ddpg.targets')])])) as Float32Array[];
      const q = read.slice(0, qs.length);
      if (!a2Host.length) a2Host = read[qs.length];
      const y = new Float32Array(B);
      for (let i = 0; i < B; i++) {
        let v = q[0][i];
        for (let j = 1; j < q.length; j++) v = Math.min(v, q[j][i]);
        y[i] = batch.r[i] + (batch.done[i] ? 0 : batch.discount[i] * v);
      }
      return { y, q, a2: a2Host };
    });
  }

  /**
   * Targets over discrete candidate actions (the Wolpertinger target, where the policy's
   * action in s' is the best of the k real actions nearest μ'(s')):
   *
   *     y = r + γ^m (1 − done) · max_c min_j Q'_j(s', a_c)
   *
   * `candidates` holds k rows per state (B·k × actionDim, state b's at rows b·k … b·k + k),
   * `valid` B·k flags (0 for padding, e.g. fewer eligible items than k); a row without a
   * valid candidate does not bootstrap. TD3's smoothing adds clipped noise to each
   * candidate (no range clip: candidates are real actions, not the actor's output).
   * Returns y and each row's best candidate (−1 where none).
   */
  async candidateTargets(t: { s2: Rows; candidates: Rows; valid: Uint8Array; k: number; r: Float32Array; done: Uint8Array | Float32Array; discount: Float32Array }): Promise<{ y: Float32Array; best: Int32Array; value: Float32Array }> {
    this.alive();
    const o = this.options;
    const B = t.r.length;
    const k = t.k;
    if (!(Number.isInteger(k) && k >= 1)) throw new GnnrlError('input', `ddpg: candidateTargets: k: expected an integer >= 1, got ${k}`, { arg: 'k' });
    if (t.valid.length !== B * k || t.done.length !== B || t.discount.length !== B) throw new GnnrlError('input', `ddpg: candidateTargets: expected ${B}·${k} valid flags and ${B} done and discount values`, { arg: 'batch' });
    const q = await this.engine.scopeAsync(async () => {
      const s2 = noGrad(() => this.rows(t.s2, o.stateDim, 's2', B)).detach();
      let cand = this.rows(t.candidates, o.actionDim, 'candidates', B * k).detach();
      if (o.targetNoise > 0) {
        const e = new Float32Array(B * k * o.actionDim);
        smoothActions(e, o.targetNoise, o.targetNoiseClip, [-Infinity, Infinity], this.noiseRng);
        cand = noGrad(() => cand.add(Tensor.fromArray(this.engine, e, [B * k, o.actionDim])));
      }
      const rep = new Int32Array(B * k);
      for (let i = 0; i < rep.length; i++) rep[i] = Math.floor(i / k);
      const sRep = noGrad(() => gather(s2, rep));
      const qs = this.criticTargets.map((_, j) => this.targetQ(sRep, cand, j));
      return (await this.engine.readMany(qs.map((x) => x.f32('ddpg.candidateTargets')))) as Float32Array[];
    });
    const y = new Float32Array(B);
    const best = new Int32Array(B).fill(-1);
    const value = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      let v = -Infinity;
      for (let c = 0; c < k; c++) {
        const i = b * k + c;
        if (!t.valid[i]) continue;
        let m = q[0][i];
        for (let j = 1; j < q.length; j++) m = Math.min(m, q[j][i]);
        if (m > v) {
          v = m;
          best[b] = c;
        }
      }
      value[b] = best[b] < 0 ? 0 : v;
      y[b] = t.r[b] + (t.done[b] || best[b] < 0 ? 0 : t.discount[b] * v);
    }
    return { y, best, value };
  }

  /** Σ_j mean (Q_j(s, a) − y)² over the critics (y: B × 1 tensor, no grad). */
  criticLoss(s: Tensor, a: Tensor, y: Tensor): Tensor {
    let loss: Tensor | null = null;
    for (let j = 0; j < this.critics.length; j++) {
      const l = mseLoss(this.q(s, a, j), y);
      loss = loss ? loss.add(l) : l;
    }
    return loss!;
  }

  /** −mean Q₁(s, μ(s)) (+ the action penalty): its gradient reaches the actor (and through s, an encoder with grad). */
  actorLoss(s: Tensor): Tensor {
    const a = this.policy(s);
    const loss = mean(this.q(this.options.criticStateGrad || !s.requiresGrad ? s : s.detach(), a, 0)).neg();
    const lambda = this.options.actionPenalty;
    if (!(lambda > 0)) return loss;
    const d = this.options.action === 'scalar' ? sub(a, 0.5) : a;
    return loss.add(mul(mean(mul(d, d)), lambda * this.options.actionDim));
  }

  /**
   * One DDPG / TD3 update on a batch: the critic's TD step, the actor's step every
   * `policyDelay` updates, then the soft target updates. With both lr 0 nothing changes.
   * Call inside the caller's `engine.scopeAsync` when the batch holds tensors.
   */
  async update(batch: DdpgBatch): Promise<DdpgUpdateReport> {
    this.alive();
    const o = this.options;
    const B = batch.r.length;
    if (batch.y !== undefined && !(batch.y instanceof Float32Array && batch.y.length === B)) throw new GnnrlError('input', `ddpg: y: expected ${B} target values, got ${batch.y?.length}`, { arg: 'y' });
    const y = batch.y ?? (await this.targets(batch)).y;
    const actorStep = (this.updates + 1) % o.policyDelay === 0;
    const out = await this.engine.scopeAsync(async () => {
      const sIn = this.rows(batch.s, o.stateDim, 's', B);
      // The critic's loss must not move an encoder behind s: it sees s detached.
      const sCritic = sIn.requiresGrad ? sIn.detach() : sIn;
      const a = this.rows(batch.a, o.actionDim, 'a', B).detach();
      const yT = Tensor.fromArray(this.engine, y, [B, 1]);
      this.criticOpt?.zeroGrad();
      // One forward per critic serves the loss and the reported mean Q₁.
      const qs = this.critics.map((_, j) => this.q(sCritic, a, j));
      const closs = qs.map((q) => mseLoss(q, yT)).reduce((x, l) => x.add(l));
      const q1 = qs[0];
      if (this.criticOpt) {
        closs.backward();
        this.criticOpt.step();
      }
      let aloss: Tensor | null = null;
      if (actorStep) {
        this.actorOpt?.zeroGrad();
        aloss = this.actorOpt ? this.actorLoss(sIn) : noGrad(() => this.actorLoss(sIn));
        if (this.actorOpt) {
          aloss.backward();
          this.actorOpt.step();
        }
        // The actor's backward also left gradients on the critics' weights: drop them.
        for (const c of this.critics) c.zeroGrad();
      }
      const [cl, al, qm] = (await this.engine.readMany([closs.f32('ddpg'), (aloss ?? closs).f32('ddpg'), mean(q1).f32('ddpg')])) as Float32Array[];
      return { criticLoss: cl[0], actorLoss: aloss ? al[0] : null, meanQ: qm[0] };
    });
    this.updates++;
    if (actorStep) this.actorUpdates++;
    // DDPG moves the targets every update; TD3 with the (delayed) actor.
    if (this.learns && actorStep) this.syncTargets(o.tau);
    let ym = 0;
    for (let i = 0; i < B; i++) ym += y[i];
    return { ...out, meanTarget: ym / B };
  }

  /** Every target ← (1 − τ)·target + τ·online. */
  syncTargets(tau: number): void {
    const tg = [...this.actorTarget.parameters(), ...this.criticTargets.flatMap((c) => c.parameters())];
    const on = [...this.actor.parameters(), ...this.critics.flatMap((c) => c.parameters())];
    polyakUpdate(tg, on, tau);
  }

  /** Every network's parameters, named 'actor.layers.0.weight', 'critic0.…', 'actorTarget.…', 'criticTarget0.…'. */
  async state(): Promise<Record<string, Float32Array>> {
    this.alive();
    const out: Record<string, Float32Array> = {};
    const put = async (prefix: string, m: Mlp) => {
      for (const [n, v] of Object.entries(await m.state())) out[`${prefix}.${n}`] = v;
    };
    await put('actor', this.actor);
    await put('actorTarget', this.actorTarget);
    for (let j = 0; j < this.critics.length; j++) {
      await put(`critic${j}`, this.critics[j]);
      await put(`criticTarget${j}`, this.criticTargets[j]);
    }
    return out;
  }

  /** Restores every network from `state()` of a core with the same shapes. */
  load(state: Record<string, Float32Array | Int32Array>): void {
    this.alive();
    const part = (prefix: string) => {
      const o: Record<string, Float32Array> = {};
      for (const [n, v] of Object.entries(state)) if (n.startsWith(`${prefix}.`)) o[n.slice(prefix.length + 1)] = v as Float32Array;
      return o;
    };
    this.actor.load(part('actor'));
    this.actorTarget.load(part('actorTarget'));
    for (let j = 0; j < this.critics.length; j++) {
      this.critics[j].load(part(`critic${j}`));
      this.criticTargets[j].load(part(`criticTarget${j}`));
    }
  }

  /** Host rows → a [B, cols] tensor (in the current scope); a tensor is checked and passed on. */
  private rows(x: Rows, cols: number, arg: string, B?: number): Tensor {
    if (x instanceof Tensor) {
      this.checkRows(x, cols, arg, B);
      return x;
    }
    if (!(x instanceof Float32Array) || x.length % cols !== 0 || x.length === 0 || (B !== undefined && x.length !== B * cols)) {
      throw new GnnrlError('input', `ddpg: ${arg}: expected ${B ?? 'B'} × ${cols} values, got ${x instanceof Float32Array ? x.length : typeof x}`, { arg });
    }
    return Tensor.fromArray(this.engine, x, [x.length / cols, cols]);
  }

  private checkRows(t: Tensor, cols: number, arg: string, B?: number): void {
    if (t.shape.length !== 2 || t.shape[1] !== cols || (B !== undefined && t.shape[0] !== B)) {
      throw new GnnrlError('input', `ddpg: ${arg}: expected a ${B ?? 'B'}×${cols} tensor, got [${t.shape.join('×')}]`, { arg });
    }
  }

  private alive(): void {
    if (this.disposed) throw new GnnrlError('state', 'ddpg: the actor–critic core was used after dispose()');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.actorOpt?.dispose();
    this.criticOpt?.dispose();
    for (const m of [this.actor, this.actorTarget, ...this.critics, ...this.criticTargets]) m.dispose();
  }
}

/** TD3's target smoothing in place: a += clip(σ·N(0, 1), ±c), then clip a to [lo, hi]. */
export function smoothActions(a: Float32Array, sigma: number, clip: number, range: [number, number], rng: Rng): void {
  const [lo, hi] = range;
  for (let i = 0; i < a.length; i++) {
    const e = Math.max(-clip, Math.min(clip, sigma * rng.normal()));
    a[i] = Math.max(lo, Math.min(hi, a[i] + e));
  }
}
