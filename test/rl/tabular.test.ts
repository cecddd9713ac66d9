import { describe, expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { TabularAgent, type TabularOptions } from '../../src/rl/agents/tabular.js';
import { ChainEnv, CliffWalkEnv, deterministicModel, valueIteration, type DiscreteEnv } from '../../src/rl/env/discrete.js';
import type { ScheduleLike } from '../../src/rl/schedules.js';

/** One episode of on-line learning, capped at `maxSteps` (a cap is not a terminal: done stays false). */
function episode(env: DiscreteEnv, agent: TabularAgent, maxSteps: number): void {
  let s = env.reset();
  let a = agent.act(s);
  for (let t = 0; t < maxSteps; t++) {
    const { s: s2, r, done } = env.step(a);
    const a2 = done ? null : agent.act(s2);
    agent.learn(s, a, r, s2, agent.method === 'sarsa' ? a2 : null, done);
    if (done) return;
    s = s2;
    a = a2!;
  }
}

function train(env: DiscreteEnv, opts: Omit<TabularOptions, 'nStates' | 'nActions'>, episodes: number, maxSteps: number): TabularAgent {
  const agent = new TabularAgent({ nStates: env.nStates, nActions: env.nActions, ...opts });
  for (let e = 0; e < episodes; e++) episode(env, agent, maxSteps);
  return agent;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The greedy path from the start, as the states visited (at most `limit` steps). */
function greedyPath(env: DiscreteEnv, agent: TabularAgent, limit = 100): number[] {
  const path: number[] = [];
  let s = env.reset();
  for (let t = 0; t < limit; t++) {
    const step = env.step(agent.greedy(s));
    path.push(step.s);
    if (step.done) break;
    s = step.s;
  }
  return path;
}

describe('valueIteration', () => {
  it('solves the chain in closed form', () => {
    const env = new ChainEnv({ length: 5, goalReward: 10, backReward: 0.2 });
    const { q, v } = valueIteration(env.model(), 0.9);
    // V*(3) = 10, V*(2) = 9, V*(1) = 8.1, V*(0) = 7.29 (forward beats looping back, 0.2 / 0.1 = 2).
    expect(Array.from(v)).toEqual([7.29, 8.1, 9, 10, 0].map((x, i) => (i === 4 ? 0 : expect.closeTo(x, 10))));
    for (let s = 0; s < 4; s++) expect(q[s * 2 + ChainEnv.BACK]).toBeCloseTo(0.2 + 0.9 * 7.29, 10);
    expect(Array.from(q.subarray(8))).toEqual([0, 0]);
  });

  it('gives −13 from the cliff walk start and refuses a model that never terminates', () => {
    const env = new CliffWalkEnv();
    expect(valueIteration(env.model(), 1).v[env.start]).toBe(-13);
    // One state looping on itself with reward 1 and γ = 1 diverges.
    const loop = deterministicModel(1, 1, Int32Array.from([0]), Float64Array.from([1]), new Uint8Array(1));
    const e = (() => {
      try {
        valueIteration(loop, 1, { maxIterations: 50 });
      } catch (err) {
        return err as GnnrlError;
      }
    })();
    expect(e?.code).toBe('state');
  });
});

describe('TabularAgent', () => {
  const chain = new ChainEnv({ length: 5, goalReward: 10, backReward: 0.2 });
  const qStar = valueIteration(chain.model(), 0.9).q;

  it('Q-learning reaches the Bellman-optimal Q of the chain within 1e-3', () => {
    const agent = train(chain, { gamma: 0.9, alpha: 0.5, epsilon: 0.5, method: 'qlearning', seed: 3 }, 1500, 50);
    expect(maxAbsDiff(agent.q, qStar)).toBeLessThan(1e-3);
    for (let s = 0; s < 4; s++) expect(agent.greedy(s)).toBe(ChainEnv.FORWARD);
  });

  it('with alpha = 0 the same run learns nothing and the error stays large', () => {
    const agent = train(chain, { gamma: 0.9, alpha: 0, epsilon: 0.5, method: 'qlearning', seed: 3 }, 1500, 50);
    expect(maxAbsDiff(agent.q, qStar)).toBeGreaterThan(5);
  });

  // A decaying step size settles the greedy path; ε stays 0.1, as in Sutton & Barto's example 6.6.
  const alpha: ScheduleLike = { kind: 'linear', start: 0.5, end: 0.01, steps: 15_000 };

  it('on the cliff walk, SARSA (ε = 0.1) learns the safe path', () => {
    const env = new CliffWalkEnv();
    const agent = train(env, { gamma: 1, alpha, epsilon: 0.1, method: 'sarsa', seed: 1 }, 500, 10_000);
    const path = greedyPath(env, agent);
    expect(path.at(-1)).toBe(env.goal);
    // Up to the top row, across, and down: 3 + 11 + 3 steps, never next to the cliff in between.
    expect(path.length).toBe(17);
    const row = (s: number) => Math.floor(s / env.cols);
    const col = (s: number) => s % env.cols;
    expect(path.filter((s) => col(s) >= 1 && col(s) <= 10 && row(s) >= 2)).toEqual([]);
    expect(path.some((s) => row(s) === 0)).toBe(true);
  });

  it('on the cliff walk, Q-learning (ε = 0.1) learns the optimal path along the edge', () => {
    const env = new CliffWalkEnv();
    const agent = train(env, { gamma: 1, alpha, epsilon: 0.1, method: 'qlearning', seed: 1 }, 500, 10_000);
    const edge = [24, ...Array.from({ length: 11 }, (_, i) => 25 + i), 47];
    expect(greedyPath(env, agent)).toEqual(edge);
    expect(agent.value(env.start)).toBeCloseTo(-13, 6);
  });

  it('breaks greedy ties uniformly at random, the same for the same seed', () => {
    const make = () => new TabularAgent({ nStates: 2, nActions: 4, gamma: 0.9, method: 'qlearning', seed: 42 });
    const a = make();
    const counts = [0, 0, 0, 0];
    const seq: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const x = a.greedy(0);
      counts[x]!++;
      if (i < 50) seq.push(x);
    }
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
    const b = make();
    expect(Array.from({ length: 50 }, () => b.greedy(0))).toEqual(seq);
    // A unique maximum is always chosen.
    a.q[1 * 4 + 2] = 1;
    expect(new Set(Array.from({ length: 20 }, () => a.greedy(1)))).toEqual(new Set([2]));
  });

  it('resumes from state() exactly where it left off', () => {
    const opts = { gamma: 0.9, alpha: 0.3, epsilon: { kind: 'exponential', start: 1, end: 0.05, halfLife: 200 }, method: 'sarsa', seed: 9 } as const;
    const a = train(chain, opts, 50, 30);
    const snap = a.state();
    expect(snap.epsilon).toEqual(opts.epsilon);
    const b = new TabularAgent({ nStates: 5, nActions: 2, ...opts, seed: 1 });
    b.load(snap);
    expect(b.steps).toBe(a.steps);
    for (let e = 0; e < 20; e++) {
      episode(chain, a, 30);
      episode(chain, b, 30);
    }
    expect(Array.from(b.q)).toEqual(Array.from(a.q));
    expect(b.state().draws).toBe(a.state().draws);
  });

  it('refuses gamma outside [0, 1] and other bad arguments by name', () => {
    const arg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(GnnrlError);
        expect((e as GnnrlError).code).toBe('input');
        return (e as GnnrlError).details.arg;
      }
      throw new Error('no error');
    };
    const base = { nStates: 3, nActions: 2, method: 'qlearning' } as const;
    for (const gamma of [-0.1, 1.01, NaN]) expect(arg(() => new TabularAgent({ ...base, gamma }))).toBe('gamma');
    expect(arg(() => new TabularAgent({ ...base, gamma: 1, nStates: 0 }))).toBe('nStates');
    expect(arg(() => new TabularAgent({ ...base, gamma: 1, method: 'td' as 'sarsa' }))).toBe('method');
    expect(arg(() => new TabularAgent({ ...base, gamma: 1, epsilon: { kind: 'linear', start: 1 } as ScheduleLike }))).toBe('epsilon.end');
    const sarsa = new TabularAgent({ ...base, gamma: 0.5, method: 'sarsa' });
    expect(arg(() => sarsa.learn(0, 1, 1, 2, null, false))).toBe('a2');
    expect(sarsa.learn(0, 1, 1, 2, null, true)).toBe(1);
    expect(arg(() => sarsa.act(3))).toBe('s');
    expect(arg(() => sarsa.learn(0, 2, 0, 1, 0, false))).toBe('a');
    expect(arg(() => new TabularAgent({ ...base, gamma: 1, alpha: 2 }).learn(0, 0, 0, 1, null, false))).toBe('alpha');
  });
});
