import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { qTargetsReference } from '../../src/kernels/qtarget.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { DqnAgent, type DqnOptions } from '../../src/rl/agents/dqn.js';
import { WindowStateEncoder, randomTables } from '../../src/rl/state/window-state.js';
import { windowExclusions } from '../../src/rl/state/exclusions.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { Rng } from '../../src/util/rng.js';
import { hostWindowStates } from './window-state-reference.js';
import { dqnPhi64 } from './mlp-reference.js';
import { randomTransitions as sharedRandomTransitions } from './random-transitions.js';

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

async function agentOn(opts: DqnOptions, fineTune = false): Promise<{ agent: DqnAgent; env: Simulator; encoder: WindowStateEncoder }> {
  const env = new Simulator(world, { batch: SLOTS, historyLen: H });
  const encoder = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 4), H, { fineTune });
  const agent = await DqnAgent.create({ engine, encoder, slots: SLOTS, slateSize: 1 }, { hidden: [7], batchSize: 29, learningStarts: 40, seed: 3, ...opts });
  return { agent, env, encoder };
}

/** φ(s) = u + MLP(s) on the host from a state() dump (float64). */
function phiHost(arrays: Record<string, Float32Array | Int32Array>, prefix: string, x: Float64Array, rows: number): Float64Array {
  return dqnPhi64(arrays as Record<string, Float32Array>, prefix, x, rows, D);
}


/** The shared random transitions over this file's world and window. */
function randomTransitions(B: number, rng: Rng) {
  return sharedRandomTransitions(B, rng, { nUsers: world.nUsers, nItems: world.nItems, historyLen: H });
}

async function trainedApart(agent: DqnAgent, env: Simulator): Promise<void> {
  // Enough updates that online and target differ (no sync before 1000 updates).
  await trainAgent(env, agent, { steps: 12, seed: 2, updatesPerStep: 2 });
  expect(agent.updates).toBeGreaterThan(0);
}

function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

describe('DQN targets', () => {
  for (const double of [false, true]) {
    test(`${double ? 'Double' : 'plain'} DQN targets equal a CPU reference (masks, done, γ^m)`, async () => {
      const { agent, env, encoder } = await agentOn({ double, targetUpdate: 1000 });
      try {
        await trainedApart(agent, env);
        const st = await agent.state();
        const rng = new Rng(double ? 91 : 19);
        const B = 37;
        const t = randomTransitions(B, rng);
        const x = (await hostWindowStates(encoder)).states(t.nextUser, t.nextHistory);
        const phiT = Float32Array.from(phiHost(st.arrays, 'target', x, B));
        const phiO = Float32Array.from(phiHost(st.arrays, 'online', x, B));
        const exclude = windowExclusions(t.nextHistory, B, H);
        const notDone = Float32Array.from(t.done, (d, i) => (d ? 0 : t.gammaN[i]));
        const zeroReward = new Float32Array(B);
        const noDone = new Float32Array(B);
        // The reference's γ is a scalar: value with γ = 1 and no reward, then fold R and γ^m.
        const tgt = { items: st.arrays['target.items'] as Float32Array, bias: st.arrays['target.itemBias'] as Float32Array };
        const onl = { items: st.arrays['online.items'] as Float32Array, bias: st.arrays['online.itemBias'] as Float32Array };
        let q: Float32Array;
        if (!double) {
          q = qTargetsReference({ next: phiT, batch: B, dim: D, nItems: world.nItems, online: tgt.items, target: tgt.items, onlineBias: tgt.bias, targetBias: tgt.bias, reward: zeroReward, done: noDone, exclude, gamma: 1, double: false }).y;
        } else {
          const pick = qTargetsReference({ next: phiO, batch: B, dim: D, nItems: world.nItems, online: onl.items, target: onl.items, onlineBias: onl.bias, targetBias: onl.bias, reward: zeroReward, done: noDone, exclude, gamma: 1, double: false }).argmax;
          q = new Float32Array(B);
          for (let b = 0; b < B; b++) {
            let s = tgt.bias[pick[b]];
            for (let k = 0; k < D; k++) s += phiT[b * D + k] * tgt.items[pick[b] * D + k];
            q[b] = s;
          }
        }
        const want = Float32Array.from(q, (v, i) => t.reward[i] + notDone[i] * v);
        const got = await agent.targetsFor(t);
        expect(rel(got, want)).toBeLessThan(1e-4);
        // done rows are the reward alone; no row picks an item of its own window.
        for (let b = 0; b < B; b++) if (t.done[b]) expect(got[b]).toBeCloseTo(t.reward[b], 5);
      } finally {
        agent.dispose();
      }
    });
  }

  test('without gammaN the agent discounts by γ', async () => {
    const { agent, env } = await agentOn({ gamma: 0.5, targetUpdate: 1000 });
    try {
      await trainedApart(agent, env);
      const t = randomTransitions(11, new Rng(5));
      const withG = await agent.targetsFor({ ...t, gammaN: new Float32Array(11).fill(0.5) });
      const without = await agent.targetsFor({ ...t, gammaN: null });
      expect(rel(without, withG)).toBeLessThan(1e-6);
    } finally {
      agent.dispose();
    }
  });
});

describe('DQN agent', () => {
  test('acts greedily on distinct items outside the window; ε = 1 explores uniformly', async () => {
    const { agent, env } = await agentOn({ epsilon: 0 });
    try {
      const obs = env.reset(4);
      const a = await agent.act(obs, { explore: true });
      const g = await agent.greedySlate(obs);
      expect(Array.from(a)).toEqual(Array.from(g.items));
      const explorer = (await agentOn({ epsilon: 1 })).agent;
      const e1 = await explorer.act(obs, { explore: true });
      const e2 = await explorer.act(obs, { explore: true });
      expect(Array.from(e1)).not.toEqual(Array.from(e2));
      for (let b = 0; b < SLOTS; b++) expect(Array.from(obs.historyItems.subarray(b * H, b * H + H))).not.toContain(e1[b]);
      explorer.dispose();
    } finally {
      agent.dispose();
    }
  });

  test('state() / load() restore the networks bit for bit; the same seed repeats a run', async () => {
    const runOnce = async () => {
      const { agent, env } = await agentOn({ prioritized: true, nStep: 3, tau: 0.1 });
      const r = await trainAgent(env, agent, { steps: 10, seed: 8 });
      return { agent, env, r };
    };
    const a = await runOnce();
    const b = await runOnce();
    try {
      expect(b.r.episodeReturns).toEqual(a.r.episodeReturns);
      expect(b.r.lastUpdate).toEqual(a.r.lastUpdate);
      const st = await a.agent.state();
      const { agent: fresh } = await agentOn({ prioritized: true, nStep: 3, tau: 0.1 });
      fresh.load(st);
      const obs = a.env.reset(77);
      expect(Array.from((await fresh.greedySlate(obs)).items)).toEqual(Array.from((await a.agent.greedySlate(obs)).items));
      const st2 = await fresh.state();
      for (const [k, v] of Object.entries(st.arrays)) expect(Array.from(st2.arrays[k])).toEqual(Array.from(v));
      expect(a.r.lastUpdate?.extra?.meanWeight).toBeGreaterThan(0);
      fresh.dispose();
      expect(() => fresh.load(st)).toThrow(/dispose/);
    } finally {
      a.agent.dispose();
      b.agent.dispose();
    }
  });

  test('fine-tuning moves the encoder tables; frozen tables stay put', async () => {
    for (const fineTune of [true, false]) {
      const { agent, env, encoder } = await agentOn({ learningStarts: 20 }, fineTune);
      const before = (await encoder.itemTable.read()) as Float32Array;
      await trainAgent(env, agent, { steps: 8, seed: 1 });
      const after = (await encoder.itemTable.read()) as Float32Array;
      expect(rel(after, before) > 0).toBe(fineTune);
      agent.dispose();
      encoder.dispose();
    }
  });

  test('bad options and inputs are coded errors naming the argument', async () => {
    const enc = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 1), H);
    const ctx = { engine, encoder: enc, slots: 4, slateSize: 1 };
    await expect(DqnAgent.create(ctx, { gamma: 1.5 })).rejects.toMatchObject({ code: 'input', details: { arg: 'gamma' } });
    await expect(DqnAgent.create(ctx, { capacity: 0 })).rejects.toMatchObject({ code: 'input', details: { arg: 'capacity' } });
    await expect(DqnAgent.create(ctx, { hidden: [0] })).rejects.toMatchObject({ code: 'input', details: { arg: 'hidden' } });
    await expect(DqnAgent.create({ ...ctx, slateSize: 0 }, {})).rejects.toMatchObject({ code: 'input', details: { arg: 'slateSize' } });
    const agent = await DqnAgent.create(ctx, {});
    const other = await DqnAgent.create({ ...ctx, encoder: new WindowStateEncoder(engine, randomTables(world.nUsers, 50, D, 1), H) }, {});
    const st = await agent.state();
    expect(() => other.load(st)).toThrow(/120 items/);
    expect(() => enc.encode(new Int32Array([world.nUsers]), new Int32Array(H).fill(-1))).toThrow(/outside/);
    agent.dispose();
    other.dispose();
  });
});
