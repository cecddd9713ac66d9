/**
 * Element-wise kernels: unary maps (activations, scalar affine, dropout, in-place
 * accumulation) and binary maps with row/column/scalar broadcasting, including the
 * fused pointwise pieces of activation backwards and of the MSE, Huber and BPR losses.
 * One WGSL file, one pipeline per op code (shaders/tensor/elementwise.wgsl).
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { hashU32 } from '../util/rng.js';
import { buf, host, launch1d, packUniforms, type Arr } from './pack.js';
import { nativeKernels } from '../native.js';

/** Unary op codes; keep in sync with shaders/tensor/elementwise.wgsl. */
export const UNARY = {
  affine: 0,
  relu: 1,
  leakyRelu: 2,
  sigmoid: 3,
  tanh: 4,
  exp: 5,
  log: 6,
  softplus: 7,
  logSigmoid: 8,
  dropout: 9,
  square: 10,
  sqrt: 11,
  fill: 12,
  axpy: 13,
} as const;
export type UnaryOp = keyof typeof UNARY;

/** Binary op codes; `a` is the upstream gradient and `b` the saved value for `*Bw` ops. */
export const BINARY = {
  lincomb: 0,
  mul: 1,
  div: 2,
  reluBw: 3,
  leakyBw: 4,
  sigmoidBw: 5,
  tanhBw: 6,
  softplusBw: 7,
  logSigmoidBw: 8,
  sqDiff: 9,
  huber: 10,
  huberBw: 11,
  bpr: 12,
  bprBw: 13,
  rhs: 14,
  sqrtBw: 15,
} as const;
export type BinaryOp = keyof typeof BINARY;

export interface UnaryParams {
  alpha?: number;
  beta?: number;
  /** Dropout: seed of the counter-based hash and drop probability in [0, 1). */
  seed?: number;
  p?: number;
}

export interface BinaryParams {
  alpha?: number;
  beta?: number;
}

/**
 * How a binary op reads its operands as [rows, cols]: element (r, c) of `a` is at
 * r*aRs + c*aCs, so a full matrix has (cols, 1), a row vector (0, 1), a column
 * vector (1, 0) and a scalar (0, 0).
 */
export interface Broadcast {
  rows: number;
  cols: number;
  aRs: number;
  aCs: number;
  bRs: number;
  bCs: number;
}

export function fullBroadcast(rows: number, cols: number): Broadcast {
  return { rows, cols, aRs: cols, aCs: 1, bRs: cols, bCs: 1 };
}

// ---------------------------------------------------------------- CPU reference

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** The dropout keep threshold as the integer the shader compares the hash with. */
export function dropoutThreshold(p: number): number {
  return Math.min(0xffffffff, Math.ceil(p * 4294967296));
}

function unaryFn(op: UnaryOp, prm: UnaryParams): (x: number, y: number, i: number) => number {
  const alpha = prm.alpha ?? 1;
  const beta = prm.beta ?? 0;
  switch (op) {
    case 'affine':
      return (x) => alpha * x + beta;
    case 'relu':
      return (x) => (x > 0 ? x : 0);
    case 'leakyRelu':
      return (x) => (x > 0 ? x : alpha * x);
    case 'sigmoid':
      return sigmoid;
    case 'tanh':
      return Math.tanh;
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'softplus':
      return softplus;
    case 'logSigmoid':
      return (x) => -softplus(-x);
    case 'dropout': {
      const seed = prm.seed ?? 0;
      const thresh = dropoutThreshold(prm.p ?? 0);
      return (x, _y, i) => (hashU32(seed, i) >= thresh ? x * alpha : 0);
    }
    case 'square':
      return (x) => x * x;
    case 'sqrt':
      return Math.sqrt;
    case 'fill':
      return () => beta;
    case 'axpy':
      return (x, y) => y + alpha * x;
  }
}

/** out[i] = f(x[i]) in float64 arithmetic (out may be f32 or f64; `axpy` reads out). */
export function unaryReference<A extends Arr>(op: UnaryOp, x: Arr, out: A, prm: UnaryParams = {}): A {
  const f = unaryFn(op, prm);
  for (let i = 0; i < out.length; i++) out[i] = f(x[i], out[i], i);
  return out;
}

function binaryFn(op: BinaryOp, prm: BinaryParams): (a: number, b: number) => number {
  const alpha = prm.alpha ?? 1;
  const beta = prm.beta ?? 0;
  switch (op) {
    case 'lincomb':
      return (a, b) => alpha * a + beta * b;
    case 'mul':
      return (a, b) => alpha * a * b;
    case 'div':
      return (a, b) => (alpha * a) / b;
    case 'reluBw':
      return (g, x) => (x > 0 ? g : 0);
    case 'leakyBw':
      return (g, x) => (x > 0 ? g : alpha * g);
    case 'sigmoidBw':
      return (g, y) => g * y * (1 - y);
    case 'tanhBw':
      return (g, y) => g * (1 - y * y);
    case 'softplusBw':
      return (g, x) => g * sigmoid(x);
    case 'logSigmoidBw':
      return (g, x) => g * sigmoid(-x);
    case 'sqDiff':
      return (a, b) => (a - b) * (a - b);
    case 'huber':
      return (a, b) => {
        const d = Math.abs(a - b);
        return d <= alpha ? 0.5 * d * d : alpha * (d - 0.5 * alpha);
      };
    case 'huberBw':
      return (a, b) => Math.min(alpha, Math.max(-alpha, a - b));
    case 'bpr':
      return (a, b) => softplus(b - a);
    case 'bprBw':
      return (a, b) => -sigmoid(b - a);
    case 'rhs':
      return (_a, b) => alpha * b + beta;
    case 'sqrtBw':
      return (g, y) => (g * 0.5) / y;
  }
}

/** out[r, c] = g(a[r*aRs + c*aCs], b[r*bRs + c*bCs]) in float64 arithmetic. */
export function binaryReference<A extends Arr>(op: BinaryOp, a: Arr, b: Arr, out: A, bc: Broadcast, prm: BinaryParams = {}): A {
  const f = binaryFn(op, prm);
  for (let r = 0; r < bc.rows; r++) {
    for (let c = 0; c < bc.cols; c++) out[r * bc.cols + c] = f(a[r * bc.aRs + c * bc.aCs], b[r * bc.bRs + c * bc.bCs]);
  }
  return out;
}

// ---------------------------------------------------------------- backends

/** Rows at least this wide use the division-free 2-D broadcast grid. */
const WIDE_ROW = 64;

type UnaryImpl = (engine: Engine, op: UnaryOp, x: DeviceArray<'f32'>, out: DeviceArray<'f32'>, prm?: UnaryParams) => DeviceArray<'f32'>;
type BinaryImpl = (engine: Engine, op: BinaryOp, a: DeviceArray<'f32'>, b: DeviceArray<'f32'>, out: DeviceArray<'f32'>, bc: Broadcast, prm?: BinaryParams) => DeviceArray<'f32'>;

const unaryCpu: UnaryImpl = (_e, op, x, out, prm = {}) => {
  unaryReference(op, host(x), host(out), prm);
  return out;
};

const unaryGpu: UnaryImpl = (engine, op, x, out, prm = {}) => {
  const gpu = engine.gpu;
  const n = out.length;
  const vec = n % 4 === 0;
  const uniforms = packUniforms([
    ['u', n],
    ['u', prm.seed ?? 0],
    ['u', op === 'dropout' ? dropoutThreshold(prm.p ?? 0) : 0],
    ['f', prm.alpha ?? 1],
    ['f', prm.beta ?? 0],
  ]);
  const program = { name: `unary.${op}`, shader: 'tensor/elementwise.wgsl', entry: vec ? 'unary4' : 'unary', constants: { OP: UNARY[op] } };
  launch1d(gpu, program, [buf(x), buf(out)], uniforms, vec ? n / 4 : n);
  return out;
};

const binaryCpu: BinaryImpl = (_e, op, a, b, out, bc, prm = {}) => {
  binaryReference(op, host(a), host(b), host(out), bc, prm);
  return out;
};

const binaryGpu: BinaryImpl = (engine, op, a, b, out, bc, prm = {}) => {
  const gpu = engine.gpu;
  const n = bc.rows * bc.cols;
  const full = bc.aRs === bc.cols && bc.aCs === 1 && bc.bRs === bc.cols && bc.bCs === 1;
  const vec = full && n % 4 === 0;
  const uniforms = packUniforms([
    ['u', n],
    ['u', Math.max(1, bc.cols)],
    ['u', bc.aRs],
    ['u', bc.aCs],
    ['u', bc.bRs],
    ['u', bc.bCs],
    ['f', prm.alpha ?? 1],
    ['f', prm.beta ?? 0],
    ['u', bc.rows],
  ]);
  const buffers = [buf(a), buf(b), buf(out)];
  if (!vec && bc.cols >= WIDE_ROW && n > 0) {
    const max = gpu.limits.maxWorkgroupsPerDim;
    const program = { name: `binary.${op}`, shader: 'tensor/elementwise.wgsl', entry: 'binary2d', constants: { OP: BINARY[op] } };
    gpu.dispatch(program, { buffers, uniforms, workgroups: [Math.ceil(bc.cols / 256), Math.min(bc.rows, max), Math.ceil(bc.rows / max)] });
    return out;
  }
  const program = { name: `binary.${op}`, shader: 'tensor/elementwise.wgsl', entry: vec ? 'binary4' : 'binary', constants: { OP: BINARY[op] } };
  launch1d(gpu, program, buffers, uniforms, vec ? n / 4 : n);
  return out;
};

/** Native backend: native/kern_elementwise_core.cc (the same double arithmetic, on the pool); the CPU loop where the addon predates it. */
const unaryNative: UnaryImpl = (engine, op, x, out, prm = {}) => {
  const k = nativeKernels();
  if (!k.unary) return unaryCpu(engine, op, x, out, prm);
  k.unary(UNARY[op], host(x), host(out), prm.alpha ?? 1, prm.beta ?? 0, (prm.seed ?? 0) >>> 0, op === 'dropout' ? dropoutThreshold(prm.p ?? 0) : 0);
  return out;
};

const binaryNative: BinaryImpl = (engine, op, a, b, out, bc, prm = {}) => {
  const k = nativeKernels();
  if (!k.binary) return binaryCpu(engine, op, a, b, out, bc, prm);
  k.binary(BINARY[op], host(a), host(b), host(out), bc.rows, bc.cols, bc.aRs, bc.aCs, bc.bRs, bc.bCs, prm.alpha ?? 1, prm.beta ?? 0);
  return out;
};

/** out = f(x), element-wise; `out` must hold x.length elements (`axpy` accumulates into it). */
export const unaryKernel = defineKernel<UnaryImpl>('unary', { cpu: unaryCpu, webgpu: unaryGpu, native: unaryNative });
/** out = g(a, b) over a rows×cols grid with broadcast strides. */
export const binaryKernel = defineKernel<BinaryImpl>('binary', { cpu: binaryCpu, webgpu: binaryGpu, native: binaryNative });
