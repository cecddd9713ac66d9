/**
 * GATConv (Veličković et al. 2018, "Graph Attention Networks"), multi-head:
 * per head k, h^k = X·W^k, e_ij = LeakyReLU(a_l^k·h_i^k + a_r^k·h_j^k) over the edges
 * j → i of the graph (self-loops included when the graph was prepared with them),
 * α_ij = softmax_j(e_ij), h'_i^k = Σ_j α_ij h_j^k; heads are concatenated (hidden
 * layers) or averaged (an output layer), then a bias and an optional activation.
 *
 * The per-head dot products el = h·a_l and er = h·a_r are ordinary tape ops (a row
 * broadcast multiply, then a product with a constant 0/1 head-indicator matrix that sums
 * each head's columns); the sparse part (scores, edge softmax, weighted sum and its
 * backward to h, el and er) is the fused `graphAttention` kernel.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { GatGraph } from '../kernels/gat.js';
import { Tensor } from '../tensor/tensor.js';
import { parameter, randNormal, xavierUniform, zeros, type RandomSource } from '../tensor/create.js';
import { add, leakyRelu, mul, relu } from '../tensor/ops/elementwise.js';
import { matmul } from '../tensor/ops/matmul.js';
import { graphAttention } from '../tensor/ops/attention.js';
import { fmtShape } from '../tensor/shape.js';
import { Module } from './module.js';

export type GatActivation = 'leakyRelu' | 'relu' | 'none';

export interface GATConvOptions {
  /** Seed or generator for the weights. */
  rng: RandomSource;
  /** Attention heads (default 4). */
  heads?: number;
  /** Concatenate the heads' outputs (default true: width heads·outFeatures) or average them (width outFeatures). */
  concat?: boolean;
  /** Negative slope of the LeakyReLU inside the attention scores (default 0.2, as in the paper). */
  slope?: number;
  /**
   * Applied after the bias (default 'none'). The paper's ELU is not among the element-wise
   * kernels; 'leakyRelu' (slope 0.2) is the nearest: it keeps negative signal flowing.
   */
  activation?: GatActivation;
}

export class GATConv extends Module {
  readonly heads: number;
  readonly concat: boolean;
  readonly slope: number;
  readonly activation: GatActivation;
  /** Width of the output rows. */
  readonly outWidth: number;
  /** W: [inFeatures, heads·outFeatures], head k in columns k·F .. (k+1)·F. */
  readonly weight: Tensor;
  /** a_l (destination side) and a_r (source side), [heads·outFeatures] each. */
  readonly attnL: Tensor;
  readonly attnR: Tensor;
  readonly bias: Tensor;
  /** Constant [heads·F, heads] with 1 where a column belongs to a head: sums each head's columns. */
  private readonly headSum: Tensor;
  /** Constant [heads·F, F] with 1/heads: averages the heads (concat = false only). */
  private readonly headMean: Tensor | null;

  constructor(
    engine: Engine,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: GATConvOptions,
  ) {
    super();
    const heads = opts.heads ?? 4;
    if (!Number.isInteger(heads) || heads < 1) throw new GnnrlError('input', `GATConv: heads: expected a positive integer, got ${heads}`, { arg: 'heads' });
    if (!Number.isInteger(outFeatures) || outFeatures < 1) throw new GnnrlError('input', `GATConv: outFeatures: expected a positive integer, got ${outFeatures}`, { arg: 'outFeatures' });
    this.heads = heads;
    this.concat = opts.concat ?? true;
    this.slope = opts.slope ?? 0.2;
    this.activation = opts.activation ?? 'none';
    const w = heads * outFeatures;
    this.outWidth = this.concat ? w : outFeatures;
    this.weight = parameter(xavierUniform(engine, [inFeatures, w], opts.rng));
    // Glorot-normal over one head's vector with ReLU gain, as reference implementations do.
    const std = Math.SQRT2 * Math.sqrt(2 / (outFeatures + 1));
    this.attnL = parameter(randNormal(engine, [w], { std, rng: opts.rng }));
    this.attnR = parameter(randNormal(engine, [w], { std, rng: opts.rng }));
    this.bias = parameter(zeros(engine, [this.outWidth]));
    const sumData = new Float32Array(w * heads);
    for (let k = 0; k < heads; k++) for (let f = 0; f < outFeatures; f++) sumData[(k * outFeatures + f) * heads + k] = 1;
    this.headSum = engine.keep(Tensor.fromArray(engine, sumData, [w, heads]));
    if (this.concat || heads === 1) {
      this.headMean = null;
    } else {
      const meanData = new Float32Array(w * outFeatures);
      for (let k = 0; k < heads; k++) for (let f = 0; f < outFeatures; f++) meanData[(k * outFeatures + f) * outFeatures + f] = 1 / heads;
      this.headMean = engine.keep(Tensor.fromArray(engine, meanData, [w, outFeatures]));
    }
  }

  /** Attention over `g` (square: every node is a source and a destination): x [n, inFeatures] → [n, outWidth]. */
  forward(g: GatGraph, x: Tensor): Tensor {
    if (g.nDst !== g.nSrc) throw new GnnrlError('input', `GATConv: the graph must be square (every node a source and a destination), got ${g.nDst}×${g.nSrc}`, { arg: 'g' });
    if (x.shape.length !== 2 || x.shape[0] !== g.nSrc || x.shape[1] !== this.inFeatures) {
      throw new GnnrlError('input', `GATConv(${this.inFeatures}→${this.heads}×${this.outFeatures}): x is ${fmtShape(x.shape)}, expected ${g.nSrc}×${this.inFeatures} (one row per node)`, { arg: 'x' });
    }
    const h = matmul(x, this.weight);
    const el = matmul(mul(h, this.attnL), this.headSum);
    const er = matmul(mul(h, this.attnR), this.headSum);
    let out = graphAttention(g, h, el, er, { heads: this.heads, f: this.outFeatures, slope: this.slope });
    if (this.headMean) out = matmul(out, this.headMean);
    out = add(out, this.bias);
    if (this.activation === 'relu') return relu(out);
    if (this.activation === 'leakyRelu') return leakyRelu(out, 0.2);
    return out;
  }

  /** Frees the parameters and the constant head matrices. */
  override dispose(): void {
    super.dispose();
    this.headSum.dispose();
    this.headMean?.dispose();
  }
}

/** Frees the device arrays of a graph made by `prepareGatGraph`. */
export function freeGatGraph(engine: Engine, g: GatGraph): void {
  for (const a of [g.rowPtr, g.colIdx, g.edgeRow, g.tRowPtr, g.tDst, g.tEdge]) engine.free(a);
}
