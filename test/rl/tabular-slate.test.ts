/**
 * Tabular Q-learning and SARSA on the simulator through TabularSlateAgent: the
 * discretiser's states, learning (beats uniform random and the same action space played
 * at random, with a 95% CI of the gain above zero; with α = 0 the second comparison
 * fails), exact state()/load() resumption, and the registry's option checks.
 *
 * Why two baselines: the adapter's actions are groups shown as their most popular items,
 * which beats uniform random items even without learning (popular items have higher
 * utility). The fair test of learning is therefore against the same action space with
 * the group drawn at random, i.e. what the untrained table does.
 */
import { describe, expect, test } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { RandomPolicy } from '../../src/rl/policies/fixed.js';
import { GroupWindowDiscretizer, TabularSlateAgent } from '../../src/rl/agents/tabular-slate.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { differenceCI, evaluateAgent, type Evaluation } from '../../src/rl/evaluate.js';
import { checkAgentOptions, createAgent, parseAgentList } from '../../src/rl/registry.js';
import { Rng } from '../../src/util/rng.js';
import type { Agent, Observation } from '../../src/rl/types.js';
import type { Engine } from '../../src/engine.js';

const world = syntheticWorld({ preset: 'small', seed: 7 });
const log = world.interactions;
const sim = (slateSize = 1) => new Simulator(world, { batch: 64, slateSize });
const EPISODES = 512;
const returns = (e: Evaluation) => e.records.map((r) => r.return);

/** The adapter's action space played uniformly: a random group, shown as its popular items. */
class RandomGroupPolicy implements Agent {
  readonly kind = 'random-group';
  readonly name = 'Random group';
  readonly learns = false;
  private readonly rng = new Rng(11);
  constructor(private readonly adapter: TabularSlateAgent) {}
  async act(obs: Observation): Promise<Int32Array> {
    const out = new Int32Array(obs.batch);
    for (let b = 0; b < obs.batch; b++) this.adapter.slateFor(this.rng.int(this.adapter.discretizer.nGroups), obs, b, undefined, out, b);
    return out;
  }
  observe(): void {}
  async update() {
    return null;
  }
  async state() {
    return { kind: this.kind, config: {}, arrays: {} };
  }
  dispose(): void {}
}

async function trained(method: 'qlearning' | 'sarsa', alpha: number, steps = 400): Promise<{ agent: TabularSlateAgent; evaluation: Evaluation }> {
  const env = sim();
  const agent = new TabularSlateAgent(env, log, { method, alpha, gamma: 0.9, epsilon: { kind: 'linear', start: 1, end: 0.05, steps: 0.6 * steps * env.batch }, seed: 1 });
  await trainAgent(env, agent, { steps, seed: 2 });
  return { agent, evaluation: await evaluateAgent(sim(), agent, { episodes: EPISODES }) };
}

describe('GroupWindowDiscretizer', () => {
  test('state = 1 + group of the last item × buckets + (same-group count in the window, capped) − 1; 0 for an empty window', () => {
    const groups = Int32Array.from([0, 0, 1, 1, 2]);
    const d = new GroupWindowDiscretizer(groups, 2);
    expect(d.nStates).toBe(1 + 3 * 2);
    const obs = (items: number[]): Observation => {
      const H = 4;
      const row = new Int32Array(H).fill(-1);
      row.set(items, H - items.length);
      return { batch: 1, user: Int32Array.of(0), historyLen: H, historyItems: row, historyRatings: new Float32Array(H), historyTimes: new Float64Array(H), historyCount: Int32Array.of(items.length), stepInEpisode: Int32Array.of(0), featureDim: 0, features: null };
    };
    expect(d.state(obs([]), 0)).toBe(0);
    expect(d.state(obs([4]), 0)).toBe(1 + 2 * 2 + 0);
    expect(d.state(obs([0, 2]), 0)).toBe(1 + 1 * 2 + 0);
    expect(d.state(obs([2, 3, 0, 1]), 0)).toBe(1 + 0 * 2 + 1);
    expect(d.state(obs([0, 1, 0, 1]), 0)).toBe(1 + 0 + 1); // 4 in the group, capped at 2
    expect(d.describe(6)).toBe('last group 2, 2+ of the window in it');
  });

  test('a slate is the group\'s most popular items outside the window, topped up from all items', () => {
    const env = sim(3);
    const agent = new TabularSlateAgent(env, log, { method: 'qlearning' });
    const obs = env.reset(1);
    const counts = new Float64Array(world.nItems);
    for (const i of log.item) counts[i]++;
    const g = 5;
    const slate = agent.slateFor(g, obs, 0);
    const H = obs.historyLen;
    const window = new Set(Array.from(obs.historyItems.subarray(0, H)).filter((i) => i >= 0));
    const inGroup = Array.from({ length: world.nItems }, (_, i) => i).filter((i) => world.itemGroup[i] === g && !window.has(i)).sort((x, y) => counts[y] - counts[x] || x - y);
    expect(Array.from(slate)).toEqual(inGroup.slice(0, 3));
  });
});

describe('tabular agents learn on the simulator (sim:small, defaults)', () => {
  test('Q-learning beats random and random groups (95% CI of the gain > 0); with α = 0 it does not beat random groups', async () => {
    const env = sim();
    const random = await evaluateAgent(sim(), new RandomPolicy(world.nItems, 1, 3), { episodes: EPISODES });
    const randomGroups = await evaluateAgent(sim(), new RandomGroupPolicy(new TabularSlateAgent(env, log, { method: 'qlearning' })), { episodes: EPISODES });
    const q = await trained('qlearning', 0.1);
    for (const base of [random, randomGroups]) {
      const [lo] = differenceCI(returns(q.evaluation), returns(base), { seed: 3 });
      expect(lo, `Q-learning ${q.evaluation.metrics.meanReturn.toFixed(3)} vs ${base.metrics.name} ${base.metrics.meanReturn.toFixed(3)}`).toBeGreaterThan(0);
    }
    const off = await trained('qlearning', 0);
    expect(Array.from(new Set(off.agent.table.q))).toEqual([0]);
    const [lo] = differenceCI(returns(off.evaluation), returns(randomGroups), { seed: 3 });
    expect(lo).toBeLessThanOrEqual(0);
  }, 60_000);

  test('SARSA learns too (beats random groups)', async () => {
    const randomGroups = await evaluateAgent(sim(), new RandomGroupPolicy(new TabularSlateAgent(sim(), log, { method: 'sarsa' })), { episodes: EPISODES });
    const s = await trained('sarsa', 0.1);
    const [lo] = differenceCI(returns(s.evaluation), returns(randomGroups), { seed: 3 });
    expect(lo).toBeGreaterThan(0);
  }, 60_000);

  test('state()/load() resume exactly: a restored agent acts and learns as the original', async () => {
    const { agent } = await trained('sarsa', 0.1, 40);
    const st = await agent.state();
    expect(st.kind).toBe('sarsa');
    const copy = new TabularSlateAgent(sim(), log, { method: 'sarsa', alpha: 0.1, gamma: 0.9, epsilon: { kind: 'linear', start: 1, end: 0.05, steps: 0.6 * 40 * 64 } });
    copy.load(st);
    expect(Array.from(copy.table.q)).toEqual(Array.from(agent.table.q));
    const e1 = sim();
    const e2 = sim();
    let o1 = e1.reset(9);
    let o2 = e2.reset(9);
    for (let t = 0; t < 5; t++) {
      const a1 = await agent.act(o1, { explore: true });
      const a2 = await copy.act(o2, { explore: true });
      expect(Array.from(a2)).toEqual(Array.from(a1));
      const r1 = e1.step(a1);
      const r2 = e2.step(a2);
      agent.observe({ obs: o1, actions: a1, slateSize: 1, result: r1 });
      copy.observe({ obs: o2, actions: a2, slateSize: 1, result: r2 });
      o1 = r1.next;
      o2 = r2.next;
    }
    expect(Array.from(copy.table.q)).toEqual(Array.from(agent.table.q));
    expect(() => new TabularSlateAgent(sim(), log, { method: 'qlearning' }).load(st)).toThrow(/cannot load a 'sarsa' state/);
  });
});

describe('registry: qlearning and sarsa', () => {
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as GnnrlError;
    }
    throw new Error('did not throw');
  };

  test('are listed and their options are checked with coded errors naming <agent>.<key>', () => {
    expect(parseAgentList('q-learning,sarsa')).toEqual(['qlearning', 'sarsa']);
    expect(checkAgentOptions('qlearning', { alpha: 0.5, gamma: 1, epsilon: { kind: 'linear', start: 1, end: 0, steps: 10 }, buckets: 2 })).toBeTruthy();
    for (const [opts, msg] of [
      [{ alpha: 1.5 }, /qlearning\.alpha: expected a number in \[0, 1\]/],
      [{ alpha: -0.1 }, /qlearning\.alpha: expected a number in \[0, 1\]/],
      [{ gamma: 1.01 }, /qlearning\.gamma: expected a number in \[0, 1\], got 1\.01/],
      [{ epsilon: { kind: 'linear', start: 2, end: 0, steps: 5 } }, /qlearning\.epsilon: expected a number in \[0, 1\] or a schedule/],
      [{ buckets: 0 }, /qlearning\.buckets: expected an integer >= 1/],
      [{ lr: 0.1 }, /unknown option 'lr' for qlearning; known: alpha, gamma, epsilon/],
    ] as const) {
      const e = err(() => checkAgentOptions('qlearning', opts));
      expect(e).toBeInstanceOf(GnnrlError);
      expect(e.code).toBe('input');
      expect(e.details.arg).toBe('agent-options');
      expect(e.message).toMatch(msg);
    }
    expect(err(() => checkAgentOptions('sarsa', { gamma: -1 })).details.field).toBe('sarsa.gamma');
  });

  test('createAgent builds them for the simulator and refuses an environment without item groups', async () => {
    const ctx = { engine: null as unknown as Engine, log, model: async () => { throw new Error('no model'); }, state: 'random', seed: 1, steps: 10 };
    const { agent, updatesPerStep } = await createAgent('qlearning', { ...ctx, env: sim() });
    expect(agent).toBeInstanceOf(TabularSlateAgent);
    expect(agent.learns).toBe(true);
    expect(updatesPerStep).toBe(1);
    const plain = sim();
    const bare = { name: 'bare', nUsers: plain.nUsers, nItems: plain.nItems, batch: 64, slateSize: 1, horizon: 30, historyLen: 10, reset: () => plain.reset(1), step: (a: Int32Array) => plain.step(a), finished: plain.finished };
    const e = await createAgent('sarsa', { ...ctx, env: bare }).then(() => null, (x: GnnrlError) => x);
    expect(e?.code).toBe('input');
    expect(e?.message).toMatch(/environment bare has no item groups/);
  });
});
