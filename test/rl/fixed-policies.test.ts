import { describe, expect, test } from 'vitest';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { OraclePolicy, PopularityPolicy, RandomPolicy } from '../../src/rl/policies/fixed.js';
import { historyExclusions, isExcluded } from '../../src/rl/state/exclusions.js';

const world = syntheticWorld({ preset: 'tiny', seed: 5 });

describe('fixed policies', () => {
  test('history exclusions are sorted, distinct rows of the window', () => {
    const env = new Simulator(world, { batch: 6, historyLen: 8 });
    const obs = env.reset(3);
    const rows = historyExclusions(obs);
    for (let b = 0; b < 6; b++) {
      const row = Array.from(rows.colIdx.subarray(rows.rowPtr[b], rows.rowPtr[b + 1]));
      const want = [...new Set(Array.from(obs.historyItems.subarray(b * 8, b * 8 + 8)).filter((i) => i >= 0))].sort((x, y) => x - y);
      expect(row).toEqual(want);
      for (const i of want) expect(isExcluded(rows, b, i)).toBe(true);
    }
  });

  test('random and popularity show distinct items outside the window; the oracle matches the simulator', async () => {
    const env = new Simulator(world, { batch: 5, slateSize: 3 });
    const obs = env.reset(1);
    const rows = historyExclusions(obs);
    const pop = new PopularityPolicy(world.interactions, 3);
    for (const policy of [new RandomPolicy(world.nItems, 3, 2), pop]) {
      const a = await policy.act(obs);
      for (let b = 0; b < 5; b++) {
        const slate = Array.from(a.subarray(b * 3, b * 3 + 3));
        expect(new Set(slate).size).toBe(3);
        for (const i of slate) expect(isExcluded(rows, b, i)).toBe(false);
      }
    }
    // Popularity's first pick is the most counted item outside the window.
    const a = await pop.act(obs);
    expect(isExcluded(rows, 0, pop.ranking[0]) ? a[0] : pop.ranking[0]).toBe(a[0]);
    expect(Array.from(await new OraclePolicy(env).act())).toEqual(Array.from(env.oracleSlate()));
  });
});
