/**
 * Losses, each a fused element-wise kernel plus one deterministic reduction:
 * MSE, Huber, BPR (−log σ(pos − neg), written as softplus(neg − pos) so it never
 * overflows) and softmax cross-entropy with integer labels.
 */
import { GnnrlError } from '../../errors.js';
import type { BinaryOp } from '../../kernels/elementwise.js';
import { crossEntropyBackwardKernel, crossEntropyKernel } from '../../kernels/loss.js';
import { reduceKernel } from '../../kernels/reduce.js';
import type { DeviceArray } from '../../backend/arrays.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import { fmtShape, sameShape } from '../shape.js';
import { binaryRaw, sameEngine } from './raw.js';
import { indexTensor } from './gather.js';

export interface LossOptions {
  /** 'mean' (default) or 'sum' over elements. */
  reduction?: 'mean' | 'sum';
}

function scalarOf(x: Tensor, scale: number, name: string): Tensor {
  const out = Tensor.empty(x.engine, []);
  reduceKernel(x.engine, 'sum', x.f32(name), 1, x.size, 'all', scale, out.f32(name));
  return out;
}

/**
 * reduce(f(a, b)) with backward ga = k·bw(a, b)·g, gb = −k·bw(a, b)·g, where k folds
 * the reduction's 1/n and the loss's constant factor.
 */
function pointwiseLoss(name: string, fwd: BinaryOp, bw: BinaryOp, a: Tensor, b: Tensor, opts: LossOptions, extra: { alpha?: number; k: number; bwBeta?: number }): Tensor {
  sameEngine(name, a, b);
  if (!sameShape(a.shape, b.shape)) {
    throw new GnnrlError('input', `${name}: ${name === 'bprLoss' ? 'pos' : 'pred'} is ${fmtShape(a.shape)} but ${name === 'bprLoss' ? 'neg' : 'target'} is ${fmtShape(b.shape)} (shapes must match)`, { arg: 'b' });
  }
  const scale = opts.reduction === 'sum' ? 1 : 1 / a.size;
  const terms = binaryRaw(fwd, a, b, { alpha: extra.alpha }, name);
  const out = scalarOf(terms, scale, name);
  terms.dispose();
  return record(out, name, [a, b], (g) => {
    const d = binaryRaw(bw, a, b, { alpha: extra.alpha ?? 1, beta: extra.bwBeta }, name);
    const k = extra.k * scale;
    return [a.requiresGrad ? binaryRaw('mul', d, g, { alpha: k }) : null, b.requiresGrad ? binaryRaw('mul', d, g, { alpha: -k }) : null];
  });
}

/** mean((pred − target)²) */
export function mseLoss(pred: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  // Backward: d/dpred = 2(pred − target); lincomb with beta = −1 is the difference.
  return pointwiseLoss('mseLoss', 'sqDiff', 'lincomb', pred, target, opts, { k: 2, alpha: 1, bwBeta: -1 });
}

/** mean(huber(pred − target)): quadratic within ±delta, linear beyond. */
export function huberLoss(pred: Tensor, target: Tensor, opts: LossOptions & { delta?: number } = {}): Tensor {
  const delta = opts.delta ?? 1;
  if (!(delta > 0)) throw new GnnrlError('input', `huberLoss: delta must be positive, got ${delta}`, { arg: 'delta' });
  return pointwiseLoss('huberLoss', 'huber', 'huberBw', pred, target, opts, { k: 1, alpha: delta });
}

/** mean(−log σ(pos − neg)) for paired positive and negative scores. */
export function bprLoss(pos: Tensor, neg: Tensor, opts: LossOptions = {}): Tensor {
  return pointwiseLoss('bprLoss', 'bpr', 'bprBw', pos, neg, opts, { k: 1 });
}

/** mean over rows of −log softmax(logits)[label] for logits [B, C] and labels [B]. */
export function crossEntropy(logits: Tensor, labels: Tensor | Int32Array, opts: LossOptions = {}): Tensor {
  const name = 'crossEntropy';
  if (logits.shape.length !== 2) throw new GnnrlError('input', `${name}: logits must be 2-D [batch, classes], got ${fmtShape(logits.shape)}`, { arg: 'logits' });
  const [B, C] = logits.shape;
  const lab = indexTensor(name, logits, labels, C);
  if (lab.size !== B) throw new GnnrlError('input', `${name}: logits are ${fmtShape(logits.shape)} but labels are ${fmtShape(lab.shape)} (one label per row)`, { arg: 'labels' });
  const engine = logits.engine;
  const xs = logits.f32(name, 'logits');
  const rowLoss = Tensor.empty(engine, [B]);
  const lse = Tensor.empty(engine, [B]);
  crossEntropyKernel(engine, xs, lab.data as DeviceArray<'i32'>, B, C, rowLoss.f32(name), lse.f32(name));
  const scale = opts.reduction === 'sum' ? 1 : 1 / B;
  const out = scalarOf(rowLoss, scale, name);
  rowLoss.dispose();
  return record(out, name, [logits], (g) => {
    const gx = Tensor.empty(engine, logits.shape);
    crossEntropyBackwardKernel(engine, logits.f32(name), lab.data as DeviceArray<'i32'>, lse.f32(name), g.f32(name, 'grad'), B, C, scale, gx.f32(name));
    return [gx];
  });
}
