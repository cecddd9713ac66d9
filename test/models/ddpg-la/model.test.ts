/**
 * DDPG-LA as a rating model (src/models/ddpg-la/model.ts) on every backend, on a small
 * synthetic world with strong interest drift written as an ML-100K folder (side files
 * with the world's item groups as genres) and split per user in time order, 0.8:
 * - the comparison with BaselineOnly on the same split and the 1–5 scale, with a paired
 *   bootstrap CI of the MSE difference over test events, for the learning agent and its
 *   lr-0 control (the numbers are printed; see the assertions for what is claimed);
 * - the split is leak-free and the window rule holds, in training and in prediction;
 * - a checkpoint round trip and a second fit with the same seed give identical predictions;
 * - bad input (no timestamps, no side file) → coded errors naming the column or file.
 */
import { expect, test, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticWorld } from '../../../src/data/synthetic.js';
import { writeMovieLens } from '../../../src/data/writers.js';
import { loadMovieLens } from '../../../src/data/movielens.js';
import { splitByUserTime } from '../../../src/data/split.js';
import { groupByUser, type Interactions } from '../../../src/data/interactions.js';
import { BaselineOnly } from '../../../src/models/baselines/baseline-only.js';
import { DdpgLaModel, type DdpgLaOptions } from '../../../src/models/ddpg-la/model.js';
import { encodeCheckpoint, decodeCheckpoint } from '../../../src/models/checkpoint.js';
import { getModel, restoreModel } from '../../../src/models/registry.js';
import { bootstrapCI } from '../../../src/eval/bootstrap.js';
import { GnnrlError } from '../../../src/errors.js';
import { forEachBackend } from '../../util/backends.js';

/** Small and quick: every fit below is a few seconds on lavapipe. */
const OPTS: DdpgLaOptions = { epochs: 3, hidden: 8, attention: 8, maxHistory: 10, actorHidden: [16], criticHidden: [16, 16], batchUsers: 48, updateBatch: 32, seed: 3 };

let dir = '';
let bare = '';
let train: Interactions;
let test_: Interactions;

async function writeWorld(to: string, withUsers: boolean): Promise<void> {
  const world = syntheticWorld({ nUsers: 48, nItems: 90, dim: 4, meanEvents: 18, maxEvents: 30, drift: 1, clusters: 8, seed: 11 });
  const x = world.interactions;
  const [nU, nI] = [x.nUsers, x.nItems];
  await writeMovieLens(to, x, {
    format: '100k',
    users: withUsers
      ? {
          age: Float32Array.from({ length: nU }, (_, u) => 18 + ((u * 7) % 50)),
          gender: Int32Array.from({ length: nU }, (_, u) => u % 2),
          genderVocab: ['F', 'M'],
          occupation: Int32Array.from({ length: nU }, (_, u) => u % 3),
          occupationVocab: ['artist', 'doctor', 'writer'],
          zip: Array.from({ length: nU }, () => '00000'),
        }
      : undefined,
    items: {
      title: Array.from({ length: nI }, (_, i) => `Item ${i}`),
      year: Float32Array.from({ length: nI }, (_, i) => 1990 + (i % 10)),
      genreOffsets: Int32Array.from({ length: nI + 1 }, (_, i) => i),
      genres: Int32Array.from(world.itemGroup),
      genreVocab: Array.from({ length: 8 }, (_, g) => `Genre${g}`),
    },
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-ddpgla-'));
  bare = mkdtempSync(join(tmpdir(), 'gnnrl-ddpgla-bare-'));
  await writeWorld(dir, true);
  await writeWorld(bare, false);
  const s = splitByUserTime(await loadMovieLens(dir), 0.8);
  train = s.train;
  test_ = s.test;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(bare, { recursive: true, force: true });
});

/** Per-event squared errors. */
function sqErrors(p: Float32Array, y: Float32Array): Float64Array {
  return Float64Array.from(y, (v, j) => (p[j] - v) ** 2);
}

function rmse(se: Float64Array): number {
  return Math.sqrt(se.reduce((a, b) => a + b, 0) / se.length);
}

forEachBackend('DDPG-LA model', (b) => {
  let learned: DdpgLaModel | null = null;
  afterAll(() => learned?.dispose());

  test('against BaselineOnly on the same split and scale (paired bootstrap CI), and the lr-0 control', async (ctx) => {
    const engine = b.engine(ctx);
    const base = new BaselineOnly({}, { engine });
    await base.fit(train);
    const seBase = sqErrors(await base.predict(test_.user, test_.item), test_.rating!);
    learned = new DdpgLaModel(OPTS, { engine });
    const fit = await learned.fit(train);
    const seLa = sqErrors(await learned.predict(test_.user, test_.item), test_.rating!);
    const off = new DdpgLaModel({ ...OPTS, actorLr: 0, criticLr: 0 }, { engine });
    await off.fit(train);
    const seOff = sqErrors(await off.predict(test_.user, test_.item), test_.rating!);
    off.dispose();
    const diff = (a: Float64Array) => Float64Array.from(a, (v, j) => v - seBase[j]);
    const ciLa = bootstrapCI(diff(seLa), { seed: 1 });
    const ciOff = bootstrapCI(diff(seOff), { seed: 1 });
    const verdict = (ci: [number, number]) => (ci[1] < 0 ? 'better than BaselineOnly' : ci[0] > 0 ? 'worse than BaselineOnly' : 'not significant');
    console.log(
      `[${b.kind}] ${test_.user.length} test events, RMSE (1–5): BaselineOnly ${rmse(seBase).toFixed(4)}, ` +
        `DDPG-LA ${rmse(seLa).toFixed(4)} (ΔMSE 95% CI [${ciLa[0].toFixed(4)}, ${ciLa[1].toFixed(4)}]: ${verdict(ciLa)}), ` +
        `lr 0 ${rmse(seOff).toFixed(4)} (ΔMSE CI [${ciOff[0].toFixed(4)}, ${ciOff[1].toFixed(4)}]: ${verdict(ciOff)}); ` +
        `Ave_Reward per round ${fit.curves!.Ave_Reward.map((v) => v.toFixed(4)).join(' ')}`,
    );
    // What holds at this size: the agent's predictions are sane ratings, and with learning
    // off it is not better than BaselineOnly. The learning claim (DDPG-LA beats
    // BaselineOnly) does NOT hold here: measured numbers are in docs/ddpg-la.md.
    expect(rmse(seLa)).toBeLessThan(1.6);
    expect(ciOff[1]).toBeGreaterThan(0);
    expect(fit.history).toHaveLength(OPTS.epochs!);
    expect(fit.curves!.Ave_Reward).toHaveLength(OPTS.epochs!);
    fit.history.forEach((h, i) => expect(h.loss).toBeCloseTo(1 - fit.curves!.Ave_Reward[i], 6));
  });

  test('the split is leak-free and the window rule holds in training and in prediction', async (ctx) => {
    b.engine(ctx);
    if (!learned) ctx.skip('needs the fitted model of the first case');
    const w = learned!.options.window;
    const gTrain = groupByUser(train);
    const gTest = groupByUser(test_);
    let expectedSteps = 0;
    const trainCount = new Int32Array(train.nUsers);
    for (let u = 0; u < train.nUsers; u++) {
      const n = gTrain.offsets[u + 1] - gTrain.offsets[u];
      trainCount[u] = n;
      if (n >= w) expectedSteps += n - w + 1;
      let maxTrain = -Infinity;
      for (let j = gTrain.offsets[u]; j < gTrain.offsets[u + 1]; j++) maxTrain = Math.max(maxTrain, train.ts![gTrain.order[j]]);
      for (let j = gTest.offsets[u]; j < gTest.offsets[u + 1]; j++) expect(test_.ts![gTest.order[j]]).toBeGreaterThanOrEqual(maxTrain);
    }
    // Training: one prediction per record from the w-th of each user on.
    for (const r of learned!.rounds) expect(r.predictions).toBe(expectedSteps);
    // Prediction: the agent answers where the user's training history fills the window with the current record.
    const { windowed } = await learned!.predictWindowed(test_.user, test_.item);
    let agent = 0;
    let fallback = 0;
    test_.user.forEach((u, j) => {
      expect(windowed[j]).toBe(trainCount[u] + 1 >= w ? 1 : 0);
      if (windowed[j]) agent++;
      else fallback++;
    });
    expect(agent).toBeGreaterThan(0);
    expect(fallback).toBeGreaterThan(0);
    // A pair's prediction does not depend on the other pairs (no test record enters a state).
    const all = await learned!.predict(test_.user, test_.item);
    const rev = await learned!.predict(test_.user.slice().reverse(), test_.item.slice().reverse());
    expect(Array.from(rev).reverse()).toEqual(Array.from(all));
  });

  test('checkpoint round trip and a second fit with the same seed give identical predictions', async (ctx) => {
    const engine = b.engine(ctx);
    if (!learned) ctx.skip('needs the fitted model of the first case');
    const want = await learned!.predict(test_.user, test_.item);
    const ckpt = decodeCheckpoint(encodeCheckpoint(await learned!.state(), {}));
    const back = await restoreModel(ckpt, engine);
    expect(back.kind).toBe('ddpg-la');
    expect(Array.from(await back.predict(test_.user, test_.item))).toEqual(Array.from(want));
    back.dispose();
    const again = await getModel('ddpg-la').create({ engine, train, options: { extra: { ...OPTS } } });
    await again.fit(train);
    expect(Array.from(await again.predict(test_.user, test_.item))).toEqual(Array.from(want));
    again.dispose();
  });

  test('bad input: no timestamps, no user side file → coded errors naming the column or file', async (ctx) => {
    const engine = b.engine(ctx);
    const m = new DdpgLaModel(OPTS, { engine });
    const err1 = await m.fit({ ...train, ts: null }).catch((e) => e);
    expect(err1).toBeInstanceOf(GnnrlError);
    expect(err1.code).toBe('input');
    expect(err1.message).toMatch(/timestamp/);
    const noUsers = splitByUserTime(await loadMovieLens(bare), 0.8).train;
    const err2 = await m.fit(noUsers).catch((e) => e);
    expect(err2).toBeInstanceOf(GnnrlError);
    expect(err2.message).toMatch(/u\.user/);
    m.dispose();
  });
});

test('the registry names the eight models, each needing ratings and side features', () => {
  for (const name of ['ddpg-la', 'ddpg-rlstm', 'ddpg-lstm', 'ddpg-tsa', 'ddpg-sa', 'ddpg-rlstm-sa', 'ddpg-lstm-tsa', 'ddpg-lstm-sa']) {
    const e = getModel(name);
    expect(e.needsRatings).toBe(true);
    expect(e.needsSideFeatures).toBe(true);
  }
});
