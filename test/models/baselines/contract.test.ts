/**
 * What every baseline promises as a `RecommenderModel`: exact restore from its state
 * (through the checkpoint encoding), recommendations that skip training items and agree
 * between the host and the top-K kernel, documented fallbacks for unseen users and
 * items, clipping, validation with best-epoch restore, abort, and errors that name the
 * argument.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../../src/engine.js';
import { GnnrlError } from '../../../src/errors.js';
import { PositiveIndex } from '../../../src/data/negatives.js';
import { syntheticWorld } from '../../../src/data/synthetic.js';
import { splitRandom, type Split } from '../../../src/data/split.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../../src/models/checkpoint.js';
import {
  BaselineOnly,
  KNNBaseline,
  KNNBasic,
  KNNWithMeans,
  NMF,
  Popularity,
  SVD,
  SVDpp,
} from '../../../src/models/baselines/index.js';
import { FixedVectors } from '../../../src/models/baselines/fixed-vectors.js';
import { Rng } from '../../../src/util/rng.js';
import type { ModelState, RecommenderModel } from '../../../src/models/types.js';
import type { ModelContext } from '../../../src/models/baselines/index.js';
import { MATRIX, ratingsLog, rmse } from './helpers.js';

interface Case {
  label: string;
  make: (ctx?: ModelContext) => RecommenderModel;
  restore: (s: ModelState, ctx?: ModelContext) => RecommenderModel;
  factor: boolean;
}

// Fewer epochs than the defaults where they only cost time: the contract does not depend on them.
const CASES: Case[] = [
  { label: 'Popularity', make: (c) => new Popularity({}, c), restore: (s, c) => Popularity.fromState(s, c), factor: true },
  { label: 'BaselineOnly als', make: (c) => new BaselineOnly({}, c), restore: (s, c) => BaselineOnly.fromState(s, c), factor: true },
  { label: 'BaselineOnly sgd', make: (c) => new BaselineOnly({ method: 'sgd', epochs: 5 }, c), restore: (s, c) => BaselineOnly.fromState(s, c), factor: true },
  { label: 'KNNBasic', make: (c) => new KNNBasic({}, c), restore: (s, c) => KNNBasic.fromState(s, c), factor: false },
  { label: 'KNNWithMeans item pearson', make: (c) => new KNNWithMeans({ userBased: false, similarity: 'pearson' }, c), restore: (s, c) => KNNWithMeans.fromState(s, c), factor: false },
  { label: 'KNNBaseline pearson_baseline', make: (c) => new KNNBaseline({ similarity: 'pearson_baseline' }, c), restore: (s, c) => KNNBaseline.fromState(s, c), factor: false },
  { label: 'SVD', make: (c) => new SVD({ factors: 16, epochs: 5 }, c), restore: (s, c) => SVD.fromState(s, c), factor: true },
  { label: 'SVD unbiased', make: (c) => new SVD({ factors: 8, epochs: 5, biased: false }, c), restore: (s, c) => SVD.fromState(s, c), factor: true },
  { label: 'SVD++', make: (c) => new SVDpp({ factors: 8, epochs: 5 }, c), restore: (s, c) => SVDpp.fromState(s, c), factor: true },
  { label: 'NMF', make: (c) => new NMF({ epochs: 10 }, c), restore: (s, c) => NMF.fromState(s, c), factor: true },
  { label: 'NMF biased', make: (c) => new NMF({ epochs: 10, biased: true }, c), restore: (s, c) => NMF.fromState(s, c), factor: true },
  // The tables of a pretrained-vector RL state: fixed seeded vectors the size of the tiny world.
  { label: 'Fixed vectors', make: (c) => new FixedVectors(fixedTables(), c), restore: (s, c) => FixedVectors.fromState(s, c), factor: true },
];

/** Seeded 6-d vectors for the tiny world's users and items. */
function fixedTables(): { dim: number; users: Float32Array; items: Float32Array } {
  const rng = new Rng(11);
  const n = (len: number) => Float32Array.from({ length: len }, () => rng.normal());
  return { dim: 6, users: n(split.train.nUsers * 6), items: n(split.train.nItems * 6) };
}

let split: Split;
let seen: PositiveIndex;
let engine: Engine;

beforeAll(async () => {
  const world = syntheticWorld({ preset: 'tiny', seed: 3 });
  split = splitRandom(world.interactions, 0.8, { seed: 3 });
  seen = PositiveIndex.of(split.train);
  // The ranking engine: WebGPU's top-K kernel unless the CPU backend is forced (auto falls
  // back to the CPU where no adapter exists; GNNRL_REQUIRE_GPU=1 makes that an error).
  engine = await Engine.create({ backend: process.env.GNNRL_BACKEND === 'cpu' ? 'cpu' : 'auto', quiet: true });
});

afterAll(async () => {
  await engine?.dispose();
});

const allUsers = () => Int32Array.from({ length: split.train.nUsers }, (_, u) => u);

describe.each(CASES)('$label', (c) => {
  test('state() → checkpoint bytes → fromState() predicts, scores and recommends identically', async () => {
    const m = c.make();
    await m.fit(split.train);
    const bytes = encodeCheckpoint(await m.state());
    const back = c.restore(decodeCheckpoint(bytes).state);
    expect(back.kind).toBe(m.kind);
    expect(back.name).toBe(m.name);
    expect(back.predictsRatings).toBe(m.predictsRatings);
    expect([back.nUsers, back.nItems]).toEqual([m.nUsers, m.nItems]);
    // Test pairs plus indices past the id space (unseen: fallback).
    const users = Int32Array.from([...split.test.user, m.nUsers + 3, 0]);
    const items = Int32Array.from([...split.test.item, 0, m.nItems + 5]);
    expect(await back.predict(users, items)).toEqual(await m.predict(users, items));
    const some = Int32Array.of(0, 5, 17);
    expect(await back.scoreItems(some)).toEqual(await m.scoreItems(some));
    const a = await m.recommend(allUsers(), 10);
    const b = await back.recommend(allUsers(), 10);
    expect(b.items).toEqual(a.items);
    expect(b.scores).toEqual(a.scores);
    // The restored model keeps the original's config.
    expect((await back.state()).config).toEqual((await m.state()).config);
  });

  test('recommend excludes each user’s training items and agrees with scoreItems', async () => {
    const m = c.make();
    await m.fit(split.train);
    const users = allUsers();
    const k = 10;
    const rec = await m.recommend(users, k);
    expect(rec.k).toBe(k);
    expect(rec.items.length).toBe(users.length * k);
    for (let r = 0; r < users.length; r++) {
      const row = Array.from(rec.items.subarray(r * k, (r + 1) * k)).filter((i) => i >= 0);
      expect(new Set(row).size).toBe(row.length);
      for (const i of row) expect(seen.has(users[r], i), `user ${users[r]} item ${i}`).toBe(false);
    }
    // The best unexcluded item by scoreItems is the first recommendation (up to ties).
    const u = 7;
    const scores = await m.scoreItems(Int32Array.of(u));
    let best = -Infinity;
    for (let i = 0; i < scores.length; i++) if (!seen.has(u, i)) best = Math.max(best, scores[i]);
    const first = rec.items[u * k];
    expect(scores[first]).toBeCloseTo(best, 4);
  });

  test.runIf(c.factor)('recommend on the engine’s top-K kernel matches the host', async () => {
    const host = c.make();
    await host.fit(split.train);
    const onEngine = c.restore(await host.state(), { engine });
    const a = await host.recommend(allUsers(), 15);
    const b = await onEngine.recommend(allUsers(), 15);
    expect(b.items).toEqual(a.items);
    for (let j = 0; j < a.scores.length; j++) expect(b.scores[j]).toBeCloseTo(a.scores[j], 4);
  });

  test.runIf(c.label !== 'Popularity' && c.label !== 'Fixed vectors')('predictions stay in the training rating range', async () => {
    const m = c.make();
    await m.fit(split.train);
    const nI = m.nItems;
    const users = Int32Array.from({ length: 20 * nI }, (_, j) => Math.floor(j / nI));
    const items = Int32Array.from({ length: 20 * nI }, (_, j) => j % nI);
    const p = await m.predict(users, items);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of split.train.rating!) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (const v of p) {
      expect(v).toBeGreaterThanOrEqual(lo);
      expect(v).toBeLessThanOrEqual(hi);
    }
  });
});

describe('unseen users and items (factor models and BaselineOnly)', () => {
  // u4 and i5 have no training events; 40 is past the id space.
  const x = ratingsLog(MATRIX, 5, 6);
  const mu = 37 / 13;
  const pairs = { users: Int32Array.of(4, 1, 4, 40), items: Int32Array.of(1, 5, 5, 2) };

  test('biased models fall back to μ + the seen side’s bias', async () => {
    for (const m of [new BaselineOnly(), new SVD({ factors: 4, epochs: 3 }), new SVDpp({ factors: 4, epochs: 3 }), new NMF({ epochs: 3, biased: true })]) {
      await m.fit(x);
      const s = await m.state();
      const bu = s.arrays.userBias;
      const bi = s.arrays.itemBias;
      expect(bu[4], m.name).toBe(0);
      expect(bi[5], m.name).toBe(0);
      const p = await m.predict(pairs.users, pairs.items);
      expect(p[0], m.name).toBeCloseTo(mu + bi[1], 5);
      expect(p[1], m.name).toBeCloseTo(mu + bu[1], 5);
      expect(p[2], m.name).toBeCloseTo(mu, 5);
      expect(p[3], m.name).toBeCloseTo(mu + bi[2], 5);
    }
  });

  test('unbiased SVD and NMF fall back to μ', async () => {
    for (const m of [new SVD({ factors: 4, epochs: 3, biased: false }), new NMF({ epochs: 3 })]) {
      await m.fit(x);
      const p = await m.predict(pairs.users, pairs.items);
      for (const v of p) expect(v, m.name).toBeCloseTo(mu, 5);
      // Seen pairs are not μ.
      const seenPair = await m.predict(Int32Array.of(0), Int32Array.of(0));
      expect(Math.abs(seenPair[0] - mu), m.name).toBeGreaterThan(1e-3);
    }
  });

  test('an unseen user’s factor row is zero, so the factor form ranks it by item bias', async () => {
    const m = new SVD({ factors: 4, epochs: 3 });
    await m.fit(x);
    const f = await m.factors();
    expect(Array.from((f.users as Float32Array).subarray(16, 20))).toEqual([0, 0, 0, 0]);
    const rec = await m.recommend(Int32Array.of(4), 6);
    const bi = f.itemBias as Float32Array;
    const byBias = Array.from(bi.keys()).sort((a, b) => bi[b] - bi[a] || a - b);
    expect(Array.from(rec.items)).toEqual(byBias);
  });
});

describe('fit options', () => {
  test('validation: every epoch reports rmse and ranking metrics; the model ends on the best epoch', async () => {
    // A high rate overfits the tiny world within a few epochs, so the best epoch is not the last.
    const m = new SVD({ factors: 32, lr: 0.05, reg: 0.0, epochs: 12 });
    const res = await m.fit(split.train, { validation: split.test, patience: 0 });
    expect(res.history.length).toBe(12);
    for (const h of res.history) {
      expect(h.validation?.rmse).toBeGreaterThan(0);
      expect(h.validation?.['ndcg@20']).toBeGreaterThanOrEqual(0);
    }
    const rmses = res.history.map((h) => h.validation!.rmse);
    const bestEpoch = rmses.indexOf(Math.min(...rmses)) + 1;
    expect(res.bestEpoch).toBe(bestEpoch);
    expect(res.bestEpoch).toBeLessThan(12);
    const now = rmse(await m.predict(split.test.user, split.test.item), split.test.rating!);
    expect(now).toBeCloseTo(Math.min(...rmses), 5);
    // Training loss falls while the parameters overfit.
    expect(res.history[11].loss).toBeLessThan(res.history[0].loss);
  });

  test('early stopping with patience', async () => {
    const m = new SVD({ factors: 32, lr: 0.05, reg: 0.0, epochs: 50 });
    const res = await m.fit(split.train, { validation: split.test, patience: 2 });
    expect(res.stoppedEarly).toBe(true);
    expect(res.history.length).toBe(res.bestEpoch + 2);
  });

  test('non-iterative models validate their single pass', async () => {
    const m = new KNNWithMeans();
    const res = await m.fit(split.train, { validation: split.test });
    expect(res.history.length).toBe(1);
    expect(res.history[0].validation?.rmse).toBeGreaterThan(0);
    expect(res.bestEpoch).toBe(1);
  });

  test('an abort signal stops after the current epoch (or before a one-pass fit starts)', async () => {
    const ac = new AbortController();
    const m = new SVD({ factors: 4, epochs: 10 });
    const res = await m.fit(split.train, { onEpoch: (r) => (r.epoch === 2 ? ac.abort() : undefined), signal: ac.signal });
    expect(res.history.length).toBe(2);
    expect(res.bestEpoch).toBe(2);
    expect((await m.predict(Int32Array.of(0), Int32Array.of(0))).length).toBe(1);
    const knn = new KNNBasic();
    const none = await knn.fit(split.train, { signal: ac.signal });
    expect(none.history).toEqual([]);
    await expect(knn.predict(Int32Array.of(0), Int32Array.of(0))).rejects.toMatchObject({ code: 'state' });
  });

  test('an abort inside an epoch stops at the next progress boundary', async () => {
    // 32K ratings: progress is reported every 16 384, where the signal is checked.
    const world = syntheticWorld({ preset: 'small', seed: 2 });
    const ac = new AbortController();
    const done: number[] = [];
    const m = new SVD({ factors: 4, epochs: 5 });
    const res = await m.fit(world.interactions, {
      signal: ac.signal,
      onProgress: (p) => {
        done.push(p.done);
        ac.abort();
      },
    });
    expect(res.history.length).toBe(1);
    expect(done[0]).toBe(16384);
    expect(done[done.length - 1]).toBe(16384);
  });

  test('onProgress reports running loss within an epoch and the epochs default to the model’s', async () => {
    const reports: number[] = [];
    const m = new BaselineOnly({ method: 'sgd' });
    const res = await m.fit(split.train, { onProgress: (p) => reports.push(p.loss) });
    expect(res.history.length).toBe(20); // reference default for SGD baselines
    expect(reports.length).toBeGreaterThanOrEqual(20);
    expect(new BaselineOnly().options.epochs).toBe(10);
  });
});

describe('errors name the argument', () => {
  const implicit = syntheticWorld({ preset: 'tiny', seed: 1, implicit: true }).interactions;

  test.each([
    ['BaselineOnly', () => new BaselineOnly()],
    ['KNNBasic', () => new KNNBasic()],
    ['KNNBaseline', () => new KNNBaseline()],
    ['SVD', () => new SVD()],
    ['SVD++', () => new SVDpp()],
    ['NMF', () => new NMF()],
  ])('%s on implicit data: train.rating, and what to use instead', async (_name, make) => {
    const err = await make().fit(implicit).catch((e) => e);
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err.code).toBe('input');
    expect(err.details.arg).toBe('train.rating');
    expect(err.message).toMatch(/train\.rating is null/);
    expect(err.message).toMatch(/Popularity/);
  });

  test('Popularity fits implicit data', async () => {
    const m = new Popularity();
    await m.fit(implicit);
    expect((await m.recommend(Int32Array.of(0), 3)).items.length).toBe(3);
  });

  test('bad options', () => {
    const arg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(GnnrlError);
        return (e as GnnrlError).details.arg;
      }
      return 'no error';
    };
    expect(arg(() => new SVD({ factors: 0 }))).toBe('options.factors');
    expect(arg(() => new SVD({ lr: -1 }))).toBe('options.lr');
    expect(arg(() => new SVDpp({ regYj: Number.NaN }))).toBe('options.regYj');
    expect(arg(() => new NMF({ initLow: 0.5, initHigh: 0.2 }))).toBe('options.initHigh');
    expect(arg(() => new KNNBasic({ similarity: 'jaccard' as never }))).toBe('options.similarity');
    expect(arg(() => new KNNBasic({ k: 0 }))).toBe('options.k');
    expect(arg(() => new KNNBaseline({ baseline: { method: 'newton' as never } }))).toBe('options.baseline.method');
    expect(arg(() => new BaselineOnly({ method: 'xyz' as never }))).toBe('options.method');
  });

  test('bad init, negative ratings for NMF', async () => {
    const x = ratingsLog(MATRIX);
    const e1 = await new SVD({ factors: 2, init: { userFactors: new Float32Array(3) } }).fit(x).catch((e) => e);
    expect(e1.details.arg).toBe('options.init.userFactors');
    expect(e1.message).toMatch(/8 entries/);
    const e2 = await new NMF({ factors: 1, init: { itemFactors: Float32Array.of(1, -1, 1, 1, 1) } }).fit(x).catch((e) => e);
    expect(e2.details.arg).toBe('options.init.itemFactors');
    const e3 = await new NMF().fit(ratingsLog([[0, 0, -1], [1, 1, 2]])).catch((e) => e);
    expect(e3.details.arg).toBe('train.rating');
  });

  test('predict, scoreItems and recommend check their arguments and the model’s state', async () => {
    const m = new SVD({ factors: 2, epochs: 1 });
    await expect(m.predict(Int32Array.of(0), Int32Array.of(0))).rejects.toMatchObject({ code: 'state' });
    await m.fit(ratingsLog(MATRIX));
    await expect(m.predict(Int32Array.of(0, 1), Int32Array.of(0))).rejects.toMatchObject({ code: 'input', details: { arg: 'items' } });
    await expect(m.predict(Int32Array.of(0, -2), Int32Array.of(0, 0))).rejects.toMatchObject({ details: { arg: 'users', index: 1 } });
    await expect(m.scoreItems(Int32Array.of(4))).rejects.toMatchObject({ details: { arg: 'users' } });
    await expect(m.recommend(Int32Array.of(0), 0)).rejects.toMatchObject({ details: { arg: 'k' } });
    const knn = new KNNBasic();
    await knn.fit(ratingsLog(MATRIX));
    await expect(knn.recommend(Int32Array.of(9), 2)).rejects.toMatchObject({ details: { arg: 'users' } });
    await expect(knn.recommend(Int32Array.of(0), 2, { exclude: { rowPtr: new Int32Array(5), colIdx: new Int32Array(0) } })).rejects.toMatchObject({
      details: { arg: 'exclude' },
    });
    m.dispose();
    await expect(m.predict(Int32Array.of(0), Int32Array.of(0))).rejects.toThrow(/disposed/);
  });

  test('fromState checks the kind and the arrays', async () => {
    const m = new SVD({ factors: 2, epochs: 1 });
    await m.fit(ratingsLog(MATRIX));
    const s = await m.state();
    expect(() => NMF.fromState(s)).toThrow(expect.objectContaining({ details: expect.objectContaining({ arg: 'state.kind' }) }));
    const { userFactors: _drop, ...rest } = s.arrays;
    expect(() => SVD.fromState({ ...s, arrays: rest })).toThrow(/state\.arrays\.userFactors: expected a Float32Array, got nothing/);
    expect(() => SVD.fromState({ ...s, arrays: { ...s.arrays, itemBias: new Float32Array(2) } })).toThrow(/state\.arrays\.itemBias: expected 5 entries, got 2/);
  });
});

describe('per-epoch validation on a sample of users', () => {
  test('ctx.validationUsers ranks at most that many validation users each epoch; the rating metrics still cover every pair', async () => {
    const ranked: number[][] = [];
    const fitWith = async (ctx: ModelContext) => {
      const m = new SVD({ factors: 8, epochs: 2 }, ctx);
      const seenUsers: number[] = [];
      const recommend = m.recommend.bind(m);
      m.recommend = (users, k, opts) => {
        seenUsers.push(users.length);
        return recommend(users, k, opts);
      };
      const r = await m.fit(split.train, { validation: split.test, patience: 0 });
      ranked.push(seenUsers);
      return r;
    };
    const all = await fitWith({});
    const few = await fitWith({ validationUsers: 5 });
    // Without the option every epoch ranks the same, larger set of users (all that can be scored).
    expect(ranked[0]).toHaveLength(2);
    expect(ranked[0][1]).toBe(ranked[0][0]);
    expect(ranked[0][0]).toBeGreaterThan(5);
    expect(ranked[1]).toEqual([5, 5]);
    expect(few.history.map((h) => h.validation!.rmse)).toEqual(all.history.map((h) => h.validation!.rmse));
    expect(() => new SVD({}, { validationUsers: 0 })).toThrow(/ctx\.validationUsers: expected a positive integer, got 0/);
  });
});
