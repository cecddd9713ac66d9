/**
 * Small helpers shared by the tensor kernels: uniform packing, storage access by
 * backend, and 1-D launches folded under the per-dimension workgroup limit.
 */
import type { CpuArray, DeviceArray, DType, GpuArray, TypedArrayFor } from '../backend/arrays.js';
import type { GpuRuntime, KernelProgram } from '../gpu/runtime.js';

/** Float64 or float32 buffers: CPU references run on either (f64 for gradient checks). */
export type Arr = Float32Array | Float64Array;

/** One uniform word: `u` u32, `i` i32, `f` f32 (matching the WGSL struct field order). */
export type Word = ['u' | 'i' | 'f', number];

export function packUniforms(words: Word[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((words.length * 4) / 16) * 16));
  const view = new DataView(buf);
  words.forEach(([t, v], i) => {
    if (t === 'f') view.setFloat32(i * 4, v, true);
    else if (t === 'i') view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v >>> 0, true);
  });
  return buf;
}

/**
 * Invocations that cooperate on one row: the next power of two covering `width`
 * columns, at most a 64-wide workgroup (so 64 / lanes rows share a workgroup).
 */
export function lanesFor(width: number): number {
  let lanes = 1;
  while (lanes < width && lanes < 64) lanes *= 2;
  return lanes;
}

export function buf(a: DeviceArray): GPUBuffer {
  return (a as GpuArray).buffer;
}

export function host<D extends DType>(a: DeviceArray<D>): TypedArrayFor<D> {
  return (a as CpuArray<D>).data;
}

/** `host(a)` of an optional host-backed array (undefined stays undefined): the addon's optional operands. */
export function hostOpt<D extends DType>(a: DeviceArray<D> | undefined): TypedArrayFor<D> | undefined {
  return a ? (a as CpuArray<D>).data : undefined;
}

/** Launches ceil(threads / wg) workgroups folded into (x, y); nothing for zero threads. */
export function launch1d(gpu: GpuRuntime, program: KernelProgram, buffers: GPUBuffer[], uniforms: ArrayBuffer, threads: number, wg = 256): void {
  if (threads <= 0) return;
  const [x, y] = gpu.grid(Math.ceil(threads / wg));
  gpu.dispatch(program, { buffers, uniforms, workgroups: [x, y] });
}
