/**
 * GraphSAGE recommender (Hamilton et al. 2017) on the user-item graph: L SAGEConv layers
 * over the ego embeddings, trained on sampled mini-batches and run on the full graph for
 * the final embeddings.
 *
 * Training: the nodes a batch scores (its users, positive and negative items) are the
 * seeds; `sampleNeighbors` keeps fanouts[0] neighbours per seed, fanouts[1] per node of
 * the next hop, …, and the convolutions run over those blocks only, outermost hop
 * first (sage-batch.ts). A step therefore touches O(batch · Π fanouts) nodes whatever
 * the graph's size; the sampled mean (1/k over the kept neighbours) is an unbiased
 * estimate of the full mean.
 *
 * Inference (`encode`): every layer over all neighbours: the row-normalised adjacency
 * (mean) or the full neighbourhood max, so every node gets an embedding, including nodes
 * no batch ever sampled.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { InteractionGraph } from '../../graph/interaction-graph.js';
import { hashU32, type Rng } from '../../util/rng.js';
import type { Tensor } from '../../tensor/tensor.js';
import { gather } from '../../tensor/ops/gather.js';
import { LayerStack } from '../../nn/layer-stack.js';
import { SAGEConv, type SageAggregator, type SageBlock } from '../../nn/sage-conv.js';
import { GraphEncoderModel, type GraphEncoderOptions } from './base.js';
import { sampleBatch } from './sage-batch.js';
import { checkInt } from '../option-checks.js';

export interface GraphSAGEOptions extends GraphEncoderOptions {
  /** 'mean' (default) or 'max' (the paper's pooling aggregator). */
  aggregator?: SageAggregator;
  /** SAGEConv layers (default 2). */
  layers?: number;
  /**
   * Neighbours sampled per node at each hop from the seeds, one per layer (default
   * [10, 5]: 10 per seed, 5 per node reached from them).
   */
  fanouts?: number[];
  /** L2-normalise every layer's output rows (default false: dot-product scores of unit vectors are too flat for BPR without a temperature). */
  normalize?: boolean;
  /**
   * Train on sampled blocks (default true). false trains on the full graph every step,
   * like GCN (exact, but each step costs the whole graph).
   */
  sampled?: boolean;
}

/** The stack of SAGEConv layers. */
export type SAGEStack = LayerStack<SAGEConv>;

function checkFanouts(f: unknown, layers: number): number[] {
  if (!Array.isArray(f) || f.length !== layers || !f.every((k) => Number.isInteger(k) && k >= 1)) {
    throw new GnnrlError('input', `GraphSAGE: fanouts: expected ${layers} positive integers (one per layer), got ${JSON.stringify(f)}`, { arg: 'fanouts' });
  }
  return [...f];
}

export class GraphSAGE extends GraphEncoderModel<SAGEStack> {
  readonly kind = 'sage';
  readonly name = 'GraphSAGE';
  readonly aggregator: SageAggregator;
  readonly layers: number;
  readonly fanouts: readonly number[];
  readonly normalize: boolean;
  readonly sampled: boolean;
  /** The epoch the batch counter belongs to, and the batches sampled in it (together they seed the sampler). */
  private samplerEpoch = -1;
  private batchesInEpoch = 0;
  /** −1-filled node table reused by `distinctSeeds`. */
  private scratch: Int32Array | null = null;

  constructor(engine: Engine, graph: InteractionGraph, options: GraphSAGEOptions = {}) {
    super(engine, graph, options, { epochs: 30 });
    const L = options.layers ?? 2;
    checkInt('GraphSAGE: layers', L);
    const agg = options.aggregator ?? 'mean';
    if (agg !== 'mean' && agg !== 'max') throw new GnnrlError('input', `GraphSAGE: aggregator: expected 'mean' or 'max', got ${JSON.stringify(agg)}`, { arg: 'aggregator' });
    this.layers = L;
    this.aggregator = agg;
    this.fanouts = checkFanouts(options.fanouts ?? defaultFanouts(L), L);
    this.normalize = options.normalize ?? false;
    this.sampled = options.sampled ?? true;
  }

  protected buildParameters(rng: Rng): SAGEStack {
    const d = this.options.dim;
    const convs = Array.from(
      { length: this.layers },
      (_, l) =>
        new SAGEConv(this.engine, d, d, {
          rng,
          aggregator: this.aggregator,
          // The last layer stays linear: a dot-product score wants signed embeddings.
          activation: l < this.layers - 1 ? 'relu' : 'none',
          normalize: this.normalize,
        }),
    );
    return new LayerStack<SAGEConv>(convs);
  }

  /** The full graph as a block: mean weights 1/deg, and as the transpose the column-normalised adjacency (Â is symmetric, so (D⁻¹A)ᵀ = AD⁻¹). */
  private fullBlock(): SageBlock {
    const a = this.adjacency({ norm: 'row' });
    return { nDst: a.nRows, nSrc: a.nCols, a, aT: this.adjacency({ norm: 'col' }) };
  }

  /** Every layer over all neighbours of every node. */
  protected encode(ego: Tensor): Tensor {
    const block = this.fullBlock();
    let h = ego;
    for (const conv of this.net.convs) h = conv.forward(block, h);
    return h;
  }

  /** The rows `nodes` from their sampled computation graphs (the full graph when `sampled` is false). */
  protected override encodeNodes(ego: Tensor, nodes: Tensor): Tensor {
    if (!this.sampled) return super.encodeNodes(ego, nodes);
    const host = nodes.hostIndices;
    if (!host) throw new GnnrlError('state', 'GraphSAGE: encodeNodes needs node indices made from host data');
    const N = this.nodeCount;
    if (!this.scratch) this.scratch = new Int32Array(N).fill(-1);
    // Seeded by (epoch, batch), not by a process-lifetime counter: the epoch count is in
    // the checkpoint, so a restored model samples what an uninterrupted one would.
    if (this.samplerEpoch !== this.epochsStarted) {
      this.samplerEpoch = this.epochsStarted;
      this.batchesInEpoch = 0;
    }
    const seed = hashU32(hashU32(this.options.seed, this.samplerEpoch), ++this.batchesInEpoch);
    const batch = sampleBatch(this.engine, this.graph.adjacency({ norm: 'row' }), [host], this.fanouts, seed, this.scratch);
    // The blocks live until the step's scope closes, after the backward that reads them.
    this.engine.track(batch);
    let h = gather(ego, batch.inputNodes);
    this.net.convs.forEach((conv, k) => (h = conv.forward(batch.blocks[k], h)));
    return gather(h, batch.locals[0]);
  }

  protected override encoderConfig(): Record<string, unknown> {
    return { aggregator: this.aggregator, layers: this.layers, fanouts: [...this.fanouts], normalize: this.normalize, sampled: this.sampled };
  }
}

/** [10, 5] for two layers; 10 then 5s for more, 10 for one. */
function defaultFanouts(layers: number): number[] {
  return Array.from({ length: layers }, (_, l) => (l === 0 ? 10 : 5));
}
