/**
 * LightGCN propagation (He et al., SIGIR 2020): E⁽ᵏ⁺¹⁾ = Â·E⁽ᵏ⁾ with no transform and no
 * nonlinearity, and the output a weighted sum of the layers, Σₖ αₖ·E⁽ᵏ⁾. It has no
 * parameters of its own: everything it learns lives in the layer-0 embeddings it is given.
 */
import { GnnrlError } from '../errors.js';
import type { DeviceCsr } from '../backend/arrays.js';
import { Tensor } from '../tensor/tensor.js';
import { sparseMatmul } from '../tensor/ops/spmm.js';
import { add, mul } from '../tensor/ops/elementwise.js';
import { Module } from './module.js';

/** Depth and layer weights of the propagation. */
export interface LightGCNPropagationOptions {
  /** Propagation steps K (default 3, the paper's best on its data sets). */
  layers?: number;
  /** α₀ … α_K, one weight per layer including the input (default 1/(K+1) each). */
  layerWeights?: number[];
}

/** K parameter-free smoothing steps and their weighted sum (a Module with no parameters). */
export class LightGCNPropagation extends Module {
  readonly layers: number;
  readonly layerWeights: readonly number[];

  constructor(opts: LightGCNPropagationOptions = {}) {
    super();
    const K = opts.layers ?? 3;
    if (!Number.isInteger(K) || K < 0) throw new GnnrlError('input', `LightGCN: layers: expected a non-negative integer, got ${K}`, { arg: 'layers' });
    const w = opts.layerWeights ?? Array.from({ length: K + 1 }, () => 1 / (K + 1));
    if (!Array.isArray(w) || w.length !== K + 1 || !w.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new GnnrlError('input', `LightGCN: layerWeights: expected ${K + 1} finite numbers (layers + 1, the input included), got ${JSON.stringify(w)}`, {
        arg: 'layerWeights',
      });
    }
    this.layers = K;
    this.layerWeights = Object.freeze([...w]);
  }

  /**
   * Σₖ αₖ·Âᵏ·x for x [nodes, d]. `adjT` is Âᵀ for the backward; the symmetric-normalised
   * adjacency is its own transpose, so it defaults to `adj`.
   */
  forward(adj: DeviceCsr, x: Tensor, adjT: DeviceCsr = adj): Tensor {
    const w = this.layerWeights;
    // Equal weights (the default) sum first and scale once: K adds and one scale
    // instead of K + 1 scales, on the forward and again on the backward.
    const uniform = w.every((v) => v === w[0]);
    let h = x;
    let acc = uniform ? x : mul(x, w[0]);
    for (let k = 1; k <= this.layers; k++) {
      h = sparseMatmul(adj, h, adjT);
      acc = add(acc, uniform ? h : mul(h, w[k]));
    }
    return uniform && w[0] !== 1 ? mul(acc, w[0]) : acc;
  }
}
