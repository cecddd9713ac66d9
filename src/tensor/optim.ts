/**
 * Optimisers over parameters on the device: SGD with momentum, Adam and AdamW, each
 * one fused kernel per parameter (src/kernels/optim.ts). Optional clipping by global
 * gradient norm runs on the device: Σ‖g‖² per parameter into slots, one more pass for
 * the total, and a one-element scale the update kernels read — no readback.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { DeviceArray } from '../backend/arrays.js';
import { adamAsync, adamKernel, clipScaleKernel, sgdKernel, type AdamHyper } from '../kernels/optim.js';
import { reduceIntoKernel } from '../kernels/reduce.js';
import { constantOne } from './constants.js';
import { Tensor } from './tensor.js';

/**
 * The size from which `stepAsync` sends a parameter's update to a worker (a 50,000-row item head; a 2,000-row one measured faster sync): below it the
 * queue's round trip costs more than the few microseconds of the update.
 */
export const ASYNC_MIN_SIZE = 1 << 20;

export interface OptimizerOptions {
  lr: number;
  /** L2 penalty (SGD, Adam) or decoupled decay (AdamW). */
  weightDecay?: number;
  /** Clip gradients to this global L2 norm before each step. */
  clipNorm?: number;
}

/** Σ of ‖grad‖² over `params` as a one-element device tensor (no readback). */
export function gradNormSquared(params: Tensor[]): Tensor {
  const withGrad = params.filter((p) => p.grad);
  if (params.length === 0) throw new GnnrlError('input', 'gradNormSquared: no parameters', { arg: 'params' });
  const engine = params[0].engine;
  const slots = Tensor.empty(engine, [Math.max(1, withGrad.length)]).fill(0);
  withGrad.forEach((p, i) => reduceIntoKernel(engine, 'sumsq', p.grad!.f32('gradNorm'), p.size, slots.f32('gradNorm'), i));
  const total = Tensor.empty(engine, []);
  reduceIntoKernel(engine, 'sum', slots.f32('gradNorm'), slots.size, total.f32('gradNorm'), 0);
  slots.dispose();
  return total;
}

export abstract class Optimizer {
  readonly params: Tensor[];
  readonly engine: Engine;
  /** Steps taken. */
  t = 0;
  protected readonly state: DeviceArray<'f32'>[][] = [];
  private clip: DeviceArray<'f32'> | null = null;

  /**
   * The optimiser's per-parameter state arrays (Adam: [m, v]; SGD with momentum: [velocity];
   * none for plain SGD), in `params` order: for checkpoints of a learner that must resume
   * exactly. Read them with `engine.readMany`, write them with `engine.write`; `t` is the
   * step count beside them.
   */
  get stateArrays(): readonly (readonly DeviceArray<'f32'>[])[] {
    return this.state;
  }

  constructor(
    params: Tensor[],
    readonly options: OptimizerOptions,
  ) {
    if (params.length === 0) throw new GnnrlError('input', 'optimizer: expected at least one parameter', { arg: 'params' });
    if (!(options.lr > 0)) throw new GnnrlError('input', `optimizer: lr must be positive, got ${options.lr}`, { arg: 'lr' });
    params.forEach((p, i) => {
      if (!p.requiresGrad) throw new GnnrlError('input', `optimizer: params[${i}] (${p.shape.join('×')}) does not require a gradient; make it with parameter()`, { arg: 'params', index: i });
    });
    this.params = params;
    this.engine = params[0].engine;
  }

  /** Zeroed device arrays for one state slot per parameter (moments, velocity). */
  protected initState(slots: number): void {
    for (const p of this.params) {
      const arrs: DeviceArray<'f32'>[] = [];
      for (let s = 0; s < slots; s++) {
        const a = this.engine.empty('f32', p.size);
        if (a.backend === 'webgpu') {
          if (p.size > 0) this.engine.gpu.clear(a.buffer, 0, p.size * 4);
        } else a.data.fill(0);
        arrs.push(a);
      }
      this.state.push(arrs);
    }
  }

  /** Drops every gradient (they are reallocated from the pool by the next backward). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The gradient scale buffer for this step: 1, or the on-device clip factor. */
  private clipScale(): DeviceArray<'f32'> {
    const max = this.options.clipNorm;
    if (max === undefined) return constantOne(this.engine);
    if (!this.clip) this.clip = this.engine.empty('f32', 1);
    const sq = gradNormSquared(this.params);
    clipScaleKernel(this.engine, sq.f32('clip'), max, 1e-6, this.clip);
    sq.dispose();
    return this.clip;
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    this.t++;
    const clip = this.clipScale();
    this.params.forEach((p, i) => {
      if (p.grad) this.update(p, p.grad, this.state[i], clip);
    });
  }

  /**
   * `step` for callers that keep an event loop answering (a served agent's updates): on
   * the native backend, parameters of at least ASYNC_MIN_SIZE values are updated on a
   * worker thread, one after another, with the same bits as `step`. Do not touch the
   * parameters or their gradients until it settles.
   */
  async stepAsync(): Promise<void> {
    this.t++;
    const clip = this.clipScale();
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      if (!p.grad) continue;
      if (p.size >= ASYNC_MIN_SIZE) await this.updateAsync(p, p.grad, this.state[i], clip);
      else this.update(p, p.grad, this.state[i], clip);
    }
  }

  protected abstract update(p: Tensor, g: Tensor, state: DeviceArray<'f32'>[], clip: DeviceArray<'f32'>): void;

  /** `update` off the JavaScript thread where the backend can; by default `update` itself. */
  protected async updateAsync(p: Tensor, g: Tensor, state: DeviceArray<'f32'>[], clip: DeviceArray<'f32'>): Promise<void> {
    this.update(p, g, state, clip);
  }

  /** Frees the optimiser state (not the parameters). */
  dispose(): void {
    for (const arrs of this.state) for (const a of arrs) this.engine.free(a);
    this.state.length = 0;
    if (this.clip) this.engine.free(this.clip);
    this.clip = null;
  }
}

export interface SgdOptions extends OptimizerOptions {
  momentum?: number;
}

/** v = μv + g (+ wd·w); w −= lr·v. */
export class SGD extends Optimizer {
  constructor(
    params: Tensor[],
    readonly sgd: SgdOptions,
  ) {
    super(params, sgd);
    this.initState(1);
  }

  protected update(p: Tensor, g: Tensor, state: DeviceArray<'f32'>[], clip: DeviceArray<'f32'>): void {
    sgdKernel(this.engine, p.f32('sgd'), g.f32('sgd'), state[0], clip, { lr: this.sgd.lr, momentum: this.sgd.momentum ?? 0, weightDecay: this.sgd.weightDecay ?? 0 });
  }
}

export interface AdamOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** Adam (Kingma & Ba) with bias correction; weightDecay is an L2 term added to g. */
export class Adam extends Optimizer {
  protected decoupled = false;

  constructor(
    params: Tensor[],
    readonly adam: AdamOptions,
  ) {
    super(params, adam);
    this.initState(2);
  }

  protected update(p: Tensor, g: Tensor, state: DeviceArray<'f32'>[], clip: DeviceArray<'f32'>): void {
    adamKernel(this.engine, p.f32('adam'), g.f32('adam'), state[0], state[1], clip, this.hyper());
  }

  protected override async updateAsync(p: Tensor, g: Tensor, state: DeviceArray<'f32'>[], clip: DeviceArray<'f32'>): Promise<void> {
    await adamAsync(this.engine, p.f32('adam'), g.f32('adam'), state[0], state[1], clip, this.hyper());
  }

  private hyper(): AdamHyper {
    return {
      lr: this.adam.lr,
      beta1: this.adam.beta1 ?? 0.9,
      beta2: this.adam.beta2 ?? 0.999,
      eps: this.adam.eps ?? 1e-8,
      weightDecay: this.adam.weightDecay ?? (this.decoupled ? 0.01 : 0),
      decoupled: this.decoupled,
      step: this.t,
    };
  }
}

/** AdamW (Loshchilov & Hutter): decay applied to the weights, not mixed into the moments. */
export class AdamW extends Adam {
  constructor(params: Tensor[], adam: AdamOptions) {
    super(params, adam);
    this.decoupled = true;
  }
}
