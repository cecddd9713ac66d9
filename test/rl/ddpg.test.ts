/**
 * The DDPG / TD3 recommender (Wolpertinger actions): the slate and the ranking against a
 * host reference of the kNN + critic re-rank, the Wolpertinger targets against a float64
 * reference, learning on the seeded simulator (and not learning with lr 0), seeded
 * reproducibility, state/load, and coded errors. Runs on the backend the environment
 * picks, except the learning runs on a software WebGPU adapter (see there).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { topKReference } from '../../src/kernels/topk.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { RandomPolicy } from '../../src/rl/policies/fixed.js';
import { DdpgAgent, createDdpgAgent, type DdpgOptions } from '../../src/rl/agents/ddpg.js';
import { WindowStateEncoder, randomTables, type StateTables } from '../../src/rl/state/window-state.js';
import { windowExclusions } from '../../src/rl/state/exclusions.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { differenceCI, evaluateAgent, type Evaluation } from '../../src/rl/evaluate.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { gather } from '../../src/tensor/ops/gather.js';
import { Rng } from '../../src/util/rng.js';
import { mlp64 } from './mlp-reference.js';
import { hostWindowStates } from './window-state-reference.js';
import { learningEngine } from '../util/backends.js';

const world = syntheticWorld({ preset: 'tiny', seed: 11 });
const H = 3;
const D = 5;
const SLOTS = 13;

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ quiet: true });
});
afterAll(async () => {
  await engine?.dispose();
});

async function agentOn(opts: DdpgOptions, slateSize = 1): Promise<{ agent: DdpgAgent; env: Simulator; encoder: WindowStateEncoder }> {
  const env = new Simulator(world, { batch: SLOTS, historyLen: H, slateSize });
  const encoder = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 4), H);
  const agent = await createDdpgAgent({ engine, encoder, slots: SLOTS, slateSize, nItems: world.nItems }, { hidden: [7], batchSize: 29, learningStarts: 40, knn: 9, seed: 3, ...opts });
  return { agent, env, encoder };
}

function done(...xs: { dispose(): void }[]): void {
  for (const x of xs) x.dispose();
}



describe('DDPG agent: acting and ranking (Wolpertinger)', () => {
  test('greedy slates and rankings are the critic-re-ranked kNN of μ(s), then the proto-action order', async () => {
    const { agent, env, encoder } = await agentOn({ knn: 9 }, 3);
    try {
      // Train a little so the critic is not its initial function.
      await trainAgent(env, agent, { steps: 6, seed: 2 });
      const obs = env.reset(4);
      const k = 20;
      const ranked = await agent.rank(obs, k);
      const slate = await agent.act(obs, { explore: false });
      const proto = await agent.protoActions(obs);
      const { items } = await hostWindowStates(encoder);
      const excl = windowExclusions(obs.historyItems, SLOTS, H);
      const ref = topKReference({ queries: proto, batch: SLOTS, dim: D, items, nItems: world.nItems, exclude: excl, k });
      const kc = agent.candidates;
      expect(kc).toBe(9);
      for (let b = 0; b < SLOTS; b++) {
        const row = Array.from(ranked.subarray(b * k, b * k + k));
        const nearest = Array.from(ref.indices.subarray(b * k, b * k + k));
        // The first kc are the kNN set (in the critic's order), the rest the proto order.
        expect([...row.slice(0, kc)].sort((x, y) => x - y)).toEqual([...nearest.slice(0, kc)].sort((x, y) => x - y));
        expect(row.slice(kc)).toEqual(nearest.slice(kc));
        for (const i of row) expect(Array.from(obs.historyItems.subarray(b * H, b * H + H))).not.toContain(i);
        // The slate is the ranking's head.
        expect(Array.from(slate.subarray(b * 3, b * 3 + 3))).toEqual(row.slice(0, 3));
      }
      // The critic's order: Q₁(s, e_i) descending over the first kc of every row.
      const q = await engine.scopeAsync(async () => {
        const s = noGrad(() => encoder.encode(obs.user, obs.historyItems));
        const rows = Int32Array.from({ length: SLOTS * kc }, (_, i) => Math.floor(i / kc));
        const idx = Int32Array.from({ length: SLOTS * kc }, (_, i) => ranked[Math.floor(i / kc) * k + (i % kc)]);
        return (await noGrad(() => agent.core.q(gather(s, rows), gather(agent.items, idx))).read()) as Float32Array;
      });
      for (let b = 0; b < SLOTS; b++) for (let c = 1; c < kc; c++) expect(q[b * kc + c]).toBeLessThanOrEqual(q[b * kc + c - 1] + 1e-5);
    } finally {
      done(agent, encoder);
    }
  });

  test('exploration noise moves the slate; σ = 0 explores nothing; OU noise restarts with the episode', async () => {
    const quiet = await agentOn({ sigma: 0 });
    const noisy = await agentOn({ sigma: 1, noise: 'ou', theta: 0.5 });
    try {
      const obs = quiet.env.reset(5);
      expect(Array.from(await quiet.agent.act(obs, { explore: true }))).toEqual(Array.from(await quiet.agent.act(obs, { explore: false })));
      const greedy = await noisy.agent.act(obs, { explore: false });
      const explored = await noisy.agent.act(obs, { explore: true });
      expect(Array.from(explored)).not.toEqual(Array.from(greedy));
      for (let b = 0; b < SLOTS; b++) expect(Array.from(obs.historyItems.subarray(b * H, b * H + H))).not.toContain(explored[b]);
    } finally {
      done(quiet.agent, quiet.encoder, noisy.agent, noisy.encoder);
    }
  });
});

describe('DDPG agent: Wolpertinger targets', () => {
  for (const td3 of [false, true]) {
    test(`${td3 ? 'TD3' : 'DDPG'}: y = R + γ^m(1 − done)·max over kNN(μ′(s′)) of ${td3 ? 'min(Q′₁, Q′₂)' : 'Q′'}(s′, e_c), against float64`, async () => {
      // targetNoise 0 so that TD3's target is deterministic and comparable.
      const { agent, env, encoder } = await agentOn({ td3, targetNoise: 0, tau: 0.3 });
      try {
        await trainAgent(env, agent, { steps: 8, seed: 2, updatesPerStep: 2 });
        expect(agent.updates).toBeGreaterThan(0);
        const st = await agent.state();
        const rng = new Rng(td3 ? 91 : 19);
        const B = 31;
        const nextUser = Int32Array.from({ length: B }, () => rng.int(world.nUsers));
        const nextHistory = Int32Array.from({ length: B * H }, (_, j) => (j % H === 0 && rng.next() < 0.3 ? -1 : rng.int(world.nItems)));
        const reward = Float32Array.from({ length: B }, () => rng.uniform(-1, 2));
        const isDone = Uint8Array.from({ length: B }, () => (rng.next() < 0.25 ? 1 : 0));
        const gammaN = Float32Array.from({ length: B }, () => rng.uniform(0.3, 1));
        const got = await agent.targetsFor({ nextUser, nextHistory, reward, done: isDone, gammaN });

        const { states, items } = await hostWindowStates(encoder);
        const x = states(nextUser, nextHistory);
        const scale = agent.core.options.actionScale;
        const mu = Float32Array.from(mlp64(st.arrays, 'actorTarget', x, B), (v) => scale * Math.tanh(v));
        const kc = agent.candidates;
        const nn = topKReference({ queries: mu, batch: B, dim: D, items, nItems: world.nItems, exclude: windowExclusions(nextHistory, B, H), k: kc }).indices;
        const inDim = x.length / B;
        const pairs = new Float64Array(B * kc * (inDim + D));
        for (let b = 0; b < B; b++) {
          for (let c = 0; c < kc; c++) {
            const r = (b * kc + c) * (inDim + D);
            pairs.set(x.subarray(b * inDim, (b + 1) * inDim), r);
            for (let d = 0; d < D; d++) pairs[r + inDim + d] = items[nn[b * kc + c] * D + d];
          }
        }
        const critics = td3 ? ['criticTarget0', 'criticTarget1'] : ['criticTarget0'];
        expect(Object.keys(st.arrays).some((k) => k.startsWith('criticTarget1.'))).toBe(td3);
        const qs = critics.map((c) => mlp64(st.arrays, c, pairs, B * kc));
        for (let b = 0; b < B; b++) {
          let best = -Infinity;
          for (let c = 0; c < kc; c++) best = Math.max(best, Math.min(...qs.map((q) => q[b * kc + c])));
          const want = reward[b] + (isDone[b] ? 0 : gammaN[b] * best);
          expect(Math.abs(got[b] - want), `row ${b}`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want)));
        }
      } finally {
        done(agent, encoder);
      }
    });
  }
});

test("targetAction 'proto' bootstraps from Q′(s′, μ′(s′)) (DDPG's plain target) and trains", async () => {
  const { agent, env, encoder } = await agentOn({ targetAction: 'proto' });
  try {
    const before = await agent.state();
    const r = await trainAgent(env, agent, { steps: 8, seed: 2, updatesPerStep: 2 });
    expect(agent.updates).toBeGreaterThan(0);
    expect(Number.isFinite(r.lastUpdate!.loss) && Number.isFinite(r.lastUpdate!.extra!.meanTarget)).toBe(true);
    const after = await agent.state();
    expect(after.config.targetAction).toBe('proto');
    expect(Array.from(after.arrays['critic0.layers.0.weight'])).not.toEqual(Array.from(before.arrays['critic0.layers.0.weight']));
  } finally {
    done(agent, encoder);
  }
});

/**
 * Learning on the simulator (tiny world, seed 7). The state tables are the world's own
 * user and item vectors (an "imported vectors" state), so what is learned is the policy,
 * not the embedding. The untrained agent is a random actor whose proto-action points
 * somewhere arbitrary: it scores like the random policy here (unlike DQN's, which starts
 * from the GNN's ranking), so "lr 0 does not beat random" is a real control, and the
 * trained agent is also compared with the untrained one. On a software WebGPU adapter
 * the ~300 acting and update steps take ~20 s (overhead per dispatch and readback, not
 * arithmetic), so there the learning run uses the native backend (the CPU where the addon does not
 * load): it checks learning, not kernels, which the tests above check on the backend under test.
 */
describe('DDPG agent learns on the simulator', () => {
  const learnWorld = syntheticWorld({ preset: 'tiny', seed: 7 });
  const LH = 5;
  const LSLOTS = 32;
  const EPISODES = 256;
  const tables: StateTables = { dim: learnWorld.dim, nUsers: learnWorld.nUsers, nItems: learnWorld.nItems, users: learnWorld.userFactors, items: learnWorld.itemFactors, source: 'world' };
  let lengine: Engine;
  let random: Evaluation;
  const sim = () => new Simulator(learnWorld, { batch: LSLOTS, historyLen: LH });
  const returns = (e: Evaluation) => e.records.map((r) => r.return);

  beforeAll(async () => {
    lengine = engine.backend === 'webgpu' && engine.adapter?.software !== false ? await learningEngine() : engine;
    random = await evaluateAgent(sim(), new RandomPolicy(learnWorld.nItems, 1, 3), { episodes: EPISODES });
  });
  afterAll(async () => {
    if (lengine && lengine !== engine) await lengine.dispose();
  });

  async function run(lr: number, td3 = false): Promise<{ untrained: Evaluation; trained: Evaluation }> {
    const encoder = new WindowStateEncoder(lengine, tables, LH);
    const agent = await createDdpgAgent({ engine: lengine, encoder, slots: LSLOTS, slateSize: 1, nItems: learnWorld.nItems }, { lr, hidden: [32], batchSize: 64, learningStarts: 128, knn: 10, tau: 0.02, seed: 1, td3 });
    try {
      const untrained = await evaluateAgent(sim(), agent, { episodes: EPISODES });
      await trainAgent(sim(), agent, { steps: 100, seed: 2, updatesPerStep: 2 });
      return { untrained, trained: await evaluateAgent(sim(), agent, { episodes: EPISODES }) };
    } finally {
      done(agent, encoder);
    }
  }

  test('DDPG beats the random policy and its own untrained start (95% CI of the gain > 0)', async () => {
    const { untrained, trained } = await run(3e-3);
    for (const [name, base] of [['random', random], ['untrained', untrained]] as const) {
      const [lo] = differenceCI(returns(trained), returns(base), { seed: 3 });
      expect(lo, `DDPG ${trained.metrics.meanReturn.toFixed(2)} vs ${name} ${base.metrics.meanReturn.toFixed(2)}`).toBeGreaterThan(0);
    }
  }, 60_000);

  test('with learning switched off (lr 0) the same run does not beat random', async () => {
    const { untrained, trained } = await run(0);
    const [lo] = differenceCI(returns(trained), returns(random), { seed: 3 });
    expect(lo, `lr 0 ${trained.metrics.meanReturn.toFixed(2)} vs random ${random.metrics.meanReturn.toFixed(2)}`).toBeLessThanOrEqual(0);
    // Nothing moved: the greedy policy after the run is the one before it, episode for episode.
    expect(returns(trained)).toEqual(returns(untrained));
  }, 60_000);
});

describe('DDPG agent: reproducibility, state, errors', () => {
  test('the same seed repeats a run (n-step, TD3); state() / load() restore the policy bit for bit', async () => {
    const opts: DdpgOptions = { td3: true, nStep: 3, noise: 'ou' };
    const runOnce = async () => {
      const { agent, env, encoder } = await agentOn(opts);
      const r = await trainAgent(env, agent, { steps: 10, seed: 8 });
      return { agent, env, encoder, r };
    };
    const a = await runOnce();
    const b = await runOnce();
    const fresh = await agentOn(opts);
    try {
      expect(a.agent.kind).toBe('td3');
      expect(a.agent.updates).toBeGreaterThan(0);
      expect(b.r.episodeReturns).toEqual(a.r.episodeReturns);
      expect(b.r.lastUpdate).toEqual(a.r.lastUpdate);
      const st = await a.agent.state();
      fresh.agent.load(st);
      const obs = a.env.reset(77);
      expect(Array.from(await fresh.agent.rank(obs, 12))).toEqual(Array.from(await a.agent.rank(obs, 12)));
      const st2 = await fresh.agent.state();
      for (const [k, v] of Object.entries(st.arrays)) expect(Array.from(st2.arrays[k])).toEqual(Array.from(v));
      expect(st2.config).toEqual(st.config);
      expect(st.config).toMatchObject({ td3: true, twin: true, policyDelay: 2, knn: 9, nItems: world.nItems, dim: D });
    } finally {
      done(a.agent, a.encoder, b.agent, b.encoder, fresh.agent, fresh.encoder);
    }
    expect(() => fresh.agent.load({ kind: 'td3', config: {}, arrays: {} })).toThrow(/dispose/);
  });

  test('bad options and inputs are coded errors naming the option', async () => {
    const enc = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 1), H);
    const ctx = { engine, encoder: enc, slots: 4, slateSize: 1, nItems: world.nItems };
    const bad: [DdpgOptions, string][] = [
      [{ gamma: 1.5 }, 'gamma'],
      [{ knn: 0 }, 'knn'],
      [{ knn: 129 }, 'knn'],
      [{ noise: 'pink' as never }, 'noise'],
      [{ sigma: -1 }, 'sigma'],
      [{ theta: 0 }, 'theta'],
      [{ tau: 0 }, 'tau'],
      [{ actorLr: -1 }, 'actorLr'],
      [{ criticLr: -1 }, 'criticLr'],
      [{ lr: -1 }, 'lr'],
      [{ hidden: [] }, 'hidden'],
      [{ capacity: 0 }, 'capacity'],
      [{ batchSize: 1.5 }, 'batchSize'],
      [{ nStep: 0 }, 'nStep'],
      [{ head: 'relu' as never }, 'head'],
      [{ targetAction: 'best' as never }, 'targetAction'],
      [{ policyDelay: 0 }, 'policyDelay'],
      [{ targetNoise: -1 }, 'targetNoise'],
      [{ epsilon: 0.1 } as never, 'epsilon'],
      [{ td3: 'yes' } as never, 'td3'],
    ];
    try {
      for (const [o, arg] of bad) await expect(createDdpgAgent(ctx, o), arg).rejects.toMatchObject({ code: 'input', details: { arg } });
      await expect(createDdpgAgent({ ...ctx, slateSize: 0 })).rejects.toMatchObject({ code: 'input', details: { arg: 'slateSize' } });
      await expect(createDdpgAgent({ ...ctx, nItems: 50 })).rejects.toMatchObject({ code: 'input', details: { arg: 'nItems' } });
      const tuned = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 1), H, { fineTune: true });
      await expect(createDdpgAgent({ ...ctx, encoder: tuned })).rejects.toMatchObject({ code: 'input', details: { arg: 'fineTune' } });
      tuned.dispose();
      const agent = await createDdpgAgent(ctx, {});
      const other = await createDdpgAgent({ ...ctx, encoder: new WindowStateEncoder(engine, randomTables(world.nUsers, 50, D, 1), H), nItems: 50 }, {});
      expect(() => other.load({ kind: 'ddpg', config: { nItems: world.nItems, dim: D }, arrays: {} })).toThrow(/120 items/);
      const obs = new Simulator(world, { batch: 4, historyLen: H }).reset(1);
      await expect(agent.rank(obs, 0)).rejects.toMatchObject({ code: 'input', details: { arg: 'k' } });
      await expect(agent.rank(obs, 129)).rejects.toMatchObject({ code: 'input', details: { arg: 'k' } });
      const obs5 = new Simulator(world, { batch: 5, historyLen: H }).reset(1);
      await expect(agent.act(obs5, { explore: true })).rejects.toMatchObject({ code: 'input', details: { arg: 'batch' } });
      done(agent, other, other.encoder);
      await expect(agent.act(obs, { explore: false })).rejects.toMatchObject({ code: 'state' });
    } finally {
      enc.dispose();
    }
  });
});
