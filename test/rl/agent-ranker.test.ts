/**
 * AgentRanker: an agent's greedy policy scored by eval/'s ranking metrics. Greedy over a
 * model ranks exactly as the model (same report); a tabular agent's lists follow its Q
 * order of groups; observations are the end of the training log; agents without a
 * ranking, and pair predictions, are refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { splitByUserTime } from '../../src/data/split.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import type { RecommenderModel } from '../../src/models/types.js';
import { evaluateModel } from '../../src/eval/evaluate.js';
import { AgentRanker } from '../../src/rl/agent-ranker.js';
import { GreedyModelPolicy, OraclePolicy, PopularityPolicy } from '../../src/rl/policies/fixed.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { TabularSlateAgent } from '../../src/rl/agents/tabular-slate.js';

const world = syntheticWorld({ preset: 'tiny', seed: 4 });
const { train, test: heldOut } = splitByUserTime(world.interactions, 0.8);
let engine: Engine;
let model: RecommenderModel;
beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  model = await getModel('lightgcn').create({ engine, train, graph: trainingGraph(train.user, train.item, train.nUsers, train.nItems), options: { dim: 16, seed: 1 } });
  await model.fit(train, { epochs: 5 });
});
afterAll(async () => {
  model.dispose();
  await engine.dispose();
});

describe('AgentRanker', () => {
  test('greedy over a model gets the model\'s own ranking report', async () => {
    const direct = await evaluateModel(model, { train, test: heldOut, k: [5, 10] });
    const viaAgent = await evaluateModel(new AgentRanker(new GreedyModelPolicy(model, 1), train, 10), { train, test: heldOut, k: [5, 10] });
    expect(viaAgent.metrics).toEqual(direct.metrics);
    expect(viaAgent.users).toEqual(direct.users);
    expect(direct.metrics['ndcg@10']).toBeGreaterThan(0);
  });

  test('the observation is the end of the training log; popularity ranks past every training item', async () => {
    const r = new AgentRanker(new PopularityPolicy(train, 1), train, 4);
    const u = train.user[0];
    const obs = r.observationsFor(Int32Array.of(u));
    const mine = Array.from(train.item).filter((_, j) => train.user[j] === u);
    expect(Array.from(obs.historyItems).filter((i) => i >= 0)).toEqual(mine.slice(-4));
    const rec = await r.recommend(Int32Array.of(u), 10);
    for (const i of rec.items) expect(mine.includes(i)).toBe(false);
    expect(Array.from(rec.scores)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  test('a tabular agent ranks its best group\'s items first', async () => {
    const env = new Simulator(world, { batch: 4 });
    const agent = new TabularSlateAgent(env, train, { method: 'qlearning' });
    const r = new AgentRanker(agent, train, env.historyLen);
    const u = Int32Array.of(train.user[0]);
    const s = agent.discretizer.state(r.observationsFor(u), 0);
    agent.table.q[s * agent.discretizer.nGroups + 3] = 1; // group 3 is best in that state
    const rec = await r.recommend(u, 3, { exclude: 'none' });
    for (const i of rec.items) expect(world.itemGroup[i]).toBe(3);
  });

  test('an agent without a ranking, and pair predictions, are refused', async () => {
    const env = new Simulator(world, { batch: 4 });
    expect(() => new AgentRanker(new OraclePolicy(env), train, 10)).toThrow(/oracle: has no greedy ranking/);
    await expect(new AgentRanker(new PopularityPolicy(train, 1), train, 10).predict()).rejects.toThrow(/does not predict/);
  });
});
