/**
 * Element-wise tensor ops with broadcasting (row vector, column vector, scalar) and
 * their backwards. Kernels: src/kernels/elementwise.ts.
 */
import { GnnrlError } from '../../errors.js';
import type { BinaryOp, UnaryOp, UnaryParams } from '../../kernels/elementwise.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import { sameShape, view2d, type Shape } from '../shape.js';
import { sum } from './reduce.js';
import { binaryRaw, unaryRaw } from './raw.js';

export { sameEngine, unaryRaw, binaryRaw, broadcastTo } from './raw.js';

/** The gradient of a broadcast operand: g summed over the axes it was broadcast along. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const [R, C] = view2d(g.shape);
  const [r, c] = view2d(shape);
  const overRows = r === 1 && R !== 1;
  const overCols = c === 1 && C !== 1;
  const s = overRows && overCols ? sum(g) : overRows ? sum(g, 0) : overCols ? sum(g, 1) : g;
  return s.reshape(shape);
}

function scalarOp(name: string, x: Tensor, alpha: number, beta: number): Tensor {
  const out = unaryRaw('affine', x, { alpha, beta }, name);
  return record(out, name, [x], (g) => [alpha === 1 ? g : unaryRaw('affine', g, { alpha, beta: 0 })]);
}

export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return scalarOp('add', a, 1, b);
  const out = binaryRaw('lincomb', a, b, { alpha: 1, beta: 1 }, 'add');
  return record(out, 'add', [a, b], (g) => [unbroadcast(g, a.shape), unbroadcast(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return scalarOp('sub', a, 1, -b);
  const out = binaryRaw('lincomb', a, b, { alpha: 1, beta: -1 }, 'sub');
  return record(out, 'sub', [a, b], (g) => [unbroadcast(g, a.shape), b.requiresGrad ? unbroadcast(unaryRaw('affine', g, { alpha: -1 }), b.shape) : null]);
}

export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return scalarOp('mul', a, b, 0);
  const out = binaryRaw('mul', a, b, {}, 'mul');
  return record(out, 'mul', [a, b], (g) => [
    a.requiresGrad ? unbroadcast(binaryRaw('mul', g, b), a.shape) : null,
    b.requiresGrad ? unbroadcast(binaryRaw('mul', g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return scalarOp('div', a, 1 / b, 0);
  const out = binaryRaw('div', a, b, {}, 'div');
  return record(out, 'div', [a, b], (g) => [
    a.requiresGrad ? unbroadcast(binaryRaw('div', g, b), a.shape) : null,
    // d(a/b)/db = −(a/b)/b, so gb = −g·out/b.
    b.requiresGrad ? unbroadcast(binaryRaw('div', binaryRaw('mul', g, out), b, { alpha: -1 }), b.shape) : null,
  ]);
}

/** An activation whose backward is one binary kernel of (g, saved) with saved = x or y. */
function activation(op: UnaryOp, bw: BinaryOp, x: Tensor, saved: 'x' | 'y', prm: UnaryParams = {}): Tensor {
  const out = unaryRaw(op, x, prm);
  return record(out, op, [x], (g) => [binaryRaw(bw, g, saved === 'x' ? x : out, { alpha: prm.alpha ?? 1 })]);
}

export const relu = (x: Tensor): Tensor => activation('relu', 'reluBw', x, 'x');
export const leakyRelu = (x: Tensor, alpha = 0.01): Tensor => activation('leakyRelu', 'leakyBw', x, 'x', { alpha });
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', 'sigmoidBw', x, 'y');
export const tanh = (x: Tensor): Tensor => activation('tanh', 'tanhBw', x, 'y');
export const exp = (x: Tensor): Tensor => activation('exp', 'mul', x, 'y');
export const log = (x: Tensor): Tensor => activation('log', 'div', x, 'x');
export const softplus = (x: Tensor): Tensor => activation('softplus', 'softplusBw', x, 'x');
export const logSigmoid = (x: Tensor): Tensor => activation('logSigmoid', 'logSigmoidBw', x, 'x');
export const sqrt = (x: Tensor): Tensor => activation('sqrt', 'sqrtBw', x, 'y');

export function square(x: Tensor): Tensor {
  const out = unaryRaw('square', x);
  return record(out, 'square', [x], (g) => [binaryRaw('mul', g, x, { alpha: 2 })]);
}

export interface DropoutOptions {
  /** Seed of the counter-based mask: the same (seed, element index) drops on every backend. */
  seed: number;
  /** Identity when false (evaluation). Default true. */
  training?: boolean;
}

/** Zeroes each element with probability p and scales the rest by 1/(1−p). */
export function dropout(x: Tensor, p: number, opts: DropoutOptions): Tensor {
  if (!(p >= 0 && p < 1)) throw new GnnrlError('input', `dropout: p must be in [0, 1), got ${p}`, { arg: 'p' });
  if (opts.training === false || p === 0) return x;
  const prm = { p, seed: opts.seed >>> 0, alpha: 1 / (1 - p) };
  const out = unaryRaw('dropout', x, prm);
  return record(out, 'dropout', [x], (g) => [unaryRaw('dropout', g, prm)]);
}

/** Records `view` (sharing `src`'s storage) as a reshape of `src`. */
export function recordReshape(view: Tensor, src: Tensor): Tensor {
  return record(view, 'reshape', [src], (g) => [g.reshape(src.shape)]);
}
