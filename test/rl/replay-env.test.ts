/**
 * Log replay on small logs this test writes: episodes walk each user's events in time
 * order, the reward map (rescaled ratings, binary, implicit), the three `unknown`
 * policies (zero counts a miss, skip drops it but still ends episodes, model imputes the
 * best slate item's predicted feedback), the history window following the log whatever
 * was shown, seeded episodes, and coded errors for bad options.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnnrlError } from '../../src/errors.js';
import { loadCsv } from '../../src/data/csv.js';
import { splitByUserTime } from '../../src/data/split.js';
import { fromExternal, type Interactions } from '../../src/data/interactions.js';
import { ReplayEnv, replayEnvConfig } from '../../src/rl/env/replay.js';
import { evaluateAgent } from '../../src/rl/evaluate.js';
import type { Ranker } from '../../src/rank/types.js';
import type { Agent, Observation } from '../../src/rl/types.js';

const dir = mkdtempSync(join(tmpdir(), 'gnnrl-replay-'));

/** Three users; rows deliberately out of time order. */
async function writtenLog(): Promise<Interactions> {
  const rows = [
    ['user', 'item', 'rating', 'ts'],
    ['u1', 'a', 5, 30],
    ['u1', 'b', 1, 10],
    ['u1', 'c', 3, 20],
    ['u2', 'a', 4, 5],
    ['u2', 'd', 2, 1],
    ['u3', 'e', 5, 7],
  ];
  const file = join(dir, 'log.csv');
  writeFileSync(file, rows.map((r) => r.join(',')).join('\n') + '\n');
  return loadCsv(file, { columns: { user: 'user', item: 'item', rating: 'rating', ts: 'ts' } });
}

/** Shows what `choose` returns per slot (from the env's current logged item). */
function policy(choose: (b: number, obs: Observation) => number, kind = 'scripted'): Agent {
  return {
    kind,
    name: kind,
    learns: false,
    act: async (obs) => Int32Array.from({ length: obs.batch }, (_, b) => choose(b, obs)),
    observe() {},
    update: async () => null,
    state: async () => ({ kind, config: {}, arrays: {} }),
    dispose() {},
  };
}

describe('ReplayEnv', () => {
  test('an episode walks a user\'s events in time order; showing the logged item earns the rescaled rating', async () => {
    const x = await writtenLog();
    const env = await ReplayEnv.create(x, { batch: 1 });
    expect(env.ratingRange).toEqual([1, 5]);
    expect(env.horizon).toBe(3);
    const id = (s: string) => x.itemIds.get(s);
    let obs = env.reset(3);
    // Walk until slot 0 holds u1, then follow its events.
    while (x.userIds.id(obs.user[0]) !== 'u1') obs = env.step(Int32Array.of(env.loggedItem(0))).next;
    expect(obs.stepInEpisode[0]).toBe(0);
    const want = [
      ['b', 0],
      ['c', 0.5],
      ['a', 1],
    ] as const;
    for (let t = 0; t < 3; t++) {
      expect(env.loggedItem(0)).toBe(id(want[t][0]));
      const r = env.step(Int32Array.of(id(want[t][0])));
      expect(r.click[0]).toBe(1);
      expect(r.choice[0]).toBe(0);
      expect(r.reward[0]).toBeCloseTo(want[t][1], 6);
      expect(r.conversion[0]).toBe(want[t][0] === 'a' ? 1 : 0);
      expect(r.done[0]).toBe(t === 2 ? 1 : 0);
      if (t < 2) {
        // The window is the log's path: the item just consumed is the newest.
        const H = r.next.historyLen;
        expect(r.next.historyItems[H - 1]).toBe(id(want[t][0]));
        expect(r.next.historyTimes[H - 1]).toBe([10, 20][t]);
      }
    }
  });

  test('unknown: zero counts a miss as reward 0; the history still follows the log', async () => {
    const x = await writtenLog();
    const env = await ReplayEnv.create(x, { batch: 2, unknown: 'zero' });
    let obs = env.reset(1);
    for (let t = 0; t < 6; t++) {
      const logged = [env.loggedItem(0), env.loggedItem(1)];
      const r = env.step(Int32Array.from(logged, (i) => (i + 1) % x.nItems));
      expect(Array.from(r.reward)).toEqual([0, 0]);
      expect(Array.from(r.click)).toEqual([0, 0]);
      expect(Array.from(r.skipped)).toEqual([0, 0]);
      for (let b = 0; b < 2; b++) if (!r.done[b]) expect(r.next.historyItems[b * obs.historyLen + obs.historyLen - 1]).toBe(logged[b]);
      obs = r.next;
    }
  });

  test('unknown: skip drops misses; episodes still end, and evaluation counts hits only', async () => {
    const x = await writtenLog();
    const env = await ReplayEnv.create(x, { batch: 2, unknown: 'skip' });
    // Hit every other logged step.
    let flip = 0;
    const agent = policy((b) => (flip++ % 2 === 0 ? env.loggedItem(b) : (env.loggedItem(b) + 1) % x.nItems));
    const e = await evaluateAgent(env, agent, { episodes: 20, seed: 5 });
    expect(e.records.length).toBeGreaterThanOrEqual(20);
    for (const r of e.records) {
      expect(r.length).toBe(r.clicks);
      expect(r.length).toBeLessThanOrEqual(3);
    }
    expect(e.metrics.ctr).toBe(1);
  });

  test('unknown: model imputes the best slate item\'s predicted feedback (ratings rescaled; scores through σ)', async () => {
    const x = await writtenLog();
    const pred = (u: number, i: number) => 1 + ((u * 7 + i * 3) % 5);
    const ranker = (ratings: boolean): Ranker => ({
      name: 'stub',
      predictsRatings: ratings,
      nUsers: x.nUsers,
      nItems: x.nItems,
      predict: async (us, is) => Float32Array.from(us, (u, j) => (ratings ? pred(u, is[j]) : pred(u, is[j]) - 3)),
      recommend: async () => {
        throw new Error('unused');
      },
    });
    for (const ratings of [true, false]) {
      const env = await ReplayEnv.create(x, { batch: 1, slateSize: 2, unknown: 'model' }, { model: ranker(ratings) });
      const obs = env.reset(2);
      const logged = env.loggedItem(0);
      const slate = Int32Array.from([0, 1, 2, 3, 4].filter((i) => i !== logged).slice(0, 2));
      const r = env.step(slate);
      const best = Math.max(pred(obs.user[0], slate[0]), pred(obs.user[0], slate[1]));
      expect(r.click[0]).toBe(0);
      expect(r.reward[0]).toBeCloseTo(ratings ? (best - 1) / 4 : 1 / (1 + Math.exp(-(best - 3))), 6);
    }
    await expect(ReplayEnv.create(x, { unknown: 'model' })).rejects.toThrow(/unknown: 'model' needs a fitted model/);
  });

  test('binary and implicit reward maps', async () => {
    const x = await writtenLog();
    const env = await ReplayEnv.create(x, { batch: 1, reward: 'binary', likeThreshold: 4 });
    expect(env.feedback(4)).toBe(1);
    expect(env.feedback(3.9)).toBe(0);
    const implicit = fromExternal({ user: ['a', 'a', 'b'], item: ['x', 'y', 'x'], ts: [1, 2, 3] });
    const ienv = await ReplayEnv.create(implicit, { batch: 1 });
    ienv.reset(1);
    const r = ienv.step(Int32Array.of(ienv.loggedItem(0)));
    expect(r.reward[0]).toBe(1);
    expect(r.conversion[0]).toBe(0);
  });

  test('over a split: windows start with the train part, episodes walk the test part, same seed same episodes', async () => {
    const users: string[] = [];
    const items: string[] = [];
    const ts: number[] = [];
    for (let u = 0; u < 20; u++) for (let t = 0; t < 10; t++) (users.push(`u${u}`), items.push(`i${(u * 3 + t * 7) % 40}`), ts.push(t));
    const x = fromExternal({ user: users, item: items, rating: ts.map((t) => 1 + (t % 5)), ts });
    const { train, test } = splitByUserTime(x, 0.8);
    const env = await ReplayEnv.create(test, { batch: 8, historyLen: 4 }, { history: train });
    const a = env.reset(4);
    for (let b = 0; b < 8; b++) {
      expect(a.historyCount[b]).toBe(4);
      // The last train event of the user (t = 7) is the newest in the window.
      expect(a.historyTimes[b * 4 + 3]).toBe(7);
    }
    const b2 = (await ReplayEnv.create(test, { batch: 8, historyLen: 4 }, { history: train })).reset(4);
    expect(Array.from(b2.user)).toEqual(Array.from(a.user));
    expect(env.horizon).toBe(2);
  });

  test('bad options and inputs are coded errors naming the option', async () => {
    const x = await writtenLog();
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as GnnrlError;
      }
      throw new Error('did not throw');
    };
    expect(err(() => replayEnvConfig({ unknown: 'guess' as 'zero' })).message).toMatch(/env-options\.unknown: expected 'zero' \| 'skip' \| 'model', got "guess"/);
    expect(err(() => replayEnvConfig({ gamma: 2 })).details.arg).toBe('env-options.gamma');
    expect(err(() => replayEnvConfig({ horizn: 3 } as never)).message).toMatch(/unknown replay option 'horizn'/);
    const env = await ReplayEnv.create(x, { batch: 2 });
    expect(err(() => env.step(Int32Array.of(0, 1))).code).toBe('state');
    env.reset(1);
    expect(err(() => env.step(Int32Array.of(0, 99))).message).toMatch(/slot 1, position 0: item 99 is not in \[0, 5\)/);
  });
});
