/**
 * DQN's dueling head and Boltzmann exploration:
 *
 * - dueling targets (plain and Double; done rows, windows masked, γ^m) against a float64
 *   host reference built from the read-back weights, with V's weights set to random
 *   values so that V's part of the target is tested too;
 * - a fresh dueling agent is the plain one (V starts at φ·ē, cancelling mean A); zeroing
 *   V's weight shifts each prediction by −φ·ē − b̄, the mean advantage;
 * - the gradient of a squared TD loss of the dueling prediction w.r.t. V's weight, two
 *   item rows (one taken, one reached only through ē) and φ's last layer against central
 *   finite differences of the host reference;
 * - Boltzmann slates: first-item frequencies match softmax(Q/τ) over the eligible items
 *   (χ²), window items never drawn, τ → 0 is greedy, a seed repeats its slates;
 * - state() / load() with the dueling head, and the refusals.
 *
 * Targets and gradients run on every backend (forEachBackend); the sampling tests on the
 * learning engine (native where the addon loads, else the CPU).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { qTargetsReference } from '../../src/kernels/qtarget.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { DqnAgent, type DqnOptions } from '../../src/rl/agents/dqn.js';
import { WindowStateEncoder, randomTables } from '../../src/rl/state/window-state.js';
import { windowExclusions } from '../../src/rl/state/exclusions.js';
import { checkAgentOptions } from '../../src/rl/registry.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { grad } from '../../src/tensor/autograd.js';
import { mul, square, sub } from '../../src/tensor/ops/elementwise.js';
import { sum } from '../../src/tensor/ops/reduce.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Observation } from '../../src/rl/types.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, learningEngine } from '../util/backends.js';
import { chiSquare, chiSquareCritical } from '../util/chi2.js';
import { hostWindowStates } from './window-state-reference.js';
import { dqnPhi64 } from './mlp-reference.js';
import { randomTransitions as sharedRandomTransitions } from './random-transitions.js';

const world = syntheticWorld({ preset: 'tiny', seed: 11 });
const H = 3;
const D = 5;
const SLOTS = 13;
type Arrays = Record<string, Float32Array | Int32Array>;

async function agentOn(engine: Engine, opts: DqnOptions, slateSize = 1): Promise<{ agent: DqnAgent; env: Simulator; encoder: WindowStateEncoder }> {
  const env = new Simulator(world, { batch: SLOTS, historyLen: H, slateSize });
  const encoder = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 4), H);
  const agent = await DqnAgent.create({ engine, encoder, slots: SLOTS, slateSize }, { hidden: [7], batchSize: 29, learningStarts: 40, seed: 3, ...opts });
  return { agent, env, encoder };
}

/** φ(s) = u + MLP(s) on the host from a state() dump (float64). */
function phiHost(arrays: Arrays, prefix: string, x: Float64Array, rows: number): Float64Array {
  return dqnPhi64(arrays as Record<string, ArrayLike<number>>, prefix, x, rows, D);
}

/** V(s) − φ(s)·ē − b̄ per row on the host, from `prefix`'s arrays. */
function stateTermHost(arrays: Arrays, prefix: string, phi: ArrayLike<number>, rows: number): Float64Array {
  const items = arrays[`${prefix}.items`];
  const bias = arrays[`${prefix}.itemBias`];
  const w = arrays[`${prefix}.value.weight`];
  const c = arrays[`${prefix}.value.bias`][0];
  const I = bias.length;
  const eBar = new Float64Array(D);
  let bBar = 0;
  for (let i = 0; i < I; i++) {
    bBar += bias[i] / I;
    for (let k = 0; k < D; k++) eBar[k] += items[i * D + k] / I;
  }
  return Float64Array.from({ length: rows }, (_, r) => {
    let s = c - bBar;
    for (let k = 0; k < D; k++) s += phi[r * D + k] * (w[k] - eBar[k]);
    return s;
  });
}

/** The shared random transitions over this file's world and window. */
function randomTransitions(B: number, rng: Rng) {
  return sharedRandomTransitions(B, rng, { nUsers: world.nUsers, nItems: world.nItems, historyLen: H });
}

/** Random values into both networks' V heads (different ones), so that V's part can fail a test. */
function randomiseValueHeads(engine: Engine, agent: DqnAgent, rng: Rng): void {
  for (const net of [agent.online, agent.target]) {
    const v = net.value!;
    engine.write(v.weight.data, Float32Array.from({ length: D }, () => rng.normal()));
    engine.write(v.bias!.data, Float32Array.of(rng.uniform(-1, 1)));
  }
}

function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

forEachBackend('DQN dueling head', (bk) => {
  for (const double of [false, true]) {
    test(`${double ? 'Double' : 'plain'} dueling targets equal a host reference (V ≠ 0, masks, done, γ^m)`, async (ctx) => {
      const engine = bk.engine(ctx);
      const { agent, env, encoder } = await agentOn(engine, { double, dueling: true, targetUpdate: 1000 });
      try {
        await trainAgent(env, agent, { steps: 12, seed: 2, updatesPerStep: 2 });
        expect(agent.updates).toBeGreaterThan(0);
        randomiseValueHeads(engine, agent, new Rng(double ? 5 : 6));
        const st = await agent.state();
        const a = st.arrays;
        expect(rel(a['online.items'], a['target.items'])).toBeGreaterThan(0);
        const B = 37;
        const t = randomTransitions(B, new Rng(double ? 91 : 19));
        const x = (await hostWindowStates(encoder)).states(t.nextUser, t.nextHistory);
        const phiT = phiHost(a, 'target', x, B);
        const phiO = phiHost(a, 'online', x, B);
        const exclude = windowExclusions(t.nextHistory, B, H);
        const tgt = { items: a['target.items'] as Float32Array, bias: a['target.itemBias'] as Float32Array };
        const onl = { items: a['online.items'] as Float32Array, bias: a['online.itemBias'] as Float32Array };
        const noReward = new Float32Array(B);
        const noDone = new Float32Array(B);
        // The advantage part: the max (plain) or A_t at the online argmax (Double), over the eligible items.
        const ref = (phi: Float64Array, net: typeof tgt) =>
          qTargetsReference({ next: Float32Array.from(phi), batch: B, dim: D, nItems: world.nItems, online: net.items, target: net.items, onlineBias: net.bias, targetBias: net.bias, reward: noReward, done: noDone, exclude, gamma: 1, double: false });
        let adv: Float64Array;
        if (!double) adv = Float64Array.from(ref(phiT, tgt).y);
        else {
          const pick = ref(phiO, onl).argmax;
          adv = Float64Array.from({ length: B }, (_, b) => {
            let s = tgt.bias[pick[b]];
            for (let k = 0; k < D; k++) s += phiT[b * D + k] * tgt.items[pick[b] * D + k];
            return s;
          });
        }
        const terms = stateTermHost(a, 'target', phiT, B);
        expect(Math.max(...Array.from(terms, Math.abs))).toBeGreaterThan(0.1);
        const want = Float64Array.from({ length: B }, (_, i) => t.reward[i] + (t.done[i] ? 0 : t.gammaN[i]) * (adv[i] + terms[i]));
        const got = await agent.targetsFor(t);
        expect(rel(got, want)).toBeLessThan(1e-4);
        for (let b = 0; b < B; b++) if (t.done[b]) expect(got[b]).toBeCloseTo(t.reward[b], 5);
        // Without V's part the reference is off: the test sees it.
        const plainWant = Float64Array.from({ length: B }, (_, i) => t.reward[i] + (t.done[i] ? 0 : t.gammaN[i]) * adv[i]);
        expect(rel(got, plainWant)).toBeGreaterThan(1e-2);
      } finally {
        agent.dispose();
        encoder.dispose();
      }
    });
  }

  test('a fresh dueling agent has the plain agent’s targets, predictions and Q; zero w_v subtracts the mean advantage', async (ctx) => {
    const engine = bk.engine(ctx);
    const plain = await agentOn(engine, { targetUpdate: 1000 });
    const duel = await agentOn(engine, { dueling: true, targetUpdate: 1000 });
    try {
      const sp = await plain.agent.state();
      const sd = await duel.agent.state();
      // Same φ and item head (the V head takes no draw from the initialisation stream).
      for (const [k, v] of Object.entries(sp.arrays)) expect(Array.from(sd.arrays[k]), k).toEqual(Array.from(v));
      expect(Object.keys(sd.arrays).filter((k) => !(k in sp.arrays)).sort()).toEqual(['online.value.bias', 'online.value.weight', 'target.value.bias', 'target.value.weight']);
      for (const double of [false, true]) {
        const t = randomTransitions(23, new Rng(double ? 3 : 4));
        const pa = double ? await DqnAgent.create({ engine, encoder: plain.encoder, slots: SLOTS, slateSize: 1 }, { hidden: [7], seed: 3, double }) : plain.agent;
        const da = double ? await DqnAgent.create({ engine, encoder: duel.encoder, slots: SLOTS, slateSize: 1 }, { hidden: [7], seed: 3, double, dueling: true }) : duel.agent;
        expect(rel(await da.targetsFor(t), await pa.targetsFor(t))).toBeLessThan(1e-5);
        if (double) {
          pa.dispose();
          da.dispose();
        }
      }
      const rng = new Rng(8);
      const B = 17;
      const users = Int32Array.from({ length: B }, () => rng.int(world.nUsers));
      const history = Int32Array.from({ length: B * H }, () => rng.int(world.nItems));
      const actions = Int32Array.from({ length: B }, () => rng.int(world.nItems));
      const predict = (a: DqnAgent) => engine.scopeAsync(async () => (await a.qPrediction(users, history, actions).read()) as Float32Array);
      const qp = await predict(plain.agent);
      expect(rel(await predict(duel.agent), qp)).toBeLessThan(1e-5);
      const obs = plain.env.reset(5);
      const gp = await plain.agent.greedySlate(obs);
      const gd = await duel.agent.greedySlate(obs);
      expect(Array.from(gd.items)).toEqual(Array.from(gp.items));
      expect(rel(gd.scores, gp.scores)).toBeLessThan(1e-5);
      // w_v = 0 (c_v = 0 = b̄): Q = A − φ·ē, i.e. plain minus each state's mean advantage.
      duel.agent.online.value!.weight.fill(0);
      const f = await duel.agent.factorForm(users, history);
      const terms = stateTermHost({ 'x.items': f.items, 'x.itemBias': f.itemBias, 'x.value.weight': new Float32Array(D), 'x.value.bias': new Float32Array(1) }, 'x', f.phi, B);
      expect(Math.max(...Array.from(terms, Math.abs))).toBeGreaterThan(1e-3);
      expect(rel(await predict(duel.agent), Float64Array.from(qp, (q, i) => q + terms[i]))).toBeLessThan(1e-5);
    } finally {
      for (const r of [plain, duel]) {
        r.agent.dispose();
        r.encoder.dispose();
      }
    }
  });

  test('the dueling loss gradient w.r.t. w_v, item rows and φ’s last layer matches finite differences', async (ctx) => {
    const engine = bk.engine(ctx);
    const { agent, env, encoder } = await agentOn(engine, { dueling: true });
    try {
      await trainAgent(env, agent, { steps: 8, seed: 4, updatesPerStep: 1 });
      randomiseValueHeads(engine, agent, new Rng(12));
      const rng = new Rng(31);
      const B = 9;
      const users = Int32Array.from({ length: B }, () => rng.int(world.nUsers));
      const history = Int32Array.from({ length: B * H }, (_, j) => (j % H === 0 && j < H ? -1 : rng.int(world.nItems)));
      const actions = Int32Array.from({ length: B }, () => rng.int(world.nItems));
      const y = Float32Array.from({ length: B }, () => rng.uniform(-1, 2));
      const taken = actions[0];
      let untaken = 0;
      while (actions.includes(untaken)) untaken++;
      const last = agent.online.layers.length - 1;
      const lastName = `online.layers.${last}.weight`;
      const st = await agent.state();
      const x = (await hostWindowStates(encoder)).states(users, history);

      // Host loss L = 1/(2B) Σ (Q(s_i, a_i) − y_i)² in float64, given [w_v, items, W_last].
      const loss = (p: Float64Array[]): number => {
        const arrays: Arrays = { ...st.arrays, [lastName]: Float32Array.from(p[2]) };
        // φ from float64 weights: phiHost reads the arrays, so rebuild with the float64 last layer.
        const phi = phiHost64(arrays, p[2], last, x, B);
        const terms = stateTermHost({ ...arrays, 'online.value.weight': p[0] as unknown as Float32Array, 'online.items': p[1] as unknown as Float32Array }, 'online', phi, B);
        let L = 0;
        const bias = st.arrays['online.itemBias'];
        for (let i = 0; i < B; i++) {
          let q = bias[actions[i]] + terms[i];
          for (let k = 0; k < D; k++) q += phi[i * D + k] * p[1][actions[i] * D + k];
          L += (q - y[i]) ** 2 / (2 * B);
        }
        return L;
      };
      const x0 = [Float64Array.from(st.arrays['online.value.weight']), Float64Array.from(st.arrays['online.items']), Float64Array.from(st.arrays[lastName])];
      const fd = (k: number, i: number, eps = 1e-5) => {
        const up = x0.map((a) => a.slice());
        const dn = x0.map((a) => a.slice());
        up[k][i] += eps;
        dn[k][i] -= eps;
        return (loss(up) - loss(dn)) / (2 * eps);
      };
      const params = [agent.online.value!.weight, agent.online.items, agent.online.layers[last].weight];
      const g = await engine.scopeAsync(async () => {
        const pred = agent.qPrediction(users, history, actions);
        const gs = grad(() => mul(sum(square(sub(pred, Tensor.fromArray(engine, y, [B, 1])))), 1 / (2 * B)), params);
        return (await Promise.all(gs.map((t) => t.read()))) as Float32Array[];
      });
      const checks: [string, number, number[]][] = [
        ['w_v', 0, Array.from({ length: D }, (_, i) => i)],
        [`item ${taken} (taken)`, 1, Array.from({ length: D }, (_, i) => taken * D + i)],
        [`item ${untaken} (only through ē)`, 1, Array.from({ length: D }, (_, i) => untaken * D + i)],
        ['φ last layer', 2, Array.from({ length: x0[2].length }, (_, i) => i)],
      ];
      for (const [what, k, idx] of checks) {
        const want = idx.map((i) => fd(k, i));
        const scale = Math.max(...want.map(Math.abs));
        expect(scale, what).toBeGreaterThan(1e-6);
        idx.forEach((i, j) => expect(Math.abs(g[k][i] - want[j]), `${what}[${i}]: ${g[k][i]} vs ${want[j]}`).toBeLessThan(2e-3 * scale + 1e-6));
      }
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  });

  test('state() / load() round-trip the dueling head; a dueling state and a plain agent refuse each other', async (ctx) => {
    const engine = bk.engine(ctx);
    const a = await agentOn(engine, { dueling: true, exploration: 'boltzmann' });
    const fresh = await agentOn(engine, { dueling: true, exploration: 'boltzmann', seed: 9 });
    const plain = await agentOn(engine, {});
    try {
      await trainAgent(a.env, a.agent, { steps: 10, seed: 3 });
      const st = await a.agent.state();
      expect(st.config).toMatchObject({ dueling: true, exploration: 'boltzmann', temperature: { kind: 'exponential', start: 1, end: 0.05, halfLife: 500 } });
      expect(rel(st.arrays['online.value.weight'], st.arrays['target.value.weight'])).toBeGreaterThan(0);
      fresh.agent.load(st);
      const st2 = await fresh.agent.state();
      for (const [k, v] of Object.entries(st.arrays)) expect(Array.from(st2.arrays[k]), k).toEqual(Array.from(v));
      expect(fresh.agent.temperature).toBe(a.agent.temperature);
      const obs = a.env.reset(77);
      const [g1, g2] = [await a.agent.greedySlate(obs), await fresh.agent.greedySlate(obs)];
      expect(Array.from(g2.items)).toEqual(Array.from(g1.items));
      expect(Array.from(g2.scores)).toEqual(Array.from(g1.scores));
      const t = randomTransitions(19, new Rng(2));
      expect(Array.from(await fresh.agent.targetsFor(t))).toEqual(Array.from(await a.agent.targetsFor(t)));
      expect(() => plain.agent.load(st)).toThrow(expect.objectContaining({ code: 'input', details: expect.objectContaining({ field: 'dueling' }) }));
      expect(() => a.agent.load({ ...st, arrays: {}, config: { ...st.config, dueling: false } })).toThrow(expect.objectContaining({ code: 'input', details: expect.objectContaining({ field: 'dueling' }) }));
      const ps = await plain.agent.state();
      expect(() => fresh.agent.load(ps)).toThrow(/dueling/);
    } finally {
      for (const r of [a, fresh, plain]) {
        r.agent.dispose();
        r.encoder.dispose();
      }
    }
  });
});

/** phiHost with the last layer's weight in float64 (finite differences below float32's step). */
function phiHost64(arrays: Arrays, lastW: Float64Array, last: number, x: Float64Array, rows: number): Float64Array {
  return dqnPhi64({ ...(arrays as Record<string, ArrayLike<number>>), [`online.layers.${last}.weight`]: lastW }, 'online', x, rows, D);
}

// ------------------------------------------------------------------ Boltzmann exploration

describe('DQN Boltzmann exploration', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await learningEngine();
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  /** `n` copies of slot `b` of `obs` as one observation. */
  function repeated(obs: Observation, b: number, n: number): Observation {
    const rep = <T extends Int32Array | Float32Array | Float64Array>(a: T, w: number): T => {
      const out = new (a.constructor as new (n: number) => T)(n * w);
      for (let r = 0; r < n; r++) out.set(a.subarray(b * w, b * w + w), r * w);
      return out;
    };
    return {
      batch: n,
      user: rep(obs.user, 1),
      historyLen: obs.historyLen,
      historyItems: rep(obs.historyItems, H),
      historyRatings: rep(obs.historyRatings, H),
      historyTimes: rep(obs.historyTimes, H),
      historyCount: rep(obs.historyCount, 1),
      stepInEpisode: rep(obs.stepInEpisode, 1),
      featureDim: 0,
      features: null,
    };
  }

  test('first-item frequencies match softmax(Q/τ) over the eligible items (χ²); window items are never drawn', async () => {
    const K = 3;
    const probe = await agentOn(engine, {}, K);
    const obs0 = probe.env.reset(6);
    // A slot whose window is full, so three items are excluded.
    let slot = 0;
    while (new Set(Array.from(obs0.historyItems.subarray(slot * H, slot * H + H)).filter((i) => i >= 0)).size < H) slot++;
    const window = new Set(Array.from(obs0.historyItems.subarray(slot * H, slot * H + H)));
    const f = await probe.agent.factorForm(obs0.user.subarray(slot, slot + 1), obs0.historyItems.subarray(slot * H, slot * H + H));
    const I = world.nItems;
    const q = Float64Array.from({ length: I }, (_, a) => {
      let s = f.itemBias[a];
      for (let k = 0; k < D; k++) s += f.phi[k] * f.items[a * D + k];
      return s;
    });
    const eligible = Array.from({ length: I }, (_, a) => a).filter((a) => !window.has(a));
    const mean = eligible.reduce((s, a) => s + q[a], 0) / eligible.length;
    const sd = Math.sqrt(eligible.reduce((s, a) => s + (q[a] - mean) ** 2, 0) / eligible.length);
    // τ at Q's spread: logits of unit spread, far from both uniform and greedy.
    const tau = sd;
    probe.agent.dispose();
    probe.encoder.dispose();

    const { agent, encoder } = await agentOn(engine, { exploration: 'boltzmann', temperature: tau, seed: 21 }, K);
    try {
      const obs = repeated(obs0, slot, 4000);
      const counts = new Float64Array(I);
      let draws = 0;
      for (let rep = 0; rep < 5; rep++) {
        const s = await agent.act(obs, { explore: true });
        for (let r = 0; r < obs.batch; r++) {
          const slate = Array.from(s.subarray(r * K, r * K + K));
          expect(new Set(slate).size).toBe(K);
          for (const i of slate) expect(window.has(i)).toBe(false);
          counts[slate[0]]++;
          draws++;
        }
      }
      expect(agent.actSteps).toBe(5);
      const m = Math.max(...eligible.map((a) => q[a]));
      const w = eligible.map((a) => Math.exp((q[a] - m) / tau));
      const Z = w.reduce((s, x) => s + x, 0);
      const expected = w.map((x) => (x / Z) * draws);
      // Cells with E < 5 pooled into one (the last).
      const big = eligible.map((_, j) => expected[j] >= 5);
      const nBig = big.filter(Boolean).length;
      const nCells = nBig < eligible.length ? nBig + 1 : nBig;
      const cellOf: number[] = [];
      let next = 0;
      big.forEach((isBig) => cellOf.push(isBig ? next++ : nCells - 1));
      const cells = (per: (j: number) => number) => {
        const out = new Float64Array(nCells);
        eligible.forEach((_, j) => (out[cellOf[j]] += per(j)));
        return out;
      };
      const obsCells = cells((j) => counts[eligible[j]]);
      expect(nCells).toBeGreaterThan(20);
      const critical = chiSquareCritical(nCells - 1, 0.001);
      expect(chiSquare(obsCells, cells((j) => expected[j]))).toBeLessThan(critical);
      // Power: uniform over the eligible items, or τ off by 2×, fail the same test.
      expect(chiSquare(obsCells, cells(() => draws / eligible.length))).toBeGreaterThan(critical);
      const w2 = eligible.map((a) => Math.exp((q[a] - m) / (2 * tau)));
      const Z2 = w2.reduce((s, x) => s + x, 0);
      expect(chiSquare(obsCells, cells((j) => (w2[j] / Z2) * draws))).toBeGreaterThan(critical);
      for (const i of window) expect(counts[i]).toBe(0);
    } finally {
      agent.dispose();
      encoder.dispose();
    }
  });

  test('τ → 0 is greedy; without explore it is greedy; the same seed repeats its slates; τ and its report follow the schedule', async () => {
    const K = 3;
    const cold = await agentOn(engine, { exploration: 'boltzmann', temperature: 1e-7 }, K);
    const a = await agentOn(engine, { exploration: 'boltzmann', temperature: { kind: 'linear', start: 2, end: 0.5, steps: 10 }, seed: 5 }, K);
    const b = await agentOn(engine, { exploration: 'boltzmann', temperature: { kind: 'linear', start: 2, end: 0.5, steps: 10 }, seed: 5 }, K);
    const c = await agentOn(engine, { exploration: 'boltzmann', temperature: { kind: 'linear', start: 2, end: 0.5, steps: 10 }, seed: 6 }, K);
    try {
      const obs = cold.env.reset(4);
      const greedy = Array.from((await cold.agent.greedySlate(obs)).items);
      expect(Array.from(await cold.agent.act(obs, { explore: true }))).toEqual(greedy);
      expect(Array.from(await a.agent.act(obs, { explore: false }))).toEqual(greedy);
      expect(a.agent.actSteps).toBe(0);
      const runs = [a, b, c].map(() => [] as number[]);
      for (let step = 0; step < 4; step++) {
        for (const [j, r] of [a, b, c].entries()) runs[j].push(...(await r.agent.act(obs, { explore: true })));
      }
      expect(runs[1]).toEqual(runs[0]);
      expect(runs[2]).not.toEqual(runs[0]);
      expect(runs[0]).not.toEqual(Array.from({ length: 4 }, () => greedy).flat());
      expect(a.agent.temperature).toBeCloseTo(2 - 1.5 * 0.4, 12);
      // The report names τ: exploration is τ (not ε), extra.temperature says so.
      const tr = await trainAgent(a.env, a.agent, { steps: 6, seed: 1 });
      expect(tr.lastUpdate?.exploration).toBe(a.agent.temperature);
      expect(tr.lastUpdate?.extra?.temperature).toBe(a.agent.temperature);
      expect(a.agent.exploration).toBe(a.agent.temperature);
      const eps = await agentOn(engine, {}, K);
      expect(eps.agent.exploration).toBe(eps.agent.epsilon);
      eps.agent.dispose();
      eps.encoder.dispose();
    } finally {
      for (const r of [cold, a, b, c]) {
        r.agent.dispose();
        r.encoder.dispose();
      }
    }
  });

  test('bad dueling / exploration / temperature options are coded errors naming the argument', async () => {
    const enc = new WindowStateEncoder(engine, randomTables(world.nUsers, world.nItems, D, 1), H);
    const ctx = { engine, encoder: enc, slots: 4, slateSize: 1 };
    const bad = (o: unknown, arg: string | RegExp) => expect(DqnAgent.create(ctx, o as DqnOptions)).rejects.toMatchObject({ code: 'input', details: { arg } });
    await bad({ dueling: 'yes' }, 'dueling');
    await bad({ exploration: 'softmax' }, 'exploration');
    await bad({ temperature: 0 }, 'temperature');
    await bad({ temperature: -1 }, 'temperature');
    await bad({ temperature: { kind: 'linear', start: 1, end: 0, steps: 10 } }, 'temperature');
    await bad({ temperature: { kind: 'exponential', start: 0, end: 0.1, decay: 0.9 } }, 'temperature');
    await bad({ temperature: { kind: 'exponential', start: 1, end: 0.1 } }, 'temperature.decay');
    await bad({ temperature: { kind: 'linear', start: 1, end: 0.1, step: 3 } }, 'temperature.step');
    await bad({ temperature: Number.NaN }, 'temperature.value');
    // The registry knows the keys and checks them the same way.
    expect(checkAgentOptions('dqn', { dueling: true, exploration: 'boltzmann', temperature: { kind: 'exponential', start: 1, end: 0.05, halfLife: 200 } })).toBeTruthy();
    expect(checkAgentOptions('double-dqn', { temperature: 0.3 })).toBeTruthy();
    for (const o of [{ dueling: 1 }, { exploration: 'greedy' }, { temperature: 0 }, { temperature: { kind: 'linear', start: 1, end: -0.1, steps: 5 } }]) {
      expect(() => checkAgentOptions('dqn', o)).toThrow(expect.objectContaining({ code: 'input', details: expect.objectContaining({ field: `dqn.${Object.keys(o)[0]}` }) }));
    }
    enc.dispose();
  });
});
