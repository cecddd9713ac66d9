/**
 * Batched Q-targets over the whole catalogue. With Q(s, a) = s·e_a + b_a, a DQN target
 * for next states S (B × d) is y = r + γ(1 − done)·Q_target(s', a*), where a* is the
 * best non-excluded item under the online table (Double DQN) or the target table
 * (plain DQN). The WebGPU kernel scores items tile by tile and never stores B × I scores.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { CpuArray, DeviceArray, GpuArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { autotune, chooseVariant } from '../gpu/variants.js';
import { nativeAsyncKernels, nativeKernels, type NativeAsyncOptions, type NativeKernels } from '../native.js';
import { buf, host, hostOpt } from './pack.js';

export interface QTargetArgs {
  /** Next-state embeddings, B × d row-major. */
  next: DeviceArray<'f32'>;
  batch: number;
  dim: number;
  nItems: number;
  /** Item table that chooses a* in Double DQN (I × d). Ignored when `double` is false. */
  online: DeviceArray<'f32'>;
  /** Item table that values a* (I × d); also chooses it when `double` is false. */
  target: DeviceArray<'f32'>;
  /** Per-item biases of the two tables (length I each), or none. */
  onlineBias?: DeviceArray<'f32'>;
  targetBias?: DeviceArray<'f32'>;
  reward: DeviceArray<'f32'>;
  /** 1 where the transition ended the episode, else 0. */
  done: DeviceArray<'f32'>;
  /** Items each row may not choose (already seen): CSR with B rows, columns sorted. */
  exclude?: { rowPtr: DeviceArray<'i32'>; colIdx: DeviceArray<'i32'> };
  gamma: number;
  double: boolean;
  /** Pins a WebGPU strategy: 'tiled' (workgroup-memory GEMM tile) or 'rows' (no barriers). */
  variant?: QTargetVariant;
}

export const QTARGET_VARIANTS = ['tiled', 'rows'] as const;
export type QTargetVariant = (typeof QTARGET_VARIANTS)[number];

function shapeKey(a: QTargetArgs): string {
  return `d${a.dim}|B2^${Math.round(Math.log2(a.batch + 1))}|I2^${Math.round(Math.log2(a.nItems + 1))}`;
}

/** The strategy qTargets will use for these shapes on this engine. */
export function qTargetVariant(engine: Engine, a: QTargetArgs): QTargetVariant {
  if (a.variant) return a.variant;
  return chooseVariant(engine.adapter!, 'qtarget', shapeKey(a), QTARGET_VARIANTS, 'tiled').variant as QTargetVariant;
}

/** Times both strategies on these arguments and records the faster for this adapter. */
export async function tuneQTargets(engine: Engine, a: QTargetArgs): Promise<{ variant: string; medians: Record<string, number> } | null> {
  if (!engine.isGpu) return null;
  return autotune(engine.adapter!, 'qtarget', shapeKey(a), QTARGET_VARIANTS, async (v) => {
    const r = qTargets(engine, { ...a, variant: v as QTargetVariant });
    await engine.read(r.y);
    engine.free(r.y);
    engine.free(r.argmax);
  });
}

export interface QTargetResult {
  /** r + γ(1 − done)·Q_target(s', a*); equals r for a row with every item excluded. */
  y: DeviceArray<'f32'>;
  /** a* per row, or −1 when every item is excluded. */
  argmax: DeviceArray<'i32'>;
}

function checkArgs(a: QTargetArgs): void {
  const { batch: b, dim: d, nItems: n } = a;
  const need = (arr: DeviceArray | undefined, len: number, name: string) => {
    if (arr && arr.length !== len) throw new GnnrlError('input', `qTargets: ${name}: expected ${len} elements, got ${arr.length}`, { arg: name });
  };
  if (!Number.isInteger(b) || b < 0) throw new GnnrlError('input', `qTargets: batch: expected a non-negative integer, got ${b}`, { arg: 'batch' });
  if (!Number.isInteger(d) || d < 1) throw new GnnrlError('input', `qTargets: dim: expected a positive integer, got ${d}`, { arg: 'dim' });
  if (!Number.isInteger(n) || n < 1) throw new GnnrlError('input', `qTargets: nItems: expected a positive integer, got ${n}`, { arg: 'nItems' });
  need(a.next, b * d, 'next');
  need(a.online, n * d, 'online');
  need(a.target, n * d, 'target');
  need(a.onlineBias, n, 'onlineBias');
  need(a.targetBias, n, 'targetBias');
  need(a.reward, b, 'reward');
  need(a.done, b, 'done');
  if (a.exclude) need(a.exclude.rowPtr, b + 1, 'exclude.rowPtr');
  if (!!a.onlineBias !== !!a.targetBias && a.double) {
    throw new GnnrlError('input', 'qTargets: give both onlineBias and targetBias, or neither', { arg: 'onlineBias' });
  }
  if (!Number.isFinite(a.gamma) || a.gamma < 0 || a.gamma > 1) {
    throw new GnnrlError('input', `qTargets: gamma: expected a number in [0, 1], got ${a.gamma}`, { arg: 'gamma' });
  }
}

/** CPU reference on plain typed arrays: float64 dot products, ties to the lower index. */
export function qTargetsReference(a: {
  next: Float32Array;
  batch: number;
  dim: number;
  nItems: number;
  online: Float32Array;
  target: Float32Array;
  onlineBias?: Float32Array;
  targetBias?: Float32Array;
  reward: Float32Array;
  done: Float32Array;
  exclude?: { rowPtr: Int32Array; colIdx: Int32Array };
  gamma: number;
  double: boolean;
}): { y: Float32Array; argmax: Int32Array } {
  const { batch: b, dim: d, nItems: n } = a;
  const y = new Float32Array(b);
  const argmax = new Int32Array(b);
  const chooser = a.double ? a.online : a.target;
  const chooserBias = a.double ? a.onlineBias : a.targetBias;
  const excluded = new Uint8Array(n);
  const score = (table: Float32Array, bias: Float32Array | undefined, row: number, item: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += a.next[row * d + k] * table[item * d + k];
    return bias ? s + bias[item] : s;
  };
  for (let row = 0; row < b; row++) {
    if (a.exclude) for (let e = a.exclude.rowPtr[row]; e < a.exclude.rowPtr[row + 1]; e++) excluded[a.exclude.colIdx[e]] = 1;
    let best = -Infinity;
    let bi = -1;
    for (let item = 0; item < n; item++) {
      if (excluded[item]) continue;
      const s = score(chooser, chooserBias, row, item);
      if (bi < 0 || s > best) {
        best = s;
        bi = item;
      }
    }
    if (a.exclude) for (let e = a.exclude.rowPtr[row]; e < a.exclude.rowPtr[row + 1]; e++) excluded[a.exclude.colIdx[e]] = 0;
    const q = bi < 0 ? 0 : a.double ? score(a.target, a.targetBias, row, bi) : best;
    y[row] = a.reward[row] + a.gamma * (1 - a.done[row]) * q;
    argmax[row] = bi;
  }
  return { y, argmax };
}

function qTargetsCpu(engine: Engine, a: QTargetArgs): QTargetResult {
  checkArgs(a);
  const data = <T extends DeviceArray>(x: T | undefined) => (x ? ((x as CpuArray).data as never) : undefined);
  const r = qTargetsReference({
    next: data(a.next)!,
    batch: a.batch,
    dim: a.dim,
    nItems: a.nItems,
    online: data(a.online)!,
    target: data(a.target)!,
    onlineBias: data(a.onlineBias),
    targetBias: data(a.targetBias),
    reward: data(a.reward)!,
    done: data(a.done)!,
    exclude: a.exclude ? { rowPtr: data(a.exclude.rowPtr)!, colIdx: data(a.exclude.colIdx)! } : undefined,
    gamma: a.gamma,
    double: a.double,
  });
  return { y: engine.array(r.y), argmax: engine.array(r.argmax) };
}

/**
 * The first five bindings of qtarget.wgsl's scoring passes (tile_max, tile_max_rows and
 * top-K's tile_scores): states, item table, bias and the exclusion CSR. An absent bias or
 * exclusion is bound to a one-element placeholder (the shader skips it by flag);
 * `release()` frees the placeholders once the dispatches are recorded.
 */
export function scoringBindings(
  engine: Engine,
  states: DeviceArray<'f32'>,
  table: DeviceArray<'f32'>,
  bias: DeviceArray<'f32'> | undefined,
  exclude: { rowPtr: DeviceArray<'i32'>; colIdx: DeviceArray<'i32'> } | undefined,
): { buffers: GPUBuffer[]; placeholderF32: GPUBuffer; release(): void } {
  const f = engine.empty('f32', 1);
  const i = engine.empty('i32', 1);
  return {
    buffers: [buf(states), buf(table), buf(bias ?? f), buf(exclude?.rowPtr ?? i), buf(exclude?.colIdx ?? i)],
    placeholderF32: buf(f),
    release() {
      engine.free(f);
      engine.free(i);
    },
  };
}

/** tile_max: rows per workgroup, items per tile step, and the fewest tiles a workgroup walks. */
const QB = 32;
const QI = 32;
const MIN_TILES_PER_WG = 16;
/**
 * At most this many: 1536 items (384 KiB of a d = 64 table) stay in a core's cache while
 * the workgroups of every row tile re-read them; at B = 4096, I = 50,000 on lavapipe,
 * 390 tiles per workgroup (5 chunks) ran on little more than one of the two cores:
 * 7.7 s against 4.6 s with 48.
 */
const MAX_TILES_PER_WG = 48;
/** About this many tile_max workgroups are enough to fill a device; past that, longer chunks. */
const TARGET_WORKGROUPS = 512;
/** tile_max_rows: rows per workgroup and items per tile. */
const ROWS_B = 64;
const ROWS_I = 64;

/**
 * How tile_max splits the catalogue: each workgroup walks `tilesPerWg` item tiles (at
 * least MIN_TILES_PER_WG, more when the grid would exceed TARGET_WORKGROUPS, at most
 * MAX_TILES_PER_WG), keeping a running max per row, so only one partial per row and
 * chunk is written.
 */
export function qTargetChunks(batch: number, nItems: number): { tilesPerWg: number; chunks: number; rowTiles: number } {
  const itemTiles = Math.ceil(nItems / QI);
  const rowTiles = Math.ceil(batch / QB);
  const wanted = Math.floor((itemTiles * rowTiles) / TARGET_WORKGROUPS);
  const tilesPerWg = Math.min(itemTiles, Math.max(MIN_TILES_PER_WG, Math.min(MAX_TILES_PER_WG, wanted)));
  return { tilesPerWg, chunks: Math.ceil(itemTiles / tilesPerWg), rowTiles };
}

function qTargetsWebGpu(engine: Engine, a: QTargetArgs): QTargetResult {
  checkArgs(a);
  const gpu = engine.gpu;
  const b = a.batch;
  const y = engine.empty('f32', b) as GpuArray<'f32'>;
  const argmax = engine.empty('i32', b) as GpuArray<'i32'>;
  if (b === 0) return { y, argmax };
  const variant = qTargetVariant(engine, a);
  // Partials per row (nTiles) and the pass-1 grid: item chunks × row tiles.
  const split = qTargetChunks(b, a.nItems);
  const [nTiles, rowTiles] = variant === 'tiled' ? [split.chunks, split.rowTiles] : [Math.ceil(a.nItems / ROWS_I), Math.ceil(b / ROWS_B)];
  const max = gpu.limits.maxWorkgroupsPerDim;
  if (nTiles > max || rowTiles > max) {
    throw new GnnrlError('limit', `qTargets: ${b} rows × ${a.nItems} items needs ${rowTiles}×${nTiles} workgroups, over the limit of ${max} per dimension; split the batch`);
  }
  const part = engine.empty('i32', b * nTiles * 2) as GpuArray<'i32'>;
  const hasBias = a.double ? !!a.onlineBias : !!a.targetBias;
  const params = (doubleQ: boolean) => {
    const buf = new ArrayBuffer(48); // Params in qtarget.wgsl: 12 words
    const u = new Uint32Array(buf);
    const f = new Float32Array(buf);
    u[0] = b;
    u[1] = a.nItems;
    u[2] = a.dim;
    u[3] = nTiles;
    u[4] = hasBias ? 1 : 0;
    u[5] = a.exclude ? 1 : 0;
    f[6] = a.gamma;
    u[7] = doubleQ ? 1 : 0;
    u[10] = split.tilesPerWg;
    return buf;
  };
  const scoring = scoringBindings(engine, a.next, a.double ? a.online : a.target, a.double ? a.onlineBias : a.targetBias, a.exclude);
  gpu.dispatch(
    variant === 'tiled'
      ? { name: 'qtarget.tile_max', shader: 'qtarget.wgsl', entry: 'tile_max' }
      : { name: 'qtarget.tile_max_rows', shader: 'qtarget.wgsl', entry: 'tile_max_rows' },
    {
      buffers: [...scoring.buffers, part.buffer],
      uniforms: params(a.double),
      workgroups: [nTiles, rowTiles],
    },
  );
  const [gx, gy] = gpu.grid(Math.ceil(b / 64));
  gpu.dispatch(
    { name: 'qtarget.finish', shader: 'qtarget.wgsl', entry: 'finish' },
    {
      buffers: [
        part.buffer,
        (a.next as GpuArray).buffer,
        (a.target as GpuArray).buffer,
        a.targetBias ? buf(a.targetBias) : scoring.placeholderF32,
        (a.reward as GpuArray).buffer,
        (a.done as GpuArray).buffer,
        y.buffer,
        argmax.buffer,
      ],
      uniforms: params(a.double),
      workgroups: [gx, gy],
    },
  );
  engine.free(part);
  scoring.release();
  return { y, argmax };
}

/** The addon's qtarget arguments for these (checked) ones: Double DQN chooses with the online table. */
function nativeQTargetArgs(a: QTargetArgs): Parameters<NativeKernels['qtarget']>[0] {
  return {
    next: host(a.next),
    batch: a.batch,
    dim: a.dim,
    nItems: a.nItems,
    chooser: host(a.double ? a.online : a.target),
    chooserBias: hostOpt(a.double ? a.onlineBias : a.targetBias),
    value: a.double ? host(a.target) : undefined,
    valueBias: a.double ? hostOpt(a.targetBias) : undefined,
    reward: host(a.reward),
    done: host(a.done),
    excludeRowPtr: hostOpt(a.exclude?.rowPtr),
    excludeColIdx: hostOpt(a.exclude?.colIdx),
    gamma: a.gamma,
  };
}

/**
 * Native backend: the addon's fused kernel (native/kern_score_core.cc), GEMM tiles folded
 * into a running max/argmax per row, the B × I scores never stored.
 */
function qTargetsNative(engine: Engine, a: QTargetArgs): QTargetResult {
  checkArgs(a);
  const y = engine.empty('f32', a.batch);
  const argmax = engine.empty('i32', a.batch);
  nativeKernels().qtarget(nativeQTargetArgs(a), host(y), host(argmax));
  return { y, argmax };
}

/** y = r + γ(1 − done)·Q_target(s', a*) for every row, a* over all non-excluded items. */
export const qTargets = defineKernel('qtarget', { cpu: qTargetsCpu, webgpu: qTargetsWebGpu, native: qTargetsNative });

/**
 * qTargets that leaves the event loop free on the native backend: the same fused kernel
 * and result on a worker thread (queued behind other async native calls, see
 * nativeAsyncKernels in src/native.ts). Until the Promise settles, do not write or free
 * the inputs. An abort (opts.signal) frees the outputs and rejects with the signal's
 * reason. Other backends (and an addon built before the async kernels): qTargets' result.
 */
export async function qTargetsAsync(engine: Engine, a: QTargetArgs, opts: NativeAsyncOptions = {}): Promise<QTargetResult> {
  const k = engine.backend === 'native' ? nativeAsyncKernels() : null;
  if (!k) {
    opts.signal?.throwIfAborted();
    return qTargets(engine, a);
  }
  checkArgs(a);
  const y = engine.empty('f32', a.batch);
  const argmax = engine.empty('i32', a.batch);
  try {
    await k.qtarget(nativeQTargetArgs(a), host(y), host(argmax), opts);
  } catch (err) {
    engine.free(y);
    engine.free(argmax);
    throw err;
  }
  return { y, argmax };
}
