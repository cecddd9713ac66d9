/**
 * The attention and aggregation kernels on the tape: graph attention (GATConv's sparse
 * part), max aggregation (GraphSAGE-max) and sequence self-attention (T-self-attention).
 * Each forward keeps what its backward needs (log-sum-exp rows, argmax) as tensors,
 * which `engine.scope` frees like any intermediate.
 */
import { GnnrlError } from '../../errors.js';
import { gatBackward, gatForward, type GatGraph, type GatShape } from '../../kernels/gat.js';
import { maxAggregate as maxAggregateKernel, maxAggregateBackward } from '../../kernels/spmm-max.js';
import { seqAttention, seqAttentionBackward, type SeqAttentionShape } from '../../kernels/seq-attention.js';
import type { DeviceCsr } from '../../backend/arrays.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import { fmtShape } from '../shape.js';

function expectShape(op: string, arg: string, t: Tensor, shape: number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
    throw new GnnrlError('input', `${op}: ${arg} is ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`, { arg });
  }
}

/**
 * out[i] = Σ_j softmax_j(LeakyReLU(el[i,h] + er[j,h])) · h[j] per head, over graph `g`.
 * h: [nSrc, heads·f], el: [nDst, heads], er: [nSrc, heads] → [nDst, heads·f].
 */
export function graphAttention(g: GatGraph, h: Tensor, el: Tensor, er: Tensor, shape: GatShape): Tensor {
  const op = 'graphAttention';
  const w = shape.heads * shape.f;
  expectShape(op, 'h', h, [g.nSrc, w]);
  expectShape(op, 'el', el, [g.nDst, shape.heads]);
  expectShape(op, 'er', er, [g.nSrc, shape.heads]);
  const engine = h.engine;
  const fwd = gatForward(engine, g, h.f32(op, 'h'), el.f32(op, 'el'), er.f32(op, 'er'), shape);
  const out = Tensor.fromDeviceArray(engine, fwd.out, [g.nDst, w]);
  const stat = Tensor.fromDeviceArray(engine, fwd.rowStat, [g.nDst * shape.heads, 2]);
  return record(out, op, [h, el, er], (grad) => {
    const r = gatBackward(engine, g, h.f32(op), el.f32(op), er.f32(op), { out: out.f32(op), rowStat: stat.f32(op) }, grad.f32(op, 'grad'), shape);
    return [
      Tensor.fromDeviceArray(engine, r.dH, h.shape),
      Tensor.fromDeviceArray(engine, r.dEl, el.shape),
      Tensor.fromDeviceArray(engine, r.dEr, er.shape),
    ];
  });
}

/**
 * y[i,c] = max over neighbours j of x[j,c] (0 for a row without neighbours), for CSR `a`
 * [nDst, nSrc] and x [nSrc, d]; `aT` is its transpose, used by the backward.
 */
export function maxAggregate(a: DeviceCsr, x: Tensor, aT: DeviceCsr): Tensor {
  const op = 'maxAggregate';
  if (x.shape.length !== 2 || x.shape[0] !== a.nCols) {
    throw new GnnrlError('input', `${op}: A is ${a.nRows}×${a.nCols} but x is ${fmtShape(x.shape)} (expected ${a.nCols}×d)`, { arg: 'x' });
  }
  if (aT.nRows !== a.nCols || aT.nCols !== a.nRows) throw new GnnrlError('input', `${op}: aT is ${aT.nRows}×${aT.nCols}, not the transpose of A (${a.nRows}×${a.nCols})`, { arg: 'aT' });
  const engine = x.engine;
  const d = x.shape[1];
  const fwd = maxAggregateKernel(engine, a, x.f32(op), d);
  const y = Tensor.fromDeviceArray(engine, fwd.y, [a.nRows, d]);
  const arg = Tensor.fromDeviceArray(engine, fwd.argmax, [a.nRows, d]);
  return record(y, op, [x], (grad) => [
    Tensor.fromDeviceArray(engine, maxAggregateBackward(engine, aT, { y: y.f32(op), argmax: arg.data as never }, grad.f32(op, 'grad'), d, a.nCols), x.shape),
  ]);
}

/**
 * softmax(Q·Kᵀ/√d [causal]) · V for `shape.batch` sequences of `shape.len` positions:
 * q, k: [batch·len, d], v: [batch·len, dv]. Returns [batch·len, dv], or the
 * weighted pool [batch, dv] when `shape.weights` are given (T-self-attention).
 */
export function selfAttention(q: Tensor, k: Tensor, v: Tensor, shape: SeqAttentionShape): Tensor {
  const op = 'selfAttention';
  const rows = shape.batch * shape.len;
  expectShape(op, 'q', q, [rows, shape.d]);
  expectShape(op, 'k', k, [rows, shape.d]);
  expectShape(op, 'v', v, [rows, shape.dv]);
  const engine = q.engine;
  const fwd = seqAttention(engine, shape, q.f32(op, 'q'), k.f32(op, 'k'), v.f32(op, 'v'));
  const z = Tensor.fromDeviceArray(engine, fwd.z, [rows, shape.dv]);
  const stat = Tensor.fromDeviceArray(engine, fwd.rowStat, [fwd.rowStat.length / 2, 2]);
  const out = fwd.pooled ? Tensor.fromDeviceArray(engine, fwd.pooled, [shape.batch, shape.dv]) : z;
  return record(out, op, [q, k, v], (grad) => {
    const r = seqAttentionBackward(engine, shape, q.f32(op), k.f32(op), v.f32(op), { z: z.f32(op), rowStat: stat.f32(op) }, grad.f32(op, 'grad'));
    return [Tensor.fromDeviceArray(engine, r.dq, q.shape), Tensor.fromDeviceArray(engine, r.dk, k.shape), Tensor.fromDeviceArray(engine, r.dv, v.shape)];
  });
}
