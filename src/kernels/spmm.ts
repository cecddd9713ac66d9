/**
 * SpMM: Y = A·X for a CSR matrix A (n_rows × n_cols) and dense row-major X
 * (n_cols × d). The neighbour aggregation of every GNN encoder.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { CpuArray, Csr, DeviceArray, DeviceCsr, GpuArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { autotune, chooseVariant } from '../gpu/variants.js';
import { nativeKernels } from '../native.js';
import { buf, host, lanesFor } from './pack.js';

export const SPMM_MAX_D = 256;

function checkArgs(a: DeviceCsr, x: DeviceArray<'f32'>, d: number, out?: DeviceArray<'f32'>): void {
  if (!Number.isInteger(d) || d < 1 || d > SPMM_MAX_D) {
    throw new GnnrlError('input', `spmm: d: expected an integer in [1, ${SPMM_MAX_D}], got ${d}`, { arg: 'd' });
  }
  if (x.length !== a.nCols * d) {
    throw new GnnrlError('input', `spmm: x: expected ${a.nCols}×${d} = ${a.nCols * d} elements (A has ${a.nCols} columns), got ${x.length}`, { arg: 'x' });
  }
  if (out && out.length !== a.nRows * d) {
    throw new GnnrlError('input', `spmm: out: expected ${a.nRows}×${d} = ${a.nRows * d} elements, got ${out.length}`, { arg: 'out' });
  }
}

/** The CPU reference over plain typed arrays: float64 accumulation, one rounding per output. */
export function spmmReference(a: Csr, x: Float32Array, d: number, out: Float32Array = new Float32Array(a.nRows * d)): Float32Array {
  const acc = new Float64Array(d);
  for (let r = 0; r < a.nRows; r++) {
    acc.fill(0);
    for (let e = a.rowPtr[r]; e < a.rowPtr[r + 1]; e++) {
      const v = a.values[e];
      const base = a.colIdx[e] * d;
      for (let c = 0; c < d; c++) acc[c] += v * x[base + c];
    }
    for (let c = 0; c < d; c++) out[r * d + c] = acc[c];
  }
  return out;
}

function spmmCpu(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number, out?: DeviceArray<'f32'>, _variant?: string): DeviceArray<'f32'> {
  checkArgs(a, x, d, out);
  const y = (out ?? engine.empty('f32', a.nRows * d)) as CpuArray<'f32'>;
  const csr: Csr = {
    nRows: a.nRows,
    nCols: a.nCols,
    rowPtr: (a.rowPtr as CpuArray<'i32'>).data,
    colIdx: (a.colIdx as CpuArray<'i32'>).data,
    values: (a.values as CpuArray<'f32'>).data,
  };
  spmmReference(csr, (x as CpuArray<'f32'>).data, d, y.data);
  return y;
}

/**
 * The segmented work plan of a CSR for the tuned kernels (shaders/spmm_seg.wgsl): units
 * (row, start, end, slot) longest row first, rows longer than `maxSegment` split into
 * units whose partial sums a second pass adds in order.
 */
export interface SpmmPlan {
  readonly units: DeviceArray<'i32'>;
  readonly nUnits: number;
  /** (row, first slot, slot count, 0) per split row. */
  readonly split: DeviceArray<'i32'>;
  readonly nSplit: number;
  /** Partial-sum slots: the units of split rows. */
  readonly nSlots: number;
  readonly maxSegment: number;
}

export interface PlannedCsr extends DeviceCsr {
  readonly plan?: SpmmPlan;
  /** The host matrix, kept by reference so a product too big for one binding can be split. */
  readonly host?: Csr;
}

/**
 * The host arrays of a plan: units (row, start, end, slot) × 4 and split rows (row, first
 * slot, slot count, 0) × 4. graph/layout.ts's `spmmPlanArrays` builds them from a
 * degree layout; graph/upload.ts's `uploadCsrForSpmm` uploads them with the matrix.
 */
export interface SpmmPlanArrays {
  units: Int32Array;
  split: Int32Array;
  nSlots: number;
}

/** Puts a plan's host arrays on the engine (WebGPU). */
export function uploadSpmmPlan(engine: Engine, host: SpmmPlanArrays, maxSegment: number): SpmmPlan {
  return {
    units: engine.array(host.units),
    nUnits: host.units.length / 4,
    split: engine.array(host.split.length ? host.split : new Int32Array(4)),
    nSplit: host.split.length / 4,
    nSlots: host.nSlots,
    maxSegment,
  };
}

/** Frees what uploadCsrForSpmm and the split path put on the device. */
export function releaseSpmmCsr(engine: Engine, a: PlannedCsr): void {
  engine.freeCsr(a);
  if (a.plan) {
    engine.free(a.plan.units);
    engine.free(a.plan.split);
  }
  for (const blocks of splitCache.get(a)?.values() ?? []) {
    for (const b of blocks) {
      engine.free(b.rowPtr);
      engine.free(b.colIdx);
      engine.free(b.values);
    }
  }
  splitCache.delete(a);
}

/** One block of a split product: rows [r0, r1) against columns [c0, c1) of A. */
interface SplitBlock {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  first: boolean;
  rowPtr: DeviceArray<'i32'>;
  colIdx: DeviceArray<'i32'>;
  values: DeviceArray<'f32'>;
}

const splitCache = new WeakMap<PlannedCsr, Map<number, SplitBlock[]>>();

/** Whether a product with this matrix, X rows and width exceeds one storage binding (it is then split into blocks). */
export function spmmNeedsSplit(engine: Engine, a: DeviceCsr, xRows: number, d: number): boolean {
  const limit = engine.gpu.limits.maxStorageBufferBindingSize;
  return Math.max(xRows * d, a.nRows * d, a.nnz, a.nRows + 1) * 4 > limit;
}

/**
 * Cuts A into row blocks × column blocks whose arrays, X range and Y range each fit one
 * binding. Block starts are multiples of 64 rows so that the X and Y ranges start on
 * 256-byte boundaries (d·64·4 bytes). A block with too many entries is halved by rows.
 */
function splitBlocks(engine: Engine, host: Csr, d: number): SplitBlock[] {
  const limit = engine.gpu.limits.maxStorageBufferBindingSize;
  const span = Math.floor(limit / (d * 4) / 64) * 64;
  if (span < 64) {
    throw new GnnrlError('limit', `spmm: 64 rows of width ${d} need ${64 * d * 4} bytes, over this adapter's maxStorageBufferBindingSize of ${limit} bytes`, { arg: 'd' });
  }
  const blocks: SplitBlock[] = [];
  const subCsr = (r0: number, r1: number, c0: number, c1: number): Csr => {
    const rowPtr = new Int32Array(r1 - r0 + 1);
    const cols: number[] = [];
    const vals: number[] = [];
    for (let r = r0; r < r1; r++) {
      for (let e = host.rowPtr[r]; e < host.rowPtr[r + 1]; e++) {
        const c = host.colIdx[e];
        if (c >= c0 && c < c1) {
          cols.push(c - c0);
          vals.push(host.values[e]);
        }
      }
      rowPtr[r - r0 + 1] = cols.length;
    }
    return { nRows: r1 - r0, nCols: c1 - c0, rowPtr, colIdx: Int32Array.from(cols), values: Float32Array.from(vals) };
  };
  const addRows = (r0: number, r1: number) => {
    const parts: { c0: number; c1: number; m: Csr }[] = [];
    for (let c0 = 0; c0 < Math.max(1, host.nCols); c0 += span) {
      const c1 = Math.min(host.nCols, c0 + span);
      const m = subCsr(r0, r1, c0, c1);
      if (m.colIdx.length * 4 > limit) {
        if (r1 - r0 <= 64) throw new GnnrlError('limit', `spmm: rows ${r0}..${r1 - 1} hold ${m.colIdx.length} entries in one column block, over one binding of ${limit} bytes`);
        const mid = r0 + Math.ceil((r1 - r0) / 2 / 64) * 64;
        addRows(r0, mid);
        addRows(mid, r1);
        return;
      }
      parts.push({ c0, c1, m });
    }
    parts.forEach(({ c0, c1, m }, i) => {
      if (i > 0 && m.colIdx.length === 0) return; // adds nothing
      blocks.push({ r0, r1, c0, c1, first: i === 0, rowPtr: engine.array(m.rowPtr), colIdx: engine.array(m.colIdx), values: engine.array(m.values) });
    });
  };
  for (let r0 = 0; r0 < host.nRows; r0 += span) addRows(r0, Math.min(host.nRows, r0 + span));
  return blocks;
}

function runSplit(engine: Engine, a: PlannedCsr, x: DeviceArray<'f32'>, d: number, y: GpuArray<'f32'>): void {
  if (!a.host) {
    throw new GnnrlError('limit', `spmm: this ${a.nRows}×${a.nCols} product at d = ${d} exceeds one storage binding; upload the matrix with uploadCsrForSpmm so it can be split`, { arg: 'a' });
  }
  let perD = splitCache.get(a);
  if (!perD) splitCache.set(a, (perD = new Map()));
  let blocks = perD.get(d);
  if (!blocks) perD.set(d, (blocks = splitBlocks(engine, a.host, d)));
  const gpu = engine.gpu;
  const lanes = lanesFor(d);
  for (const b of blocks) {
    const rows = b.r1 - b.r0;
    const [gx, gy] = gpu.grid(Math.ceil(rows / (64 / lanes)));
    gpu.dispatch(
      { name: 'spmm', shader: 'spmm.wgsl', constants: { WG: 64, LANES: lanes } },
      {
        buffers: [
          buf(b.rowPtr),
          buf(b.colIdx),
          buf(b.values),
          { buffer: buf(x), offset: b.c0 * d * 4, size: Math.max(1, b.c1 - b.c0) * d * 4 },
          { buffer: y.buffer, offset: b.r0 * d * 4, size: rows * d * 4 },
        ],
        uniforms: new Uint32Array([rows, d, gx, b.first ? 0 : 1]),
        workgroups: [gx, gy],
      },
    );
  }
}

export const SPMM_VARIANTS = ['rows', 'lanes', 'lanes_vec4', 'cache_vec4', 'thread_vec4'] as const;
export type SpmmVariant = (typeof SPMM_VARIANTS)[number];

/** Variants that can run this matrix at this width. */
export function spmmVariantsFor(a: PlannedCsr, d: number): SpmmVariant[] {
  if (!a.plan) return ['rows'];
  return d % 4 === 0 ? ['rows', 'lanes', 'lanes_vec4', 'cache_vec4', 'thread_vec4'] : ['rows', 'lanes'];
}

function shapeKey(a: DeviceCsr, d: number): string {
  const avgDeg = a.nRows ? a.nnz / a.nRows : 0;
  return `d${d}|nnz2^${Math.round(Math.log2(a.nnz + 1))}|deg2^${Math.round(Math.log2(avgDeg + 1))}`;
}

function defaultVariant(engine: Engine, allowed: SpmmVariant[]): SpmmVariant {
  if (allowed.length === 1) return allowed[0];
  if (!allowed.includes('thread_vec4')) return 'lanes';
  // CPU implementations of WebGPU run a workgroup as SIMD lanes of one thread and pay for
  // barriers; register-blocked per-unit work suits them. Real GPUs want row caching.
  return engine.adapter?.software ? 'thread_vec4' : 'cache_vec4';
}

function runVariant(engine: Engine, a: PlannedCsr, x: DeviceArray<'f32'>, d: number, y: GpuArray<'f32'>, variant: SpmmVariant): void {
  const gpu = engine.gpu;
  if (variant === 'rows') {
    const lanes = lanesFor(d);
    const [gx, gy] = gpu.grid(Math.ceil(a.nRows / (64 / lanes)));
    gpu.dispatch(
      { name: 'spmm', shader: 'spmm.wgsl', constants: { WG: 64, LANES: lanes } },
      { buffers: [buf(a.rowPtr), buf(a.colIdx), buf(a.values), buf(x), y.buffer], uniforms: new Uint32Array([a.nRows, d, gx, 0]), workgroups: [gx, gy] },
    );
    return;
  }
  const plan = a.plan!;
  const vec4 = variant !== 'lanes';
  const width = vec4 ? d / 4 : d;
  const partial = engine.empty('f32', Math.max(1, plan.nSlots * d)) as GpuArray<'f32'>;
  const lanes = variant === 'thread_vec4' ? 1 : lanesFor(width);
  const [gx, gy] = gpu.grid(Math.ceil(plan.nUnits / (64 / lanes)));
  gpu.dispatch(
    { name: `spmm.${variant}`, shader: 'spmm_seg.wgsl', entry: variant, constants: variant === 'thread_vec4' ? undefined : { LANES: lanes } },
    {
      buffers: [buf(plan.units), buf(a.colIdx), buf(a.values), buf(x), y.buffer, partial.buffer],
      uniforms: new Uint32Array([plan.nUnits, width, gx, plan.nSplit]),
      workgroups: [gx, gy],
    },
  );
  if (plan.nSplit > 0) {
    const [cx, cy] = gpu.grid(plan.nSplit);
    gpu.dispatch(
      { name: 'spmm.combine', shader: 'spmm_seg.wgsl', entry: 'combine' },
      { buffers: [buf(plan.split), partial.buffer, y.buffer], uniforms: new Uint32Array([plan.nUnits, d, cx, plan.nSplit]), workgroups: [cx, cy] },
    );
  }
  engine.free(partial);
}

/** The variant spmm() will use for this matrix and width on this engine. */
export function spmmVariant(engine: Engine, a: PlannedCsr, d: number): SpmmVariant {
  const allowed = spmmVariantsFor(a, d);
  return chooseVariant(engine.adapter!, 'spmm', shapeKey(a, d), allowed, defaultVariant(engine, allowed)).variant as SpmmVariant;
}

/**
 * Times every applicable variant on this matrix and width, and records the fastest for
 * this adapter (on disk, so later processes skip the tuning). WebGPU only; a no-op elsewhere.
 */
export async function tuneSpmm(engine: Engine, a: PlannedCsr, d: number): Promise<{ variant: string; medians: Record<string, number> } | null> {
  if (!engine.isGpu) return null;
  const allowed = spmmVariantsFor(a, d);
  const x = engine.empty('f32', a.nCols * d);
  const y = engine.empty('f32', a.nRows * d) as GpuArray<'f32'>;
  try {
    return await autotune(engine.adapter!, 'spmm', shapeKey(a, d), allowed, async (v) => {
      runVariant(engine, a, x, d, y, v as SpmmVariant);
      await engine.sync();
    });
  } finally {
    engine.free(x);
    engine.free(y);
  }
}

function spmmWebGpu(engine: Engine, a: PlannedCsr, x: DeviceArray<'f32'>, d: number, out?: DeviceArray<'f32'>, variant?: SpmmVariant): DeviceArray<'f32'> {
  checkArgs(a, x, d, out);
  const y = (out ?? engine.empty('f32', a.nRows * d)) as GpuArray<'f32'>;
  if (a.nRows === 0) return y;
  const v = variant ?? spmmVariant(engine, a, d);
  if (!spmmVariantsFor(a, d).includes(v)) {
    throw new GnnrlError('input', `spmm: variant '${v}' cannot run here (allowed: ${spmmVariantsFor(a, d).join(', ')}; the vec4 variants need d % 4 = 0 and a matrix from uploadCsrForSpmm)`, { arg: 'variant' });
  }
  if (spmmNeedsSplit(engine, a, a.nCols, d)) runSplit(engine, a, x, d, y);
  else runVariant(engine, a, x, d, y, v);
  return y;
}

/**
 * Y = A·X; `out` (n_rows·d elements) is written in full when given. `variant` pins a
 * WebGPU strategy (tests, benchmarks); otherwise GNNRL_KERNEL_VARIANT, a tuned choice or
 * the adapter's default applies.
 */
/** Native backend: the addon's row-parallel kernel (native/kern_spmm_core.cc), nnz-balanced row parts. */
function spmmNative(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number, out?: DeviceArray<'f32'>, _variant?: string): DeviceArray<'f32'> {
  checkArgs(a, x, d, out);
  const y = out ?? engine.empty('f32', a.nRows * d);
  nativeKernels().spmm(a.nRows, a.nCols, host(a.rowPtr), host(a.colIdx), host(a.values), host(x), d, host(y));
  return y;
}

export const spmm = defineKernel('spmm', { cpu: spmmCpu, webgpu: spmmWebGpu, native: spmmNative });
