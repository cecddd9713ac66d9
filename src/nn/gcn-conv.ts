/**
 * GCNConv (Kipf & Welling, ICLR 2017): H' = σ(Â·H·W + b) with Â a normalised adjacency
 * (with self-loops, D̃^-1/2 (A + I) D̃^-1/2, for the classic layer). The adjacency is
 * passed per call, so one layer works on any graph of the right size.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { DeviceCsr } from '../backend/arrays.js';
import { Tensor } from '../tensor/tensor.js';
import { parameter, xavierUniform, zeros, type RandomSource } from '../tensor/create.js';
import { add, leakyRelu, relu, tanh } from '../tensor/ops/elementwise.js';
import { matmul } from '../tensor/ops/matmul.js';
import { sparseMatmul } from '../tensor/ops/spmm.js';
import { fmtShape } from '../tensor/shape.js';
import { Module } from './module.js';

/** Nonlinearities a graph layer may apply ('none': identity). */
export type GraphActivation = 'relu' | 'leakyRelu' | 'tanh' | 'none';

/** Accepted activation names. */
export const GRAPH_ACTIVATIONS: readonly GraphActivation[] = ['relu', 'leakyRelu', 'tanh', 'none'];

/** σ(x) for a named activation (leakyRelu's slope `alpha`). */
export function applyActivation(x: Tensor, act: GraphActivation, alpha = 0.2): Tensor {
  switch (act) {
    case 'relu':
      return relu(x);
    case 'leakyRelu':
      return leakyRelu(x, alpha);
    case 'tanh':
      return tanh(x);
    case 'none':
      return x;
    default:
      throw new GnnrlError('input', `activation: expected one of ${GRAPH_ACTIVATIONS.join(', ')}, got ${JSON.stringify(act)}`, { arg: 'activation' });
  }
}

/** Initialisation and nonlinearity of a GCNConv. */
export interface GCNConvOptions {
  /** Seed or generator for the Glorot-uniform weight. */
  rng: RandomSource;
  /** Add a learned bias after aggregation (default true). */
  bias?: boolean;
  /** σ (default 'leakyRelu'). */
  activation?: GraphActivation;
  /** Negative slope of leakyRelu (default 0.2, NGCF's and GAT's). */
  negativeSlope?: number;
}

/** One graph convolution: a Glorot-uniform weight [in, out], an optional bias, σ. */
export class GCNConv extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly activation: GraphActivation;
  readonly negativeSlope: number;

  constructor(
    engine: Engine,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: GCNConvOptions,
  ) {
    super();
    for (const [name, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new GnnrlError('input', `GCNConv: ${name}: expected a positive integer, got ${v}`, { arg: name });
    }
    this.activation = opts.activation ?? 'leakyRelu';
    if (!GRAPH_ACTIVATIONS.includes(this.activation)) {
      throw new GnnrlError('input', `GCNConv: activation: expected one of ${GRAPH_ACTIVATIONS.join(', ')}, got ${JSON.stringify(this.activation)}`, { arg: 'activation' });
    }
    this.negativeSlope = opts.negativeSlope ?? 0.2;
    this.weight = parameter(xavierUniform(engine, [inFeatures, outFeatures], opts.rng));
    this.bias = opts.bias === false ? null : parameter(zeros(engine, [outFeatures]));
  }

  /**
   * σ(Â·x·W + b) for x [nodes, inFeatures]. `adjT` is Âᵀ for the backward (defaults to
   * `adj`: symmetric normalisation gives a symmetric Â).
   */
  forward(adj: DeviceCsr, x: Tensor, adjT: DeviceCsr = adj): Tensor {
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures) {
      throw new GnnrlError('input', `GCNConv(${this.inFeatures}→${this.outFeatures}): x is ${fmtShape(x.shape)}, expected nodes×${this.inFeatures}`, { arg: 'x' });
    }
    // (Â·x)·W = Â·(x·W): multiply by Â on the narrower side, since the sparse product's
    // cost (and its backward's) grows with the width it carries.
    const h = this.inFeatures < this.outFeatures ? matmul(sparseMatmul(adj, x, adjT), this.weight) : sparseMatmul(adj, matmul(x, this.weight), adjT);
    return applyActivation(this.bias ? add(h, this.bias) : h, this.activation, this.negativeSlope);
  }
}
