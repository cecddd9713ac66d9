/**
 * Fused optimiser updates, one dispatch per parameter (shaders/tensor/optim.wgsl):
 * w, its gradient and the optimiser state are read and written once. `clip` is a
 * one-element device array with the gradient scale (1 without clipping), so global-norm
 * clipping never reads back.
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { buf, host, launch1d, packUniforms } from './pack.js';
import { nativeAsyncKernels, nativeKernels, type NativeAsyncOptions } from '../native.js';

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Decoupled weight decay (AdamW) instead of L2 added to the gradient. */
  decoupled: boolean;
  /** 1-based step number, for bias correction. */
  step: number;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
}

/**
 * Reference Adam step in place, with the same float32 rounding points as the shader
 * (each stored value rounded once) so the two agree step for step.
 */
export function adamReference(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, clip: number, h: AdamHyper): void {
  const f = Math.fround;
  const bc1 = f(1 - h.beta1 ** h.step);
  const bc2 = f(1 - h.beta2 ** h.step);
  for (let i = 0; i < w.length; i++) {
    const wi = w[i];
    let gi = g[i] * clip;
    if (!h.decoupled) gi += h.weightDecay * wi;
    const mi = f(h.beta1 * m[i] + (1 - h.beta1) * gi);
    const vi = f(h.beta2 * v[i] + (1 - h.beta2) * gi * gi);
    m[i] = mi;
    v[i] = vi;
    let step = mi / bc1 / (Math.sqrt(vi / bc2) + h.eps);
    if (h.decoupled) step += h.weightDecay * wi;
    w[i] = wi - h.lr * step;
  }
}

export function sgdReference(w: Float32Array, g: Float32Array, vel: Float32Array, clip: number, h: SgdHyper): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i] * clip + h.weightDecay * w[i];
    const vi = Math.fround(h.momentum * vel[i] + gi);
    vel[i] = vi;
    w[i] = w[i] - h.lr * vi;
  }
}

/** scale = min(1, maxNorm / (sqrt(sumsq) + eps)) */
export function clipScaleReference(sumsq: number, maxNorm: number, eps: number): number {
  return Math.min(1, maxNorm / (Math.sqrt(sumsq) + eps));
}

const SHADER = 'tensor/optim.wgsl';

type AdamImpl = (engine: Engine, w: DeviceArray<'f32'>, g: DeviceArray<'f32'>, m: DeviceArray<'f32'>, v: DeviceArray<'f32'>, clip: DeviceArray<'f32'>, h: AdamHyper) => void;
type SgdImpl = (engine: Engine, w: DeviceArray<'f32'>, g: DeviceArray<'f32'>, vel: DeviceArray<'f32'>, clip: DeviceArray<'f32'>, h: SgdHyper) => void;
type ClipImpl = (engine: Engine, sumsq: DeviceArray<'f32'>, maxNorm: number, eps: number, out: DeviceArray<'f32'>) => void;

export const adamKernel = defineKernel<AdamImpl>('adam', {
  cpu: (_e, w, g, m, v, clip, h) => adamReference(host(w), host(g), host(m), host(v), host(clip)[0], h),
  webgpu: (engine, w, g, m, v, clip, h) => {
    const u = packUniforms([
      ['u', w.length],
      ['f', h.lr],
      ['f', h.beta1],
      ['f', h.beta2],
      ['f', h.eps],
      ['f', h.weightDecay],
      ['f', 1 - h.beta1 ** h.step],
      ['f', 1 - h.beta2 ** h.step],
    ]);
    const program = { name: h.decoupled ? 'adamw' : 'adam', shader: SHADER, entry: 'adam', constants: { ADAMW: h.decoupled ? 1 : 0 } };
    launch1d(engine.gpu, program, [buf(w), buf(g), buf(m), buf(v), buf(clip)], u, w.length);
  },
  // native/kern_optim_core.cc: adamReference's rounding points, blocks on the pool.
  native: (_e, w, g, m, v, clip, h) => {
    const k = nativeKernels();
    if (!k.adam) return adamReference(host(w), host(g), host(m), host(v), host(clip)[0], h);
    k.adam(host(w), host(g), host(m), host(v), host(clip)[0], h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.decoupled, h.step);
  },
});

/**
 * adamKernel that leaves the event loop free on the native backend: the same kernel and
 * the same bits, on a worker thread (queued behind other async native calls). Until it
 * settles, do not touch w, g, m, v. Elsewhere (and with an addon built before adamAsync)
 * it is adamKernel, run at once.
 */
export async function adamAsync(engine: Engine, w: DeviceArray<'f32'>, g: DeviceArray<'f32'>, m: DeviceArray<'f32'>, v: DeviceArray<'f32'>, clip: DeviceArray<'f32'>, h: AdamHyper, opts: NativeAsyncOptions = {}): Promise<void> {
  const k = engine.backend === 'native' ? nativeAsyncKernels()?.adam : null;
  if (!k) {
    opts.signal?.throwIfAborted();
    adamKernel(engine, w, g, m, v, clip, h);
    return;
  }
  await k(host(w), host(g), host(m), host(v), host(clip)[0], h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.decoupled, h.step, opts);
}

export const sgdKernel = defineKernel<SgdImpl>('sgd', {
  cpu: (_e, w, g, vel, clip, h) => sgdReference(host(w), host(g), host(vel), host(clip)[0], h),
  webgpu: (engine, w, g, vel, clip, h) => {
    const u = packUniforms([
      ['u', w.length],
      ['f', h.lr],
      ['f', h.momentum],
      ['f', h.weightDecay],
    ]);
    launch1d(engine.gpu, { name: 'sgd', shader: SHADER, entry: 'sgd' }, [buf(w), buf(g), buf(vel), buf(clip)], u, w.length);
  },
});

export const clipScaleKernel = defineKernel<ClipImpl>('clip_scale', {
  cpu: (_e, sumsq, maxNorm, eps, out) => {
    host(out)[0] = clipScaleReference(host(sumsq)[0], maxNorm, eps);
  },
  webgpu: (engine, sumsq, maxNorm, eps, out) => {
    const u = packUniforms([
      ['f', maxNorm],
      ['f', eps],
    ]);
    engine.gpu.dispatch({ name: 'clip_scale', shader: SHADER, entry: 'clip_scale' }, { buffers: [buf(sumsq), buf(out)], uniforms: u, workgroups: [1] });
  },
});
