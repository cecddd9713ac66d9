/** matmul with transpose flags; backward reuses the flags so nothing is transposed in memory. */
import { GnnrlError } from '../../errors.js';
import { matmulKernel } from '../../kernels/matmul.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import { fmtShape } from '../shape.js';
import { sameEngine } from './raw.js';

export interface MatmulOptions {
  /** Use aᵀ (a is stored K×M). */
  transA?: boolean;
  /** Use bᵀ (b is stored N×K). */
  transB?: boolean;
}

function describe(name: string, t: Tensor, trans: boolean | undefined): string {
  const s = `${name} is ${fmtShape(t.shape)}`;
  return trans && t.shape.length === 2 ? `${s} (transposed ${t.shape[1]}×${t.shape[0]})` : s;
}

/** C = op(a) · op(b) for 2-D a and b. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  sameEngine('matmul', a, b);
  const tA = !!opts.transA;
  const tB = !!opts.transB;
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw new GnnrlError('input', `matmul: a and b must be 2-D, but ${describe('a', a, false)} and ${describe('b', b, false)}`, { arg: a.shape.length !== 2 ? 'a' : 'b' });
  }
  const M = tA ? a.shape[1] : a.shape[0];
  const K = tA ? a.shape[0] : a.shape[1];
  const Kb = tB ? b.shape[1] : b.shape[0];
  const N = tB ? b.shape[0] : b.shape[1];
  if (K !== Kb) {
    throw new GnnrlError('input', `matmul: ${describe('a', a, tA)} but ${describe('b', b, tB)} (inner dims ${K} ≠ ${Kb})`, { arg: 'b' });
  }
  const [as, bs] = [a.f32('matmul', 'a'), b.f32('matmul', 'b')];
  const out = Tensor.empty(a.engine, [M, N]);
  matmulKernel(a.engine, as, bs, { M, K, N, transA: tA, transB: tB }, out.f32('matmul'));
  return record(out, 'matmul', [a, b], (g) => {
    // Each case is the product rule written with flags so both operands are read in place.
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = !tA ? matmul(g, b, { transB: !tB }) : tB ? matmul(b, g, { transA: true, transB: true }) : matmul(b, g, { transB: true });
    }
    if (b.requiresGrad) {
      gb = !tB ? matmul(a, g, { transA: !tA }) : tA ? matmul(g, a, { transA: true, transB: true }) : matmul(g, a, { transA: true });
    }
    return [ga, gb];
  });
}
