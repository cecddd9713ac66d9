/**
 * Graph attention (GATConv's message passing) with K heads of F columns each:
 * out_i = Σ_j softmax_j(LeakyReLU(el_i + er_j)) · H_j per head, over the CSR rows of a
 * graph (row i = destination, its columns = neighbours j). `el = H_dst·a_l` and
 * `er = H_src·a_r` come from the layer (ordinary tensor ops); this kernel does the
 * sparse part and its backward. See shaders/gat.wgsl for the passes.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { Csr, DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { autotune, chooseVariant } from '../gpu/variants.js';
import { buf, host, lanesFor } from './pack.js';
import { nativeKernels, type NativeGatArgs } from '../native.js';

/**
 * A graph prepared once for attention: rows, per-edge rows, and the transpose with edge
 * ids. graph/upload.ts's `prepareGatGraph` builds it (host arrays from graph/gat-edges.ts).
 */
export interface GatGraph {
  readonly nDst: number;
  readonly nSrc: number;
  readonly nnz: number;
  readonly rowPtr: DeviceArray<'i32'>;
  readonly colIdx: DeviceArray<'i32'>;
  /** Destination row of each edge. */
  readonly edgeRow: DeviceArray<'i32'>;
  /** Transpose (rows = sources): row pointers, destination of each entry, its edge id. */
  readonly tRowPtr: DeviceArray<'i32'>;
  readonly tDst: DeviceArray<'i32'>;
  readonly tEdge: DeviceArray<'i32'>;
  /** Host copy, for the CPU backend and references. */
  readonly host: Csr;
}

export interface GatShape {
  heads: number;
  /** Columns per head. */
  f: number;
  /** LeakyReLU negative slope (GAT uses 0.2). */
  slope: number;
  /** Pins the WebGPU forward strategy (tests, benchmarks). */
  variant?: GatVariant;
}

/**
 * Forward strategies: 'lanes' (invocations over columns with an online softmax; what a
 * GPU wants for wide heads) and 'heads' (one invocation per row and head: each exp()
 * once per head, columns in registers; F ≤ 64).
 */
export const GAT_VARIANTS = ['lanes', 'heads'] as const;
export type GatVariant = (typeof GAT_VARIANTS)[number];

function gatShapeKey(g: GatGraph, s: GatShape): string {
  return `h${s.heads}f${s.f}|nnz2^${Math.round(Math.log2(g.nnz + 1))}`;
}

export function gatVariant(engine: Engine, g: GatGraph, s: GatShape): GatVariant {
  if (s.variant) return s.variant;
  const allowed = s.f <= 64 ? GAT_VARIANTS : (['lanes'] as const);
  const fallback = engine.adapter?.software && s.f <= 64 ? 'heads' : 'lanes';
  return chooseVariant(engine.adapter!, 'gat', gatShapeKey(g, s), allowed, fallback).variant as GatVariant;
}

/** Times the forward strategies on these inputs and records the faster for this adapter. */
export async function tuneGat(engine: Engine, g: GatGraph, h: DeviceArray<'f32'>, el: DeviceArray<'f32'>, er: DeviceArray<'f32'>, s: GatShape) {
  if (!engine.isGpu) return null;
  const allowed = s.f <= 64 ? GAT_VARIANTS : (['lanes'] as const);
  return autotune(engine.adapter!, 'gat', gatShapeKey(g, s), allowed, async (v) => {
    const r = gatForward(engine, g, h, el, er, { ...s, variant: v as GatVariant });
    await engine.sync();
    engine.free(r.out);
    engine.free(r.rowStat);
  });
}

function checkShape(g: GatGraph, s: GatShape, h: DeviceArray<'f32'>, el: DeviceArray<'f32'>, er: DeviceArray<'f32'>): void {
  const w = s.heads * s.f;
  if (!Number.isInteger(s.heads) || s.heads < 1 || !Number.isInteger(s.f) || s.f < 1) {
    throw new GnnrlError('input', `gat: heads and f: expected positive integers, got ${s.heads} and ${s.f}`, { arg: 'heads' });
  }
  if (h.length !== g.nSrc * w) throw new GnnrlError('input', `gat: h: expected ${g.nSrc}×${w} elements, got ${h.length}`, { arg: 'h' });
  if (el.length !== g.nDst * s.heads) throw new GnnrlError('input', `gat: el: expected ${g.nDst}×${s.heads} elements, got ${el.length}`, { arg: 'el' });
  if (er.length !== g.nSrc * s.heads) throw new GnnrlError('input', `gat: er: expected ${g.nSrc}×${s.heads} elements, got ${er.length}`, { arg: 'er' });
}

const lrelu = (z: number, slope: number) => (z > 0 ? z : z * slope);

/** CPU reference (float64): out and the per-(row, head) log-sum-exp. */
export function gatForwardReference(csr: Csr, h: Float32Array, el: Float32Array, er: Float32Array, s: GatShape): { out: Float32Array; lse: Float64Array } {
  const w = s.heads * s.f;
  const out = new Float32Array(csr.nRows * w);
  const lse = new Float64Array(csr.nRows * s.heads).fill(-Infinity);
  for (let i = 0; i < csr.nRows; i++) {
    for (let k = 0; k < s.heads; k++) {
      const e0 = csr.rowPtr[i];
      const e1 = csr.rowPtr[i + 1];
      if (e0 === e1) continue;
      let m = -Infinity;
      for (let e = e0; e < e1; e++) m = Math.max(m, lrelu(el[i * s.heads + k] + er[csr.colIdx[e] * s.heads + k], s.slope));
      let sum = 0;
      const acc = new Float64Array(s.f);
      for (let e = e0; e < e1; e++) {
        const j = csr.colIdx[e];
        const wgt = Math.exp(lrelu(el[i * s.heads + k] + er[j * s.heads + k], s.slope) - m);
        sum += wgt;
        for (let f = 0; f < s.f; f++) acc[f] += wgt * h[j * w + k * s.f + f];
      }
      for (let f = 0; f < s.f; f++) out[i * w + k * s.f + f] = acc[f] / sum;
      lse[i * s.heads + k] = m + Math.log(sum);
    }
  }
  return { out, lse };
}

/** CPU reference (float64) of the backward: gradients of Σ dOut∘out w.r.t. h, el, er. */
export function gatBackwardReference(
  csr: Csr,
  h: ArrayLike<number>,
  el: ArrayLike<number>,
  er: ArrayLike<number>,
  dOut: ArrayLike<number>,
  s: GatShape,
): { dH: Float64Array; dEl: Float64Array; dEr: Float64Array } {
  const w = s.heads * s.f;
  const dH = new Float64Array(csr.nCols * w);
  const dEl = new Float64Array(csr.nRows * s.heads);
  const dEr = new Float64Array(csr.nCols * s.heads);
  for (let i = 0; i < csr.nRows; i++) {
    const e0 = csr.rowPtr[i];
    const e1 = csr.rowPtr[i + 1];
    for (let k = 0; k < s.heads; k++) {
      const z: number[] = [];
      for (let e = e0; e < e1; e++) z.push(el[i * s.heads + k] + er[csr.colIdx[e] * s.heads + k]);
      const sc = z.map((v) => lrelu(v, s.slope));
      const m = Math.max(...sc);
      const ex = sc.map((v) => Math.exp(v - m));
      const tot = ex.reduce((a, b) => a + b, 0);
      const alpha = ex.map((v) => v / tot);
      const dalpha = alpha.map((_, q) => {
        const j = csr.colIdx[e0 + q];
        let d = 0;
        for (let f = 0; f < s.f; f++) d += dOut[i * w + k * s.f + f] * h[j * w + k * s.f + f];
        return d;
      });
      const dot = alpha.reduce((a, al, q) => a + al * dalpha[q], 0);
      for (let q = 0; q < alpha.length; q++) {
        const j = csr.colIdx[e0 + q];
        const dz = alpha[q] * (dalpha[q] - dot) * (z[q] > 0 ? 1 : s.slope);
        dEl[i * s.heads + k] += dz;
        dEr[j * s.heads + k] += dz;
        for (let f = 0; f < s.f; f++) dH[j * w + k * s.f + f] += alpha[q] * dOut[i * w + k * s.f + f];
      }
    }
  }
  return { dH, dEl, dEr };
}

export interface GatForwardResult {
  out: DeviceArray<'f32'>;
  /** Per (row, head): (log-sum-exp, scratch for backward), 2 floats each. */
  rowStat: DeviceArray<'f32'>;
}

export interface GatBackwardResult {
  dH: DeviceArray<'f32'>;
  dEl: DeviceArray<'f32'>;
  dEr: DeviceArray<'f32'>;
}


function gatForwardCpu(engine: Engine, g: GatGraph, h: DeviceArray<'f32'>, el: DeviceArray<'f32'>, er: DeviceArray<'f32'>, s: GatShape): GatForwardResult {
  checkShape(g, s, h, el, er);
  const r = gatForwardReference(g.host, host(h), host(el), host(er), s);
  const stat = new Float32Array(r.lse.length * 2);
  r.lse.forEach((v, k) => (stat[2 * k] = Number.isFinite(v) ? v : -3e38));
  return { out: engine.array(r.out), rowStat: engine.array(stat) };
}

function gatBackwardCpu(
  engine: Engine,
  g: GatGraph,
  h: DeviceArray<'f32'>,
  el: DeviceArray<'f32'>,
  er: DeviceArray<'f32'>,
  _fwd: GatForwardResult,
  dOut: DeviceArray<'f32'>,
  s: GatShape,
): GatBackwardResult {
  checkShape(g, s, h, el, er);
  const r = gatBackwardReference(g.host, host(h), host(el), host(er), host(dOut), s);
  return { dH: engine.array(Float32Array.from(r.dH)), dEl: engine.array(Float32Array.from(r.dEl)), dEr: engine.array(Float32Array.from(r.dEr)) };
}

function params(nRows: number, s: GatShape, groupsX: number, nEdges: number): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u[0] = nRows;
  u[1] = s.heads;
  u[2] = s.f;
  u[3] = groupsX;
  f[4] = s.slope;
  u[5] = nEdges;
  return buf;
}

function gatForwardGpu(engine: Engine, g: GatGraph, h: DeviceArray<'f32'>, el: DeviceArray<'f32'>, er: DeviceArray<'f32'>, s: GatShape): GatForwardResult {
  checkShape(g, s, h, el, er);
  const gpu = engine.gpu;
  const w = s.heads * s.f;
  const out = engine.empty('f32', g.nDst * w);
  const rowStat = engine.empty('f32', g.nDst * s.heads * 2);
  const buffers = [buf(g.rowPtr), buf(g.colIdx), buf(h), buf(el), buf(er), buf(out), buf(rowStat)];
  if (gatVariant(engine, g, s) === 'heads') {
    if (s.f > 64) throw new GnnrlError('input', `gat: variant 'heads' needs f ≤ 64, got ${s.f}`, { arg: 'variant' });
    const [gx, gy] = gpu.grid(Math.ceil((g.nDst * s.heads) / 64));
    gpu.dispatch({ name: 'gat.forward_heads', shader: 'gat.wgsl', entry: 'forward_heads' }, { buffers, uniforms: params(g.nDst, s, gx, g.nnz), workgroups: [gx, gy] });
    return { out, rowStat };
  }
  const lanes = lanesFor(w);
  const [gx, gy] = gpu.grid(Math.ceil(g.nDst / (64 / lanes)));
  gpu.dispatch(
    { name: 'gat.forward', shader: 'gat.wgsl', entry: 'forward', constants: { LANES: lanes } },
    { buffers, uniforms: params(g.nDst, s, gx, g.nnz), workgroups: [gx, gy] },
  );
  return { out, rowStat };
}

function gatBackwardGpu(
  engine: Engine,
  g: GatGraph,
  h: DeviceArray<'f32'>,
  el: DeviceArray<'f32'>,
  er: DeviceArray<'f32'>,
  fwd: GatForwardResult,
  dOut: DeviceArray<'f32'>,
  s: GatShape,
): GatBackwardResult {
  checkShape(g, s, h, el, er);
  const gpu = engine.gpu;
  const w = s.heads * s.f;
  const dH = engine.empty('f32', g.nSrc * w);
  const dEl = engine.empty('f32', g.nDst * s.heads);
  const dEr = engine.empty('f32', g.nSrc * s.heads);
  const edgeOut = engine.empty('f32', Math.max(1, g.nnz * s.heads * 2));
  const threads = (n: number) => gpu.grid(Math.ceil(n / 64));
  let [gx, gy] = threads(g.nDst * s.heads);
  gpu.dispatch({ name: 'gat.row_dot', shader: 'gat.wgsl', entry: 'row_dot' }, { buffers: [buf(dOut), buf(fwd.out), buf(fwd.rowStat)], uniforms: params(g.nDst, s, gx, g.nnz), workgroups: [gx, gy] });
  [gx, gy] = threads(g.nnz * s.heads);
  gpu.dispatch(
    { name: 'gat.edge', shader: 'gat.wgsl', entry: 'edge' },
    { buffers: [buf(g.edgeRow), buf(g.colIdx), buf(el), buf(er), buf(fwd.rowStat), buf(h), buf(dOut), buf(edgeOut)], uniforms: params(g.nDst, s, gx, g.nnz), workgroups: [gx, gy] },
  );
  [gx, gy] = threads(g.nDst * s.heads);
  gpu.dispatch({ name: 'gat.row_sum', shader: 'gat.wgsl', entry: 'row_sum' }, { buffers: [buf(g.rowPtr), buf(edgeOut), buf(dEl)], uniforms: params(g.nDst, s, gx, g.nnz), workgroups: [gx, gy] });
  const lanes = lanesFor(w);
  [gx, gy] = gpu.grid(Math.ceil(g.nSrc / (64 / lanes)));
  gpu.dispatch(
    { name: 'gat.src', shader: 'gat.wgsl', entry: 'src', constants: { LANES: lanes } },
    { buffers: [buf(g.tRowPtr), buf(g.tDst), buf(g.tEdge), buf(edgeOut), buf(dOut), buf(dEr), buf(dH)], uniforms: params(g.nSrc, s, gx, g.nnz), workgroups: [gx, gy] },
  );
  engine.free(edgeOut);
  return { dH, dEl, dEr };
}

/** Attention-weighted aggregation; keep the result for the backward. */
// native/kern_graph_core.cc: the references' double arithmetic in the same order (the
// backward sums each source's gradients through the transpose); the CPU kernels where
// the addon predates them.
function nativeGatArgs(g: GatGraph, h: DeviceArray<'f32'>, el: DeviceArray<'f32'>, er: DeviceArray<'f32'>, s: GatShape): NativeGatArgs {
  return { nDst: g.nDst, nSrc: g.nSrc, heads: s.heads, f: s.f, slope: s.slope, rowPtr: host(g.rowPtr), colIdx: host(g.colIdx), h: host(h), el: host(el), er: host(er) };
}

function gatForwardNative(engine: Engine, g: GatGraph, h: DeviceArray<'f32'>, el: DeviceArray<'f32'>, er: DeviceArray<'f32'>, s: GatShape): GatForwardResult {
  const k = nativeKernels();
  if (!k.gatForward) return gatForwardCpu(engine, g, h, el, er, s);
  checkShape(g, s, h, el, er);
  const out = new Float32Array(g.nDst * s.heads * s.f);
  const stat = new Float32Array(2 * g.nDst * s.heads);
  k.gatForward(nativeGatArgs(g, h, el, er, s), out, stat);
  return { out: engine.array(out), rowStat: engine.array(stat) };
}

function gatBackwardNative(
  engine: Engine,
  g: GatGraph,
  h: DeviceArray<'f32'>,
  el: DeviceArray<'f32'>,
  er: DeviceArray<'f32'>,
  fwd: GatForwardResult,
  dOut: DeviceArray<'f32'>,
  s: GatShape,
): GatBackwardResult {
  const k = nativeKernels();
  if (!k.gatBackward) return gatBackwardCpu(engine, g, h, el, er, fwd, dOut, s);
  checkShape(g, s, h, el, er);
  const w = s.heads * s.f;
  const dH = new Float32Array(g.nSrc * w);
  const dEl = new Float32Array(g.nDst * s.heads);
  const dEr = new Float32Array(g.nSrc * s.heads);
  k.gatBackward({ ...nativeGatArgs(g, h, el, er, s), tRowPtr: host(g.tRowPtr), tDst: host(g.tDst), tEdge: host(g.tEdge), dOut: host(dOut) }, dH, dEl, dEr);
  return { dH: engine.array(dH), dEl: engine.array(dEl), dEr: engine.array(dEr) };
}

export const gatForward = defineKernel('gat.forward', { cpu: gatForwardCpu, webgpu: gatForwardGpu, native: gatForwardNative });
/** Gradients w.r.t. h, el and er given dOut and the forward's result. */
export const gatBackward = defineKernel('gat.backward', { cpu: gatBackwardCpu, webgpu: gatBackwardGpu, native: gatBackwardNative });
