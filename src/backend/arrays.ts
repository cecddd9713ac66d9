/**
 * Flat typed storage on a backend: what tensors, graphs and replay buffers are built
 * from. The CPU (and planned native) backend holds a typed array; the WebGPU backend a
 * pooled GPUBuffer. Shapes live above this layer.
 */
import { GnnrlError } from '../errors.js';
export type BackendKind = 'webgpu' | 'cpu' | 'native';
export type DType = 'f32' | 'i32' | 'u32';

export type TypedArrayFor<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;
export type NumericArray = Float32Array | Int32Array | Uint32Array;

export function dtypeOf(a: NumericArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  throw new GnnrlError('input', `expected a Float32Array, Int32Array or Uint32Array, got ${Object.prototype.toString.call(a).slice(8, -1)}`, { arg: 'array' });
}

export function allocTyped<D extends DType>(dtype: D, length: number): TypedArrayFor<D> {
  switch (dtype) {
    case 'f32':
      return new Float32Array(length) as TypedArrayFor<D>;
    case 'i32':
      return new Int32Array(length) as TypedArrayFor<D>;
    default:
      return new Uint32Array(length) as TypedArrayFor<D>;
  }
}

export function viewTyped<D extends DType>(dtype: D, buf: ArrayBuffer, length: number): TypedArrayFor<D> {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buf, 0, length) as TypedArrayFor<D>;
    case 'i32':
      return new Int32Array(buf, 0, length) as TypedArrayFor<D>;
    default:
      return new Uint32Array(buf, 0, length) as TypedArrayFor<D>;
  }
}

interface ArrayBase<D extends DType> {
  readonly dtype: D;
  readonly length: number;
}

/** Storage on the CPU or native backend: the typed array itself. */
export interface CpuArray<D extends DType = DType> extends ArrayBase<D> {
  readonly backend: 'cpu' | 'native';
  readonly data: TypedArrayFor<D>;
}

/** Storage on the WebGPU backend: a pooled buffer of at least length*4 bytes. */
export interface GpuArray<D extends DType = DType> extends ArrayBase<D> {
  readonly backend: 'webgpu';
  readonly buffer: GPUBuffer;
}

export type DeviceArray<D extends DType = DType> = CpuArray<D> | GpuArray<D>;

/**
 * A compressed sparse row matrix on the host: row r's entries are
 * colIdx[rowPtr[r] .. rowPtr[r+1]) with values at the same positions. Columns are sorted
 * within each row. This is the one sparse layout the native builder produces, the
 * TypeScript builder mirrors, and the SpMM kernels consume (uploaded as a DeviceCsr).
 */
export interface Csr {
  nRows: number;
  nCols: number;
  /** Length nRows + 1, rowPtr[0] = 0, non-decreasing, rowPtr[nRows] = nnz. */
  rowPtr: Int32Array;
  /** Length nnz, each in [0, nCols). */
  colIdx: Int32Array;
  /** Length nnz. */
  values: Float32Array;
}

/** A CSR matrix whose arrays live on one backend (uploaded once, reused every step). */
export interface DeviceCsr {
  readonly nRows: number;
  readonly nCols: number;
  readonly nnz: number;
  readonly rowPtr: DeviceArray<'i32'>;
  readonly colIdx: DeviceArray<'i32'>;
  readonly values: DeviceArray<'f32'>;
}
