/**
 * Shapes. Ops see every tensor as a row-major matrix: a scalar is 1×1, a vector [n]
 * is a row 1×n, and higher ranks fold their leading axes into rows. Broadcasting is
 * therefore of a row vector, a column vector or a scalar against a matrix.
 */
import { GnnrlError } from '../errors.js';
import type { Broadcast } from '../kernels/elementwise.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return shape.length === 0 ? 'scalar' : shape.join('×');
}

export function checkShape(shape: Shape, op: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new GnnrlError('input', `${op}: shape [${shape.join(', ')}] must hold non-negative integers`, { arg: 'shape' });
  }
}

/** [rows, cols] of the matrix view. */
export function view2d(shape: Shape): [number, number] {
  if (shape.length === 0) return [1, 1];
  const cols = shape[shape.length - 1];
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i];
  return [rows, cols];
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export interface BroadcastPlan {
  shape: Shape;
  bc: Broadcast;
}

/** The output shape and operand strides for `op(a, b)`, or an input error naming both shapes. */
export function broadcast2d(op: string, a: Shape, b: Shape): BroadcastPlan {
  const [ra, ca] = view2d(a);
  const [rb, cb] = view2d(b);
  const fits = (x: number, y: number) => x === y || x === 1 || y === 1;
  if (!fits(ra, rb) || !fits(ca, cb)) {
    throw new GnnrlError(
      'input',
      `${op}: a is ${fmtShape(a)} but b is ${fmtShape(b)} (as matrices ${ra}×${ca} and ${rb}×${cb}: each dimension must match or be 1)`,
      { arg: 'b' },
    );
  }
  const rows = ra === 1 ? rb : ra;
  const cols = ca === 1 ? cb : ca;
  const shape = ra === rows && ca === cols ? a : rb === rows && cb === cols ? b : [rows, cols];
  return {
    shape,
    bc: {
      rows,
      cols,
      aRs: ra === rows ? ca : 0,
      aCs: ca === cols ? 1 : 0,
      bRs: rb === rows ? cb : 0,
      bCs: cb === cols ? 1 : 0,
    },
  };
}
