/**
 * Dense GEMM: C[M, N] = op(A) · op(B) with op(A) [M, K] and op(B) [K, N]; A is stored
 * [M, K] or, with transA, [K, M]; B [K, N] or, with transB, [N, K]. The transpose
 * flags let every backward pass read its operands in place.
 *
 * GPU: register-tiled kernel (shaders/tensor/matmul.wgsl), plus split-K when the output
 * has few 32×32 tiles and K is long, e.g. Xᵀ·G weight gradients of a 4096-row batch:
 * K is cut into slices that run as separate workgroups, and a deterministic column
 * reduction sums the slices.
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { reduceKernel } from './reduce.js';
import { buf, host, packUniforms, type Arr } from './pack.js';

export interface MatmulShape {
  M: number;
  K: number;
  N: number;
  transA?: boolean;
  transB?: boolean;
}

const TILE = 32;
/** Below this many output tiles the device idles unless K is split. */
const SPLIT_TILES = 64;
/** Each split-K slice keeps at least this much K (a multiple of TILE). */
const MIN_SLICE = 128;

/** Float64-accumulating reference; works on f32 or f64 arrays. */
export function matmulRef<A extends Arr>(a: Arr, b: Arr, s: MatmulShape, out: A): A {
  const { M, K, N } = s;
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const aik = s.transA ? a[k * M + i] : a[i * K + k];
      if (aik === 0) continue;
      if (s.transB) for (let j = 0; j < N; j++) acc[j] += aik * b[j * K + k];
      else {
        const row = k * N;
        for (let j = 0; j < N; j++) acc[j] += aik * b[row + j];
      }
    }
    for (let j = 0; j < N; j++) out[i * N + j] = acc[j];
  }
  return out;
}

/** Slices of K for split-K (1 = no split), bounded by the partials' binding size. */
export function splitKFor(s: MatmulShape, maxBindingBytes: number): number {
  const tiles = Math.ceil(s.M / TILE) * Math.ceil(s.N / TILE);
  if (tiles >= SPLIT_TILES || s.K < 2 * MIN_SLICE) return 1;
  let splits = Math.min(Math.ceil(s.K / MIN_SLICE), Math.ceil((4 * SPLIT_TILES) / tiles));
  while (splits > 1 && splits * s.M * s.N * 4 > maxBindingBytes) splits--;
  return splits;
}

type MatmulImpl = (engine: Engine, a: DeviceArray<'f32'>, b: DeviceArray<'f32'>, s: MatmulShape, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;

const matmulCpu: MatmulImpl = (_e, a, b, s, out) => {
  matmulRef(host(a), host(b), s, host(out));
  return out;
};

const matmulGpu: MatmulImpl = (engine, a, b, s, out) => {
  const gpu = engine.gpu;
  const { M, K, N } = s;
  if (M === 0 || N === 0) return out;
  const splits = splitKFor(s, gpu.limits.maxStorageBufferBindingSize);
  const kSplit = splits === 1 ? Math.max(K, 1) : Math.ceil(K / splits / TILE) * TILE;
  const slices = splits === 1 ? 1 : Math.ceil(K / kSplit);
  const dst = slices === 1 ? out : engine.empty('f32', slices * M * N);
  const program = {
    name: slices === 1 ? 'matmul' : 'matmul.splitk',
    shader: 'tensor/matmul.wgsl',
    constants: { TRANS_A: s.transA ? 1 : 0, TRANS_B: s.transB ? 1 : 0 },
  };
  gpu.dispatch(program, {
    buffers: [buf(a), buf(b), buf(dst)],
    uniforms: packUniforms([
      ['u', M],
      ['u', N],
      ['u', K],
      ['u', kSplit],
    ]),
    workgroups: [Math.ceil(N / TILE), Math.ceil(M / TILE), slices],
  });
  if (slices > 1) {
    // Partials are [slices, M·N]: their column sums are C.
    reduceKernel(engine, 'sum', dst, slices, M * N, 'cols', 1, out);
    engine.free(dst);
  }
  return out;
};

/** out (M·N elements) = op(A)·op(B). */
export const matmulKernel = defineKernel<MatmulImpl>('tensor.matmul', { cpu: matmulCpu, webgpu: matmulGpu });
