/**
 * End-to-end fusion (`fineTune: 'gnn'`): the state's vectors are a trainable copy of the
 * state GNN, recomputed from its parameters, and an agent's loss reaches the GNN's ego
 * embeddings through the graph convolution. Checked here at the encoder: the states equal
 * the frozen encoder's before training, the gradient matches finite differences of the
 * GNN's own parameters, acting reuses one cached forward until `changed()`, the copy
 * leaves the shared model alone, and state arrays round-trip into a fresh encoder.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import type { GraphEncoderModel } from '../../src/models/encoders/base.js';
import { WindowStateEncoder, tablesFromModel } from '../../src/rl/state/window-state.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { mul } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { Rng } from '../../src/util/rng.js';
import { expectAllClose } from '../util/close.js';

const world = syntheticWorld({ nUsers: 24, nItems: 31, dim: 8, meanEvents: 6, seed: 21 });
const H = 4;
let engine: Engine;
let model: GraphEncoderModel;

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  const train = world.interactions;
  model = (await getModel('lightgcn').create({ engine, train, graph: trainingGraph(train.user, train.item, world.nUsers, world.nItems), options: { dim: 6, seed: 2 } })) as unknown as GraphEncoderModel;
  await model.fit(train, { epochs: 3 });
}, 60_000);
afterAll(async () => {
  model?.dispose();
  await engine?.dispose();
});

function batch(seed: number, B: number): { users: Int32Array; history: Int32Array } {
  const rng = new Rng(seed);
  const users = Int32Array.from({ length: B }, () => rng.int(world.nUsers));
  const history = new Int32Array(B * H).fill(-1);
  for (let b = 0; b < B; b++) for (let j = H - (b % (H + 1)); j < H; j++) history[b * H + j] = rng.int(world.nItems);
  return { users, history };
}

describe('end-to-end fusion: the state GNN as a trainable function', () => {
  for (const pool of ['window', 'mean', 'attention'] as const) {
    test(`'${pool}': before training the states equal the frozen encoder's; the gradient matches finite differences of the GNN's parameters`, async () => {
      const tables = await tablesFromModel(engine, model);
      const frozen = new WindowStateEncoder(engine, tables, H, { pool });
      const gnn = await model.trainableCopy();
      const fused = new WindowStateEncoder(engine, tables, H, { pool, gnn });
      try {
        expect(fused.fineTune).toBe(true);
        expect(fused.parameters()).toEqual(gnn.parameters());
        const { users, history } = batch(5, 9);
        const [a, b] = await engine.scopeAsync(async () => [(await noGrad(() => frozen.encode(users, history)).read()) as Float32Array, (await noGrad(() => fused.encode(users, history)).read()) as Float32Array]);
        expectAllClose(b, a, { rtol: 1e-5, context: pool });

        // L = Σ w ⊙ state; dL/dθ for a few entries of the GNN's first parameter (the ego embeddings).
        const rng = new Rng(9);
        const w = Float32Array.from({ length: a.length }, () => rng.normal());
        const loss = () => sum(mul(fused.encode(users, history), Tensor.fromArray(engine, w, [users.length, fused.outDim])));
        const theta = gnn.parameters()[0];
        const analytic = await engine.scopeAsync(async () => {
          for (const p of gnn.parameters()) p.grad = null;
          loss().backward();
          return (await theta.grad!.read()) as Float32Array;
        });
        const base = (await theta.read()) as Float32Array;
        const value = async () => engine.scopeAsync(async () => ((await noGrad(loss).read()) as Float32Array)[0]);
        const eps = 1e-2;
        let checked = 0;
        for (let j = 0; j < base.length && checked < 8; j += 7) {
          const plus = base.slice();
          plus[j] += eps;
          engine.write(theta.data, plus);
          fused.changed();
          const up = await value();
          const minus = base.slice();
          minus[j] -= eps;
          engine.write(theta.data, minus);
          fused.changed();
          const down = await value();
          engine.write(theta.data, base);
          fused.changed();
          const numeric = (up - down) / (2 * eps);
          expect(Math.abs(analytic[j] - numeric), `d/dθ[${j}] analytic ${analytic[j]} numeric ${numeric}`).toBeLessThanOrEqual(2e-2 * (Math.abs(numeric) + 0.05));
          checked++;
        }
        expect(analytic.some((g) => g !== 0)).toBe(true);
      } finally {
        frozen.dispose();
        fused.dispose();
      }
    }, 60_000);
  }

  test('acting reuses one forward until changed(); training the copy leaves the shared model alone; state arrays round-trip', async () => {
    const tables = await tablesFromModel(engine, model);
    const before = await tablesFromModel(engine, model);
    const fused = new WindowStateEncoder(engine, tables, H, { gnn: await model.trainableCopy() });
    const { users, history } = batch(6, 5);
    const read = () => engine.scopeAsync(async () => (await noGrad(() => fused.encode(users, history)).read()) as Float32Array);
    try {
      const s0 = await read();
      const theta = fused.parameters()[0];
      const moved = ((await theta.read()) as Float32Array).map((v) => v + 0.5);
      engine.write(theta.data, moved);
      // Cached until told: the acting path does not rerun the GNN per step.
      expect(Array.from(await read())).toEqual(Array.from(s0));
      fused.changed();
      const s1 = await read();
      expect(Array.from(s1)).not.toEqual(Array.from(s0));
      const after = await tablesFromModel(engine, model);
      expect(Array.from(after.items)).toEqual(Array.from(before.items));

      const arrays = await fused.stateArrays();
      expect(Object.keys(arrays).some((k) => k.startsWith('encoder.gnn.'))).toBe(true);
      expect(arrays['encoder.items'].length).toBe((world.nItems + 1) * fused.dim);
      const fresh = new WindowStateEncoder(engine, tables, H, { gnn: await model.trainableCopy() });
      try {
        fresh.loadStateArrays(arrays, 'test');
        const s2 = await engine.scopeAsync(async () => (await noGrad(() => fresh.encode(users, history)).read()) as Float32Array);
        expectAllClose(s2, s1, { rtol: 1e-6 });
        // A tables-only state cannot resume an end-to-end encoder.
        expect(() => fresh.loadStateArrays({ 'encoder.users': arrays['encoder.users'], 'encoder.items': arrays['encoder.items'] }, 'dqn')).toThrow(/encoder\.gnn/);
      } finally {
        fresh.dispose();
      }
      // The target copy has the same parameters and the same scaling.
      const target = await fused.copy();
      try {
        const s3 = await engine.scopeAsync(async () => (await noGrad(() => target.encode(users, history)).read()) as Float32Array);
        expectAllClose(s3, s1, { rtol: 1e-6 });
        expect(target.parameters()[0]).not.toBe(fused.parameters()[0]);
      } finally {
        target.dispose();
      }
    } finally {
      fused.dispose();
    }
  }, 60_000);
});
