/** y = x·W + b with W [in, out] (Glorot-initialised) and b [out] (zeros). */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { Tensor } from '../tensor/tensor.js';
import { parameter, xavierNormal, xavierUniform, zeros, type RandomSource } from '../tensor/create.js';
import { add } from '../tensor/ops/elementwise.js';
import { matmul } from '../tensor/ops/matmul.js';
import { fmtShape } from '../tensor/shape.js';
import { Module } from './module.js';

export interface LinearOptions {
  /** Seed or generator for the weights. */
  rng: RandomSource;
  bias?: boolean;
  init?: 'xavierUniform' | 'xavierNormal';
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    engine: Engine,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions,
  ) {
    super();
    const init = opts.init === 'xavierNormal' ? xavierNormal : xavierUniform;
    this.weight = parameter(init(engine, [inFeatures, outFeatures], opts.rng));
    this.bias = opts.bias === false ? null : parameter(zeros(engine, [outFeatures]));
  }

  forward(x: Tensor): Tensor {
    if (x.shape.length !== 2 || x.shape[1] !== this.inFeatures) {
      throw new GnnrlError('input', `Linear(${this.inFeatures}→${this.outFeatures}): x is ${fmtShape(x.shape)}, expected batch×${this.inFeatures}`, { arg: 'x' });
    }
    const y = matmul(x, this.weight);
    return this.bias ? add(y, this.bias) : y;
  }
}
