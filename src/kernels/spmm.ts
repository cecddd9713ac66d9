/**
 * SpMM: Y = A·X for a CSR matrix A (n_rows × n_cols) and dense row-major X
 * (n_cols × d). The neighbour aggregation of every GNN encoder.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { CpuArray, DeviceArray, DeviceCsr, GpuArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import type { Csr } from '../graph/types.js';

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

function spmmCpu(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number, out?: DeviceArray<'f32'>): DeviceArray<'f32'> {
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

/** Lanes per row: enough to cover d in one or a few passes, at most a workgroup. */
function lanesFor(d: number): number {
  let lanes = 1;
  while (lanes < d && lanes < 64) lanes *= 2;
  return lanes;
}

function spmmWebGpu(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number, out?: DeviceArray<'f32'>): DeviceArray<'f32'> {
  checkArgs(a, x, d, out);
  const gpu = engine.gpu;
  const y = (out ?? engine.empty('f32', a.nRows * d)) as GpuArray<'f32'>;
  const wg = 64;
  const lanes = lanesFor(d);
  const groups = Math.ceil(a.nRows / (wg / lanes));
  const [gx, gy] = gpu.grid(groups);
  gpu.dispatch(
    { name: 'spmm', shader: 'spmm.wgsl', constants: { WG: wg, LANES: lanes } },
    {
      buffers: [(a.rowPtr as GpuArray).buffer, (a.colIdx as GpuArray).buffer, (a.values as GpuArray).buffer, (x as GpuArray).buffer, y.buffer],
      uniforms: new Uint32Array([a.nRows, d, gx, 0]),
      workgroups: [gx, gy],
    },
  );
  return y;
}

/** Y = A·X; `out` (n_rows·d elements) is written in full when given. */
export const spmm = defineKernel('spmm', { cpu: spmmCpu, webgpu: spmmWebGpu });
