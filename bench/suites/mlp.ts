/**
 * One full training step of a two-layer MLP through the tensor API: forward
 * (64 → 256, ReLU, 256 → 64), MSE loss, tape backward and a fused Adam update, all in
 * one engine.scope; the measured call ends with a sync so the GPU work is done.
 */
import { Engine } from '../../src/engine.js';
import { Module, Linear } from '../../src/nn/index.js';
import { Adam, mseLoss, tensor, type Tensor } from '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';
import { engineBackends, type Suite } from '../harness.js';

class TwoLayer extends Module {
  readonly l1: Linear;
  readonly l2: Linear;
  constructor(engine: Engine, dIn: number, hidden: number, dOut: number, seed: number) {
    super();
    const rng = new Rng(seed);
    this.l1 = new Linear(engine, dIn, hidden, { rng });
    this.l2 = new Linear(engine, hidden, dOut, { rng });
  }
  forward(x: Tensor): Tensor {
    return this.l2.forward(this.l1.forward(x).relu());
  }
}

export const suite: Suite = {
  name: 'mlp',
  baseline: 'cpu',
  async run(ctx) {
    const batch = ctx.quick ? 512 : 4096;
    const [dIn, hidden, dOut] = [64, 256, 64];
    const rng = new Rng(1);
    const x = Float32Array.from({ length: batch * dIn }, () => rng.uniform(-1, 1));
    const y = Float32Array.from({ length: batch * dOut }, () => rng.uniform(-1, 1));
    // Forward, and twice that for the two backward products per layer.
    const flops = 3 * 2 * batch * (dIn * hidden + hidden * dOut);
    for (const backend of engineBackends()) {
      const engine = await Engine.create({ backend, quiet: true });
      const model = new TwoLayer(engine, dIn, hidden, dOut, 7);
      const X = engine.keep(tensor(engine, x, [batch, dIn]));
      const Y = engine.keep(tensor(engine, y, [batch, dOut]));
      const opt = new Adam(model.parameters(), { lr: 1e-3 });
      await ctx.measure('mlp', `step ${dIn}→${hidden}→${dOut}, batch ${batch}, MSE + Adam`, backend, async () => {
        engine.scope(() => {
          opt.zeroGrad();
          mseLoss(model.forward(X), Y).backward();
          opt.step();
        });
        await engine.sync();
      }, { flops, maxTime: ctx.quick ? 1 : 4 });
      opt.dispose();
      model.dispose();
      await engine.dispose();
    }
  },
};
