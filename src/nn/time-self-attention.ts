/**
 * T-self-attention (DDPG-LA's short-term interest) over windows of w consecutive
 * records, on the engine's fused sequence-attention kernel (src/kernels/seq-attention.ts
 * through `selfAttention`, whose weighted pool is the time weighting below).
 *
 * For a window X = (x_0 … x_{w−1}) of one user (x_i ∈ R^in, i = 0 oldest, w−1 latest):
 *   q_i = x_i·W_Q^i,  k_i = x_i·W_K^i,  v_i = x_i·W_V^i       (per-position projections, the seed's W^i)
 *   Z = softmax(Q·Kᵀ / √d_k) · V                              (full attention inside the window)
 *   short-term interest s = Σ_i α_i Z_i,  Σ_i α_i = 1
 * Time weights α (later records weigh more, so the latest interest is not diluted):
 *   'linear': α_i = (i + 1) / (w(w+1)/2)                      (the kernel's recencyWeights)
 *   'exp':    α_i = exp(λ·i) / Σ_j exp(λ·j),  λ ≥ 0           (λ = 0 gives 'plain')
 *   'plain':  α_i = 1/w                                        (plain self-attention)
 * 'plain' is the unweighted mean of the Z_i: the seed's plain sum Σ Z_i divided by w.
 * Both modes sum to 1 so that the ablation T-self-attention vs self-attention changes only
 * how the weight is spread over time, not the scale of s (a constant factor w that the
 * actor's first linear layer would otherwise have to undo).
 *
 * The per-position projections are one GEMM: X [batch·w, in] · W [in, w·P] (P = 2·d_k + d_v,
 * position blocks side by side) gives every position's projection under every position's
 * weights; a gather keeps row (b, i)'s own block i. That spends w× the (tiny) projection
 * FLOPs to stay at one matmul + one gather instead of 3w matmuls, slices and concats.
 * 'shared' projections (one W for all positions, as in a Transformer) skip the gather.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { Rng } from '../util/rng.js';
import { recencyWeights, SEQ_MAX_DIM, SEQ_MAX_LEN } from '../kernels/seq-attention.js';
import { Tensor } from '../tensor/tensor.js';
import { parameter, randUniform, type RandomSource } from '../tensor/create.js';
import { matmul } from '../tensor/ops/matmul.js';
import { gather, gatherIndices, slice } from '../tensor/ops/gather.js';
import { selfAttention } from '../tensor/ops/attention.js';
import { fmtShape } from '../tensor/shape.js';
import { Module } from './module.js';

export type TimeWeighting = 'linear' | 'exp' | 'plain';

export interface TimeWeightOptions {
  /** Default 'linear'. */
  weighting?: TimeWeighting;
  /** λ of 'exp' (default 0.5; ≥ 0, and 0 gives the uniform weights of 'plain'). */
  lambda?: number;
}

export interface TimeSelfAttentionOptions extends TimeWeightOptions {
  /** Seed or generator for the projections. */
  rng: RandomSource;
  /** Window length w (default 5, the seed's). */
  window?: number;
  /** Query/key width d_k (default 32). */
  dk?: number;
  /** Value width = output width (default dk). */
  dv?: number;
  /** 'per-position' (default, W^i per window slot as in the seed) or 'shared'. */
  projections?: 'per-position' | 'shared';
}

/** The projection tensor and layout of one T-self-attention, so tests can run it on their own tensors. */
export interface TimeSelfAttentionWeights {
  /** [in, w·(2dk+dv)] per-position, [in, 2dk+dv] shared; columns per block: q | k | v. */
  w: Tensor;
  window: number;
  dk: number;
  dv: number;
  perPosition: boolean;
  /** α, length `window`. */
  alpha: Float32Array;
}

function fail(arg: string, msg: string): never {
  throw new GnnrlError('input', `TimeSelfAttention: ${arg}: ${msg}`, { arg });
}

/** α for a window of `window` positions (index 0 oldest): increasing for 'linear' and 'exp', uniform for 'plain'; sums to 1. */
export function timeWeights(window: number, opts: TimeWeightOptions = {}): Float32Array {
  if (!Number.isInteger(window) || window < 1 || window > SEQ_MAX_LEN) fail('window', `expected an integer in [1, ${SEQ_MAX_LEN}], got ${window}`);
  const weighting = opts.weighting ?? 'linear';
  if (weighting === 'linear') return recencyWeights(window);
  if (weighting === 'plain') return new Float32Array(window).fill(1 / window);
  if (weighting !== 'exp') fail('weighting', `expected 'linear', 'exp' or 'plain', got '${String(weighting)}'`);
  const lambda = opts.lambda ?? 0.5;
  // λ < 0 would weigh older records more, the opposite of what the time weights are for.
  if (!(Number.isFinite(lambda) && lambda >= 0)) fail('lambda', `expected a finite number ≥ 0, got ${lambda}`);
  // Shifted by the largest exponent so a steep λ over a long window cannot overflow.
  const e = Array.from({ length: window }, (_, i) => Math.exp(lambda * (i - (window - 1))));
  const z = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (x) => x / z);
}

/** Row indices b·w² + i·w + i of [batch·w·w, P]: row (b, i) under position i's own weights. */
function diagonalRows(batch: number, window: number): Int32Array {
  const idx = new Int32Array(batch * window);
  for (let b = 0; b < batch; b++) for (let i = 0; i < window; i++) idx[b * window + i] = b * window * window + i * window + i;
  return idx;
}

/**
 * The gather index of the per-position projections for `batch` windows (see the file
 * header), with its backward index built and uploaded now.
 */
export function positionRows(engine: Engine, batch: number, window: number): Tensor {
  return gatherIndices(engine, diagonalRows(batch, window), batch * window * window);
}

/**
 * x [batch, w, in] → the short-term interest [batch, dv] (the α-weighted pool of Z).
 * `rows` is positionRows(engine, batch, w), made here when not given.
 */
export function timeSelfAttentionForward(x: Tensor, p: TimeSelfAttentionWeights, rows?: Tensor): Tensor {
  const { window: w, dk, dv } = p;
  const P = 2 * dk + dv;
  const nIn = p.w.shape[0];
  if (x.shape.length !== 3 || x.shape[1] !== w || x.shape[2] !== nIn) {
    fail('x', `is ${fmtShape(x.shape)}, expected batch×${w}×${nIn} (full windows of ${w} records)`);
  }
  const batch = x.shape[0];
  if (p.perPosition && rows && rows.size !== batch * w) fail('rows', `expected the ${batch * w} indices of positionRows(engine, ${batch}, ${w}), got ${rows.size}`);
  // Made before the first dispatch: an upload between dispatches would submit early.
  const idx = p.perPosition ? (rows ?? positionRows(x.engine, batch, w)) : null;
  let proj = matmul(x.reshape([batch * w, nIn]), p.w);
  if (idx) proj = gather(proj.reshape([batch * w * w, P]), idx);
  const q = slice(proj, 0, dk);
  const k = slice(proj, dk, 2 * dk);
  const v = slice(proj, 2 * dk, P);
  return selfAttention(q, k, v, { batch, len: w, d: dk, dv, weights: p.alpha });
}

export class TimeSelfAttention extends Module {
  /** Q|K|V projections, see TimeSelfAttentionWeights.w. */
  readonly w: Tensor;
  readonly window: number;
  readonly dk: number;
  readonly dv: number;
  readonly perPosition: boolean;
  readonly weighting: TimeWeighting;
  /** The time weights α (length `window`, sum 1). */
  readonly alpha: Float32Array;
  /** Gather indices per batch size (not parameters: a Map is not walked by namedParameters). */
  private readonly rowIndex = new Map<number, Tensor>();

  constructor(
    engine: Engine,
    readonly inFeatures: number,
    opts: TimeSelfAttentionOptions,
  ) {
    super();
    if (!Number.isInteger(inFeatures) || inFeatures < 1) fail('inFeatures', `expected a positive integer, got ${inFeatures}`);
    const window = opts.window ?? 5;
    const dk = opts.dk ?? 32;
    const dv = opts.dv ?? dk;
    if (!Number.isInteger(dk) || dk < 1 || dk > SEQ_MAX_DIM) fail('dk', `expected an integer in [1, ${SEQ_MAX_DIM}] (the attention kernel's width limit), got ${dk}`);
    if (!Number.isInteger(dv) || dv < 1 || dv > SEQ_MAX_DIM) fail('dv', `expected an integer in [1, ${SEQ_MAX_DIM}] (the attention kernel's width limit), got ${dv}`);
    const projections = opts.projections ?? 'per-position';
    if (projections !== 'per-position' && projections !== 'shared') fail('projections', `expected 'per-position' or 'shared', got '${String(projections)}'`);
    this.alpha = timeWeights(window, opts);
    this.weighting = opts.weighting ?? 'linear';
    this.window = window;
    this.dk = dk;
    this.dv = dv;
    this.perPosition = projections === 'per-position';
    const rng = typeof opts.rng === 'number' ? new Rng(opts.rng) : opts.rng;
    const P = 2 * dk + dv;
    // Glorot over one position's [in, P] block, whichever layout holds the blocks.
    const limit = Math.sqrt(6 / (inFeatures + P));
    this.w = parameter(randUniform(engine, [inFeatures, (this.perPosition ? window : 1) * P], { lo: -limit, hi: limit, rng }));
  }

  weights(): TimeSelfAttentionWeights {
    return { w: this.w, window: this.window, dk: this.dk, dv: this.dv, perPosition: this.perPosition, alpha: this.alpha };
  }

  /** x [batch, window, inFeatures] (oldest record first) → short-term interest [batch, dv]. */
  forward(x: Tensor): Tensor {
    // Only a well-shaped x gets a cached index; anything else falls through to the shape error.
    const ok = x.shape.length === 3 && x.shape[1] === this.window && x.shape[2] === this.inFeatures && x.shape[0] > 0;
    return timeSelfAttentionForward(x, this.weights(), this.perPosition && ok ? this.rowsFor(x.shape[0]) : undefined);
  }

  /**
   * The per-position gather index for `batch` windows, kept per batch size (a training
   * loop reuses one or two), so it and its backward index are uploaded once rather than
   * in the middle of every step.
   */
  rowsFor(batch: number): Tensor {
    let t = this.rowIndex.get(batch);
    if (!t) {
      t = this.w.engine.keep(positionRows(this.w.engine, batch, this.window));
      this.rowIndex.set(batch, t);
    }
    return t;
  }

  override dispose(): void {
    for (const t of this.rowIndex.values()) t.dispose();
    this.rowIndex.clear();
    super.dispose();
  }
}
