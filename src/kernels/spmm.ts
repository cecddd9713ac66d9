/**
 * SpMM: Y = A·X for a CSR matrix A (n_rows × n_cols) and dense row-major X
 * (n_cols × d). The neighbour aggregation of every GNN encoder.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { CpuArray, DeviceArray, DeviceCsr, GpuArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import type { Csr } from '../graph/types.js';
import { degreeLayout } from '../graph/layout.js';
import { autotune, chooseVariant } from '../gpu/variants.js';
import { buf, lanesFor } from './pack.js';

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
}

/** Host side of the plan: pure function of the matrix. */
export function spmmPlanArrays(csr: Csr, maxSegment = 256): { units: Int32Array; split: Int32Array; nSlots: number } {
  const layout = degreeLayout(csr, { maxSegment, emptyRowSegments: true });
  const nUnits = layout.segRow.length;
  const units = new Int32Array(nUnits * 4);
  const split: number[] = [];
  let slot = 0;
  for (let p = 0; p < csr.nRows; p++) {
    const s0 = layout.rowSegPtr[p];
    const s1 = layout.rowSegPtr[p + 1];
    const isSplit = s1 - s0 > 1;
    if (isSplit) split.push(layout.segRow[s0], slot, s1 - s0, 0);
    for (let s = s0; s < s1; s++) {
      units[s * 4] = layout.segRow[s];
      units[s * 4 + 1] = layout.segStart[s];
      units[s * 4 + 2] = layout.segEnd[s];
      units[s * 4 + 3] = isSplit ? slot++ : -1;
    }
  }
  return { units, split: Int32Array.from(split), nSlots: slot };
}

/**
 * Uploads a CSR for repeated SpMM: the arrays plus, on WebGPU, the segmented plan that
 * the tuned variants run over (built once; a graph is multiplied thousands of times).
 */
export function uploadCsrForSpmm(engine: Engine, csr: Csr, opts: { maxSegment?: number } = {}): PlannedCsr {
  const base = engine.uploadCsr(csr);
  if (!engine.isGpu) return base;
  const maxSegment = opts.maxSegment ?? 256;
  const host = spmmPlanArrays(csr, maxSegment);
  const plan: SpmmPlan = {
    units: engine.array(host.units),
    nUnits: host.units.length / 4,
    split: engine.array(host.split.length ? host.split : new Int32Array(4)),
    nSplit: host.split.length / 4,
    nSlots: host.nSlots,
    maxSegment,
  };
  return { ...base, plan };
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
  runVariant(engine, a, x, d, y, v);
  return y;
}

/**
 * Y = A·X; `out` (n_rows·d elements) is written in full when given. `variant` pins a
 * WebGPU strategy (tests, benchmarks); otherwise GNNRL_KERNEL_VARIANT, a tuned choice or
 * the adapter's default applies.
 */
export const spmm = defineKernel('spmm', { cpu: spmmCpu, webgpu: spmmWebGpu });
