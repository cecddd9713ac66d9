/**
 * GAT recommender (Veličković et al. 2018) on the user-item graph: L multi-head GATConv
 * layers over the ego embeddings, trained on the full graph every step (like GCN), each
 * node attending over its neighbours and itself (self-loops are added, so a node with
 * few interactions can still weigh its own embedding).
 *
 * Shapes: hidden layers run `heads` heads of dim/heads columns, concatenated back to dim,
 * followed by a leaky ReLU (the paper's ELU is not among the element-wise kernels); the
 * last layer runs `outputHeads` heads of dim columns and averages them, linear. The paper
 * uses one output head on its transductive tasks (Cora, Citeseer) and averages six on
 * the inductive one (PPI); recommendation here is transductive, and every output head
 * costs a full attention pass over dim columns, so the default is one.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { InteractionGraph } from '../../graph/interaction-graph.js';
import type { GatGraph } from '../../kernels/gat.js';
import { prepareGatGraph } from '../../graph/upload.js';
import type { Rng } from '../../util/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { LayerStack } from '../../nn/layer-stack.js';
import { GATConv, freeGatGraph } from '../../nn/gat-conv.js';
import { GraphEncoderModel, type GraphEncoderOptions } from './base.js';
import { checkInt } from '../option-checks.js';

export interface GATOptions extends GraphEncoderOptions {
  /** GATConv layers (default 2). */
  layers?: number;
  /** Attention heads per layer (default 4); `dim` must be a multiple of it when layers > 1. */
  heads?: number;
  /** Negative slope of the LeakyReLU in the attention scores (default 0.2). */
  slope?: number;
  /** Heads of the last layer, averaged (default 1, as the paper's transductive models). */
  outputHeads?: number;
}

/** The stack of GATConv layers. */
export type GATStack = LayerStack<GATConv>;

export class GAT extends GraphEncoderModel<GATStack> {
  readonly kind = 'gat';
  readonly name = 'GAT';
  readonly layers: number;
  readonly heads: number;
  readonly slope: number;
  readonly outputHeads: number;
  /** The training graph with self-loops, prepared for attention on first use. */
  private gatGraph: GatGraph | null = null;

  constructor(engine: Engine, graph: InteractionGraph, options: GATOptions = {}) {
    super(engine, graph, options, { epochs: 30 });
    const L = options.layers ?? 2;
    checkInt('GAT: layers', L);
    const heads = options.heads ?? 4;
    checkInt('GAT: heads', heads);
    if (L > 1 && this.options.dim % heads !== 0) {
      throw new GnnrlError('input', `GAT: dim (${this.options.dim}) must be a multiple of heads (${heads}): hidden layers concatenate heads of dim/heads columns`, { arg: 'heads' });
    }
    const slope = options.slope ?? 0.2;
    if (!(typeof slope === 'number' && Number.isFinite(slope) && slope >= 0)) throw new GnnrlError('input', `GAT: slope: expected a finite number ≥ 0, got ${JSON.stringify(slope)}`, { arg: 'slope' });
    const outputHeads = options.outputHeads ?? 1;
    checkInt('GAT: outputHeads', outputHeads);
    this.layers = L;
    this.heads = heads;
    this.slope = slope;
    this.outputHeads = outputHeads;
  }

  protected buildParameters(rng: Rng): GATStack {
    const d = this.options.dim;
    const convs = Array.from({ length: this.layers }, (_, l) => {
      const last = l === this.layers - 1;
      return new GATConv(this.engine, d, last ? d : d / this.heads, {
        rng,
        heads: last ? this.outputHeads : this.heads,
        concat: !last,
        slope: this.slope,
        activation: last ? 'none' : 'leakyRelu',
      });
    });
    return new LayerStack<GATConv>(convs);
  }

  private graphForAttention(): GatGraph {
    // Attention ignores edge values; the unnormalised adjacency is the cheapest to build.
    this.gatGraph ??= prepareGatGraph(this.engine, this.graph.adjacency({ norm: 'none' }), { selfLoops: true });
    return this.gatGraph;
  }

  protected encode(ego: Tensor): Tensor {
    const g = this.graphForAttention();
    let h = ego;
    for (const conv of this.net.convs) h = conv.forward(g, h);
    return h;
  }

  protected override encoderConfig(): Record<string, unknown> {
    return { layers: this.layers, heads: this.heads, slope: this.slope, outputHeads: this.outputHeads };
  }

  /** Also frees the attention graph. */
  override dispose(): void {
    super.dispose();
    if (this.gatGraph) freeGatGraph(this.engine, this.gatGraph);
    this.gatGraph = null;
  }
}
