/** The two-layer MLP the nn tests train: plain composition of two Linear layers. */
import type { Engine } from '../../src/engine.js';
import { Module, Linear } from '../../src/nn/index.js';
import { Rng } from '../../src/util/rng.js';
import type { Tensor } from '../../src/tensor/index.js';

export class Mlp extends Module {
  readonly hidden: Linear;
  readonly out: Linear;

  constructor(engine: Engine, inputs: number, width: number, outputs: number, seed: number) {
    super();
    const rng = new Rng(seed);
    this.hidden = new Linear(engine, inputs, width, { rng });
    this.out = new Linear(engine, width, outputs, { rng });
  }

  forward(x: Tensor): Tensor {
    return this.out.forward(this.hidden.forward(x).tanh());
  }
}

/** XOR-like data: points near the four corners of [-1, 1]², class = sign(x)·sign(y) < 0. */
export function xorData(rng: Rng, n: number): { x: Float32Array; labels: Int32Array } {
  const x = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.next() < 0.5 ? -1 : 1;
    const b = rng.next() < 0.5 ? -1 : 1;
    x[2 * i] = a + rng.uniform(-0.3, 0.3);
    x[2 * i + 1] = b + rng.uniform(-0.3, 0.3);
    labels[i] = a * b < 0 ? 1 : 0;
  }
  return { x, labels };
}
