/**
 * Row softmax and log-softmax over [rows, cols], with their backwards from the saved
 * output y: softmax gx = y ⊙ (g − Σ g⊙y); log-softmax gx = g − exp(y) · Σ g.
 * GPU: one workgroup per row (shaders/tensor/softmax.wgsl); native: rows on the pool
 * (native/kern_softmax_core.cc).
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { buf, host, packUniforms, type Arr } from './pack.js';
import { nativeKernels } from '../native.js';

/** log Σ_c exp(x[o + c]) over one row of `cols`, shifted by the row max (stable). */
export function rowLogSumExp(x: Arr, o: number, cols: number): number {
  let m = -Infinity;
  for (let c = 0; c < cols; c++) m = Math.max(m, x[o + c]);
  let s = 0;
  for (let c = 0; c < cols; c++) s += Math.exp(x[o + c] - m);
  return m + Math.log(s);
}

export function softmaxReference<A extends Arr>(x: Arr, rows: number, cols: number, log: boolean, out: A): A {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const lse = rowLogSumExp(x, o, cols);
    for (let c = 0; c < cols; c++) out[o + c] = log ? x[o + c] - lse : Math.exp(x[o + c] - lse);
  }
  return out;
}

export function softmaxBackwardReference<A extends Arr>(y: Arr, g: Arr, rows: number, cols: number, log: boolean, out: A): A {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let d = 0;
    for (let c = 0; c < cols; c++) d += log ? g[o + c] : g[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) out[o + c] = log ? g[o + c] - Math.exp(y[o + c]) * d : y[o + c] * (g[o + c] - d);
  }
  return out;
}

type FwdImpl = (engine: Engine, x: DeviceArray<'f32'>, rows: number, cols: number, log: boolean, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;
type BwdImpl = (engine: Engine, y: DeviceArray<'f32'>, g: DeviceArray<'f32'>, rows: number, cols: number, log: boolean, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;

function rowDispatch(engine: Engine, entry: string, log: boolean, buffers: GPUBuffer[], rows: number, cols: number): void {
  if (rows === 0 || cols === 0) return;
  const gpu = engine.gpu;
  gpu.dispatch(
    { name: `${log ? 'log_softmax' : 'softmax'}.${entry}`, shader: 'tensor/softmax.wgsl', entry, constants: { LOG: log ? 1 : 0 } },
    { buffers, uniforms: packUniforms([['u', rows], ['u', cols]]), workgroups: gpu.grid(rows) },
  );
}

export const softmaxKernel = defineKernel<FwdImpl>('softmax', {
  cpu: (_e, x, rows, cols, log, out) => {
    softmaxReference(host(x), rows, cols, log, host(out));
    return out;
  },
  webgpu: (engine, x, rows, cols, log, out) => {
    rowDispatch(engine, 'forward', log, [buf(x), buf(out)], rows, cols);
    return out;
  },
  // native/kern_softmax_core.cc: the same double arithmetic, rows on the pool.
  native: (_e, x, rows, cols, log, out) => {
    const k = nativeKernels();
    if (k.softmax) k.softmax(host(x), rows, cols, log, host(out));
    else softmaxReference(host(x), rows, cols, log, host(out));
    return out;
  },
});

export const softmaxBackwardKernel = defineKernel<BwdImpl>('softmax.backward', {
  cpu: (_e, y, g, rows, cols, log, out) => {
    softmaxBackwardReference(host(y), host(g), rows, cols, log, host(out));
    return out;
  },
  webgpu: (engine, y, g, rows, cols, log, out) => {
    rowDispatch(engine, 'backward', log, [buf(y), buf(g), buf(out)], rows, cols);
    return out;
  },
  native: (_e, y, g, rows, cols, log, out) => {
    const k = nativeKernels();
    if (k.softmaxBackward) k.softmaxBackward(host(y), host(g), rows, cols, log, host(out));
    else softmaxBackwardReference(host(y), host(g), rows, cols, log, host(out));
    return out;
  },
});
