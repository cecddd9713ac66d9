/**
 * GraphSAGE's sampled mini-batches. The nodes a training batch scores (its users and
 * items, as node ids of the bipartite graph: user u is u, item i is nUsers + i) become
 * the seeds; `sampleNeighbors` draws fan-out neighbourhoods hop by hop, and only those
 * small blocks are uploaded, so a step costs O(batch · Π fan-outs), not O(graph).
 *
 * Every array a step needs (block CSRs, their transposes, the input rows to gather, the
 * examples' seed positions) is uploaded here, in one go before the step records any
 * kernel: a write to the device must flush recorded work first, so interleaving uploads
 * with kernels would cost a submit per upload.
 */
import type { Engine } from '../../engine.js';
import type { Csr } from '../../graph/types.js';
import { sampleNeighbors } from '../../graph/sampling.js';
import { Tensor } from '../../tensor/tensor.js';
import { gatherIndices } from '../../tensor/ops/gather.js';
import { freeSageBlock, uploadSageBlock, type SageBlock } from '../../nn/sage-conv.js';

/** The distinct nodes of several lists (first occurrence order) and each list's positions among them. */
export interface Seeds {
  seeds: Int32Array;
  /** locals[k][j] = position of lists[k][j] in `seeds`. */
  locals: Int32Array[];
}

/**
 * Deduplicates node ids across `lists` (the sampler wants distinct seeds). `scratch` is
 * an Int32Array of the graph's node count filled with −1, reused across batches and left
 * as it was found.
 */
export function distinctSeeds(lists: Int32Array[], scratch: Int32Array): Seeds {
  const seeds: number[] = [];
  const locals = lists.map((list) => {
    const loc = new Int32Array(list.length);
    for (let j = 0; j < list.length; j++) {
      const v = list[j];
      if (scratch[v] < 0) {
        scratch[v] = seeds.length;
        seeds.push(v);
      }
      loc[j] = scratch[v];
    }
    return loc;
  });
  for (const v of seeds) scratch[v] = -1;
  return { seeds: Int32Array.from(seeds), locals };
}

/**
 * One sampled batch on the device. Its tensors belong to the engine scope open when it
 * was made; `dispose` frees the blocks (so `engine.track(batch)` ties them to the step).
 */
export interface SampledBatch {
  /** Blocks in the order the convolutions apply them: the outermost hop first, the seeds' block last. */
  blocks: SageBlock[];
  /** Node ids of the outermost layer: the rows of the input embeddings the first convolution reads. */
  inputNodes: Tensor;
  /** Positions among the seeds (the last convolution's output rows) of each list given to `sampleBatch`. */
  locals: Tensor[];
  /** Node count per layer, seeds first (for logs and tests). */
  layerSizes: number[];
  dispose(): void;
}

/**
 * Samples and uploads the computation graph of one batch. `graph` is the square
 * bipartite adjacency (its values are ignored: sampled blocks carry 1/k), `fanouts[l]`
 * the neighbours kept per node at hop l + 1 from the seeds, `seed` the sampler's seed
 * (vary it per batch), `scratch` as for `distinctSeeds`.
 */
export function sampleBatch(engine: Engine, graph: Csr, lists: Int32Array[], fanouts: readonly number[], seed: number, scratch: Int32Array): SampledBatch {
  const { seeds, locals } = distinctSeeds(lists, scratch);
  const s = sampleNeighbors(graph, seeds, fanouts, { seed: seed >>> 0 });
  const L = s.blocks.length;
  const blocks: SageBlock[] = [];
  for (let l = L - 1; l >= 0; l--) blocks.push(uploadSageBlock(engine, s.blocks[l]));
  const inputNodes = gatherIndices(engine, s.layers[L], graph.nRows);
  const localTensors = locals.map((loc) => gatherIndices(engine, loc, seeds.length));
  let freed = false;
  return {
    blocks,
    inputNodes,
    locals: localTensors,
    layerSizes: s.layers.map((x) => x.length),
    dispose() {
      if (freed) return;
      freed = true;
      for (const blk of blocks) freeSageBlock(engine, blk);
    },
  };
}
