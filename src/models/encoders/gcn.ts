/**
 * GCN recommender: Kipf & Welling graph convolutions on the user-item graph, each layer
 * H⁽ˡ⁺¹⁾ = σ(Â·H⁽ˡ⁾·W⁽ˡ⁾ + b⁽ˡ⁾) with Â = D̃^-1/2 (A + I) D̃^-1/2 (self-loops keep a node's
 * own signal, which the transform would otherwise have to recover from its neighbours),
 * over the ego embeddings H⁽⁰⁾; scores are dot products of the final embeddings.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { InteractionGraph } from '../../graph/interaction-graph.js';
import type { Rng } from '../../util/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../tensor/ops/elementwise.js';
import { concat } from '../../tensor/ops/gather.js';
import { GCNConv, GRAPH_ACTIVATIONS, type GraphActivation } from '../../nn/gcn-conv.js';
import { LayerStack } from '../../nn/layer-stack.js';
import { GraphEncoderModel, type GraphEncoderOptions } from './base.js';
import { checkInt } from '../option-checks.js';

/** How the layers' outputs make the final embedding. */
export type LayerCombine = 'last' | 'concat' | 'mean';

/** GCN's own options on top of the shared encoder options. */
export interface GCNOptions extends GraphEncoderOptions {
  /** Graph convolutions (default 2). */
  layers?: number;
  /** σ (default 'leakyRelu'). */
  activation?: GraphActivation;
  /** Negative slope of leakyRelu (default 0.2). */
  negativeSlope?: number;
  /**
   * Final embedding: the last layer (default), or all layers 0…L concatenated (NGCF's
   * choice; width dim·(L+1)) or averaged.
   */
  combine?: LayerCombine;
  /** Apply σ after the last layer too (default false: a dot-product score wants signed embeddings). */
  activateLast?: boolean;
  /** Self-loops in Â (default true). */
  selfLoops?: boolean;
}

/** The stack of GCNConv layers. */
export type GCNStack = LayerStack<GCNConv>;

/** `new GCN(engine, graph, { dim: 64, layers: 2 })`, then `fit(train)`; `graph` is the training log's InteractionGraph. */
export class GCN extends GraphEncoderModel<GCNStack> {
  readonly kind = 'gcn';
  readonly name = 'GCN';
  readonly layers: number;
  readonly activation: GraphActivation;
  readonly negativeSlope: number;
  readonly combine: LayerCombine;
  readonly activateLast: boolean;
  readonly selfLoops: boolean;

  constructor(engine: Engine, graph: InteractionGraph, options: GCNOptions = {}) {
    super(engine, graph, options, { epochs: 50 });
    const L = options.layers ?? 2;
    checkInt('GCN: layers', L);
    const act = options.activation ?? 'leakyRelu';
    if (!GRAPH_ACTIVATIONS.includes(act)) throw new GnnrlError('input', `GCN: activation: expected one of ${GRAPH_ACTIVATIONS.join(', ')}, got ${JSON.stringify(act)}`, { arg: 'activation' });
    const combine = options.combine ?? 'last';
    if (!['last', 'concat', 'mean'].includes(combine)) throw new GnnrlError('input', `GCN: combine: expected 'last', 'concat' or 'mean', got ${JSON.stringify(combine)}`, { arg: 'combine' });
    const slope = options.negativeSlope ?? 0.2;
    if (!(typeof slope === 'number' && Number.isFinite(slope))) throw new GnnrlError('input', `GCN: negativeSlope: expected a finite number, got ${JSON.stringify(slope)}`, { arg: 'negativeSlope' });
    this.layers = L;
    this.activation = act;
    this.negativeSlope = slope;
    this.combine = combine;
    this.activateLast = options.activateLast ?? false;
    this.selfLoops = options.selfLoops ?? true;
  }

  protected buildParameters(rng: Rng): GCNStack {
    const d = this.options.dim;
    return new LayerStack<GCNConv>(
      Array.from(
        { length: this.layers },
        (_, l) =>
          new GCNConv(this.engine, d, d, {
            rng,
            activation: l < this.layers - 1 || this.activateLast ? this.activation : 'none',
            negativeSlope: this.negativeSlope,
          }),
      ),
    );
  }

  protected encode(ego: Tensor): Tensor {
    const adj = this.adjacency({ selfLoops: this.selfLoops });
    const outs: Tensor[] = [ego];
    let h = ego;
    for (const conv of this.net.convs) outs.push((h = conv.forward(adj, h)));
    if (this.combine === 'concat') return concat(outs);
    if (this.combine === 'mean') return mul(outs.slice(1).reduce((a, b) => add(a, b), ego), 1 / outs.length);
    return h;
  }

  protected override outputDim(): number {
    return this.combine === 'concat' ? this.options.dim * (this.layers + 1) : this.options.dim;
  }

  protected override encoderConfig(): Record<string, unknown> {
    return { layers: this.layers, activation: this.activation, negativeSlope: this.negativeSlope, combine: this.combine, activateLast: this.activateLast, selfLoops: this.selfLoops };
  }
}
