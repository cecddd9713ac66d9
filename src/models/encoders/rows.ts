/**
 * Row blocks of 2-D tensors on the tape. The tensor ops join and cut along the last
 * axis only; a row-major [r, d] tensor is the same storage as [1, r·d], so rows are a
 * last-axis concat or slice of that flat view (one copy kernel each way).
 */
import { GnnrlError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { concat } from '../../tensor/ops/gather.js';
import { mul } from '../../tensor/ops/elementwise.js';
import { sum } from '../../tensor/ops/reduce.js';
import { fmtShape } from '../../tensor/shape.js';

/** [a; b]: the rows of `a` then the rows of `b` (equal widths). */
export function concatRows(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[1]) {
    throw new GnnrlError('input', `concatRows: a is ${fmtShape(a.shape)} and b is ${fmtShape(b.shape)}; expected 2-D with equal widths`, { arg: 'b' });
  }
  return concat([a.reshape([1, a.size]), b.reshape([1, b.size])]).reshape([a.shape[0] + b.shape[0], a.shape[1]]);
}

/** Rows [r0, r1) of a 2-D tensor. */
export function sliceRows(x: Tensor, r0: number, r1: number): Tensor {
  if (x.shape.length !== 2 || !(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= x.shape[0])) {
    throw new GnnrlError('input', `sliceRows: rows [${r0}, ${r1}) of ${fmtShape(x.shape)}`, { arg: 'r0' });
  }
  const d = x.shape[1];
  if (r0 === 0 && r1 === x.shape[0]) return x;
  return x.reshape([1, x.size]).slice(r0 * d, r1 * d).reshape([r1 - r0, d]);
}

/** Splits the rows of x into `parts` equal blocks. */
export function splitRows(x: Tensor, parts: number): Tensor[] {
  const n = x.shape[0] / parts;
  if (!Number.isInteger(n)) throw new GnnrlError('input', `splitRows: ${fmtShape(x.shape)} does not split into ${parts} equal row blocks`, { arg: 'parts' });
  return Array.from({ length: parts }, (_, k) => sliceRows(x, k * n, (k + 1) * n));
}

/** Row-wise dot products of equal-shaped [B, d] tensors → [B, 1]. */
export function rowDot(a: Tensor, b: Tensor): Tensor {
  return sum(mul(a, b), 1);
}
