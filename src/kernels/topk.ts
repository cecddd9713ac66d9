/**
 * Top-K items per user over the whole catalogue: scores s·e_i + b_i, excluded items
 * (already seen) skipped, K ≤ 128 best returned in order with ties to the lower index.
 * Serving (`recommend(user, k)`), slates and full-ranking evaluation all use it.
 *
 * The WebGPU path scores a chunk of rows at a time into a bounded buffer (at most
 * `chunkBytes`, 32 MiB by default), then selects per row by radix select, so memory stays
 * bounded whatever B × I is.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { CpuArray, DeviceArray, GpuArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { nativeAsyncKernels, nativeKernels, type NativeAsyncOptions, type NativeKernels } from '../native.js';
import { host, hostOpt } from './pack.js';
import { scoringBindings } from './qtarget.js';

export const TOPK_MAX = 128;

export interface TopKArgs {
  /** User/state embeddings, B × d. */
  queries: DeviceArray<'f32'>;
  batch: number;
  dim: number;
  /** Item table, I × d. */
  items: DeviceArray<'f32'>;
  nItems: number;
  bias?: DeviceArray<'f32'>;
  /** Items each row may not return: CSR with B rows, columns sorted. */
  exclude?: { rowPtr: DeviceArray<'i32'>; colIdx: DeviceArray<'i32'> };
  k: number;
  /** Upper bound on the transient score buffer (WebGPU). */
  chunkBytes?: number;
}

export interface TopKResult {
  /** B × k item indices, best first; −1 past the number of eligible items. */
  indices: DeviceArray<'i32'>;
  /** B × k scores; −∞ where the index is −1. */
  scores: DeviceArray<'f32'>;
}

function checkArgs(a: TopKArgs): void {
  if (!Number.isInteger(a.k) || a.k < 1 || a.k > TOPK_MAX) throw new GnnrlError('input', `topK: k: expected an integer in [1, ${TOPK_MAX}], got ${a.k}`, { arg: 'k' });
  if (!Number.isInteger(a.dim) || a.dim < 1) throw new GnnrlError('input', `topK: dim: expected a positive integer, got ${a.dim}`, { arg: 'dim' });
  if (!Number.isInteger(a.nItems) || a.nItems < 1) throw new GnnrlError('input', `topK: nItems: expected a positive integer, got ${a.nItems}`, { arg: 'nItems' });
  const need = (arr: DeviceArray | undefined, len: number, name: string) => {
    if (arr && arr.length !== len) throw new GnnrlError('input', `topK: ${name}: expected ${len} elements, got ${arr.length}`, { arg: name });
  };
  need(a.queries, a.batch * a.dim, 'queries');
  need(a.items, a.nItems * a.dim, 'items');
  need(a.bias, a.nItems, 'bias');
  if (a.exclude) need(a.exclude.rowPtr, a.batch + 1, 'exclude.rowPtr');
}

/** CPU reference: float64 scores, full sort per row (score desc, index asc). */
export function topKReference(a: {
  queries: Float32Array;
  batch: number;
  dim: number;
  items: Float32Array;
  nItems: number;
  bias?: Float32Array;
  exclude?: { rowPtr: Int32Array; colIdx: Int32Array };
  k: number;
}): { indices: Int32Array; scores: Float32Array; exact: Float64Array } {
  const { batch: b, dim: d, nItems: n, k } = a;
  const indices = new Int32Array(b * k).fill(-1);
  const scores = new Float32Array(b * k).fill(-Infinity);
  const exact = new Float64Array(b * n);
  const excluded = new Uint8Array(n);
  for (let row = 0; row < b; row++) {
    if (a.exclude) for (let e = a.exclude.rowPtr[row]; e < a.exclude.rowPtr[row + 1]; e++) excluded[a.exclude.colIdx[e]] = 1;
    const cand: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = a.bias ? a.bias[i] : 0;
      for (let c = 0; c < d; c++) s += a.queries[row * d + c] * a.items[i * d + c];
      exact[row * n + i] = s;
      if (!excluded[i]) cand.push(i);
    }
    cand.sort((x, y) => exact[row * n + y] - exact[row * n + x] || x - y);
    for (let j = 0; j < Math.min(k, cand.length); j++) {
      indices[row * k + j] = cand[j];
      scores[row * k + j] = exact[row * n + cand[j]];
    }
    if (a.exclude) for (let e = a.exclude.rowPtr[row]; e < a.exclude.rowPtr[row + 1]; e++) excluded[a.exclude.colIdx[e]] = 0;
  }
  return { indices, scores, exact };
}

function topKCpu(engine: Engine, a: TopKArgs): TopKResult {
  checkArgs(a);
  const data = <T extends DeviceArray>(x: T | undefined) => (x ? ((x as CpuArray).data as never) : undefined);
  const r = topKReference({
    queries: data(a.queries)!,
    batch: a.batch,
    dim: a.dim,
    items: data(a.items)!,
    nItems: a.nItems,
    bias: data(a.bias),
    exclude: a.exclude ? { rowPtr: data(a.exclude.rowPtr)!, colIdx: data(a.exclude.colIdx)! } : undefined,
    k: a.k,
  });
  return { indices: engine.array(r.indices), scores: engine.array(r.scores) };
}

function topKWebGpu(engine: Engine, a: TopKArgs): TopKResult {
  checkArgs(a);
  const gpu = engine.gpu;
  const { batch: b, nItems: n, k } = a;
  if (n * 4 > gpu.limits.maxStorageBufferBindingSize) {
    throw new GnnrlError('limit', `topK: one row of ${n} item scores exceeds maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`);
  }
  const indices = engine.empty('i32', b * k) as GpuArray<'i32'>;
  const scores = engine.empty('f32', b * k) as GpuArray<'f32'>;
  if (b === 0) return { indices, scores };
  const budget = Math.min(a.chunkBytes ?? 32 << 20, gpu.limits.maxStorageBufferBindingSize);
  const rowsPerChunk = Math.max(1, Math.min(b, Math.floor(budget / (n * 4))));
  const chunk = engine.empty('f32', rowsPerChunk * n) as GpuArray<'f32'>;
  const scoring = scoringBindings(engine, a.queries, a.items, a.bias, a.exclude);
  for (let row0 = 0; row0 < b; row0 += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, b - row0);
    const sp = new ArrayBuffer(48);
    const u = new Uint32Array(sp);
    u[0] = b;
    u[1] = n;
    u[2] = a.dim;
    u[3] = 0;
    u[4] = a.bias ? 1 : 0;
    u[5] = a.exclude ? 1 : 0;
    u[8] = row0;
    u[9] = rows;
    gpu.dispatch(
      { name: 'topk.scores', shader: 'qtarget.wgsl', entry: 'tile_scores' },
      {
        buffers: [...scoring.buffers, chunk.buffer],
        uniforms: sp,
        workgroups: [Math.ceil(n / 64), Math.ceil(rows / 64)],
      },
    );
    const [gx, gy] = gpu.grid(rows);
    gpu.dispatch(
      { name: 'topk.select', shader: 'topk.wgsl' },
      {
        buffers: [chunk.buffer, indices.buffer, scores.buffer],
        uniforms: new Uint32Array([rows, n, k, row0, gx, 0, 0, 0]),
        workgroups: [gx, gy],
      },
    );
  }
  engine.free(chunk);
  scoring.release();
  return { indices, scores };
}

/** The addon's topk arguments for these (checked) ones. */
function nativeTopKArgs(a: TopKArgs): Parameters<NativeKernels['topk']>[0] {
  return {
    queries: host(a.queries),
    batch: a.batch,
    dim: a.dim,
    items: host(a.items),
    nItems: a.nItems,
    bias: hostOpt(a.bias),
    excludeRowPtr: hostOpt(a.exclude?.rowPtr),
    excludeColIdx: hostOpt(a.exclude?.colIdx),
    k: a.k,
  };
}

/** Native backend: the addon's fused kernel (native/kern_score_core.cc), a k-heap per row fed tile by tile. */
function topKNative(engine: Engine, a: TopKArgs): TopKResult {
  checkArgs(a);
  const indices = engine.empty('i32', a.batch * a.k);
  const scores = engine.empty('f32', a.batch * a.k);
  nativeKernels().topk(nativeTopKArgs(a), host(indices), host(scores));
  return { indices, scores };
}

/** The k best items per row, best first, over all non-excluded items. */
export const topK = defineKernel('topk', { cpu: topKCpu, webgpu: topKWebGpu, native: topKNative });

/**
 * topK that leaves the event loop free on the native backend: the same kernel and the
 * same result, run on a worker thread (queued behind other async native calls, see
 * nativeAsyncKernels in src/native.ts) — what a service ranking a large catalogue per
 * request should call. Until the Promise settles, do not write or free the inputs.
 * An abort (opts.signal) frees the outputs and rejects with the signal's reason. On the
 * other backends, and with an addon built before the async kernels, it resolves to
 * topK's result (on WebGPU that work is queued on the device anyway; the CPU backend
 * runs inline).
 */
export async function topKAsync(engine: Engine, a: TopKArgs, opts: NativeAsyncOptions = {}): Promise<TopKResult> {
  const k = engine.backend === 'native' ? nativeAsyncKernels() : null;
  if (!k) {
    opts.signal?.throwIfAborted();
    return topK(engine, a);
  }
  checkArgs(a);
  const indices = engine.empty('i32', a.batch * a.k);
  const scores = engine.empty('f32', a.batch * a.k);
  try {
    await k.topk(nativeTopKArgs(a), host(indices), host(scores), opts);
  } catch (err) {
    engine.free(indices);
    engine.free(scores);
    throw err;
  }
  return { indices, scores };
}
