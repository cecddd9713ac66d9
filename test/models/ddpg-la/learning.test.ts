/**
 * Issue #15's learning check: on the synthetic world's MovieLens folder (ratings from the
 * planted model, interest drift 2), DDPG-LA beats BaselineOnly on the same user-time 0.8
 * split and 1–5 scale, by a paired bootstrap 95% CI of the per-event squared-error
 * difference, and its lr-0 control (same options, learning off) does not; DDPG-LA also
 * beats that control. The world is interest-driven (factorWeight 1.5, noise 0.4, users
 * concentrated on 8 genre clusters): in the generator's default world the ratings are
 * mostly biases plus noise and a user × genre predictor has no headroom over the
 * baseline (docs/ddpg-la.md, "Measured results").
 *
 * The agent is configured as docs/ddpg-la.md records (`LEARNING` there): the residual
 * action around the damped baseline, the history statistics (from earlier records only)
 * in the records and the state, TD3 with γ 0, squared reward, exploration 0.3 and 8
 * critic/actor updates per acting step. The actor is still trained only by the critic's
 * action gradient.
 *
 * Runs on the native backend where the addon loads, on the CPU one under GNNRL_BACKEND=cpu
 * (a learning run, not a kernel check; the two give the same numbers).
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
import { BaselineOnly } from '../../../src/models/baselines/baseline-only.js';
import { DdpgLaModel, type DdpgLaOptions } from '../../../src/models/ddpg-la/model.js';
import { bootstrapCI } from '../../../src/eval/bootstrap.js';

const WORLD = { preset: 'tiny', nUsers: 100, nItems: 100, meanEvents: 40, maxEvents: 80, drift: 2, clusters: 8, clusterShare: 0.9, rating: { factorWeight: 1.5, noiseSd: 0.4 }, seed: 12 } as const;

const OPTS: DdpgLaOptions = {
  residual: 0.25,
  historyStats: true,
  statsState: true,
  td3: true,
  gamma: 0,
  reward: 'squared',
  explorationNoise: 0.3,
  updatesPerStep: 8,
  updateBatch: 64,
  epochs: 2,
  hidden: 8,
  attention: 8,
  maxHistory: 10,
  actorHidden: [16],
  criticHidden: [32, 32],
  batchUsers: 50,
  seed: 3,
};

let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = process.env.GNNRL_BACKEND?.toLowerCase() === 'cpu' ? await Engine.create({ backend: 'cpu', quiet: true }) : await learningEngine();
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-ddpgla-learning-'));
});
afterAll(async () => {
  await engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('interest-driven world: DDPG-LA beats BaselineOnly and its lr-0 control (paired 95% CIs); the control does not beat BaselineOnly', async () => {
  await writeSyntheticMovieLens(dir, WORLD);
  const { train, test: held } = splitByUserTime(await loadMovieLens(dir, { features: true }), 0.8);
  const se = (p: Float32Array) => Float64Array.from(held.rating!, (y, j) => (p[j] - y) ** 2);
  const base = new BaselineOnly({}, { engine });
  await base.fit(train);
  const seBase = se(await base.predict(held.user, held.item));
  const run = async (o: DdpgLaOptions) => {
    const m = new DdpgLaModel(o, { engine });
    try {
      const fit = await m.fit(train);
      return { se: se(await m.predict(held.user, held.item)), aveReward: fit.curves!.Ave_Reward };
    } finally {
      m.dispose();
    }
  };
  const la = await run(OPTS);
  const off = await run({ ...OPTS, actorLr: 0, criticLr: 0 });
  const diff = (a: Float64Array, b: Float64Array) => Float64Array.from(a, (v, j) => v - b[j]);
  const ciLa = bootstrapCI(diff(la.se, seBase), { seed: 1 });
  const ciOff = bootstrapCI(diff(off.se, seBase), { seed: 1 });
  const ciGain = bootstrapCI(diff(la.se, off.se), { seed: 1 });
  const rmse = (a: Float64Array) => Math.sqrt(a.reduce((s, v) => s + v, 0) / a.length);
  const ci = (c: [number, number]) => `[${c[0].toFixed(4)}, ${c[1].toFixed(4)}]`;
  const report =
    `[${engine.backend}] ${held.user.length} test events, RMSE (1–5): BaselineOnly ${rmse(seBase).toFixed(4)}, ` +
    `DDPG-LA ${rmse(la.se).toFixed(4)} (ΔMSE vs BaselineOnly ${ci(ciLa)}, vs lr 0 ${ci(ciGain)}), ` +
    `lr 0 ${rmse(off.se).toFixed(4)} (ΔMSE vs BaselineOnly ${ci(ciOff)}); Ave_Reward per round ${la.aveReward.map((v) => v.toFixed(4)).join(' ')}`;
  console.log(report);
  expect(ciLa[1], report).toBeLessThan(0);
  expect(ciOff[1], report).toBeGreaterThanOrEqual(0);
  expect(ciGain[1], report).toBeLessThan(0);
}, 120_000);

test('historyStatistics: damped means over the earlier records only, genre-weighted by shared genres', async () => {
  const { historyStatistics, itemGenres } = await import('../../../src/models/ddpg-la/records.js');
  // Items 0: genre A; 1: genres A, B; 2: genre B; 3: no genre. Columns: [id, genre=A, genre=B].
  const table = { nRows: 4, dim: 3, names: ['item_id', 'genre=A', 'genre=B'], data: Float32Array.from([0, 1, 0, 0.3, 1, 1, 0.6, 0, 1, 1, 0, 0]) };
  const genre = itemGenres(table);
  expect(Array.from(genre.offsets)).toEqual([0, 1, 3, 4, 4]);
  expect(Array.from(genre.ids)).toEqual([0, 0, 1, 1]);
  const items = Int32Array.from([0, 2, 1, 0]);
  const resid = Float32Array.from([0.1, -0.2, 0.05, 99]);
  // Record 3 (item 0, genre A) after records 0..2: the 99 at index 3 is its own and must not count.
  const [u, g] = historyStatistics(resid, items, 0, 3, 0, genre);
  expect(u).toBeCloseTo((4 * (0.1 - 0.2 + 0.05)) / (3 + 5), 6);
  // Shared genres with {A}: record 0 (A) weight 1, record 1 (B) 0, record 2 (A, B) 1.
  expect(g).toBeCloseTo((4 * (0.1 + 0.05)) / (2 + 2), 6);
  // Item 1 ({A, B}): weights 1/2, 1/2, 1; an item without genres gets genreDev 0.
  expect(historyStatistics(resid, items, 0, 3, 1, genre)[1]).toBeCloseTo((4 * (0.05 - 0.1 + 0.05)) / (2 + 2), 6);
  expect(historyStatistics(resid, items, 0, 3, 3, genre)[1]).toBe(0);
  // No earlier records: both 0.
  expect(historyStatistics(resid, items, 0, 0, 0, genre)).toEqual([0, 0]);
});
