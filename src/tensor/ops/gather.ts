/**
 * gather (embedding lookup) with a deterministic scatter-add backward, and slice /
 * concat along the last axis.
 */
import { GnnrlError } from '../../errors.js';
import { buildIndexCsr, copy2dKernel, gatherKernel, segmentSumKernel } from '../../kernels/gather.js';
import type { DeviceArray } from '../../backend/arrays.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';
import type { Engine } from '../../engine.js';
import { fmtShape } from '../shape.js';

/** An i32 index tensor from a tensor or host indices (validated against `limit` rows). */
export function indexTensor(op: string, table: Tensor, indices: Tensor | Int32Array, limit: number): Tensor {
  const idx = indices instanceof Tensor ? indices : Tensor.fromArray(table.engine, indices);
  if (idx.dtype !== 'i32') throw new GnnrlError('input', `${op}: indices must be i32, got ${idx.dtype} (${fmtShape(idx.shape)})`, { arg: 'indices' });
  if (idx.engine !== table.engine) throw new GnnrlError('input', `${op}: indices belong to another engine`, { arg: 'indices' });
  const h = idx.hostIndices;
  if (h) {
    for (let i = 0; i < h.length; i++) {
      if (!(h[i] >= 0 && h[i] < limit)) throw new GnnrlError('input', `${op}: indices[${i}] = ${h[i]} is outside [0, ${limit})`, { arg: 'indices', index: i });
    }
  }
  return idx;
}

/** The derived-array key and builder of gather's backward index (table row → positions). */
function backwardIndex(idx: Tensor, tableRows: number): DeviceArray[] {
  return idx.derivedArrays(`csr:${tableRows}`, () => {
    const csr = buildIndexCsr(idx.hostIndices!, tableRows);
    return [idx.engine.array(csr.ptr), idx.engine.array(csr.pos)];
  });
}

/**
 * An i32 index tensor from host indices into a table of `tableRows` rows, with gather's
 * backward index built and uploaded now. A training step that makes its indices this way
 * before its first dispatch keeps every upload ahead of its commands (an upload in the
 * middle of a step submits what was recorded so far), so the step stays one submit.
 */
export function gatherIndices(engine: Engine, indices: Int32Array, tableRows: number): Tensor {
  for (let i = 0; i < indices.length; i++) {
    if (!(indices[i] >= 0 && indices[i] < tableRows)) throw new GnnrlError('input', `gatherIndices: indices[${i}] = ${indices[i]} is outside [0, ${tableRows})`, { arg: 'indices', index: i });
  }
  const t = Tensor.fromArray(engine, indices);
  backwardIndex(t, tableRows);
  return t;
}

/** out[..., :] = table[indices[...], :] for a 2-D table [rows, d]. */
export function gather(table: Tensor, indices: Tensor | Int32Array): Tensor {
  if (table.shape.length !== 2) throw new GnnrlError('input', `gather: table must be 2-D [rows, d], got ${fmtShape(table.shape)}`, { arg: 'table' });
  const [V, d] = table.shape;
  const idx = indexTensor('gather', table, indices, V);
  if (table.requiresGrad && !idx.hostIndices) {
    // The backward's index → positions CSR is built from host indices; reading device
    // indices back would stall the step.
    throw new GnnrlError('input', 'gather: indices that need a backward must be created from host data (an Int32Array or tensor(engine, Int32Array))', { arg: 'indices' });
  }
  const ts = table.f32('gather', 'table');
  const out = Tensor.empty(table.engine, [...idx.shape, d]);
  gatherKernel(table.engine, ts, V, idx.data as DeviceArray<'i32'>, d, out.f32('gather'));
  return record(out, 'gather', [table], (g) => {
    const [ptr, pos] = backwardIndex(idx, V);
    const gt = Tensor.empty(table.engine, [V, d]);
    segmentSumKernel(table.engine, ptr as DeviceArray<'i32'>, pos as DeviceArray<'i32'>, g.f32('gather', 'grad'), V, d, gt.f32('gather'));
    return [gt];
  });
}

function withLastDim(shape: readonly number[], d: number): number[] {
  return shape.length === 0 ? [d] : [...shape.slice(0, -1), d];
}

/** Columns [start, end) of the last axis. */
export function slice(x: Tensor, start: number, end: number): Tensor {
  const [R, C] = [x.rows, x.cols];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= C)) {
    throw new GnnrlError('input', `slice: [${start}, ${end}) is not a range within the last axis of ${fmtShape(x.shape)} (size ${C})`, { arg: 'start' });
  }
  const w = end - start;
  const xs = x.f32('slice');
  const out = Tensor.empty(x.engine, withLastDim(x.shape, w));
  copy2dKernel(x.engine, xs, out.f32('slice'), { rows: R, width: w, srcCols: C, srcOff: start, dstCols: w, dstOff: 0 });
  return record(out, 'slice', [x], (g) => {
    const gx = x.zerosLike();
    copy2dKernel(x.engine, g.f32('slice', 'grad'), gx.f32('slice'), { rows: R, width: w, srcCols: w, srcOff: 0, dstCols: C, dstOff: start });
    return [gx];
  });
}

/** Joins tensors with equal leading shape along the last axis. */
export function concat(xs: Tensor[]): Tensor {
  if (xs.length === 0) throw new GnnrlError('input', 'concat: expected at least one tensor', { arg: 'xs' });
  const first = xs[0];
  const R = first.rows;
  xs.forEach((t, i) => {
    const lead = t.shape.slice(0, -1).join('×');
    if (t.engine !== first.engine || t.shape.length !== first.shape.length || lead !== first.shape.slice(0, -1).join('×')) {
      throw new GnnrlError('input', `concat: xs[${i}] is ${fmtShape(t.shape)} but xs[0] is ${fmtShape(first.shape)} (all but the last axis must match)`, { arg: 'xs', index: i });
    }
  });
  const C = xs.reduce((s, t) => s + t.cols, 0);
  const srcs = xs.map((t) => t.f32('concat'));
  const out = Tensor.empty(first.engine, withLastDim(first.shape, C));
  let off = 0;
  const offsets: number[] = [];
  for (const [i, t] of xs.entries()) {
    offsets.push(off);
    copy2dKernel(first.engine, srcs[i], out.f32('concat'), { rows: R, width: t.cols, srcCols: t.cols, srcOff: 0, dstCols: C, dstOff: off });
    off += t.cols;
  }
  return record(out, 'concat', xs, (g) =>
    xs.map((t, i) => {
      if (!t.requiresGrad) return null;
      const gt = Tensor.empty(first.engine, t.shape);
      copy2dKernel(first.engine, g.f32('concat', 'grad'), gt.f32('concat'), { rows: R, width: t.cols, srcCols: C, srcOff: offsets[i], dstCols: t.cols, dstOff: 0 });
      return gt;
    }),
  );
}
