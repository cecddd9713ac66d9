/**
 * sum and mean over everything (→ scalar), over rows (axis 0 → [cols]) or along each
 * row (axis 1 or -1 → [rows, 1], kept as a column so it broadcasts back).
 */
import { GnnrlError } from '../../errors.js';
import { reduceKernel, type ReduceAxis } from '../../kernels/reduce.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import { view2d, type Shape } from '../shape.js';
import { broadcastTo } from './raw.js';

export type Axis = 0 | 1 | -1;

function plan(x: Tensor, axis: Axis | undefined, op: string): { kernelAxis: ReduceAxis; shape: Shape; count: number } {
  const [R, C] = view2d(x.shape);
  if (axis === undefined) return { kernelAxis: 'all', shape: [], count: R * C };
  if (axis === 0) return { kernelAxis: 'cols', shape: [C], count: R };
  if (axis === 1 || axis === -1) return { kernelAxis: 'rows', shape: [R, 1], count: C };
  throw new GnnrlError('input', `${op}: axis must be 0, 1, -1 or omitted, got ${String(axis)}`, { arg: 'axis' });
}

function reduce(name: string, x: Tensor, axis: Axis | undefined, mean: boolean): Tensor {
  const { kernelAxis, shape, count } = plan(x, axis, name);
  const [R, C] = view2d(x.shape);
  const scale = mean ? 1 / count : 1;
  const xs = x.f32(name);
  const out = Tensor.empty(x.engine, shape);
  reduceKernel(x.engine, 'sum', xs, R, C, kernelAxis, scale, out.f32(name));
  return record(out, name, [x], (g) => [broadcastTo(g, x.shape, scale)]);
}

export const sum = (x: Tensor, axis?: Axis): Tensor => reduce('sum', x, axis, false);
export const mean = (x: Tensor, axis?: Axis): Tensor => reduce('mean', x, axis, true);
