/**
 * Learning is tested by learning: on the seeded simulator with its defaults (tiny world),
 * DQN with LightGCN state must beat random, popularity and greedy LightGCN on mean
 * episode return with a 95% bootstrap CI of the difference above zero, and the same run
 * with learning switched off (lr 0) must not beat greedy LightGCN. Runs on the CPU
 * backend: this checks learning, not kernels (dqn.test.ts compares the kernels).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import type { RecommenderModel } from '../../src/models/types.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { GreedyModelPolicy, PopularityPolicy, RandomPolicy } from '../../src/rl/policies/fixed.js';
import { WindowStateEncoder, tablesFromModel } from '../../src/rl/state/window-state.js';
import { DqnAgent } from '../../src/rl/agents/dqn.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import type { GraphEncoderModel } from '../../src/models/encoders/base.js';
import { differenceCI, evaluateAgent, type Evaluation } from '../../src/rl/evaluate.js';
import type { Agent } from '../../src/rl/types.js';

const world = syntheticWorld({ preset: 'tiny', seed: 7 });
const STEPS = 800;
const EPISODES = 512;

let engine: Engine;
let model: RecommenderModel;
const baselines: Record<string, Evaluation> = {};

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  const train = world.interactions;
  model = await getModel('lightgcn').create({ engine, train, graph: trainingGraph(train.user, train.item, world.nUsers, world.nItems), options: { dim: 32, seed: 1 } });
  await model.fit(train, { epochs: 20 });
  const env = new Simulator(world, { batch: 64 });
  for (const p of [new RandomPolicy(world.nItems, 1, 3), new PopularityPolicy(train, 1), new GreedyModelPolicy(model, 1)] as Agent[]) {
    baselines[p.kind] = await evaluateAgent(env, p, { episodes: EPISODES });
  }
}, 120_000);

afterAll(async () => {
  model?.dispose();
  await engine?.dispose();
});

async function trainedDqn(lr: number, fineTune: boolean | 'gnn' = false, onTrained?: (encoder: WindowStateEncoder) => Promise<void>): Promise<Evaluation> {
  const tables = await tablesFromModel(engine, model);
  const encoder =
    fineTune === 'gnn'
      ? new WindowStateEncoder(engine, tables, 10, { gnn: await (model as unknown as GraphEncoderModel).trainableCopy() })
      : new WindowStateEncoder(engine, tables, 10, { fineTune });
  const env = new Simulator(world, { batch: 64 });
  const agent = await DqnAgent.create(
    { engine, encoder, slots: env.batch, slateSize: 1 },
    { lr, seed: 1, hidden: [64], batchSize: 128, learningStarts: 500, targetUpdate: 100, epsilon: { kind: 'linear', start: 1, end: 0.05, steps: Math.floor(STEPS * 0.6) } },
  );
  try {
    await trainAgent(env, agent, { steps: STEPS, seed: 2, updatesPerStep: 2 });
    await onTrained?.(encoder);
    return await evaluateAgent(new Simulator(world, { batch: 64 }), agent, { episodes: EPISODES });
  } finally {
    agent.dispose();
    encoder.dispose();
  }
}

const returns = (e: Evaluation) => e.records.map((r) => r.return);

describe('DQN learns on the simulator', () => {
  let learned: Evaluation;

  test('DQN with LightGCN state beats random, popularity and greedy LightGCN (95% CI of the gain > 0)', async () => {
    learned = await trainedDqn(1e-3);
    for (const kind of ['random', 'popularity', 'greedy:lightgcn']) {
      const [lo] = differenceCI(returns(learned), returns(baselines[kind]), { seed: 3 });
      expect(lo, `DQN ${learned.metrics.meanReturn.toFixed(2)} vs ${kind} ${baselines[kind].metrics.meanReturn.toFixed(2)}`).toBeGreaterThan(0);
    }
    // The gain is long-term: sessions last longer than under the greedy ranking.
    expect(learned.metrics.meanSessionLength).toBeGreaterThan(baselines['greedy:lightgcn'].metrics.meanSessionLength);
  }, 180_000);

  test('with learning switched off (lr 0) the same comparison fails', async () => {
    const off = await trainedDqn(0);
    const [lo] = differenceCI(returns(off), returns(baselines['greedy:lightgcn']), { seed: 3 });
    expect(lo).toBeLessThanOrEqual(0);
  }, 180_000);

  test('fusion: fine-tuning the GNN tables with the RL loss does at least as well as frozen (within CI)', async () => {
    const tuned = await trainedDqn(1e-3, true);
    const [, hi] = differenceCI(returns(tuned), returns(learned), { seed: 4 });
    expect(hi).toBeGreaterThan(0);
  }, 180_000);

  test('end to end: the TD loss trains the GNN itself (its ego embeddings move, the shared model does not), at least as well as frozen (within CI)', async () => {
    const before = await tablesFromModel(engine, model);
    let moved = 0;
    const fused = await trainedDqn(1e-3, 'gnn', async (encoder) => {
      const gnn = encoder.gnn!;
      const fresh = await (model as unknown as GraphEncoderModel).trainableCopy();
      try {
        const [a, b] = (await Promise.all([gnn.parameters()[0].read(), fresh.parameters()[0].read()])) as Float32Array[];
        for (let j = 0; j < a.length; j++) moved = Math.max(moved, Math.abs(a[j] - b[j]));
      } finally {
        fresh.dispose();
      }
    });
    expect(moved).toBeGreaterThan(1e-4);
    const after = await tablesFromModel(engine, model);
    expect(Array.from(after.users)).toEqual(Array.from(before.users));
    const [, hi] = differenceCI(returns(fused), returns(learned), { seed: 5 });
    expect(hi, `fused ${fused.metrics.meanReturn.toFixed(2)} vs frozen ${learned.metrics.meanReturn.toFixed(2)}`).toBeGreaterThan(0);
  }, 240_000);
});
