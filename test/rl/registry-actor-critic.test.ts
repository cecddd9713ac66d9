/**
 * The policy-gradient and actor–critic agents as the registry (and so `gnnrl rl`) builds
 * them: names and aliases, option checks naming `<agent>.<key>`, and a short run through
 * the training loop that leaves a checkpointable state. How well they learn is tested in
 * reinforce.test.ts and ddpg.test.ts; this file tests the wiring.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { checkAgentOptions, createAgent, parseAgentList, type AgentContext } from '../../src/rl/registry.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import type { RecommenderModel } from '../../src/models/types.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
});
afterAll(async () => {
  await engine.dispose();
});

function context(options: Record<string, unknown> = {}): AgentContext {
  const world = syntheticWorld({ nUsers: 40, nItems: 60, dim: 8, meanEvents: 6, seed: 5 });
  const env = new Simulator(world, { batch: 8, horizon: 6 });
  return {
    engine,
    env,
    log: world.interactions,
    model: async (): Promise<RecommenderModel> => {
      throw new Error('state random needs no model');
    },
    state: 'random',
    options,
    seed: 3,
    steps: 40,
  };
}

const err = (f: () => unknown): GnnrlError => {
  try {
    f();
  } catch (e) {
    return e as GnnrlError;
  }
  throw new Error('expected a throw');
};

const FAMILIES = ['reinforce', 'reinforce-topk', 'ddpg', 'td3'];

describe('registry: policy-gradient and actor–critic agents', () => {
  test('names and aliases resolve', () => {
    expect(parseAgentList('REINFORCE,pg,reinforce-top-k')).toEqual(['reinforce', 'reinforce-topk']);
    expect(parseAgentList('DDPG,wolpertinger,TD3')).toEqual(['ddpg', 'td3']);
    expect(err(() => checkAgentOptions('ddpg', { noise: 'pink' })).message).toMatch(/ddpg\.noise: expected 'gaussian' or 'ou', got "pink"/);
  });

  test.each(FAMILIES)('%s: unknown or out-of-range options are input errors naming <agent>.<key>', (name) => {
    const unknown = err(() => checkAgentOptions(name, { nope: 1 }));
    expect(unknown.code).toBe('input');
    expect(unknown.details.field).toBe(`${name}.nope`);
    const bad = err(() => checkAgentOptions(name, { lr: -1 }));
    expect(bad.message).toMatch(new RegExp(`${name}\\.lr: expected a number >= 0, got -1`));
  });

  test.each(FAMILIES)('%s: built by the registry, it trains through the loop and gives a state', async (name) => {
    const ctx = context(name.startsWith('reinforce') ? { batchSize: 16 } : { batchSize: 16, learningStarts: 32 });
    const { agent, updatesPerStep } = await createAgent(name, ctx);
    try {
      expect(agent.kind).toBe(name);
      expect(agent.learns).toBe(true);
      const r = await trainAgent(ctx.env, agent, { steps: 40, seed: 2, updatesPerStep });
      expect(r.lastUpdate).not.toBeNull();
      expect(Number.isFinite(r.lastUpdate!.loss)).toBe(true);
      const state = await agent.state();
      expect(state.kind).toBe(name);
    } finally {
      agent.dispose();
    }
  });
});
