/**
 * Self-attention over batches of short sequences, the short-term-interest encoder of
 * DDPG-LA: Z = softmax(Q·Kᵀ/√d [causal]) · V per sequence, and with per-position weights
 * (T-self-attention) the pooled vector Σ_i w_i Z_i. Sequences shorter than L are padded;
 * `lengths` says how many positions of each are real.
 */
import { GnnrlError } from '../errors.js';
import { defineKernel } from '../backend/kernel-table.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { buf, host } from './pack.js';
import { nativeKernels, type NativeSeqAttentionArgs } from '../native.js';

export const SEQ_MAX_LEN = 64;
export const SEQ_MAX_DIM = 128;

export interface SeqAttentionShape {
  batch: number;
  len: number;
  /** Query/key width. */
  d: number;
  /** Value width. */
  dv: number;
  causal?: boolean;
  /** Real positions per sequence (default: all `len`). */
  lengths?: Int32Array;
  /** Per-position weights for the pooled output (T-self-attention), length `len`. */
  weights?: Float32Array;
}

export interface SeqAttentionForward {
  /** batch × len × dv. */
  z: DeviceArray<'f32'>;
  /** batch × dv when `weights` were given. */
  pooled?: DeviceArray<'f32'>;
  /** Per row (log-sum-exp, scratch), kept for the backward. */
  rowStat: DeviceArray<'f32'>;
}

export interface SeqAttentionGrads {
  dq: DeviceArray<'f32'>;
  dk: DeviceArray<'f32'>;
  dv: DeviceArray<'f32'>;
}

function check(s: SeqAttentionShape, q: DeviceArray, k: DeviceArray, v: DeviceArray): void {
  const fail = (arg: string, msg: string) => {
    throw new GnnrlError('input', `seqAttention: ${arg}: ${msg}`, { arg });
  };
  if (!Number.isInteger(s.batch) || s.batch < 0) fail('batch', `expected a non-negative integer, got ${s.batch}`);
  if (!Number.isInteger(s.len) || s.len < 1 || s.len > SEQ_MAX_LEN) fail('len', `expected an integer in [1, ${SEQ_MAX_LEN}], got ${s.len}`);
  if (!Number.isInteger(s.d) || s.d < 1 || s.d > SEQ_MAX_DIM) fail('d', `expected an integer in [1, ${SEQ_MAX_DIM}], got ${s.d}`);
  if (!Number.isInteger(s.dv) || s.dv < 1 || s.dv > SEQ_MAX_DIM) fail('dv', `expected an integer in [1, ${SEQ_MAX_DIM}], got ${s.dv}`);
  if (q.length !== s.batch * s.len * s.d) fail('q', `expected ${s.batch}×${s.len}×${s.d} elements, got ${q.length}`);
  if (k.length !== s.batch * s.len * s.d) fail('k', `expected ${s.batch}×${s.len}×${s.d} elements, got ${k.length}`);
  if (v.length !== s.batch * s.len * s.dv) fail('v', `expected ${s.batch}×${s.len}×${s.dv} elements, got ${v.length}`);
  if (s.lengths) {
    if (s.lengths.length !== s.batch) fail('lengths', `expected ${s.batch} entries, got ${s.lengths.length}`);
    s.lengths.forEach((n, i) => {
      if (!Number.isInteger(n) || n < 0 || n > s.len) fail('lengths', `entry ${i}: expected an integer in [0, ${s.len}], got ${n}`);
    });
  }
  if (s.weights && s.weights.length !== s.len) fail('weights', `expected ${s.len} entries, got ${s.weights.length}`);
}

/** Position weights that grow linearly with recency, normalised to sum to 1. */
export function recencyWeights(len: number): Float32Array {
  const total = (len * (len + 1)) / 2;
  return Float32Array.from({ length: len }, (_, i) => (i + 1) / total);
}

interface HostArgs {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
}

/** Attention probabilities of query i of sequence b over its visible keys, and their log-sum-exp (float64). */
function attentionRow(s: SeqAttentionShape, a: HostArgs, b: number, i: number, n: number): { p: number[]; lse: number } {
  const { len: L, d } = s;
  const scale = 1 / Math.sqrt(d);
  const lim = s.causal ? i + 1 : n;
  const sc: number[] = [];
  for (let j = 0; j < lim; j++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += a.q[(b * L + i) * d + c] * a.k[(b * L + j) * d + c];
    sc.push(dot * scale);
  }
  const m = Math.max(...sc);
  const ex = sc.map((x) => Math.exp(x - m));
  const tot = ex.reduce((x, y) => x + y, 0);
  return { p: ex.map((x) => x / tot), lse: m + Math.log(tot) };
}

/** CPU reference (float64): Z, pooled and the per-row log-sum-exp. */
export function seqAttentionReference(s: SeqAttentionShape, a: HostArgs): { z: Float64Array; pooled: Float64Array | null; lse: Float64Array } {
  const { batch: B, len: L, dv } = s;
  const z = new Float64Array(B * L * dv);
  const lse = new Float64Array(B * L).fill(-Infinity);
  for (let b = 0; b < B; b++) {
    const n = s.lengths ? s.lengths[b] : L;
    for (let i = 0; i < n; i++) {
      const row = attentionRow(s, a, b, i, n);
      lse[b * L + i] = row.lse;
      row.p.forEach((pj, j) => {
        for (let c = 0; c < dv; c++) z[(b * L + i) * dv + c] += pj * a.v[(b * L + j) * dv + c];
      });
    }
  }
  let pooled: Float64Array | null = null;
  if (s.weights) {
    pooled = new Float64Array(B * dv);
    for (let b = 0; b < B; b++) for (let i = 0; i < L; i++) for (let c = 0; c < dv; c++) pooled[b * dv + c] += s.weights[i] * z[(b * L + i) * dv + c];
  }
  return { z, pooled, lse };
}

/** CPU reference (float64) of the gradients of Σ dOut∘out (out = pooled if weights, else Z). */
export function seqAttentionBackwardReference(s: SeqAttentionShape, a: HostArgs, dOut: ArrayLike<number>): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { batch: B, len: L, d, dv } = s;
  const scale = 1 / Math.sqrt(d);
  const dq = new Float64Array(B * L * d);
  const dk = new Float64Array(B * L * d);
  const dV = new Float64Array(B * L * dv);
  const dz = (b: number, i: number, c: number) => (s.weights ? s.weights[i] * dOut[b * dv + c] : dOut[(b * L + i) * dv + c]);
  for (let b = 0; b < B; b++) {
    const n = s.lengths ? s.lengths[b] : L;
    for (let i = 0; i < n; i++) {
      const P = attentionRow(s, a, b, i, n).p;
      const lim = P.length;
      const dP = P.map((_, j) => {
        let t = 0;
        for (let c = 0; c < dv; c++) t += dz(b, i, c) * a.v[(b * L + j) * dv + c];
        return t;
      });
      const delta = P.reduce((acc, p, j) => acc + p * dP[j], 0);
      for (let j = 0; j < lim; j++) {
        const ds = P[j] * (dP[j] - delta) * scale;
        for (let c = 0; c < d; c++) {
          dq[(b * L + i) * d + c] += ds * a.k[(b * L + j) * d + c];
          dk[(b * L + j) * d + c] += ds * a.q[(b * L + i) * d + c];
        }
        for (let c = 0; c < dv; c++) dV[(b * L + j) * dv + c] += P[j] * dz(b, i, c);
      }
    }
  }
  return { dq, dk, dv: dV };
}


function forwardCpu(engine: Engine, s: SeqAttentionShape, q: DeviceArray<'f32'>, k: DeviceArray<'f32'>, v: DeviceArray<'f32'>): SeqAttentionForward {
  check(s, q, k, v);
  const r = seqAttentionReference(s, { q: host(q), k: host(k), v: host(v) });
  const stat = new Float32Array(r.lse.length * 2);
  r.lse.forEach((x, i) => (stat[2 * i] = Number.isFinite(x) ? x : -3e38));
  return {
    z: engine.array(Float32Array.from(r.z)),
    pooled: r.pooled ? engine.array(Float32Array.from(r.pooled)) : undefined,
    rowStat: engine.array(stat),
  };
}

function backwardCpu(
  engine: Engine,
  s: SeqAttentionShape,
  q: DeviceArray<'f32'>,
  k: DeviceArray<'f32'>,
  v: DeviceArray<'f32'>,
  _fwd: SeqAttentionForward,
  dOut: DeviceArray<'f32'>,
): SeqAttentionGrads {
  check(s, q, k, v);
  const r = seqAttentionBackwardReference(s, { q: host(q), k: host(k), v: host(v) }, host(dOut));
  return { dq: engine.array(Float32Array.from(r.dq)), dk: engine.array(Float32Array.from(r.dk)), dv: engine.array(Float32Array.from(r.dv)) };
}

function auxArray(s: SeqAttentionShape): Uint32Array {
  const aux = new Uint32Array(s.len + Math.max(1, s.batch));
  if (s.weights) aux.set(new Uint32Array(s.weights.buffer.slice(s.weights.byteOffset, s.weights.byteOffset + s.weights.byteLength)));
  for (let b = 0; b < s.batch; b++) aux[s.len + b] = s.lengths ? s.lengths[b] : s.len;
  return aux;
}

function params(s: SeqAttentionShape, pooled: boolean, groupsX: number): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const u = new Uint32Array(buf);
  u[0] = s.batch;
  u[1] = s.len;
  u[2] = s.d;
  u[3] = s.dv;
  u[4] = s.causal ? 1 : 0;
  u[5] = pooled ? 1 : 0;
  new Float32Array(buf)[6] = 1 / Math.sqrt(s.d);
  u[7] = groupsX;
  return buf;
}

function forwardGpu(engine: Engine, s: SeqAttentionShape, q: DeviceArray<'f32'>, k: DeviceArray<'f32'>, v: DeviceArray<'f32'>): SeqAttentionForward {
  check(s, q, k, v);
  const gpu = engine.gpu;
  const rows = s.batch * s.len;
  const z = engine.empty('f32', rows * s.dv);
  const rowStat = engine.empty('f32', Math.max(1, rows) * 2);
  const pooled = s.weights ? engine.empty('f32', Math.max(1, s.batch * s.dv)) : undefined;
  if (rows === 0) return { z, pooled, rowStat };
  const aux = engine.array(auxArray(s));
  // One workgroup per sequence; Z, the row statistics and (fused) the pooled output.
  const [gx, gy] = gpu.grid(s.batch);
  const noPool = pooled ? null : engine.empty('f32', 1);
  gpu.dispatch(
    { name: 'seq_attention.forward', shader: 'seq_attention.wgsl', entry: 'forward' },
    { buffers: [buf(q), buf(k), buf(v), buf(aux), buf(z), buf(pooled ?? noPool!), buf(rowStat)], uniforms: params(s, !!pooled, gx), workgroups: [gx, gy] },
  );
  if (noPool) engine.free(noPool);
  engine.free(aux);
  return { z, pooled, rowStat };
}

function backwardGpu(
  engine: Engine,
  s: SeqAttentionShape,
  q: DeviceArray<'f32'>,
  k: DeviceArray<'f32'>,
  v: DeviceArray<'f32'>,
  fwd: SeqAttentionForward,
  dOut: DeviceArray<'f32'>,
): SeqAttentionGrads {
  check(s, q, k, v);
  const pooled = !!s.weights;
  const want = pooled ? s.batch * s.dv : s.batch * s.len * s.dv;
  if (dOut.length !== want) throw new GnnrlError('input', `seqAttention backward: dOut: expected ${want} elements, got ${dOut.length}`, { arg: 'dOut' });
  const gpu = engine.gpu;
  const rows = s.batch * s.len;
  const dq = engine.empty('f32', rows * s.d);
  const dk = engine.empty('f32', rows * s.d);
  const dv = engine.empty('f32', rows * s.dv);
  if (rows === 0) return { dq, dk, dv };
  const aux = engine.array(auxArray(s));
  const [gx, gy] = gpu.grid(Math.ceil(rows / 64));
  const u = params(s, pooled, gx);
  gpu.dispatch(
    { name: 'seq_attention.delta', shader: 'seq_attention.wgsl', entry: 'delta' },
    { buffers: [null, null, null, buf(aux), buf(fwd.z), buf(dOut), buf(fwd.rowStat)], uniforms: u, workgroups: [gx, gy] },
  );
  gpu.dispatch(
    { name: 'seq_attention.dq', shader: 'seq_attention.wgsl', entry: 'dq' },
    { buffers: [buf(q), buf(k), buf(v), buf(aux), buf(fwd.rowStat), buf(dOut), buf(dq), null], uniforms: u, workgroups: [gx, gy] },
  );
  gpu.dispatch(
    { name: 'seq_attention.dkv', shader: 'seq_attention.wgsl', entry: 'dkv' },
    { buffers: [buf(q), buf(k), buf(v), buf(aux), buf(fwd.rowStat), buf(dOut), buf(dk), buf(dv)], uniforms: u, workgroups: [gx, gy] },
  );
  engine.free(aux);
  return { dq, dk, dv };
}

/** Z (and the weighted pool when `weights` are given) for every sequence. */
// native/kern_attention_core.cc: one sequence per part, the references' double sums in
// their order; the CPU kernels where the addon predates it.
function nativeArgs(s: SeqAttentionShape, q: DeviceArray<'f32'>, k: DeviceArray<'f32'>, v: DeviceArray<'f32'>): NativeSeqAttentionArgs {
  return { batch: s.batch, len: s.len, d: s.d, dv: s.dv, causal: !!s.causal, lengths: s.lengths, weights: s.weights, q: host(q), k: host(k), v: host(v) };
}

function forwardNative(engine: Engine, s: SeqAttentionShape, q: DeviceArray<'f32'>, k: DeviceArray<'f32'>, v: DeviceArray<'f32'>): SeqAttentionForward {
  const kk = nativeKernels();
  if (!kk.seqAttention) return forwardCpu(engine, s, q, k, v);
  check(s, q, k, v);
  const z = new Float32Array(s.batch * s.len * s.dv);
  const pooled = s.weights ? new Float32Array(s.batch * s.dv) : null;
  const stat = new Float32Array(2 * s.batch * s.len);
  kk.seqAttention(nativeArgs(s, q, k, v), z, pooled, stat);
  return { z: engine.array(z), pooled: pooled ? engine.array(pooled) : undefined, rowStat: engine.array(stat) };
}

function backwardNative(
  engine: Engine,
  s: SeqAttentionShape,
  q: DeviceArray<'f32'>,
  k: DeviceArray<'f32'>,
  v: DeviceArray<'f32'>,
  fwd: SeqAttentionForward,
  dOut: DeviceArray<'f32'>,
): SeqAttentionGrads {
  const kk = nativeKernels();
  if (!kk.seqAttentionBackward) return backwardCpu(engine, s, q, k, v, fwd, dOut);
  check(s, q, k, v);
  const dq = new Float32Array(q.length);
  const dk = new Float32Array(k.length);
  const dv = new Float32Array(v.length);
  kk.seqAttentionBackward({ ...nativeArgs(s, q, k, v), dOut: host(dOut) }, dq, dk, dv);
  return { dq: engine.array(dq), dk: engine.array(dk), dv: engine.array(dv) };
}

export const seqAttention = defineKernel('seq_attention.forward', { cpu: forwardCpu, webgpu: forwardGpu, native: forwardNative });
/** dQ, dK, dV given dOut (dZ, or dPooled when the shape has weights). */
export const seqAttentionBackward = defineKernel('seq_attention.backward', { cpu: backwardCpu, webgpu: backwardGpu, native: backwardNative });
