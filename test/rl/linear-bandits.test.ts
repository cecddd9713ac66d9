/**
 * LinUCB and linear Thompson sampling: the exact Sherman–Morrison inverse against a direct
 * one, the per-slot projected scores against the features computed directly, sub-linear
 * regret on a linear bandit (and linear regret for a policy that does not learn), the
 * learning test on the simulator (both beat random with a 95% CI excluding 0; with
 * updates switched off LinUCB does not), checkpoints, and option checks.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import type { RecommenderModel } from '../../src/models/types.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { differenceCI, evaluateAgent } from '../../src/rl/evaluate.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { RandomPolicy } from '../../src/rl/policies/fixed.js';
import { checkAgentOptions, createAgent, parseAgentList } from '../../src/rl/registry.js';
import { randomTables } from '../../src/rl/state/window-state.js';
import { RidgeModel, invertSpd } from '../../src/rl/agents/linear-bandit.js';
import { LinUcbAgent } from '../../src/rl/agents/linucb.js';
import { LinTsAgent } from '../../src/rl/agents/lin-ts.js';
import type { Observation } from '../../src/rl/types.js';

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/** One slot's observation with a given window (H = window length, −1 padded). */
function obsOf(user: number, window: number[], H: number): Observation {
  const historyItems = new Int32Array(H).fill(-1);
  historyItems.set(window, H - window.length);
  return { batch: 1, user: Int32Array.of(user), historyLen: H, historyItems, historyRatings: new Float32Array(H), historyTimes: new Float64Array(H), historyCount: Int32Array.of(window.length), stepInEpisode: Int32Array.of(0), featureDim: 0, features: null };
}

describe('the ridge model', () => {
  test('Sherman–Morrison keeps the exact inverse of A = λI + Σ x xᵀ, and θ̂ = A⁻¹b', () => {
    const D = 13;
    const rng = new Rng(3);
    const m = new RidgeModel(D, 0.7);
    const x = new Float64Array(D);
    for (let t = 0; t < 400; t++) {
      for (let i = 0; i < D; i++) x[i] = rng.normal() * (1 + (i % 3));
      m.update(x, rng.normal());
    }
    const direct = invertSpd(m.A, D);
    expect(maxRelErr(m.Ainv, direct)).toBeLessThan(1e-9);
    // A·A⁻¹ = I.
    let off = 0;
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let k = 0; k < D; k++) s += m.A[i * D + k] * m.Ainv[k * D + j];
        off = Math.max(off, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(off).toBeLessThan(1e-9);
    const theta = m.theta();
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += m.A[i * D + j] * theta[j];
      expect(s).toBeCloseTo(m.b[i], 8);
    }
    expect(m.count).toBe(400);
  });
});

describe('scores over the catalogue', () => {
  test("LinUCB's projected bound equals θ̂·x + α√(xᵀA⁻¹x) from the features; Thompson's mean without exploring equals θ̂·x", async () => {
    const tables = randomTables(7, 23, 5, 4);
    const ucb = new LinUcbAgent({ tables, historyLen: 4, slateSize: 1 }, { alpha: 0.8, lambda: 0.5, seed: 2 });
    const ts = new LinTsAgent({ tables, historyLen: 4, slateSize: 1 }, { nu: 0.3, seed: 2 });
    const rng = new Rng(8);
    // Some learning first, so θ̂ and A⁻¹ are not trivial.
    for (let t = 0; t < 60; t++) {
      const obs = obsOf(rng.int(7), [rng.int(23), rng.int(23)], 4);
      const actions = Int32Array.of(rng.int(23));
      const result = { reward: Float32Array.of(rng.next() < 0.4 ? 1 : 0), click: new Uint8Array(1), conversion: new Uint8Array(1), choice: Int32Array.of(0), done: new Uint8Array(1), skipped: new Uint8Array(1), next: obs };
      for (const a of [ucb, ts]) {
        a.observe({ obs, actions, slateSize: 1, result });
        await a.update();
      }
    }
    const obs = obsOf(3, [5, 9, 11], 4);
    const D = ucb.featureDim;
    const u = Float64Array.from({ length: 5 }, (_, k) => (ucb as unknown as { users: Float64Array }).users[3 * 5 + k]);
    const items = (ucb as unknown as { items: Float64Array }).items;
    const w = new Float64Array(5);
    for (const i of [5, 9, 11]) for (let k = 0; k < 5; k++) w[k] += items[i * 5 + k] / 3;
    for (const [agent, explore] of [[ucb, true], [ucb, false], [ts, false]] as const) {
      const theta = agent.model.theta();
      const got = agent.itemScores(obs, 0, explore);
      const want = new Float64Array(23);
      const x = new Float64Array(D);
      for (let i = 0; i < 23; i++) {
        agent.features(u, w, i, x);
        let mean = 0;
        for (let j = 0; j < D; j++) mean += theta[j] * x[j];
        let q = 0;
        for (let r = 0; r < D; r++) for (let c = 0; c < D; c++) q += x[r] * agent.model.Ainv[r * D + c] * x[c];
        want[i] = mean + (agent === ucb && explore ? 0.8 * Math.sqrt(q) : 0);
      }
      expect(maxRelErr(got, want)).toBeLessThan(1e-10);
    }
    // rank(): the greedy ranking by θ̂·x, past the window by default, or past the rows given.
    const mean0 = ucb.itemScores(obs, 0, false);
    const order = Array.from({ length: 23 }, (_, i) => i).sort((p, q) => mean0[q] - mean0[p] || p - q);
    expect(Array.from(await ucb.rank(obs, 5))).toEqual(order.filter((i) => ![5, 9, 11].includes(i)).slice(0, 5));
    expect(Array.from(await ucb.rank(obs, 5, { rowPtr: Int32Array.of(0, 0), colIdx: new Int32Array(0) }))).toEqual(order.slice(0, 5));
    const all = await ucb.rank(obs, 22);
    expect(Array.from(all.subarray(20))).toEqual([-1, -1]);
    // Thompson's exploring scores are draws around the mean: different each time, centred on it.
    const mean = ts.itemScores(obs, 0, false);
    const a = ts.itemScores(obs, 0, true);
    const b = ts.itemScores(obs, 0, true);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(mean));
  });
});

describe('the pending queue', () => {
  test('update() folds in what observe() queued; without updates only the newest queueCapacity rows are kept', async () => {
    const tables = randomTables(4, 12, 3, 2);
    const agent = new LinUcbAgent({ tables, historyLen: 2, slateSize: 1 }, { queueCapacity: 4 });
    const step = (item: number, r: number) => {
      const obs = obsOf(1, [0], 2);
      agent.observe({ obs, actions: Int32Array.of(item), slateSize: 1, result: { reward: Float32Array.of(r), click: new Uint8Array(1), conversion: new Uint8Array(1), choice: Int32Array.of(0), done: new Uint8Array(1), skipped: new Uint8Array(1), next: obs } });
    };
    expect(await agent.update()).toBeNull();
    for (let t = 0; t < 10; t++) step(t, t);
    const rep = await agent.update();
    expect(rep!.extra).toEqual({ observations: 4, dropped: 6 });
    // The kept rows are the newest: items 6..9 with rewards 6..9, the same model as folding them in directly.
    const direct = new RidgeModel(agent.featureDim, 1);
    const u = Float64Array.from({ length: 3 }, (_, k) => (agent as unknown as { users: Float64Array }).users[3 + k]);
    const w = Float64Array.from({ length: 3 }, (_, k) => (agent as unknown as { items: Float64Array }).items[k]);
    const x = new Float64Array(agent.featureDim);
    for (let t = 6; t < 10; t++) direct.update(agent.features(u, w, t, x), t);
    expect(maxRelErr(agent.model.b, direct.b)).toBeLessThan(1e-12);
    expect(await agent.update()).toBeNull();
  });
});

describe('regret on a linear bandit', () => {
  /** Rewards linear in the agent's own features: θ*·x(u, a) + noise. Returns the cumulative regret curve. */
  async function regretCurve(learn: boolean, T: number): Promise<Float64Array> {
    const nUsers = 20;
    const nItems = 30;
    const d = 4;
    const tables = randomTables(nUsers, nItems, d, 11);
    const agent = new LinUcbAgent({ tables, historyLen: 1, slateSize: 1 }, { alpha: 0.5, seed: 1 });
    const rng = new Rng(5);
    const thetaStar = Float64Array.from({ length: agent.featureDim }, () => 0.3 * rng.normal());
    const x = new Float64Array(agent.featureDim);
    const value = (u: Float64Array, w: Float64Array, i: number) => {
      agent.features(u, w, i, x);
      let s = 0;
      for (let j = 0; j < x.length; j++) s += thetaStar[j] * x[j];
      return s;
    };
    const users = (agent as unknown as { users: Float64Array }).users;
    const zero = new Float64Array(d);
    const curve = new Float64Array(T);
    let regret = 0;
    for (let t = 0; t < T; t++) {
      const user = rng.int(nUsers);
      const u = users.subarray(user * d, (user + 1) * d);
      const obs = obsOf(user, [], 1);
      const a = (await agent.act(obs, { explore: true }))[0];
      let best = -Infinity;
      for (let i = 0; i < nItems; i++) best = Math.max(best, value(u, zero, i));
      regret += best - value(u, zero, a);
      curve[t] = regret;
      const r = value(u, zero, a) + 0.1 * rng.normal();
      agent.observe({ obs, actions: Int32Array.of(a), slateSize: 1, result: { reward: Float32Array.of(r), click: new Uint8Array(1), conversion: new Uint8Array(1), choice: Int32Array.of(0), done: new Uint8Array(1), skipped: new Uint8Array(1), next: obs } });
      if (learn) await agent.update();
    }
    return curve;
  }

  /** Least-squares slope of log R(t) against log t over t in [lo, T]. */
  function logSlope(curve: Float64Array, lo: number): number {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let t = lo; t <= curve.length; t += 10) {
      xs.push(Math.log(t));
      ys.push(Math.log(curve[t - 1]));
    }
    const mx = xs.reduce((s, v) => s + v, 0) / xs.length;
    const my = ys.reduce((s, v) => s + v, 0) / ys.length;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < xs.length; i++) {
      sxy += (xs[i] - mx) * (ys[i] - my);
      sxx += (xs[i] - mx) ** 2;
    }
    return sxy / sxx;
  }

  test("LinUCB's cumulative regret grows sub-linearly (log–log slope well below 1); without updates it grows linearly", async () => {
    const learned = await regretCurve(true, 3000);
    const frozen = await regretCurve(false, 3000);
    const s = logSlope(learned, 300);
    expect(s, `slope ${s}`).toBeLessThan(0.75);
    const f = logSlope(frozen, 300);
    expect(f).toBeGreaterThan(0.95);
    expect(learned[2999]).toBeLessThan(0.2 * frozen[2999]);
  });
});

describe('learning on the simulator (seeded, small)', () => {
  let engine: Engine;
  let gnn: RecommenderModel;
  const world = syntheticWorld({ preset: 'tiny', seed: 5 });
  const log = world.interactions;
  beforeAll(async () => {
    engine = await Engine.create({ backend: 'cpu', quiet: true });
    gnn = await getModel('lightgcn').create({ engine, train: log, graph: trainingGraph(log.user, log.item, log.nUsers, log.nItems), options: { dim: 16, seed: 1 } });
    await gnn.fit(log, { epochs: 10 });
  }, 60_000);
  afterAll(async () => {
    gnn.dispose();
    await engine.dispose();
  });

  async function trained(name: string, options: Record<string, unknown>, steps = 300) {
    const env = new Simulator(world);
    const created = await createAgent(name, { engine, env, log, model: async () => gnn, state: 'lightgcn', options, seed: 3, steps });
    await trainAgent(env, created.agent, { steps, seed: 4, updatesPerStep: created.updatesPerStep });
    return created.agent;
  }

  async function versusRandom(agent: Awaited<ReturnType<typeof trained>>) {
    const evalEnv = new Simulator(world);
    const a = await evaluateAgent(evalEnv, agent, { episodes: 256, seed: 9 });
    const r = await evaluateAgent(evalEnv, new RandomPolicy(world.nItems, 1, 2), { episodes: 256, seed: 9 });
    return { ci: differenceCI(a.records.map((x) => x.return), r.records.map((x) => x.return), { seed: 1 }), a: a.metrics.meanReturn, r: r.metrics.meanReturn };
  }

  test('LinUCB beats random with a 95% CI excluding 0; with updates switched off it does not', async () => {
    const on = await versusRandom(await trained('linucb', {}));
    expect(on.ci[0], `LinUCB ${on.a} vs random ${on.r}, CI ${on.ci}`).toBeGreaterThan(0);
    const off = await versusRandom(await trained('linucb', { updatesPerStep: 0 }));
    expect(off.ci[0], `frozen LinUCB ${off.a} vs random ${off.r}, CI ${off.ci}`).toBeLessThanOrEqual(0);
  }, 60_000);

  test('linear Thompson sampling beats random with a 95% CI excluding 0', async () => {
    const on = await versusRandom(await trained('lints', {}));
    expect(on.ci[0], `LinTS ${on.a} vs random ${on.r}, CI ${on.ci}`).toBeGreaterThan(0);
  }, 60_000);

  test('state() and load() restore the model: the same greedy slates', async () => {
    const agent = await trained('linucb', { alpha: 0.5 }, 40);
    const state = await agent.state();
    expect(state.kind).toBe('linucb');
    expect(state.config.alpha).toBe(0.5);
    const env = new Simulator(world);
    const fresh = (await createAgent('linucb', { engine, env, log, model: async () => gnn, state: 'lightgcn', options: { alpha: 0.5 }, seed: 3 })).agent as LinUcbAgent;
    const obs = env.reset(77);
    expect(Array.from(await fresh.act(obs, { explore: false }))).not.toEqual(Array.from(await agent.act(obs, { explore: false })));
    fresh.load(state);
    const s1 = (agent as LinUcbAgent).itemScores(obs, 0, false);
    const s2 = fresh.itemScores(obs, 0, false);
    expect(maxRelErr(s2, s1)).toBeLessThan(1e-4);
    expect(Array.from(await fresh.act(obs, { explore: false }))).toEqual(Array.from(await agent.act(obs, { explore: false })));
    const other = new LinUcbAgent({ tables: randomTables(world.nUsers, 50, 16, 1), historyLen: 10, slateSize: 1 });
    expect(() => other.load(state)).toThrow(/the state is for 120 items, this environment has 50/);
    expect(() => new LinTsAgent({ tables: randomTables(world.nUsers, 120, 16, 1), historyLen: 10, slateSize: 1 }).load(state)).toThrow(/lints: cannot load a 'linucb' state/);
  }, 60_000);
});

describe('names and options', () => {
  test('aliases, and option errors naming <agent>.<key>', () => {
    expect(parseAgentList('lin-ucb,thompson,LinTS,ucb')).toEqual(['linucb', 'lints']);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as GnnrlError;
      }
      throw new Error('did not throw');
    };
    const e = err(() => checkAgentOptions('linucb', { alpha: -1 }));
    expect(e.code).toBe('input');
    expect(e.message).toMatch(/linucb\.alpha: expected a number >= 0, got -1/);
    expect(e.details.field).toBe('linucb.alpha');
    expect(err(() => checkAgentOptions('lints', { alpha: 1 })).message).toMatch(/unknown option 'alpha' for lints; known: nu, lambda, seed, updatesPerStep/);
    expect(err(() => checkAgentOptions('lints', { lambda: 0 })).message).toMatch(/lints\.lambda: expected a number > 0/);
    const t = randomTables(3, 10, 2, 1);
    expect(() => new LinUcbAgent({ tables: t, historyLen: 2, slateSize: 1 }, { lambda: 0 })).toThrow(/lambda: expected a finite number > 0, got 0/);
    expect(() => new LinUcbAgent({ tables: t, historyLen: 2, slateSize: 11 })).toThrow(/slateSize: expected an integer in \[1, 10\]/);
  });
});
