/**
 * Issue #15's ablation check: with strong interest drift, the ablation whose short-term
 * interest is plain self-attention (`ddpg-sa`: an unweighted mean over the last 5 records)
 * is not better than T-self-attention (`ddpg-tsa`: later records weigh more), each on the
 * same user-time 0.8 split and 1–5 scale, by a paired bootstrap CI of the per-event squared
 * error difference. Three seeded worlds (drift 2) written as MovieLens folders by the
 * generator; every verdict is printed (better / worse / not significant), not hidden.
 *
 * Runs on the native backend where the addon loads (the CPU one under GNNRL_BACKEND=cpu):
 * a learning comparison, not a kernel check; kernels are compared across backends elsewhere.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../../src/engine.js';
import { learningEngine } from '../../util/backends.js';
import { writeSyntheticMovieLens } from '../../../src/data/synthetic-movielens.js';
import { loadMovieLens } from '../../../src/data/movielens.js';
import { splitByUserTime } from '../../../src/data/split.js';
import { DdpgLaModel, type DdpgLaOptions } from '../../../src/models/ddpg-la/model.js';
import { bootstrapCI } from '../../../src/eval/bootstrap.js';

const OPTS: DdpgLaOptions = { epochs: 3, hidden: 8, attention: 8, maxHistory: 10, actorHidden: [16], criticHidden: [16, 16], batchUsers: 48, updateBatch: 32, seed: 3 };
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await learningEngine();
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-ddpgla-ablation-'));
});
afterAll(async () => {
  await engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('strong drift: plain self-attention is not better than T-self-attention (paired 95% CI, three worlds)', async () => {
  const verdicts: string[] = [];
  for (const seed of [1, 2, 3]) {
    const folder = join(dir, `world-${seed}`);
    await writeSyntheticMovieLens(folder, { preset: 'tiny', nUsers: 60, meanEvents: 25, drift: 2, seed });
    const { train, test: held } = splitByUserTime(await loadMovieLens(folder, { features: true }), 0.8);
    const se: Record<string, Float64Array> = {};
    for (const variant of ['ddpg-tsa', 'ddpg-sa'] as const) {
      const m = new DdpgLaModel({ ...OPTS, variant }, { engine });
      try {
        await m.fit(train);
        const p = await m.predict(held.user, held.item);
        se[variant] = Float64Array.from(held.rating!, (y, j) => (p[j] - y) ** 2);
      } finally {
        m.dispose();
      }
    }
    const rmse = (a: Float64Array) => Math.sqrt(a.reduce((s, v) => s + v, 0) / a.length);
    const ci = bootstrapCI(Float64Array.from(se['ddpg-sa'], (v, j) => v - se['ddpg-tsa'][j]), { seed: 1 });
    const verdict = ci[1] < 0 ? 'self-attention better' : ci[0] > 0 ? 'T-self-attention better' : 'not significant';
    verdicts.push(`world ${seed}: ${held.user.length} test events, RMSE T-SA ${rmse(se['ddpg-tsa']).toFixed(4)}, SA ${rmse(se['ddpg-sa']).toFixed(4)}, ΔMSE (SA − T-SA) CI [${ci[0].toFixed(4)}, ${ci[1].toFixed(4)}]: ${verdict}`);
    expect(ci[1], verdicts.at(-1)).toBeGreaterThan(0);
  }
  console.log(`[${engine.backend}] DDPG-LA ablation under drift 2:\n  ${verdicts.join('\n  ')}`);
}, 120_000);
