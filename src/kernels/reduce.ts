/**
 * Reductions over a row-major [rows, cols] matrix: over everything, per row, or per
 * column; sum, sum of squares or max; the result multiplied by `scale` (means).
 * Multi-pass and deterministic on the GPU (shaders/tensor/reduce.wgsl): no atomics,
 * no workgroup waits for another, and the summation order depends only on the shape.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { buf, host, packUniforms, type Arr } from './pack.js';
import { nativeKernels } from '../native.js';

export type ReduceOp = 'sum' | 'sumsq' | 'max';
/** 'all' → 1 value, 'rows' → one per row (sum along cols), 'cols' → one per column. */
export type ReduceAxis = 'all' | 'rows' | 'cols';

const OP_CODE: Record<ReduceOp, number> = { sum: 0, sumsq: 1, max: 2 };
const WG = 256;
/** Elements one workgroup folds in a full reduction pass (16 per invocation). */
const ALL_CHUNK = WG * 16;
/** Rows one invocation sums in a column pass. */
const COL_CHUNK = 64;
/** Rows up to this long are folded one per invocation ('rows_thread'); longer ones one per workgroup. */
const SHORT_ROW = 256;

export function reduceOutLength(axis: ReduceAxis, rows: number, cols: number): number {
  return axis === 'all' ? 1 : axis === 'rows' ? rows : cols;
}

/** Float64 reference; `out` receives reduceOutLength(axis) values. */
export function reduceReference<A extends Arr>(op: ReduceOp, x: Arr, rows: number, cols: number, axis: ReduceAxis, scale: number, out: A): A {
  const init = op === 'max' ? -3.4028234663852886e38 : 0;
  const comb = op === 'max' ? (acc: number, v: number) => Math.max(acc, v) : op === 'sumsq' ? (acc: number, v: number) => acc + v * v : (acc: number, v: number) => acc + v;
  if (axis === 'all') {
    let acc = init;
    for (let i = 0; i < rows * cols; i++) acc = comb(acc, x[i]);
    out[0] = acc * scale;
  } else if (axis === 'rows') {
    for (let r = 0; r < rows; r++) {
      let acc = init;
      for (let c = 0; c < cols; c++) acc = comb(acc, x[r * cols + c]);
      out[r] = acc * scale;
    }
  } else {
    const acc = new Float64Array(cols).fill(init);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) acc[c] = comb(acc[c], x[r * cols + c]);
    for (let c = 0; c < cols; c++) out[c] = acc[c] * scale;
  }
  return out;
}

// ---------------------------------------------------------------- GPU passes

function chunkPass(gpu: GpuRuntime, op: ReduceOp, x: GPUBuffer, n: number, chunk: number, out: GPUBuffer, outOffset: number, scale: number): number {
  const groups = Math.max(1, Math.ceil(n / chunk));
  const uniforms = packUniforms([
    ['u', n],
    ['u', chunk],
    ['u', outOffset],
    ['f', scale],
  ]);
  gpu.dispatch({ name: `reduce.${op}`, shader: 'tensor/reduce.wgsl', entry: 'chunks', constants: { OP: OP_CODE[op] } }, { buffers: [x, out], uniforms, workgroups: gpu.grid(groups) });
  return groups;
}

/**
 * Reduces all `n` elements of `x` into out[outOffset] (the optimiser's global-norm
 * slots use the offset). Intermediate partials come from the engine's pool.
 */
export function gpuReduceAll(engine: Engine, op: ReduceOp, x: DeviceArray<'f32'>, n: number, out: DeviceArray<'f32'>, outOffset: number, scale: number): void {
  const gpu = engine.gpu;
  let cur = x;
  let len = n;
  let first = true;
  const temps: DeviceArray<'f32'>[] = [];
  while (len > ALL_CHUNK) {
    const groups = Math.ceil(len / ALL_CHUNK);
    const tmp = engine.empty('f32', groups);
    temps.push(tmp);
    chunkPass(gpu, first ? op : op === 'sumsq' ? 'sum' : op, buf(cur), len, ALL_CHUNK, buf(tmp), 0, 1);
    first = false;
    cur = tmp;
    len = groups;
  }
  chunkPass(gpu, first ? op : op === 'sumsq' ? 'sum' : op, buf(cur), len, Math.max(1, len), buf(out), outOffset, scale);
  // Freed buffers are reused only after the next submit, which orders them behind these passes.
  for (const t of temps) engine.free(t);
}

function gpuReduceCols(engine: Engine, x: DeviceArray<'f32'>, rows: number, cols: number, out: DeviceArray<'f32'>, scale: number): void {
  const gpu = engine.gpu;
  let cur = x;
  let r = rows;
  const temps: DeviceArray<'f32'>[] = [];
  for (;;) {
    const perChunk = Math.max(COL_CHUNK, Math.ceil(r / gpu.limits.maxWorkgroupsPerDim));
    const chunks = Math.max(1, Math.ceil(r / perChunk));
    const last = chunks === 1;
    const dst = last ? out : engine.empty('f32', chunks * cols);
    if (!last) temps.push(dst);
    const [gx, gy] = gpu.grid(Math.ceil(cols / WG));
    const uniforms = packUniforms([
      ['u', r],
      ['u', cols],
      ['u', perChunk],
      ['f', last ? scale : 1],
    ]);
    gpu.dispatch({ name: 'reduce.cols', shader: 'tensor/reduce.wgsl', entry: 'cols', constants: { OP: 0 } }, { buffers: [buf(cur), buf(dst)], uniforms, workgroups: [gx, gy, chunks] });
    if (last) break;
    cur = dst;
    r = chunks;
  }
  for (const t of temps) engine.free(t);
}

type ReduceImpl = (engine: Engine, op: ReduceOp, x: DeviceArray<'f32'>, rows: number, cols: number, axis: ReduceAxis, scale: number, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;

const reduceCpu: ReduceImpl = (_e, op, x, rows, cols, axis, scale, out) => {
  reduceReference(op, host(x), rows, cols, axis, scale, host(out));
  return out;
};

const reduceGpu: ReduceImpl = (engine, op, x, rows, cols, axis, scale, out) => {
  const gpu = engine.gpu;
  if (axis === 'all') {
    gpuReduceAll(engine, op, x, rows * cols, out, 0, scale);
  } else if (axis === 'rows') {
    if (rows === 0) return out;
    if (cols === 0) {
      gpu.clear(buf(out), 0, rows * 4);
      return out;
    }
    if (cols <= SHORT_ROW) {
      // One invocation per row (embedding-width rows: dot products, norms).
      const uniforms = packUniforms([
        ['u', rows * cols],
        ['u', cols],
        ['u', 0],
        ['f', scale],
      ]);
      gpu.dispatch(
        { name: `reduce.rows.${op}`, shader: 'tensor/reduce.wgsl', entry: 'rows_thread', constants: { OP: OP_CODE[op] } },
        { buffers: [buf(x), buf(out)], uniforms, workgroups: gpu.grid(Math.ceil(rows / WG)) },
      );
    } else {
      // One workgroup per long row: a row never spans workgroups, so one pass suffices.
      chunkPass(gpu, op, buf(x), rows * cols, cols, buf(out), 0, scale);
    }
  } else {
    if (cols === 0) return out;
    if (op !== 'sum') throw new GnnrlError('input', `reduce: the GPU column reduction supports only 'sum' (got '${op}')`, { arg: 'op' });
    gpuReduceCols(engine, x, rows, cols, out, scale);
  }
  return out;
};

const AXIS_CODE: Record<ReduceAxis, number> = { all: 0, rows: 1, cols: 2 };

/** native/kern_reduce_core.cc: per row and per column in the reference's order; over everything in fixed blocks. */
const reduceNative: ReduceImpl = (engine, op, x, rows, cols, axis, scale, out) => {
  const k = nativeKernels();
  if (!k.reduce) return reduceCpu(engine, op, x, rows, cols, axis, scale, out);
  k.reduce(OP_CODE[op], host(x), rows, cols, AXIS_CODE[axis], scale, host(out));
  return out;
};

/** out = scale · reduce(x) along `axis`; `out` holds reduceOutLength(axis, rows, cols) elements. */
export const reduceKernel = defineKernel<ReduceImpl>('reduce', { cpu: reduceCpu, webgpu: reduceGpu, native: reduceNative });

type IntoImpl = (engine: Engine, op: ReduceOp, x: DeviceArray<'f32'>, n: number, out: DeviceArray<'f32'>, outOffset: number) => void;

/** out[outOffset] = reduce(x[0..n)): per-parameter slots of a global gradient norm. */
const reduceIntoCpu: IntoImpl = (_e, op, x, n, out, outOffset) => {
  const r = new Float64Array(1);
  reduceReference(op, host(x), 1, n, 'all', 1, r);
  host(out)[outOffset] = r[0];
};

export const reduceIntoKernel = defineKernel<IntoImpl>('reduce_into', {
  cpu: reduceIntoCpu,
  webgpu: (engine, op, x, n, out, outOffset) => gpuReduceAll(engine, op, x, n, out, outOffset, 1),
  // The addon's reduction over everything (fixed blocks, so the same for any thread count):
  // a gradient norm over a 50,000-row item table is a few ms there, ~30 ms in TypeScript.
  native: (engine, op, x, n, out, outOffset) => {
    const k = nativeKernels();
    if (!k.reduce || n === 0) return reduceIntoCpu(engine, op, x, n, out, outOffset);
    const r = new Float32Array(1);
    k.reduce(OP_CODE[op], n === host(x).length ? host(x) : host(x).subarray(0, n), 1, n, AXIS_CODE.all, 1, r);
    host(out)[outOffset] = r[0];
  },
});
