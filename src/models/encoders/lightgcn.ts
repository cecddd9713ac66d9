/**
 * LightGCN (He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
 * Recommendation", SIGIR 2020): id embeddings smoothed over the symmetric-normalised
 * user-item graph, E⁽ᵏ⁺¹⁾ = Â·E⁽ᵏ⁾, with no weights or nonlinearity, and the final
 * embedding Σₖ αₖ·E⁽ᵏ⁾ (αₖ = 1/(K+1) by default). Trained with BPR and an L2 penalty on
 * the batch's ego embeddings, as in the paper (λ 1e-4, batch 2048, d 64, K 3; the paper's
 * lr 1e-3 suits large logs, the default here is the base's 1e-2, see GraphEncoderOptions.lr).
 */
import type { Engine } from '../../engine.js';
import type { InteractionGraph } from '../../graph/interaction-graph.js';
import type { Tensor } from '../../tensor/tensor.js';
import { LightGCNPropagation } from '../../nn/lightgcn-propagation.js';
import { GraphEncoderModel, type GraphEncoderOptions } from './base.js';

/** LightGCN's own options on top of the shared encoder options. */
export interface LightGCNOptions extends GraphEncoderOptions {
  /** Propagation steps K (default 3). */
  layers?: number;
  /** α₀ … α_K (default 1/(K+1) each). */
  layerWeights?: number[];
}

/** `new LightGCN(engine, graph, { dim: 64, layers: 3 })`, then `fit(train)`; `graph` is the training log's InteractionGraph. */
export class LightGCN extends GraphEncoderModel<LightGCNPropagation> {
  readonly kind = 'lightgcn';
  readonly name = 'LightGCN';
  readonly layers: number;
  readonly layerWeights: readonly number[];

  constructor(engine: Engine, graph: InteractionGraph, options: LightGCNOptions = {}) {
    super(engine, graph, options, { epochs: 50 });
    // Validated here (not at the first fit) so a bad option fails at construction.
    const probe = new LightGCNPropagation({ layers: options.layers, layerWeights: options.layerWeights });
    this.layers = probe.layers;
    this.layerWeights = probe.layerWeights;
  }

  protected buildParameters(): LightGCNPropagation {
    return new LightGCNPropagation({ layers: this.layers, layerWeights: [...this.layerWeights] });
  }

  protected encode(ego: Tensor): Tensor {
    return this.net.forward(this.adjacency(), ego);
  }

  protected override encoderConfig(): Record<string, unknown> {
    return { layers: this.layers, layerWeights: [...this.layerWeights] };
  }
}
