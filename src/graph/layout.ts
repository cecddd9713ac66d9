/**
 * Degree-aware row layout for the SpMM kernels (Gale et al.'s row swizzle plus long-row
 * splitting). Given a Csr:
 *
 *   order      Int32Array(nRows): rows by degree, longest first; equal degrees keep row
 *              order (stable), so the layout is a pure function of the matrix.
 *   segRow     Int32Array(nSeg):  the row each segment belongs to.
 *   segStart   Int32Array(nSeg):  first nnz position of the segment (into colIdx/values).
 *   segEnd     Int32Array(nSeg):  one past its last position; segEnd - segStart <= maxSegment.
 *   rowSegPtr  Int32Array(nRows + 1): the segments of row order[p] are
 *              rowSegPtr[p] .. rowSegPtr[p + 1] - 1, contiguous and in nnz order.
 *
 * Segments follow `order`; a row of length L > 0 gives ceil(L / maxSegment) segments
 * cutting [rowPtr[r], rowPtr[r+1]) into consecutive maxSegment-sized pieces. An empty row
 * gives one empty segment (segStart == segEnd) when `emptyRowSegments` (the default), so
 * a kernel writing one output per segment still writes every row (a zero). Together the
 * segments cover every nnz exactly once. A kernel's first pass computes one partial
 * result per segment; rows with rowSegPtr[p + 1] - rowSegPtr[p] > 1 are then summed by a
 * second pass over their segment range (no float atomics, so results are deterministic).
 */
import { MAX_INDEX, csrArg, inputError, intArg, optionsObject, boolOpt } from './args.js';
import type { Csr } from './types.js';
import type { SpmmPlanArrays } from '../kernels/spmm.js';

export interface SegmentLayout {
  order: Int32Array;
  segRow: Int32Array;
  segStart: Int32Array;
  segEnd: Int32Array;
  rowSegPtr: Int32Array;
  maxSegment: number;
}

export interface LayoutOptions {
  /** Longest segment in nnz (default 256). */
  maxSegment?: number;
  /** One empty segment per empty row (default true). */
  emptyRowSegments?: boolean;
}

/**
 * Pure TypeScript: two linear passes (a counting sort on degree, then segment cutting),
 * so an addon version would save little; it runs once per graph.
 */
export function degreeLayout(csr: Csr, opts: LayoutOptions = {}): SegmentLayout {
  const o = optionsObject(opts);
  const maxSegment = o.maxSegment === undefined ? 256 : intArg(o.maxSegment, 'maxSegment', 1, MAX_INDEX);
  const emptySeg = boolOpt(o, 'emptyRowSegments', true);
  const m = csrArg(csr, 'csr');
  const { nRows, rowPtr } = m;
  let maxDeg = 0;
  for (let r = 0; r < nRows; r++) maxDeg = Math.max(maxDeg, rowPtr[r + 1] - rowPtr[r]);
  // Counting sort by degree, descending, stable.
  const bucket = new Int32Array(maxDeg + 2);
  for (let r = 0; r < nRows; r++) bucket[maxDeg - (rowPtr[r + 1] - rowPtr[r]) + 1]++;
  for (let d = 0; d <= maxDeg; d++) bucket[d + 1] += bucket[d];
  const order = new Int32Array(nRows);
  for (let r = 0; r < nRows; r++) order[bucket[maxDeg - (rowPtr[r + 1] - rowPtr[r])]++] = r;

  const rowSegPtr = new Int32Array(nRows + 1);
  let nSeg = 0;
  for (let p = 0; p < nRows; p++) {
    const len = rowPtr[order[p] + 1] - rowPtr[order[p]];
    nSeg += len === 0 ? (emptySeg ? 1 : 0) : Math.ceil(len / maxSegment);
    if (nSeg > MAX_INDEX) throw inputError('maxSegment', 'a larger value: more than 2147483647 segments');
    rowSegPtr[p + 1] = nSeg;
  }
  const segRow = new Int32Array(nSeg);
  const segStart = new Int32Array(nSeg);
  const segEnd = new Int32Array(nSeg);
  let s = 0;
  for (let p = 0; p < nRows; p++) {
    const r = order[p];
    const end = rowPtr[r + 1];
    let a = rowPtr[r];
    if (a === end && emptySeg) {
      segRow[s] = r;
      segStart[s] = a;
      segEnd[s++] = a;
    }
    for (; a < end; a += maxSegment) {
      segRow[s] = r;
      segStart[s] = a;
      segEnd[s++] = Math.min(end, a + maxSegment);
    }
  }
  return { order, segRow, segStart, segEnd, rowSegPtr, maxSegment };
}

/** Units per block when dealing the plan: one workgroup of the per-unit SpMM variant. */
export const SPMM_DEAL_BLOCK = 64;

/**
 * The host side of the SpMM kernels' segmented plan (kernels/spmm.ts, `SpmmPlan`): one
 * unit (row, start, end, slot) per segment of `degreeLayout`, and (row, first slot, slot
 * count, 0) per row cut into more than one segment, whose partial sums a second pass adds
 * in order. A pure function of the matrix.
 *
 * Unit order, `deal`: 'longest-first' keeps the layout's order (longest rows first), so
 * units of similar length share a workgroup (no lane waits for a longer neighbour), but
 * the first workgroups hold most of the non-zeros: an implementation that gives each of
 * its threads a contiguous range of workgroups (lavapipe does) leaves one thread with
 * nearly all the work. 'spread' (default) deals whole blocks of SPMM_DEAL_BLOCK units in
 * bit-reversed block order (0, B/2, B/4, 3B/4, …), so each contiguous half, quarter, …
 * of the workgroups takes every 2nd, 4th, … block of the sorted order, and so about its
 * share of the non-zeros, for any power-of-two number of threads, while each block keeps
 * its similar lengths. Each unit writes its own row or slot, so the order changes no
 * result.
 */
export function spmmPlanArrays(csr: Csr, maxSegment = 256, opts: { deal?: 'spread' | 'longest-first' } = {}): SpmmPlanArrays {
  const layout = degreeLayout(csr, { maxSegment, emptyRowSegments: true });
  const nUnits = layout.segRow.length;
  const units = new Int32Array(nUnits * 4);
  const split: number[] = [];
  let slot = 0;
  for (let p = 0; p < csr.nRows; p++) {
    const s0 = layout.rowSegPtr[p];
    const s1 = layout.rowSegPtr[p + 1];
    const isSplit = s1 - s0 > 1;
    if (isSplit) split.push(layout.segRow[s0], slot, s1 - s0, 0);
    for (let s = s0; s < s1; s++) {
      units[s * 4] = layout.segRow[s];
      units[s * 4 + 1] = layout.segStart[s];
      units[s * 4 + 2] = layout.segEnd[s];
      units[s * 4 + 3] = isSplit ? slot++ : -1;
    }
  }
  const deal = opts.deal ?? 'spread';
  if (deal !== 'spread' && deal !== 'longest-first') throw inputError('deal', `'spread' or 'longest-first', got ${JSON.stringify(deal)}`);
  return { units: deal === 'spread' ? spreadBlocks(units, nUnits) : units, split: Int32Array.from(split), nSlots: slot };
}

/** Units (4 words each) with their blocks of SPMM_DEAL_BLOCK in bit-reversed block order; the last (short) block stays a block. */
function spreadBlocks(units: Int32Array, nUnits: number): Int32Array {
  const nBlocks = Math.ceil(nUnits / SPMM_DEAL_BLOCK);
  if (nBlocks <= 2) return units;
  let bits = 0;
  while (1 << bits < nBlocks) bits++;
  const reversed = (k: number) => {
    let r = 0;
    for (let i = 0; i < bits; i++) r |= ((k >> i) & 1) << (bits - 1 - i);
    return r;
  };
  const order: number[] = [];
  for (let k = 0; k < 1 << bits; k++) {
    const b = reversed(k);
    if (b < nBlocks) order.push(b);
  }
  const out = new Int32Array(units.length);
  let at = 0;
  for (const b of order) {
    const u0 = b * SPMM_DEAL_BLOCK;
    const u1 = Math.min(nUnits, u0 + SPMM_DEAL_BLOCK);
    out.set(units.subarray(u0 * 4, u1 * 4), at * 4);
    at += u1 - u0;
  }
  return out;
}
