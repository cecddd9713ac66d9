/**
 * REINFORCE and its top-K off-policy correction:
 *
 * 1. The gradients of the policy losses match float64 central differences: the plain
 *    surrogate, and the corrected one, whose gradient w·λ_K·A·∇log π is checked against
 *    the finite differences of Σ A·(1 − (1 − π)^K)/β (the top-K objective it is the
 *    gradient of, nothing held fixed), so λ_K itself is under test.
 * 2. On-policy learning on the seeded tiny simulator beats greedy LightGCN with a 95% CI;
 *    with lr 0 it does not. Why greedy LightGCN: the untrained policy's mode is exactly
 *    the GNN's ranking (φ(s) = u, item head = the GNN's item vectors / √d, bias 0), so it
 *    already beats uniform random; against greedy LightGCN the lr-0 control ties exactly
 *    (same mean return), so the check can fail and only learning passes it.
 * 3. Same seed → same slates and parameters; bad inputs → coded errors naming the field.
 *
 * Gradients, determinism and refusals run on the engine the environment picks (native by
 * default here, WebGPU with GNNRL_REQUIRE_GPU=1, CPU with GNNRL_BACKEND=cpu). Learning
 * checks learning, not kernels: it runs on the native backend where the addon loads (CPU
 * where GNNRL_BACKEND=cpu forces it), as dqn-learning.test.ts pins the CPU, so the file
 * stays quick on a software WebGPU adapter. The off-policy check from logs lives in
 * off-policy-correction.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import type { RecommenderModel } from '../../src/models/types.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { GreedyModelPolicy } from '../../src/rl/policies/fixed.js';
import { SoftmaxLoggingPolicy, popularityScorer } from '../../src/rl/policies/logging.js';
import { collectLog } from '../../src/rl/log/collect.js';
import { WindowStateEncoder, randomTables, tablesFromModel } from '../../src/rl/state/window-state.js';
import { windowExclusions } from '../../src/rl/state/exclusions.js';
import { createReinforceAgent, logSteps, policyCoefficients, surrogateLoss, trainReinforceFromLog, type ReinforceOptions } from '../../src/rl/agents/reinforce.js';
import { maskChunk, policyLogits, policyTerms } from '../../src/rl/agents/softmax-policy.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { differenceCI, evaluateAgent, type Evaluation } from '../../src/rl/evaluate.js';
import { grad, parameter, Tensor } from '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';
import { learningEngine } from '../util/backends.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ quiet: true });
});
afterAll(async () => {
  await engine?.dispose();
});

// ------------------------------------------------------------------ 1. gradients

/** Per row: log π(a_r), H_r and π_r in float64 over the eligible items. */
function policyRef(x: Float64Array[], B: number, I: number, d: number, excluded: Set<number>[], actions: Int32Array): { logp: Float64Array; ent: Float64Array } {
  const [phi, items, bias] = x;
  const logp = new Float64Array(B);
  const ent = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const z: number[] = [];
    const idx: number[] = [];
    for (let a = 0; a < I; a++) {
      if (excluded[b].has(a)) continue;
      let s = bias[a];
      for (let c = 0; c < d; c++) s += phi[b * d + c] * items[a * d + c];
      z.push(s);
      idx.push(a);
    }
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((acc, s) => acc + Math.exp(s - m), 0));
    let h = 0;
    z.forEach((s) => {
      const lp = s - lse;
      h -= Math.exp(lp) * lp;
    });
    logp[b] = z[idx.indexOf(actions[b])] - lse;
    ent[b] = h;
  }
  return { logp, ent };
}

function finiteDifferences(f: (x: Float64Array[]) => number, x0: Float64Array[], eps = 1e-5): Float64Array[] {
  return x0.map((arr, k) =>
    Float64Array.from(arr, (_, i) => {
      const xs = x0.map((a) => a.slice());
      xs[k][i] = arr[i] + eps;
      const up = f(xs);
      xs[k][i] = arr[i] - eps;
      return (up - f(xs)) / (2 * eps);
    }),
  );
}

describe('policy-loss gradients against finite differences', () => {
  const B = 6;
  const I = 11;
  const d = 3;
  const H = 2;
  const K = 3;
  const eta = 0.07;
  const rng = new Rng(17);
  const x0 = [B * d, I * d, I].map((n) => Float64Array.from({ length: n }, () => 0.8 * rng.normal()));
  // Windows with padding and a duplicate; actions outside each window.
  const history = Int32Array.from([-1, 4, 2, 2, 0, 9, -1, -1, 10, 3, 5, 6]);
  const excluded = Array.from({ length: B }, (_, b) => new Set(Array.from(history.subarray(b * H, (b + 1) * H)).filter((i) => i >= 0)));
  const actions = Int32Array.from([1, 3, 7, 0, 2, 10]);
  const ret = Float32Array.from([1.5, 0, 2.2, 0.3, 1, 3]);
  const value = Float32Array.from([0.4, 0.1, 1.0, 0.5, 1.2, 0.7]);
  const behaviour = Float64Array.from([0.2, 0.05, 0.3, 0.12, 0.08, 0.25]);

  /** The analytic gradient (on the engine) of the surrogate built by the agent's own functions. */
  async function analytic(withBeta: boolean): Promise<Float64Array[]> {
    return engine.scopeAsync(async () => {
      const params = [parameter(Tensor.fromArray(engine, Float32Array.from(x0[0]), [B, d])), parameter(Tensor.fromArray(engine, Float32Array.from(x0[1]), [I, d])), parameter(Tensor.fromArray(engine, Float32Array.from(x0[2]), [I, 1]))];
      try {
        const mask = maskChunk(engine, windowExclusions(history, B, H), 0, B, I);
        const terms = policyTerms(policyLogits(params[0], params[1], params[2], mask), actions);
        const lp = (await terms.logp.read()) as Float32Array;
        const c = policyCoefficients({ logp: lp, ret, value, beta: withBeta ? behaviour : null, K, correction: { clip: 0, cap: Infinity }, N: B });
        const loss = surrogateLoss({ logp: terms.logp, entropy: terms.entropy }, c.coef, ret, { entropy: eta, valueCoef: 0, N: B });
        const g = grad(() => loss, params);
        return (await Promise.all(g.map((t) => t.read()))).map((a) => Float64Array.from(a as Float32Array));
      } finally {
        params.forEach((p) => p.dispose());
      }
    });
  }

  function expectClose(got: Float64Array[], want: Float64Array[], what: string): void {
    const scale = Math.max(...want.map((w) => Math.max(...Array.from(w, Math.abs))));
    got.forEach((g, k) => g.forEach((v, i) => expect(Math.abs(v - want[k][i]), `${what}: param ${k}[${i}] ${v} vs ${want[k][i]}`).toBeLessThan(2e-3 * scale + 1e-6)));
  }

  test('REINFORCE: −1/N Σ (G − b) log π − η/N Σ H', async () => {
    const f = (x: Float64Array[]) => {
      const { logp, ent } = policyRef(x, B, I, d, excluded, actions);
      let L = 0;
      for (let b = 0; b < B; b++) L += (-(ret[b] - value[b]) * logp[b] - eta * ent[b]) / B;
      return L;
    };
    expectClose(await analytic(false), finiteDifferences(f, x0), 'plain');
  });

  test('top-K corrected: its gradient is that of −1/N Σ (G − b)(1 − (1 − π)^K)/β − η/N Σ H (w and λ_K included)', async () => {
    const f = (x: Float64Array[]) => {
      const { logp, ent } = policyRef(x, B, I, d, excluded, actions);
      let L = 0;
      for (let b = 0; b < B; b++) L += (-(ret[b] - value[b]) * (1 - (1 - Math.exp(logp[b])) ** K) / behaviour[b] - eta * ent[b]) / B;
      return L;
    };
    expectClose(await analytic(true), finiteDifferences(f, x0), 'corrected');
  });
});

// ------------------------------------------------------------------ 2. on-policy learning

const world = syntheticWorld({ preset: 'tiny', seed: 7 });
const EPISODES = 512;
const returns = (e: Evaluation) => e.records.map((r) => r.return);

describe('REINFORCE learns on the simulator', () => {
  const STEPS = 250;
  let eng: Engine;
  let model: RecommenderModel;
  let greedy: Evaluation;

  beforeAll(async () => {
    eng = await learningEngine();
    const train = world.interactions;
    model = await getModel('lightgcn').create({ engine: eng, train, graph: trainingGraph(train.user, train.item, world.nUsers, world.nItems), options: { dim: 32, seed: 1 } });
    await model.fit(train, { epochs: 20 });
    greedy = await evaluateAgent(new Simulator(world, { batch: 64 }), new GreedyModelPolicy(model, 1), { episodes: EPISODES });
  });
  afterAll(async () => {
    model?.dispose();
    await eng?.dispose();
  });

  async function onPolicy(lr: number): Promise<Evaluation> {
    const encoder = new WindowStateEncoder(eng, await tablesFromModel(eng, model), 10);
    const agent = await createReinforceAgent({ engine: eng, encoder, slots: 64, slateSize: 1, nItems: world.nItems }, { lr, seed: 1, batchSize: 256 });
    try {
      await trainAgent(new Simulator(world, { batch: 64 }), agent, { steps: STEPS, seed: 2, updatesPerStep: 1 });
      return await evaluateAgent(new Simulator(world, { batch: 64 }), agent, { episodes: EPISODES });
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  }

  test('trained on-policy, it beats greedy LightGCN (95% CI of the gain > 0)', async () => {
    const learned = await onPolicy(5e-3);
    const [lo] = differenceCI(returns(learned), returns(greedy), { seed: 3 });
    expect(lo, `REINFORCE ${learned.metrics.meanReturn.toFixed(3)} vs greedy ${greedy.metrics.meanReturn.toFixed(3)}`).toBeGreaterThan(0);
  });

  test('with lr 0 the same comparison fails (its mode is the GNN ranking)', async () => {
    const off = await onPolicy(0);
    const [lo] = differenceCI(returns(off), returns(greedy), { seed: 3 });
    expect(lo).toBeLessThanOrEqual(0);
  });
});

// ------------------------------------------------------------------ 3. determinism and refusals

describe('determinism and bad inputs', () => {
  const H = 3;
  const small = async (opts: ReinforceOptions & { topK?: boolean }) => {
    const encoder = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, 4, 2), H);
    const agent = await createReinforceAgent({ engine, encoder, slots: 8, slateSize: 2, nItems: world.nItems }, { hidden: [5], batchSize: 20, ...opts });
    return { agent, encoder };
  };

  test('same seed → same slates, updates and parameters', async () => {
    const run = async () => {
      const { agent, encoder } = await small({ seed: 9, topK: true, lr: 1e-2 });
      try {
        const r = await trainAgent(new Simulator(world, { batch: 8, historyLen: H, slateSize: 2 }), agent, { steps: 40, seed: 4 });
        return { returns: r.episodeReturns, updates: agent.updates, state: await agent.state() };
      } finally {
        agent.dispose();
        encoder.dispose();
      }
    };
    const a = await run();
    const b = await run();
    expect(a.updates).toBeGreaterThan(0);
    expect(b.returns).toEqual(a.returns);
    expect(b.updates).toBe(a.updates);
    for (const [k, v] of Object.entries(a.state.arrays)) expect(Array.from(b.state.arrays[k]), k).toEqual(Array.from(v));
  });

  test("on-policy 'logged' β is π's own acting probability: with lr 0, w = 1 and λ_K = K(1 − π)^{K−1} ≤ K", async () => {
    const { agent, encoder } = await small({ seed: 3, topK: true, behaviour: 'logged', lr: 0 });
    try {
      const r = await trainAgent(new Simulator(world, { batch: 8, historyLen: H, slateSize: 2 }), agent, { steps: 40, seed: 4 });
      const extra = r.lastUpdate!.extra!;
      expect(Math.abs(extra.meanWeight - 1)).toBeLessThan(1e-4);
      expect(extra.meanLambda).toBeGreaterThan(1);
      expect(extra.meanLambda).toBeLessThanOrEqual(2);
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  });

  test('rank and greedy acting skip the window; memory stays flat across updates', async () => {
    const { agent, encoder } = await small({ seed: 5, lr: 1e-2, topK: true });
    try {
      const env = new Simulator(world, { batch: 8, historyLen: H, slateSize: 2 });
      const obs = env.reset(3);
      const ranked = await agent.rank(obs, 7);
      const acted = await agent.act(obs, { explore: false });
      for (let b = 0; b < 8; b++) {
        const window = new Set(Array.from(obs.historyItems.subarray(b * H, (b + 1) * H)));
        const row = Array.from(ranked.subarray(b * 7, (b + 1) * 7));
        expect(new Set(row).size).toBe(7);
        row.forEach((i) => expect(window.has(i)).toBe(false));
        expect(Array.from(acted.subarray(b * 2, b * 2 + 2))).toEqual(row.slice(0, 2));
      }
      const batch = () => ({ user: Int32Array.from({ length: 30 }, (_, i) => i % world.nUsers), history: new Int32Array(30 * H).fill(-1), action: Int32Array.from({ length: 30 }, (_, i) => (i * 7) % world.nItems), ret: new Float32Array(30).fill(1), beta: null });
      await agent.learn(batch());
      const before = engine.memoryStats().liveBytes;
      for (let i = 0; i < 3; i++) await agent.learn(batch());
      expect(engine.memoryStats().liveBytes).toBe(before);
      expect(agent.updates).toBe(4);
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  });

  test('logSteps: returns within sessions in logged order, right-aligned windows, clicked item else the first, per-item β', () => {
    const K = 2;
    // Two sessions interleaved and out of order in the file; session 8 has three events.
    const log = {
      n: 5,
      slateSize: K,
      historyLen: 2,
      user: Int32Array.from([0, 1, 0, 0, 1]),
      session: Int32Array.from([8, 9, 8, 8, 9]),
      step: Int32Array.from([2, 0, 0, 1, 1]),
      history: Int32Array.from([5, 6, -1, -1, -1, -1, -1, 5, -1, 3]),
      slate: Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
      position: Int32Array.from([1, -1, 0, -1, 1]),
      reward: Float32Array.from([1, 0, 2, 0, 4]),
      propensity: Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5]),
      positionPropensity: Float64Array.from([0.3, 0.31, 0.4, 0.41, 0.5, 0.51, 0.6, 0.61, 0.7, 0.71]),
      time: Float64Array.from([2, 0, 0, 1, 1]),
      propensitySource: 'logged' as const,
    };
    const s = logSteps(log, { nItems: 20, nUsers: 2, historyLen: 3 }, 0.5, true);
    // Session 8 in order: event 2 (r 2), event 3 (r 0), event 0 (r 1); session 9: event 1 (r 0), event 4 (r 4).
    expect(Array.from(s.ret)).toEqual([1, 0 + 0.5 * 4, 2 + 0.5 * (0 + 0.5 * 1), 0 + 0.5 * 1, 4]);
    expect(Array.from(s.action)).toEqual([2, 3, 5, 7, 10]);
    expect(Array.from(s.beta!)).toEqual([0.31, 0.4, 0.5, 0.6, 0.71]);
    expect(Array.from(s.history)).toEqual([-1, 5, 6, -1, -1, -1, -1, -1, -1, -1, -1, 5, -1, -1, 3]);
  });

  test('state() round-trips through load(), and a state for another catalogue is refused', async () => {
    const { agent, encoder } = await small({ seed: 1 });
    try {
      const s = await agent.state();
      agent.load(s);
      expect(() => agent.load({ ...s, config: { ...s.config, nItems: 7 } })).toThrow(GnnrlError);
      expect(() => agent.load({ ...s, kind: 'dqn' })).toThrow(/cannot load a 'dqn' state/);
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  });

  async function expectCoded(p: Promise<unknown> | (() => unknown), arg: string, field?: string): Promise<void> {
    let caught: unknown;
    try {
      await (typeof p === 'function' ? p() : p);
    } catch (err) {
      caught = err;
    }
    expect(caught, `expected an error naming ${arg}`).toBeInstanceOf(GnnrlError);
    expect((caught as GnnrlError).code).toBe('input');
    expect((caught as GnnrlError).details.arg).toBe(arg);
    if (field !== undefined) expect((caught as GnnrlError).details.field).toBe(field);
  }

  test('bad options are coded input errors naming the option', async () => {
    const encoder = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, 4, 2), H);
    try {
      const ctx = { engine, encoder, slots: 4, slateSize: 1, nItems: world.nItems };
      for (const [opts, arg] of [
        [{ gamma: 1.5 }, 'gamma'],
        [{ lr: -1 }, 'lr'],
        [{ batchSize: 0 }, 'batchSize'],
        [{ entropy: -0.1 }, 'entropy'],
        [{ hidden: [0] }, 'hidden'],
        [{ behaviour: 'guess' }, 'behaviour'],
        [{ clip: 1 }, 'clip'],
        [{ cap: 0 }, 'cap'],
        [{ chunkElements: 0 }, 'chunkElements'],
        [{ topK: 'yes' }, 'topK'],
      ] as [Record<string, unknown>, string][]) {
        await expectCoded(createReinforceAgent(ctx, opts as ReinforceOptions), arg);
      }
      await expectCoded(createReinforceAgent({ ...ctx, nItems: world.nItems + 1 }, {}), 'nItems');
      await expectCoded(createReinforceAgent({ ...ctx, slateSize: 0 }, {}), 'slateSize');
    } finally {
      encoder.dispose();
    }
  });

  test('bad logs: propensity outside (0, 1], another catalogue, an empty log, whole-slate propensities with logged β', async () => {
    const { agent, encoder } = await small({ seed: 1, topK: true, behaviour: 'logged' });
    try {
      const logger = new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 1, { seed: 2 });
      const { log } = await collectLog(new Simulator(world, { batch: 8, historyLen: H }), logger, { steps: 5, seed: 1 });
      const bad = (p: number) => {
        const propensity = log.propensity.slice();
        propensity[3] = p;
        return { ...log, propensity };
      };
      for (const p of [0, -0.2, 1.5, Number.NaN]) await expectCoded(trainReinforceFromLog(agent, bad(p)), 'log', 'propensity');
      const slate = log.slate.slice();
      slate[2] = world.nItems + 5;
      await expectCoded(trainReinforceFromLog(agent, { ...log, slate }), 'log', 'nItems');
      const user = log.user.slice();
      user[0] = world.nUsers;
      await expectCoded(trainReinforceFromLog(agent, { ...log, user }), 'log', 'user');
      await expectCoded(trainReinforceFromLog(agent, { ...log, n: 0, user: new Int32Array(0), slate: new Int32Array(0), history: new Int32Array(0) }), 'log', 'n');
      await expectCoded(trainReinforceFromLog(agent, log, { epochs: 0 }), 'epochs');
      await expectCoded(trainReinforceFromLog(agent, log, { behaviour: 'both' as never }), 'behaviour');
      const { log: slates } = await collectLog(new Simulator(world, { batch: 8, historyLen: H, slateSize: 2 }), new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 2, { seed: 2 }), { steps: 3, seed: 1 });
      await expectCoded(trainReinforceFromLog(agent, slates), 'behaviour', 'positionPropensities');
      // The learned head needs no per-item propensity.
      await expect(trainReinforceFromLog(agent, slates, { behaviour: 'learned' })).resolves.toMatchObject({ epochs: 1 });
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  });
});
