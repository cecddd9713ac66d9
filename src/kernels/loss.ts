/**
 * Softmax cross-entropy with integer labels, fused (shaders/tensor/loss.wgsl):
 * forward gives the per-row loss and the row log-sum-exp, backward turns them into
 * (softmax − onehot) · g · scale without materialising probabilities in forward.
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { buf, host, launch1d, packUniforms, type Arr } from './pack.js';
import { rowLogSumExp } from './softmax.js';

export function crossEntropyReference(x: Arr, labels: Int32Array, rows: number, cols: number, loss: Arr, lse: Arr): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    lse[r] = rowLogSumExp(x, o, cols);
    const t = labels[r];
    loss[r] = t >= 0 && t < cols ? lse[r] - x[o + t] : Number.NaN;
  }
}

/** gx = (exp(x − lse) − onehot(label)) · g[0] · scale. */
export function crossEntropyBackwardReference<A extends Arr>(x: Arr, labels: Int32Array, lse: Arr, g: Arr, rows: number, cols: number, scale: number, out: A): A {
  const k = g[0] * scale;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[r * cols + c] = (Math.exp(x[r * cols + c] - lse[r]) - (labels[r] === c ? 1 : 0)) * k;
  return out;
}

type FwdImpl = (engine: Engine, x: DeviceArray<'f32'>, labels: DeviceArray<'i32'>, rows: number, cols: number, loss: DeviceArray<'f32'>, lse: DeviceArray<'f32'>) => void;
type BwdImpl = (engine: Engine, x: DeviceArray<'f32'>, labels: DeviceArray<'i32'>, lse: DeviceArray<'f32'>, g: DeviceArray<'f32'>, rows: number, cols: number, scale: number, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;

function params(rows: number, cols: number, scale: number): ArrayBuffer {
  return packUniforms([
    ['u', rows],
    ['u', cols],
    ['f', scale],
    ['u', 0],
  ]);
}

export const crossEntropyKernel = defineKernel<FwdImpl>('cross_entropy', {
  cpu: (_e, x, labels, rows, cols, loss, lse) => crossEntropyReference(host(x), host(labels), rows, cols, host(loss), host(lse)),
  webgpu: (engine, x, labels, rows, cols, loss, lse) => {
    if (rows === 0) return;
    const gpu = engine.gpu;
    gpu.dispatch(
      { name: 'cross_entropy', shader: 'tensor/loss.wgsl', entry: 'forward' },
      { buffers: [buf(x), buf(labels), buf(loss), buf(lse)], uniforms: params(rows, cols, 1), workgroups: gpu.grid(rows) },
    );
  },
});

export const crossEntropyBackwardKernel = defineKernel<BwdImpl>('cross_entropy.backward', {
  cpu: (_e, x, labels, lse, g, rows, cols, scale, out) => {
    crossEntropyBackwardReference(host(x), host(labels), host(lse), host(g), rows, cols, scale, host(out));
    return out;
  },
  webgpu: (engine, x, labels, lse, g, rows, cols, scale, out) => {
    launch1d(engine.gpu, { name: 'cross_entropy.backward', shader: 'tensor/loss.wgsl', entry: 'backward' }, [buf(x), buf(labels), buf(lse), buf(g), buf(out)], params(rows, cols, scale), rows * cols);
    return out;
  },
});
