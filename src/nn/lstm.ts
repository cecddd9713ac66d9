/**
 * LSTM and RLSTM (DDPG-LA's long-term interest) over batches of sequences, built only
 * from recorded tensor ops (matmul, slice, sigmoid, tanh, mul, add, concat), so forward
 * and backward run on every backend and the gradient is autograd's, not a second
 * hand-written derivation.
 *
 * Layout: x is [batch, len, in], row-major, i.e. the matrix [batch·len, in] every op
 * sees. The input projection of all steps is one matmul; step t is then the column
 * range [t·4H, (t+1)·4H) of that product viewed as [batch, len·4H].
 *
 * One step (gates in the order i, f, g, o; W_x [in, 4H], W_h [H, 4H], b [4H]):
 *   [i f g o] = x_t·W_x + h_{t−1}·W_h + b,  i, f, o = σ(·),  g = tanh(·)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g
 *   h_t = o ⊙ tanh(f_E(c_t))
 *
 * State-enhancement unit (RLSTM): f_E(c) = c + κ ⊙ tanh(c).
 * Why this form: the seed only says the cell state lies in [−1, 1] and is amplified
 * before the output gate reads it. c + κ·tanh(c) multiplies small states by about
 * (1 + κ) and large ones by less (the added part saturates at ±κ), so it amplifies the
 * [−1, 1] range without blowing up a cell that has drifted beyond it; for κ ≥ 0 it is
 * strictly increasing (f_E′ = 1 + κ(1 − tanh²c) ≥ 1), so it never folds states onto
 * each other as a cubic such as c(1 + κ(1 − c²)) does past |c| = √((1+κ)/3κ). κ = 0 is
 * the identity: a plain LSTM. κ is a fixed number ('fixed') or a learned per-unit
 * vector initialised to κ ('learned').
 * By default the recurrence carries the raw c_t and only the output reads f_E(c_t)
 * (the seed's Eq. (4) change); `enhanceCarry` carries f_E(c_t) instead, the other
 * reading of "enhancing the long-term cell state".
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { Rng } from '../util/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { full, parameter, tensor, xavierUniform, zeros, type RandomSource } from '../tensor/create.js';
import { add, mul, sigmoid, sub, tanh } from '../tensor/ops/elementwise.js';
import { matmul } from '../tensor/ops/matmul.js';
import { concat, slice } from '../tensor/ops/gather.js';
import { fmtShape } from '../tensor/shape.js';
import { Module } from './module.js';

/** f_E: 'none' = plain LSTM, 'fixed' = c + κ·tanh(c) with a constant κ, 'learned' = the same with κ a learned [H] vector. */
export type CellEnhancement = 'none' | 'fixed' | 'learned';

export interface LSTMOptions {
  /** Seed or generator for the weights. */
  rng: RandomSource;
  /** The state-enhancement unit (LSTM default 'none', RLSTM default 'fixed'). */
  enhancement?: CellEnhancement;
  /** κ of f_E(c) = c + κ·tanh(c) (the initial value when 'learned'); default 0.5. κ = 0 is the identity. */
  kappa?: number;
  /** Carry f_E(c_t) to the next step instead of c_t (default false). */
  enhanceCarry?: boolean;
  /** 'last' → [batch, H] (the state after each sequence's last real step), 'all' → [batch, len, H]. Default 'last'. */
  output?: 'last' | 'all';
  /** Initial forget-gate bias (default 1, so early training keeps the cell state). */
  forgetBias?: number;
}

export interface LSTMRunOptions {
  /**
   * Real steps per sequence (right-padded: steps ≥ lengths[b] leave h and c as they
   * were, so 'last' returns the state after the last real step; 'all' repeats it on
   * padded steps). Default: every sequence is `len` long.
   */
  lengths?: Int32Array;
}

/** The tensors of one LSTM layer, so the step can be run (and gradient-checked) on any set of them. */
export interface LSTMWeights {
  /** [in, 4H], gate blocks i, f, g, o. */
  wx: Tensor;
  /** [H, 4H]. */
  wh: Tensor;
  /** [4H]. */
  bias: Tensor;
  /** κ of f_E: a number, an [H] tensor, or null/0 for the identity. */
  kappa: Tensor | number | null;
}

export interface LSTMForwardOptions extends LSTMRunOptions {
  output?: 'last' | 'all';
  enhanceCarry?: boolean;
}

/** f_E(c) = c + κ ⊙ tanh(c), the identity for κ = 0 (returned as is). */
export function enhanceCell(c: Tensor, kappa: Tensor | number | null): Tensor {
  if (kappa === null || kappa === 0) return c;
  return add(c, mul(tanh(c), kappa));
}

function checkLengths(lengths: Int32Array | undefined, batch: number, len: number): void {
  if (!lengths) return;
  if (!(lengths instanceof Int32Array) || lengths.length !== batch) {
    throw new GnnrlError('input', `LSTM: lengths must be an Int32Array of ${batch} entries (one per sequence), got ${lengths instanceof Int32Array ? lengths.length : typeof lengths}`, { arg: 'lengths' });
  }
  for (let b = 0; b < batch; b++) {
    if (!(lengths[b] >= 0 && lengths[b] <= len)) throw new GnnrlError('input', `LSTM: lengths[${b}] = ${lengths[b]} is outside [0, ${len}]`, { arg: 'lengths', index: b });
  }
}

/**
 * Runs the LSTM recurrence over x [batch, len, in] with the given weights: the layer's
 * forward, exposed so that tests and callers with their own parameter sets use the
 * same code. Returns [batch, H] ('last') or [batch, len, H] ('all').
 */
export function lstmForward(x: Tensor, w: LSTMWeights, opts: LSTMForwardOptions = {}): Tensor {
  const H = w.wh.shape[0];
  const nIn = w.wx.shape[0];
  if (x.shape.length !== 3 || x.shape[2] !== nIn) {
    throw new GnnrlError('input', `LSTM(${nIn}→${H}): x is ${fmtShape(x.shape)}, expected batch×len×${nIn}`, { arg: 'x' });
  }
  const [batch, len] = x.shape;
  if (len < 1) throw new GnnrlError('input', `LSTM: x has no steps (${fmtShape(x.shape)}); len must be ≥ 1`, { arg: 'x' });
  checkLengths(opts.lengths, batch, len);
  const output = opts.output ?? 'last';
  const engine = x.engine;
  const G = 4 * H;
  // Masks are uploaded before the first dispatch: an upload between dispatches would
  // submit what was recorded so far, and a training step should stay one submit.
  const masks = Array.from({ length: len }, (_, t) => stepMask(engine, opts.lengths, t, batch));
  // All steps' input projections in one GEMM (+ bias once), then a column range per step.
  const xw = add(matmul(x.reshape([batch * len, nIn]), w.wx), w.bias).reshape([batch, len * G]);
  let h: Tensor | null = null;
  let c: Tensor | null = null;
  const hs: Tensor[] = [];
  for (let t = 0; t < len; t++) {
    let gates = slice(xw, t * G, (t + 1) * G);
    if (h) gates = add(gates, matmul(h, w.wh));
    const sg = sigmoid(gates);
    const i = slice(sg, 0, H);
    const f = slice(sg, H, 2 * H);
    const o = slice(sg, 3 * H, 4 * H);
    const g = tanh(slice(gates, 2 * H, 3 * H));
    // With zero initial state the first step is just i ⊙ g (h₀ = c₀ = 0 are never built).
    let cNew: Tensor = c ? add(mul(f, c), mul(i, g)) : mul(i, g);
    const ce = enhanceCell(cNew, w.kappa);
    let hNew: Tensor = mul(o, tanh(ce));
    if (opts.enhanceCarry) cNew = ce;
    const mask = masks[t];
    if (mask) {
      // Padded steps keep the previous state: s ← s_prev + m ⊙ (s_new − s_prev), m ∈ {0, 1} per sequence.
      hNew = h ? add(h, mul(mask, sub(hNew, h))) : mul(mask, hNew);
      cNew = c ? add(c, mul(mask, sub(cNew, c))) : mul(mask, cNew);
    }
    h = hNew;
    c = cNew;
    if (output === 'all') hs.push(h);
  }
  return output === 'all' ? concat(hs).reshape([batch, len, H]) : h!;
}

/** The [batch, 1] 0/1 column saying which sequences are still running at step t, or null when all are. */
function stepMask(engine: Engine, lengths: Int32Array | undefined, t: number, batch: number): Tensor | null {
  if (!lengths || lengths.every((n) => n > t)) return null;
  return tensor(engine, Float32Array.from(lengths, (n) => (n > t ? 1 : 0)), [batch, 1]);
}

/** One LSTM layer; `enhancement` turns it into an RLSTM. */
export class LSTM extends Module {
  readonly wx: Tensor;
  readonly wh: Tensor;
  readonly bias: Tensor;
  /** The learned κ vector [H] when enhancement is 'learned'. */
  readonly kappa: Tensor | null;
  readonly enhancement: CellEnhancement;
  /** The fixed κ when enhancement is 'fixed' (0 otherwise). */
  readonly fixedKappa: number;
  readonly enhanceCarry: boolean;
  readonly output: 'last' | 'all';

  constructor(
    engine: Engine,
    readonly inFeatures: number,
    readonly hidden: number,
    opts: LSTMOptions,
  ) {
    super();
    const name = new.target.name;
    if (!Number.isInteger(inFeatures) || inFeatures < 1) throw new GnnrlError('input', `${name}: inFeatures: expected a positive integer, got ${inFeatures}`, { arg: 'inFeatures' });
    if (!Number.isInteger(hidden) || hidden < 1) throw new GnnrlError('input', `${name}: hidden: expected a positive integer, got ${hidden}`, { arg: 'hidden' });
    const enhancement = opts.enhancement ?? 'none';
    if (!['none', 'fixed', 'learned'].includes(enhancement)) throw new GnnrlError('input', `${name}: enhancement: expected 'none', 'fixed' or 'learned', got '${String(enhancement)}'`, { arg: 'enhancement' });
    const kappa = opts.kappa ?? 0.5;
    // κ < 0 would shrink the state and, below −1, make f_E decreasing near 0.
    if (!(Number.isFinite(kappa) && kappa >= 0)) throw new GnnrlError('input', `${name}: kappa: expected a finite number ≥ 0, got ${kappa}`, { arg: 'kappa' });
    const output = opts.output ?? 'last';
    if (output !== 'last' && output !== 'all') throw new GnnrlError('input', `${name}: output: expected 'last' or 'all', got '${String(output)}'`, { arg: 'output' });
    const forgetBias = opts.forgetBias ?? 1;
    if (!Number.isFinite(forgetBias)) throw new GnnrlError('input', `${name}: forgetBias: expected a finite number, got ${forgetBias}`, { arg: 'forgetBias' });
    // One generator for every draw, so a numeric seed does not give W_x and W_h the same values.
    const rng = typeof opts.rng === 'number' ? new Rng(opts.rng) : opts.rng;
    const H = hidden;
    this.wx = parameter(xavierUniform(engine, [inFeatures, 4 * H], rng));
    this.wh = parameter(xavierUniform(engine, [H, 4 * H], rng));
    const b = new Float32Array(4 * H);
    b.fill(forgetBias, H, 2 * H);
    this.bias = parameter(tensor(engine, b, [4 * H]));
    this.enhancement = enhancement;
    this.fixedKappa = enhancement === 'fixed' ? kappa : 0;
    this.kappa = enhancement === 'learned' ? parameter(kappa === 0 ? zeros(engine, [H]) : full(engine, [H], kappa)) : null;
    this.enhanceCarry = opts.enhanceCarry ?? false;
    this.output = output;
  }

  weights(): LSTMWeights {
    return { wx: this.wx, wh: this.wh, bias: this.bias, kappa: this.kappa ?? this.fixedKappa };
  }

  /** x [batch, len, inFeatures] → [batch, hidden] ('last') or [batch, len, hidden] ('all'). */
  forward(x: Tensor, opts: LSTMRunOptions = {}): Tensor {
    return lstmForward(x, this.weights(), { ...opts, output: this.output, enhanceCarry: this.enhanceCarry });
  }
}

/** LSTM with the state-enhancement unit on by default (enhancement 'fixed', κ = 0.5). */
export class RLSTM extends LSTM {
  constructor(engine: Engine, inFeatures: number, hidden: number, opts: LSTMOptions) {
    super(engine, inFeatures, hidden, { ...opts, enhancement: opts.enhancement ?? 'fixed' });
  }
}
