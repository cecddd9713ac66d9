/**
 * Dense GEMM: C[M, N] = op(A) · op(B) with op(A) [M, K] and op(B) [K, N]; A is stored
 * [M, K] or, with transA, [K, M]; B [K, N] or, with transB, [N, K]. The transpose
 * flags let every backward pass read its operands in place.
 *
 * GPU: register-tiled kernel (shaders/tensor/matmul.wgsl), with vec4 global loads and
 * stores when every stored row is a multiple of 4 floats (chosen here by shape, never by
 * a branch in the shader), a thin kernel for outputs of N ≤ 8 columns, and split-K when
 * the output has few tiles (or rows) and K is long, e.g. Xᵀ·G weight gradients of a
 * 4096-row batch: K is cut into slices that run as separate workgroups, and a
 * deterministic column reduction sums the slices. Strategies are pinnable with
 * GNNRL_KERNEL_VARIANT=matmul=tiled|tiled_vec4|thin|thin_vec4 (see src/gpu/variants.ts).
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { GnnrlError } from '../errors.js';
import { chooseVariant } from '../gpu/variants.js';
import { nativeKernels } from '../native.js';
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
export function matmulReference<A extends Arr>(a: Arr, b: Arr, s: MatmulShape, out: A): A {
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
  matmulReference(host(a), host(b), s, host(out));
  return out;
};

/**
 * WebGPU strategies (entry points of shaders/tensor/matmul.wgsl):
 * - `tiled`: 32×32 register tiles, scalar global loads; any shape.
 * - `tiled_vec4`: the same tiles with vec4 global loads and stores.
 * - `thin`: one invocation per 4 output rows, for N ≤ 8 (attention logits [nodes, d]·[d, heads]).
 * - `thin_vec4`: thin with vec4 loads and stores.
 */
export const MATMUL_VARIANTS = ['tiled', 'tiled_vec4', 'thin', 'thin_vec4'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

/** Widest output the thin strategy serves (two vec4 column groups). */
const THIN_MAX_N = 8;
/** Invocations (each 4 rows) below which the thin strategy splits K. */
const THIN_THREADS = 4096;

/**
 * The vec4 views need every stored row to be whole vec4: A's (K, or M with transA), B's
 * (N, or K with transB) and C's (N). Arrays start at offset 0 of their buffers.
 */
export function matmulVec4Aligned(s: MatmulShape): boolean {
  const aRow = s.transA ? s.M : s.K;
  const bRow = s.transB ? s.K : s.N;
  return aRow % 4 === 0 && bRow % 4 === 0 && s.N % 4 === 0;
}

/** Strategies that can run this shape. */
export function matmulVariantsFor(s: MatmulShape): MatmulVariant[] {
  const vec4 = matmulVec4Aligned(s);
  const out: MatmulVariant[] = vec4 ? ['tiled', 'tiled_vec4'] : ['tiled'];
  if (s.N <= THIN_MAX_N) out.push(...(vec4 ? (['thin', 'thin_vec4'] as const) : (['thin'] as const)));
  return out;
}

/**
 * Default strategy, the same on software and hardware adapters: vec4 whenever the rows
 * allow (a quarter of the load instructions everywhere), thin for N ≤ 8 (a 32-wide tile
 * would leave 7/8 of its lanes idle on any device; thin needs no barriers, which lavapipe
 * also rewards).
 */
function defaultVariant(allowed: MatmulVariant[], s: MatmulShape): MatmulVariant {
  const vec4 = allowed.includes('tiled_vec4');
  if (s.N <= THIN_MAX_N) return vec4 ? 'thin_vec4' : 'thin';
  return vec4 ? 'tiled_vec4' : 'tiled';
}

function shapeKey(s: MatmulShape): string {
  const cls = (n: number) => (n <= THIN_MAX_N ? String(n) : `2^${Math.round(Math.log2(n))}`);
  return `${s.transA ? 't' : 'n'}${s.transB ? 't' : 'n'}|M${cls(s.M)}|K${cls(s.K)}|N${cls(s.N)}|${matmulVec4Aligned(s) ? 'v4' : 's'}`;
}

/** The strategy matmul will use for this shape: pinned (GNNRL_KERNEL_VARIANT=matmul=...), tuned, or the default. */
export function matmulVariant(engine: Engine, s: MatmulShape): MatmulVariant {
  const allowed = matmulVariantsFor(s);
  return chooseVariant(engine.adapter!, 'matmul', shapeKey(s), allowed, defaultVariant(allowed, s)).variant as MatmulVariant;
}

/** K slices for the thin strategy (1 = no split): enough invocations to fill the device. */
export function thinSplitKFor(s: MatmulShape, maxBindingBytes: number): number {
  const threads = Math.ceil(s.M / 4);
  if (threads >= THIN_THREADS || s.K < 2 * MIN_SLICE) return 1;
  let splits = Math.min(Math.ceil(s.K / MIN_SLICE), Math.ceil(THIN_THREADS / threads));
  while (splits > 1 && splits * s.M * s.N * 4 > maxBindingBytes) splits--;
  return splits;
}

function runVariant(engine: Engine, a: DeviceArray<'f32'>, b: DeviceArray<'f32'>, s: MatmulShape, out: DeviceArray<'f32'>, variant: MatmulVariant): void {
  const gpu = engine.gpu;
  const { M, K, N } = s;
  const thin = variant === 'thin' || variant === 'thin_vec4';
  const maxBind = gpu.limits.maxStorageBufferBindingSize;
  const splits = thin ? thinSplitKFor(s, maxBind) : splitKFor(s, maxBind);
  const kSplit = splits === 1 ? Math.max(K, 1) : Math.ceil(K / splits / TILE) * TILE;
  const slices = splits === 1 ? 1 : Math.ceil(K / kSplit);
  const dst = slices === 1 ? out : engine.empty('f32', slices * M * N);
  const constants: Record<string, number> = { TRANS_A: s.transA ? 1 : 0, TRANS_B: s.transB ? 1 : 0 };
  if (thin) constants.NC = Math.ceil(N / 4);
  const program = {
    name: `matmul.${variant}${slices === 1 ? '' : '.splitk'}`,
    shader: 'tensor/matmul.wgsl',
    entry: variant === 'tiled' ? 'main' : variant,
    constants,
  };
  let workgroups: [number, number, number];
  if (thin) {
    const [x, y] = gpu.grid(Math.ceil(M / 4 / 64));
    workgroups = [x, y, slices];
  } else {
    workgroups = [Math.ceil(N / TILE), Math.ceil(M / TILE), slices];
  }
  gpu.dispatch(program, {
    buffers: [buf(a), buf(b), buf(dst)],
    uniforms: packUniforms([
      ['u', M],
      ['u', N],
      ['u', K],
      ['u', kSplit],
    ]),
    workgroups,
  });
  if (slices > 1) {
    // Partials are [slices, M·N]: their column sums are C.
    reduceKernel(engine, 'sum', dst, slices, M * N, 'cols', 1, out);
    engine.free(dst);
  }
}

/** Runs one strategy (tests and benchmarks); throws if it cannot run this shape. */
export function matmulWith(engine: Engine, variant: MatmulVariant, a: DeviceArray<'f32'>, b: DeviceArray<'f32'>, s: MatmulShape, out: DeviceArray<'f32'>): DeviceArray<'f32'> {
  if (!matmulVariantsFor(s).includes(variant)) {
    throw new GnnrlError('input', `matmul: variant '${variant}' cannot run ${s.M}×${s.K}·${s.K}×${s.N} (allowed: ${matmulVariantsFor(s).join(', ')})`, { arg: 'variant' });
  }
  if (s.M > 0 && s.N > 0) runVariant(engine, a, b, s, out, variant);
  return out;
}

const matmulGpu: MatmulImpl = (engine, a, b, s, out) => {
  if (s.M === 0 || s.N === 0) return out;
  runVariant(engine, a, b, s, out, matmulVariant(engine, s));
  return out;
};

/** Native backend: the addon's blocked, threaded GEMM (native/kern_gemm_core.cc). */
const matmulNative: MatmulImpl = (_e, a, b, s, out) => {
  nativeKernels().gemm(host(a), host(b), host(out), s.M, s.K, s.N, !!s.transA, !!s.transB);
  return out;
};

/** out (M·N elements) = op(A)·op(B). */
export const matmulKernel = defineKernel<MatmulImpl>('matmul', { cpu: matmulCpu, webgpu: matmulGpu, native: matmulNative });
