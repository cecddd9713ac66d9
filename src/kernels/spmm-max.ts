/**
 * Max aggregation over CSR neighbours (GraphSAGE-max) and its backward. The argmax of
 * each output is kept; the backward routes each gradient to its argmax source through
 * the transpose (sources as rows), so no float atomics are needed.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { Csr, DeviceArray, DeviceCsr } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { buf, host, lanesFor } from './pack.js';
import { nativeKernels } from '../native.js';

export interface MaxAggregateResult {
  y: DeviceArray<'f32'>;
  /** Source node of each output element, −1 for a row without neighbours. */
  argmax: DeviceArray<'i32'>;
}

/** CPU reference: the first (lowest-index) maximum wins; empty rows give 0 and −1. */
export function maxAggregateReference(a: Csr, x: Float32Array, d: number): { y: Float32Array; argmax: Int32Array } {
  const y = new Float32Array(a.nRows * d);
  const argmax = new Int32Array(a.nRows * d).fill(-1);
  for (let i = 0; i < a.nRows; i++) {
    for (let e = a.rowPtr[i]; e < a.rowPtr[i + 1]; e++) {
      const j = a.colIdx[e];
      for (let c = 0; c < d; c++) {
        const v = x[j * d + c];
        if (argmax[i * d + c] < 0 || v > y[i * d + c]) {
          y[i * d + c] = v;
          argmax[i * d + c] = j;
        }
      }
    }
  }
  return { y, argmax };
}

/** CPU reference of the backward: dX[j,c] = Σ_i [argmax[i,c] = j] dY[i,c]. */
export function maxAggregateBackwardReference(nSrc: number, argmax: Int32Array, dy: Float32Array, d: number): Float32Array {
  const dx = new Float64Array(nSrc * d);
  for (let k = 0; k < argmax.length; k++) if (argmax[k] >= 0) dx[argmax[k] * d + (k % d)] += dy[k];
  return Float32Array.from(dx);
}

function check(a: DeviceCsr, x: DeviceArray, d: number): void {
  if (!Number.isInteger(d) || d < 1) throw new GnnrlError('input', `maxAggregate: d: expected a positive integer, got ${d}`, { arg: 'd' });
  if (x.length !== a.nCols * d) throw new GnnrlError('input', `maxAggregate: x: expected ${a.nCols}×${d} elements, got ${x.length}`, { arg: 'x' });
}


function forwardCpu(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number): MaxAggregateResult {
  check(a, x, d);
  const r = maxAggregateReference({ nRows: a.nRows, nCols: a.nCols, rowPtr: host(a.rowPtr), colIdx: host(a.colIdx), values: host(a.values) }, host(x), d);
  return { y: engine.array(r.y), argmax: engine.array(r.argmax) };
}

function backwardCpu(engine: Engine, _aT: DeviceCsr, fwd: MaxAggregateResult, dy: DeviceArray<'f32'>, d: number, nSrc: number): DeviceArray<'f32'> {
  return engine.array(maxAggregateBackwardReference(nSrc, host(fwd.argmax), host(dy), d));
}

function forwardGpu(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number): MaxAggregateResult {
  check(a, x, d);
  const gpu = engine.gpu;
  const y = engine.empty('f32', a.nRows * d);
  const argmax = engine.empty('i32', a.nRows * d);
  const lanes = lanesFor(d);
  const [gx, gy] = gpu.grid(Math.ceil(a.nRows / (64 / lanes)));
  gpu.dispatch(
    { name: 'spmm_max.forward', shader: 'spmm_max.wgsl', entry: 'forward', constants: { LANES: lanes } },
    { buffers: [buf(a.rowPtr), buf(a.colIdx), buf(x), buf(y), buf(argmax)], uniforms: new Uint32Array([a.nRows, d, gx, 0]), workgroups: [gx, gy] },
  );
  return { y, argmax };
}

/**
 * `aT` is the transpose of the forward matrix (rows = sources); its values are unused.
 * Returns dX (nSrc × d).
 */
function backwardGpu(engine: Engine, aT: DeviceCsr, fwd: MaxAggregateResult, dy: DeviceArray<'f32'>, d: number, nSrc: number): DeviceArray<'f32'> {
  if (aT.nRows !== nSrc) throw new GnnrlError('input', `maxAggregate backward: aT has ${aT.nRows} rows, expected the ${nSrc} sources`, { arg: 'aT' });
  const gpu = engine.gpu;
  const dx = engine.empty('f32', nSrc * d);
  const lanes = lanesFor(d);
  const [gx, gy] = gpu.grid(Math.ceil(nSrc / (64 / lanes)));
  gpu.dispatch(
    { name: 'spmm_max.backward', shader: 'spmm_max.wgsl', entry: 'backward', constants: { LANES: lanes } },
    { buffers: [buf(aT.rowPtr), buf(aT.colIdx), buf(fwd.argmax), buf(dy), buf(dx)], uniforms: new Uint32Array([nSrc, d, gx, 0]), workgroups: [gx, gy] },
  );
  return dx;
}

// native/kern_graph_core.cc: the same first-maximum rule and the same double sums in the
// same order as the references; the CPU kernels where the addon predates them.
function forwardNative(engine: Engine, a: DeviceCsr, x: DeviceArray<'f32'>, d: number): MaxAggregateResult {
  const k = nativeKernels();
  if (!k.maxAggregate) return forwardCpu(engine, a, x, d);
  check(a, x, d);
  const y = new Float32Array(a.nRows * d);
  const argmax = new Int32Array(a.nRows * d);
  k.maxAggregate({ nRows: a.nRows, nCols: a.nCols, rowPtr: host(a.rowPtr), colIdx: host(a.colIdx), x: host(x), d }, y, argmax);
  return { y: engine.array(y), argmax: engine.array(argmax) };
}

function backwardNative(engine: Engine, aT: DeviceCsr, fwd: MaxAggregateResult, dy: DeviceArray<'f32'>, d: number, nSrc: number): DeviceArray<'f32'> {
  const k = nativeKernels();
  if (!k.maxAggregateBackward) return backwardCpu(engine, aT, fwd, dy, d, nSrc);
  const dx = new Float32Array(nSrc * d);
  k.maxAggregateBackward({ nRows: fwd.argmax.length / d, nSrc, argmax: host(fwd.argmax), dy: host(dy), d }, dx);
  return engine.array(dx);
}

export const maxAggregate = defineKernel('spmm_max.forward', { cpu: forwardCpu, webgpu: forwardGpu, native: forwardNative });
export const maxAggregateBackward = defineKernel('spmm_max.backward', { cpu: backwardCpu, webgpu: backwardGpu, native: backwardNative });
