/** Sparse × dense on the tape: Y = A·X, backward G_X = Aᵀ·G through the transposed CSR. */
import { GnnrlError } from '../../errors.js';
import { spmm } from '../../kernels/spmm.js';
import type { DeviceCsr } from '../../backend/arrays.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import { fmtShape } from '../shape.js';

/**
 * Y = A·X for CSR A [nRows, nCols] and X [nCols, d]. `aT` is Aᵀ as a CSR, uploaded
 * once (the native addon builds it); for a symmetric Â (normalised adjacency) pass A.
 */
export function sparseMatmul(a: DeviceCsr, x: Tensor, aT: DeviceCsr): Tensor {
  if (x.shape.length !== 2 || x.shape[0] !== a.nCols) {
    throw new GnnrlError('input', `sparseMatmul: A is ${a.nRows}×${a.nCols} but x is ${fmtShape(x.shape)} (expected ${a.nCols}×d)`, { arg: 'x' });
  }
  if (aT.nRows !== a.nCols || aT.nCols !== a.nRows || aT.nnz !== a.nnz) {
    throw new GnnrlError('input', `sparseMatmul: aT is ${aT.nRows}×${aT.nCols} with ${aT.nnz} entries, not the transpose of A (${a.nRows}×${a.nCols}, ${a.nnz} entries)`, { arg: 'aT' });
  }
  const d = x.shape[1];
  const out = Tensor.empty(x.engine, [a.nRows, d]);
  spmm(x.engine, a, x.f32('sparseMatmul'), d, out.f32('sparseMatmul'));
  return record(out, 'sparseMatmul', [x], (g) => {
    const gx = Tensor.empty(x.engine, x.shape);
    spmm(x.engine, aT, g.f32('sparseMatmul', 'grad'), d, gx.f32('sparseMatmul'));
    return [gx];
  });
}
