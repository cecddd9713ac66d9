/**
 * Element-wise kernels on tensors, not recorded for autograd: the building blocks of
 * the recorded ops (elementwise.ts, reduce.ts, loss.ts) and of their backwards.
 */
import { GnnrlError } from '../../errors.js';
import { binaryKernel, unaryKernel, type BinaryOp, type BinaryParams, type Broadcast, type UnaryOp, type UnaryParams } from '../../kernels/elementwise.js';
import { Tensor } from '../core.js';
import { broadcast2d, view2d, type Shape } from '../shape.js';

export function sameEngine(op: string, a: Tensor, b: Tensor): void {
  if (a.engine !== b.engine) throw new GnnrlError('input', `${op}: a and b belong to different engines`, { arg: 'b' });
}

/** y = f(x), not recorded. */
export function unaryRaw(op: UnaryOp, x: Tensor, prm: UnaryParams = {}, name: string = op): Tensor {
  const xs = x.f32(name); // validates (and throws) before anything is allocated
  const out = Tensor.empty(x.engine, x.shape);
  unaryKernel(x.engine, op, xs, out.f32(name), prm);
  return out;
}

/** o = g(a, b) with broadcasting, not recorded. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, prm: BinaryParams = {}, name: string = op): Tensor {
  sameEngine(name, a, b);
  const plan = broadcast2d(name, a.shape, b.shape);
  const [as, bs] = [a.f32(name, 'a'), b.f32(name, 'b')];
  const out = Tensor.empty(a.engine, plan.shape);
  binaryKernel(a.engine, op, as, bs, out.f32(name), plan.bc, prm);
  return out;
}

/** `src` (scalar, row or column vector) broadcast to `shape`, times alpha. */
export function broadcastTo(src: Tensor, shape: Shape, alpha = 1): Tensor {
  const [R, C] = view2d(shape);
  const [r, c] = view2d(src.shape);
  const bc: Broadcast = { rows: R, cols: C, aRs: 0, aCs: 0, bRs: r === R ? c : 0, bCs: c === C ? 1 : 0 };
  const s = src.f32('broadcastTo');
  const out = Tensor.empty(src.engine, shape);
  binaryKernel(src.engine, 'rhs', s, s, out.f32('broadcastTo'), bc, { alpha, beta: 0 });
  return out;
}
