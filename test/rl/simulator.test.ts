import { describe, expect, test } from 'vitest';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { Simulator, simulatorConfig } from '../../src/rl/env/simulator.js';
import { bootstrapCI } from '../../src/eval/bootstrap.js';
import { Rng } from '../../src/util/rng.js';
import { chiSquare, chiSquareCritical } from '../util/chi2.js';

// One user: every slot starts in the same state, so one step is `batch` independent draws of one choice distribution.
const oneUser = syntheticWorld({ nUsers: 1, nItems: 300, dim: 4, meanEvents: 12, seed: 11 });
const tiny = syntheticWorld({ preset: 'tiny', seed: 3 });

function distinctSlate(rng: Rng, nItems: number, k: number): number[] {
  const s = new Set<number>();
  while (s.size < k) s.add(rng.int(nItems));
  return [...s];
}

function returns(env: Simulator): Float64Array {
  return Float64Array.from({ length: env.finished.count }, (_, j) => env.finished.returnOf(j));
}

describe('simulator', () => {
  test('choice frequencies match the logit model (χ²), and a wrong model is rejected', () => {
    const k = 5;
    const env = new Simulator(oneUser, { batch: 20_000, slateSize: k, noClick: 0.5 });
    env.reset(5);
    const slate = distinctSlate(new Rng(2), oneUser.nItems, k);
    const actions = new Int32Array(env.batch * k);
    for (let b = 0; b < env.batch; b++) actions.set(slate, b * k);
    const probs = env.choiceProbabilities(actions).slice(0, k + 1);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const r = env.step(actions);
    const observed = new Float64Array(k + 1);
    for (let b = 0; b < env.batch; b++) observed[r.choice[b] < 0 ? k : r.choice[b]]++;
    const expected = probs.map((p) => p * env.batch);
    const crit = chiSquareCritical(k);
    expect(chiSquare(observed, expected)).toBeLessThan(crit);
    // The same counts against a model with a different no-click utility are refused.
    const wrong = new Simulator(oneUser, { batch: 1, slateSize: k, noClick: 0.9 });
    wrong.reset(5);
    const pw = wrong.choiceProbabilities(Int32Array.from(slate));
    expect(chiSquare(observed, Array.from(pw, (p) => p * env.batch))).toBeGreaterThan(crit);
    // Clicks and choices agree; the step counts as shown items.
    for (let b = 0; b < 50; b++) expect(r.click[b]).toBe(r.choice[b] >= 0 ? 1 : 0);
  });

  test('expected reward is the click probability of the slate when conversions carry no reward', () => {
    const env = new Simulator(tiny, { batch: 8, slateSize: 3 });
    env.reset(1);
    const rng = new Rng(4);
    const actions = new Int32Array(8 * 3);
    for (let b = 0; b < 8; b++) actions.set(distinctSlate(rng, tiny.nItems, 3), b * 3);
    const p = env.choiceProbabilities(actions);
    const e = env.expectedReward(actions);
    for (let b = 0; b < 8; b++) expect(e[b]).toBeCloseTo(1 - p[b * 4 + 3], 6);
  });

  test('the oracle slate maximises the expected immediate reward', () => {
    const env = new Simulator(tiny, { batch: 6, slateSize: 2 });
    env.reset(9);
    const best = env.expectedReward(env.oracleSlate());
    const rng = new Rng(8);
    for (let t = 0; t < 200; t++) {
      const actions = new Int32Array(12);
      for (let b = 0; b < 6; b++) actions.set(distinctSlate(rng, tiny.nItems, 2), b * 2);
      const e = env.expectedReward(actions);
      for (let b = 0; b < 6; b++) expect(e[b]).toBeLessThanOrEqual(best[b] + 1e-6);
    }
  });

  test('fatigue: a click on a group raises its fatigue by 1 and every group decays by fatigueDecay each step', () => {
    const env = new Simulator(oneUser, { batch: 1, noClick: -50, fatigueDecay: 0.5, leave: 0, horizon: 50, repeatPenalty: 0 });
    env.reset(1);
    const g = oneUser.itemGroup;
    const items = Array.from({ length: oneUser.nItems }, (_, i) => i).filter((i) => g[i] === g[0]);
    let expectF = 0;
    let lastUtility = Infinity;
    for (let t = 0; t < 4; t++) {
      const probe = env.utility(0, items[items.length - 1]);
      if (t > 0) expect(probe).toBeLessThan(lastUtility);
      lastUtility = probe;
      const r = env.step(Int32Array.of(items[t]));
      expect(r.click[0]).toBe(1); // noClick −50: the user always clicks
      expectF = 0.5 * expectF + 1;
      expect(env.fatigueOf(0, g[0])).toBeCloseTo(expectF, 12);
    }
    const other = (g[0] + 1) % oneUser.config.clusters;
    expect(env.fatigueOf(0, other)).toBe(0);
  });

  test('leave: probability grows as satisfaction falls; leave 0 runs every episode to the horizon', () => {
    const env = new Simulator(tiny, { batch: 16, leave: 0, horizon: 7 });
    env.reset(2);
    for (let t = 0; t < 21; t++) env.step(env.oracleSlate());
    expect(env.finished.count).toBe(48);
    for (let j = 0; j < env.finished.count; j++) expect(env.finished.lengthOf(j)).toBe(7);

    const leaving = new Simulator(oneUser, { batch: 1, noClick: 50, leave: 0.05, horizon: 1000 });
    leaving.reset(1);
    let before = leaving.leaveProbability(0);
    expect(before).toBeCloseTo(0.05, 12);
    for (let t = 0; t < 3; t++) {
      const r = leaving.step(Int32Array.of(0)); // noClick 50: never clicks, boredom lowers satisfaction
      if (r.done[0]) break;
      const now = leaving.leaveProbability(0);
      expect(now).toBeGreaterThan(before);
      before = now;
    }
  });

  test('the myopic oracle is measurably worse over an episode than a policy that skips clickbait', () => {
    const world = syntheticWorld({ preset: 'small', seed: 7 });
    const run = (patient: boolean) => {
      const env = new Simulator(world, { batch: 128 });
      env.reset(21);
      for (let t = 0; t < 60; t++) {
        if (!patient) {
          env.step(env.oracleSlate());
          continue;
        }
        const a = new Int32Array(env.batch);
        for (let b = 0; b < env.batch; b++) {
          let best = -1;
          let bu = -Infinity;
          for (let i = 0; i < env.nItems; i++) {
            if (env.clickbait[i]) continue;
            const u = env.utility(b, i);
            if (u > bu) [bu, best] = [u, i];
          }
          a[b] = best;
        }
        env.step(a);
      }
      return returns(env);
    };
    const myopic = run(false);
    const patient = run(true);
    const mean = (v: Float64Array) => v.reduce((x, y) => x + y, 0) / v.length;
    const [lo] = bootstrapCI(patient, { seed: 1 });
    const [, hi] = bootstrapCI(myopic, { seed: 1 });
    expect(mean(patient)).toBeGreaterThan(mean(myopic));
    expect(lo).toBeGreaterThan(hi);
  });

  test('the same seed and actions replay the same episodes; another seed does not', () => {
    const play = (seed: number) => {
      const env = new Simulator(tiny, { batch: 10, slateSize: 2 });
      let obs = env.reset(seed);
      const rng = new Rng(3);
      const trace: number[] = [];
      for (let t = 0; t < 40; t++) {
        const a = new Int32Array(20);
        for (let b = 0; b < 10; b++) a.set(distinctSlate(rng, tiny.nItems, 2), b * 2);
        const r = env.step(a);
        trace.push(...r.choice, ...r.done, ...obs.user);
        obs = r.next;
      }
      return trace;
    };
    expect(play(4)).toEqual(play(4));
    expect(play(4)).not.toEqual(play(5));
  });

  test('observations: the history window is right-aligned, −1 padded, and gains the clicked item', () => {
    const env = new Simulator(tiny, { batch: 4, historyLen: 40, noClick: -50, leave: 0 });
    const obs = env.reset(1);
    const H = 40;
    for (let b = 0; b < 4; b++) {
      const c = obs.historyCount[b];
      for (let j = 0; j < H - c; j++) expect(obs.historyItems[b * H + j]).toBe(-1);
      for (let j = H - c; j < H; j++) expect(obs.historyItems[b * H + j]).toBeGreaterThanOrEqual(0);
    }
    const a = Int32Array.from([5, 6, 7, 8]);
    const r = env.step(a);
    for (let b = 0; b < 4; b++) {
      expect(r.next.historyItems[b * H + H - 1]).toBe(a[b]);
      expect(r.next.stepInEpisode[b]).toBe(1);
    }
  });

  test('bad input: unknown or out-of-range options, bad actions, step before reset', () => {
    expect(() => simulatorConfig({ slatesize: 2 } as never)).toThrow(/unknown simulator option 'slatesize'/);
    expect(() => simulatorConfig({ horizon: 0 })).toThrow(/env-options.horizon/);
    expect(() => simulatorConfig({ drift: 2 })).toThrow(/env-options.drift.*\[0, 1\]/);
    const env = new Simulator(tiny, { batch: 2, slateSize: 2 });
    expect(() => env.step(new Int32Array(4))).toThrow(/reset\(seed\)/);
    env.reset(1);
    expect(() => env.step(new Int32Array(3))).toThrow(/batch × slateSize = 4/);
    expect(() => env.step(Int32Array.of(0, 1, 2, tiny.nItems))).toThrow(/slot 1, position 1: item 120/);
    expect(() => env.step(Int32Array.of(0, 1, 3, 3))).toThrow(/slot 1 shows item 3 twice/);
  });
});
