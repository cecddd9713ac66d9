/** A table of `count` vectors of size `dim`, looked up by i32 index (gather). */
import type { Engine } from '../engine.js';
import { Tensor } from '../tensor/tensor.js';
import { parameter, randNormal, type RandomSource } from '../tensor/create.js';
import { gather } from '../tensor/ops/gather.js';
import { Module } from './module.js';

export interface EmbeddingOptions {
  rng: RandomSource;
  /** Standard deviation of the normal initialisation (default 0.1). */
  std?: number;
}

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    engine: Engine,
    readonly count: number,
    readonly dim: number,
    opts: EmbeddingOptions,
  ) {
    super();
    this.weight = parameter(randNormal(engine, [count, dim], { std: opts.std ?? 0.1, rng: opts.rng }));
  }

  /** Rows of the table for `indices` (any shape) → [...indices.shape, dim]. */
  forward(indices: Tensor | Int32Array): Tensor {
    return gather(this.weight, indices);
  }
}
