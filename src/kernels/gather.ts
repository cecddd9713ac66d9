/**
 * Row movement: gather rows by index (embedding lookup), its deterministic backward
 * (a segment sum over a CSR of table row → positions, no float atomics), and strided
 * column-block copies for slice and concat along the last axis.
 * GPU: shaders/tensor/gather.wgsl; native: native/kern_gather_core.cc.
 */
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { buf, host, launch1d, packUniforms, type Arr } from './pack.js';
import { bucketByKey } from '../util/bucket.js';
import { nativeKernels } from '../native.js';

/** For each table row, the positions that index it, ascending (a counting sort: stable). */
export interface IndexCsr {
  ptr: Int32Array;
  pos: Int32Array;
}

export function buildIndexCsr(idx: Int32Array, tableRows: number): IndexCsr {
  const { offsets, order } = bucketByKey(idx, tableRows);
  return { ptr: offsets, pos: order };
}

export function gatherReference<A extends Arr>(table: Arr, idx: Int32Array, cols: number, out: A): A {
  const tableRows = cols > 0 ? table.length / cols : 0;
  for (let i = 0; i < idx.length; i++) {
    const t = idx[i];
    const ok = t >= 0 && t < tableRows;
    for (let c = 0; c < cols; c++) out[i * cols + c] = ok ? table[t * cols + c] : 0;
  }
  return out;
}

/** out[r, :] = Σ_{e ∈ ptr[r]..ptr[r+1]} g[pos[e], :] */
export function segmentSumReference<A extends Arr>(csr: IndexCsr, g: Arr, rows: number, cols: number, out: A): A {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let acc = 0;
      for (let e = csr.ptr[r]; e < csr.ptr[r + 1]; e++) acc += g[csr.pos[e] * cols + c];
      out[r * cols + c] = acc;
    }
  }
  return out;
}

export interface Copy2d {
  rows: number;
  width: number;
  srcCols: number;
  srcOff: number;
  dstCols: number;
  dstOff: number;
}

export function copy2dReference<A extends Arr>(src: Arr, dst: A, s: Copy2d): A {
  for (let r = 0; r < s.rows; r++) for (let c = 0; c < s.width; c++) dst[r * s.dstCols + s.dstOff + c] = src[r * s.srcCols + s.srcOff + c];
  return dst;
}

const SHADER = 'tensor/gather.wgsl';

type GatherImpl = (engine: Engine, table: DeviceArray<'f32'>, tableRows: number, idx: DeviceArray<'i32'>, cols: number, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;
type SegmentImpl = (engine: Engine, ptr: DeviceArray<'i32'>, pos: DeviceArray<'i32'>, g: DeviceArray<'f32'>, rows: number, cols: number, out: DeviceArray<'f32'>) => DeviceArray<'f32'>;
type CopyImpl = (engine: Engine, src: DeviceArray<'f32'>, dst: DeviceArray<'f32'>, s: Copy2d) => DeviceArray<'f32'>;

export const gatherKernel = defineKernel<GatherImpl>('gather', {
  cpu: (_e, table, _rows, idx, cols, out) => {
    gatherReference(host(table), host(idx), cols, host(out));
    return out;
  },
  webgpu: (engine, table, tableRows, idx, cols, out) => {
    const u = packUniforms([
      ['u', idx.length],
      ['u', cols],
      ['u', tableRows],
      ['u', 0],
    ]);
    launch1d(engine.gpu, { name: 'gather', shader: SHADER, entry: 'gather' }, [buf(table), buf(idx), buf(out)], u, idx.length * cols);
    return out;
  },
  // native/kern_gather_core.cc: row copies on the pool.
  native: (_e, table, tableRows, idx, cols, out) => {
    const k = nativeKernels();
    if (k.gather) k.gather(host(table), tableRows, host(idx), cols, host(out));
    else gatherReference(host(table), host(idx), cols, host(out));
    return out;
  },
});

export const segmentSumKernel = defineKernel<SegmentImpl>('segment_sum', {
  cpu: (_e, ptr, pos, g, rows, cols, out) => {
    segmentSumReference({ ptr: host(ptr), pos: host(pos) }, host(g), rows, cols, host(out));
    return out;
  },
  webgpu: (engine, ptr, pos, g, rows, cols, out) => {
    const u = packUniforms([
      ['u', rows],
      ['u', cols],
    ]);
    launch1d(engine.gpu, { name: 'segment_sum', shader: SHADER, entry: 'segment_sum' }, [buf(ptr), buf(pos), buf(g), buf(out)], u, rows * cols);
    return out;
  },
  // Summed in CSR order in double, as the reference: bit for bit the same.
  native: (_e, ptr, pos, g, rows, cols, out) => {
    const k = nativeKernels();
    if (k.segmentSum) k.segmentSum(host(ptr), host(pos), host(g), cols > 0 ? Math.floor(g.length / cols) : 0, rows, cols, host(out));
    else segmentSumReference({ ptr: host(ptr), pos: host(pos) }, host(g), rows, cols, host(out));
    return out;
  },
});

export const copy2dKernel = defineKernel<CopyImpl>('copy2d', {
  cpu: (_e, src, dst, s) => {
    copy2dReference(host(src), host(dst), s);
    return dst;
  },
  webgpu: (engine, src, dst, s) => {
    const u = packUniforms([
      ['u', s.rows],
      ['u', s.width],
      ['u', s.srcCols],
      ['u', s.srcOff],
      ['u', s.dstCols],
      ['u', s.dstOff],
    ]);
    launch1d(engine.gpu, { name: 'copy2d', shader: SHADER, entry: 'copy2d' }, [buf(src), buf(dst)], u, s.rows * s.width);
    return dst;
  },
  native: (_e, src, dst, s) => {
    const k = nativeKernels();
    if (k.copy2d) k.copy2d(host(src), host(dst), s.rows, s.width, s.srcCols, s.srcOff, s.dstCols, s.dstOff);
    else copy2dReference(host(src), host(dst), s);
    return dst;
  },
});
