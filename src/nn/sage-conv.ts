/**
 * SAGEConv (Hamilton, Ying & Leskovec 2017, "Inductive Representation Learning on
 * Large Graphs"): h'_v = σ(W_self·h_v + W_neigh·AGG{h_u : u ∈ N(v)} + b), optionally
 * L2-normalised per row.
 *
 * A layer runs over a `SageBlock`: a CSR whose rows are destination nodes and whose
 * columns are source nodes, with the destinations being the first `nDst` sources. That
 * one shape covers both uses: a full graph (every node is both, nDst = nSrc) and a
 * sampled mini-batch hop from `sampleNeighbors`, whose blocks are built that way so the
 * self term finds h_v among the inputs without a second lookup table.
 *
 * Aggregators: 'mean' multiplies by the block's values (1/deg for a row-normalised
 * adjacency, 1/k for a sampled block), so it is one SpMM; 'max' is the paper's pooling
 * aggregator, max_u ReLU(W_pool·h_u + b_pool) per column, a max-SpMM whose backward
 * routes each gradient to the arg-max source. A node without neighbours aggregates to 0
 * either way, so it keeps its self term.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { DeviceCsr } from '../backend/arrays.js';
import type { Csr } from '../graph/types.js';
import { transposeCsr } from '../graph/build.js';
import { releaseSpmmCsr, type PlannedCsr } from '../kernels/spmm.js';
import { uploadCsrForSpmm } from '../graph/upload.js';
import { Tensor } from '../tensor/tensor.js';
import type { RandomSource } from '../tensor/create.js';
import { add, div, relu, sqrt, square } from '../tensor/ops/elementwise.js';
import { sum } from '../tensor/ops/reduce.js';
import { matmul } from '../tensor/ops/matmul.js';
import { sparseMatmul } from '../tensor/ops/spmm.js';
import { maxAggregate } from '../tensor/ops/attention.js';
import { fmtShape } from '../tensor/shape.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

export type SageAggregator = 'mean' | 'max';

/**
 * One hop of message passing on the device: `a` is nDst × nSrc (values = the mean
 * weights; the max aggregator ignores them), `aT` its transpose for the backward, and
 * the destinations are sources 0..nDst-1. For a full graph, a row-normalised adjacency
 * and its transpose, the column-normalised one, make a block as they are.
 */
export interface SageBlock {
  readonly nDst: number;
  readonly nSrc: number;
  readonly a: DeviceCsr;
  readonly aT: DeviceCsr;
}

/**
 * Uploads a block (and its transpose, built on the host) for SAGEConv. `planned`
 * uploads with the segmented SpMM plan, worth it for a graph multiplied every step, not
 * for a sampled block used once. Free it with `freeSageBlock`.
 */
export function uploadSageBlock(engine: Engine, csr: Csr, opts: { planned?: boolean } = {}): SageBlock {
  if (csr.nRows > csr.nCols) {
    throw new GnnrlError('input', `SageBlock: ${csr.nRows} destination rows but only ${csr.nCols} source columns (destinations must be the first sources)`, { arg: 'csr' });
  }
  const up = (m: Csr): PlannedCsr => (opts.planned ? uploadCsrForSpmm(engine, m) : engine.uploadCsr(m));
  return { nDst: csr.nRows, nSrc: csr.nCols, a: up(csr), aT: up(transposeCsr(csr)) };
}

/** Frees what `uploadSageBlock` put on the device. */
export function freeSageBlock(engine: Engine, b: SageBlock): void {
  releaseSpmmCsr(engine, b.a);
  releaseSpmmCsr(engine, b.aT);
}

/** Rows [0, n) of a 2-D tensor: a row-major prefix is a prefix of the flat view, so one slice (no index upload). */
function prefixRows(x: Tensor, n: number): Tensor {
  if (n === x.shape[0]) return x;
  const d = x.shape[1];
  return x.reshape([1, x.size]).slice(0, n * d).reshape([n, d]);
}

export interface SAGEConvOptions {
  /** Seed or generator for the weights. */
  rng: RandomSource;
  /** 'mean' (default) or 'max' (pooling). */
  aggregator?: SageAggregator;
  /** σ: 'relu' (default) for hidden layers, 'none' for an output layer. */
  activation?: 'relu' | 'none';
  /** Divide each output row by its L2 norm (after σ), as in the paper's Algorithm 1. Default false. */
  normalize?: boolean;
  /** Width of the pooling layer of the 'max' aggregator (default inFeatures). */
  poolFeatures?: number;
}

/** Added under the square root of the row norm, so an all-zero row stays finite. */
const NORM_EPS = 1e-12;

export class SAGEConv extends Module {
  readonly aggregator: SageAggregator;
  readonly activation: 'relu' | 'none';
  readonly normalize: boolean;
  /** W_self and the bias b. */
  readonly self: Linear;
  /** W_neigh (no bias: b is counted once, in `self`). */
  readonly neigh: Linear;
  /** W_pool, b_pool of the 'max' aggregator. */
  readonly pool: Linear | null;

  constructor(
    engine: Engine,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: SAGEConvOptions,
  ) {
    super();
    this.aggregator = opts.aggregator ?? 'mean';
    if (this.aggregator !== 'mean' && this.aggregator !== 'max') {
      throw new GnnrlError('input', `SAGEConv: aggregator: expected 'mean' or 'max', got ${JSON.stringify(this.aggregator)}`, { arg: 'aggregator' });
    }
    this.activation = opts.activation ?? 'relu';
    this.normalize = opts.normalize ?? false;
    const poolWidth = opts.poolFeatures ?? inFeatures;
    this.pool = this.aggregator === 'max' ? new Linear(engine, inFeatures, poolWidth, { rng: opts.rng }) : null;
    this.self = new Linear(engine, inFeatures, outFeatures, { rng: opts.rng });
    this.neigh = new Linear(engine, this.aggregator === 'max' ? poolWidth : inFeatures, outFeatures, { rng: opts.rng, bias: false });
  }

  /** h' for the block's destinations, from `x` [nSrc, inFeatures] → [nDst, outFeatures]. */
  forward(block: SageBlock, x: Tensor): Tensor {
    if (x.shape.length !== 2 || x.shape[0] !== block.nSrc || x.shape[1] !== this.inFeatures) {
      throw new GnnrlError('input', `SAGEConv(${this.inFeatures}→${this.outFeatures}): x is ${fmtShape(x.shape)}, expected ${block.nSrc}×${this.inFeatures} (one row per source node of the block)`, { arg: 'x' });
    }
    const agg = this.aggregate(block, x);
    const xDst = prefixRows(x, block.nDst);
    let h = add(this.self.forward(xDst), matmul(agg, this.neigh.weight));
    if (this.activation === 'relu') h = relu(h);
    return this.normalize ? l2NormalizeRows(h) : h;
  }

  private aggregate(block: SageBlock, x: Tensor): Tensor {
    if (this.pool) return maxAggregate(block.a, relu(this.pool.forward(x)), block.aT);
    return sparseMatmul(block.a, x, block.aT);
  }
}

/** x / ‖x‖₂ per row (rows of zeros stay zero). */
export function l2NormalizeRows(x: Tensor): Tensor {
  return div(x, sqrt(add(sum(square(x), 1), NORM_EPS)));
}
