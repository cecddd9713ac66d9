/**
 * DDPG-LA's InterestEncoder (src/models/ddpg-la/interest.ts) on every backend: each of
 * the eight named configurations (DDPG-LA and its seven ablations) gives a state of the
 * right width with gradients in every parameter; the full model's state equals its two
 * modules run on hand-built records and windows; coded errors for what DDPG-LA needs.
 */
import { expect, test, type TestContext } from 'vitest';
import { GnnrlError } from '../../../src/errors.js';
import { syntheticWorld } from '../../../src/data/synthetic.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { movieLensFeatures } from '../../../src/data/features.js';
import { loadMovieLens, type MovieLensFormat } from '../../../src/data/movielens.js';
import { writeMovieLens } from '../../../src/data/writers.js';
import type { Interactions } from '../../../src/data/interactions.js';
import * as T from '../../../src/tensor/index.js';
import { INTEREST_ABLATIONS, InterestEncoder, interestFeatures, type InterestBatch, type InterestFeatures } from '../../../src/models/ddpg-la/interest.js';
import { forEachBackend, testSeed } from '../../util/backends.js';


/** The tiny synthetic world with MovieLens-style side features (as loadMovieLens would attach them). */
function fixture(): Interactions {
  const x = syntheticWorld({ preset: 'tiny', seed: 5 }).interactions;
  const [nU, nI] = [x.nUsers, x.nItems];
  const f = movieLensFeatures({
    ...x,
    users: {
      age: Float32Array.from({ length: nU }, (_, u) => 18 + ((u * 7) % 50)),
      gender: Int32Array.from({ length: nU }, (_, u) => u % 2),
      genderVocab: ['F', 'M'],
      occupation: Int32Array.from({ length: nU }, (_, u) => u % 3),
      occupationVocab: ['artist', 'doctor', 'writer'],
      zip: Array.from({ length: nU }, () => '00000'),
    },
    items: {
      title: Array.from({ length: nI }, (_, i) => `Item ${i}`),
      year: Float32Array.from({ length: nI }, (_, i) => 1990 + (i % 10)),
      genreOffsets: Int32Array.from({ length: nI + 1 }, (_, i) => 2 * i),
      genres: Int32Array.from({ length: 2 * nI }, (_, j) => (j * 3) % 5),
      genreVocab: ['Action', 'Comedy', 'Drama', 'Horror', 'Western'],
    },
  });
  return { ...x, userFeatures: f.userFeatures, itemFeatures: f.itemFeatures };
}

/** The first `len` records (time order) of the first `count` users with at least `min` records. */
function batchOf(x: Interactions, count: number, len: number, min: number): InterestBatch {
  const byUser = new Map<number, number[]>();
  x.user.forEach((u, e) => byUser.set(u, [...(byUser.get(u) ?? []), e]));
  const rows = [...byUser.entries()].filter(([, es]) => es.length >= min).slice(0, count);
  expect(rows.length).toBe(count);
  const B = rows.length;
  const b: InterestBatch = { users: new Int32Array(B), items: new Int32Array(B * len), ts: new Float64Array(B * len), lengths: new Int32Array(B), len };
  rows.forEach(([u, es], r) => {
    const sorted = es.sort((p, q) => x.ts![p] - x.ts![q] || p - q).slice(0, len);
    b.users[r] = u;
    b.lengths[r] = sorted.length;
    sorted.forEach((e, t) => {
      b.items[r * len + t] = x.item[e];
      b.ts![r * len + t] = x.ts![e];
    });
    for (let t = sorted.length; t < len; t++) b.items[r * len + t] = -1; // padding: must be ignored
  });
  return b;
}

function errorOf(f: () => unknown): GnnrlError {
  try {
    f();
  } catch (e) {
    if (e instanceof GnnrlError) return e;
    throw e;
  }
  throw new Error('expected a GnnrlError');
}

const data = fixture();
const features: InterestFeatures = interestFeatures(data);

test('interestFeatures: the record width is user + item features + timestamp; missing parts are coded errors naming them', () => {
  expect(features.userFeatures.names).toEqual(expect.arrayContaining(['user_id', 'age', 'gender=F', 'occupation=doctor']));
  expect(features.itemFeatures.names).toEqual(expect.arrayContaining(['item_id', 'genre=Western']));
  expect(features.ts).not.toBeNull();
  const noUsers = errorOf(() => interestFeatures({ ...data, userFeatures: undefined }));
  expect([noUsers.code, noUsers.details.arg]).toEqual(['input', 'userFeatures']);
  expect(noUsers.message).toMatch(/u\.user/);
  expect(errorOf(() => interestFeatures({ ...data, itemFeatures: undefined })).details.arg).toBe('itemFeatures');
  expect(errorOf(() => interestFeatures({ ...data, ts: null })).details.arg).toBe('ts');
});

test('interestFeatures on loaded MovieLens folders: a missing side file is named per layout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-ddpg-la-'));
  try {
    const x = syntheticWorld({ preset: 'tiny', seed: 6 }).interactions;
    const cases: [MovieLensFormat, string, string][] = [
      ['100k', 'userFeatures', 'u.user'],
      ['1m', 'userFeatures', 'users.dat'],
    ];
    for (const [format, arg, file] of cases) {
      const ml = join(dir, format);
      await writeMovieLens(ml, x, { format });
      const loaded = await loadMovieLens(ml);
      const err = errorOf(() => interestFeatures(loaded));
      expect([err.code, err.details.arg, err.details.file]).toEqual(['input', arg, file]);
      expect(err.message).toContain(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

forEachBackend('InterestEncoder', (b) => {
  const engineFor = (ctx: TestContext) => b.engine(ctx);
  const [H, dv] = [7, 6];
  for (const [name, kinds] of Object.entries(INTEREST_ABLATIONS)) {
    test(`${name} (${kinds.longTerm} × ${kinds.shortTerm}): state shape and a gradient in every parameter`, async (ctx) => {
      const engine = engineFor(ctx);
      const seed = testSeed();
      const enc = new InterestEncoder(engine, features, { ...kinds, rng: seed, hidden: H, dk: 5, dv });
      const want = (kinds.longTerm === 'none' ? 0 : H) + (kinds.shortTerm === 'none' ? 0 : dv);
      expect(enc.stateDim).toBe(want);
      expect(enc.recordDim).toBe(features.userFeatures.dim + features.itemFeatures.dim + 1);
      const names = enc.namedParameters().map(([n]) => n);
      expect(names.some((n) => n.startsWith('long.'))).toBe(kinds.longTerm !== 'none');
      expect(names.some((n) => n.startsWith('short.'))).toBe(kinds.shortTerm !== 'none');
      if (kinds.shortTerm !== 'none') expect(enc.short!.weighting).toBe(kinds.shortTerm === 'sa' ? 'plain' : 'linear');
      if (kinds.longTerm !== 'none') expect(enc.long!.enhancement).toBe(kinds.longTerm === 'rlstm' ? 'fixed' : 'none');
      const batch = batchOf(data, 9, 14, 5);
      const grads = await engine.scopeAsync(async () => {
        const s = enc.forward(batch);
        expect(s.shape).toEqual([9, want]);
        T.sum(T.square(s)).backward();
        return T.readAll(enc.parameters().map((p) => p.grad!));
      });
      grads.forEach((g, i) => {
        expect(g.every((v) => Number.isFinite(v)), names[i]).toBe(true);
        expect(g.some((v) => v !== 0), names[i]).toBe(true);
      });
      enc.dispose();
    });
  }

  test('ddpg-la: the state is [RLSTM over the history | T-self-attention over its last 5 records], from hand-built records', async (ctx) => {
    const engine = engineFor(ctx);
    const seed = testSeed();
    const enc = new InterestEncoder(engine, features, { rng: seed, hidden: H, dv });
    const batch = batchOf(data, 6, 11, 5);
    const { userFeatures: uf, itemFeatures: itf } = features;
    const F = enc.recordDim;
    const tsScaled = features.ts!.transform(batch.ts!);
    const rec = (b: number, t: number): number[] => {
      const u = batch.users[b];
      const it = batch.items[b * batch.len + t];
      return [...uf.data.subarray(u * uf.dim, (u + 1) * uf.dim), ...itf.data.subarray(it * itf.dim, (it + 1) * itf.dim), tsScaled[b * batch.len + t]];
    };
    const B = batch.users.length;
    const x = new Float32Array(B * batch.len * F);
    const win = new Float32Array(B * 5 * F);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < batch.lengths[b]; t++) x.set(rec(b, t), (b * batch.len + t) * F);
      for (let j = 0; j < 5; j++) win.set(rec(b, batch.lengths[b] - 5 + j), (b * 5 + j) * F);
    }
    const [got, long, short] = await engine.scopeAsync(async () => {
      const outs = T.noGrad(() => [
        enc.forward(batch),
        enc.long!.forward(T.tensor(engine, x, [B, batch.len, F]), { lengths: batch.lengths }),
        enc.short!.forward(T.tensor(engine, win, [B, 5, F])),
      ]);
      return T.readAll(outs);
    });
    for (let b = 0; b < B; b++) {
      expect(Array.from(got.subarray(b * (H + dv), b * (H + dv) + H))).toEqual(Array.from(long.subarray(b * H, (b + 1) * H)));
      expect(Array.from(got.subarray(b * (H + dv) + H, (b + 1) * (H + dv)))).toEqual(Array.from(short.subarray(b * dv, (b + 1) * dv)));
    }
    enc.dispose();
  });

  test('bad options and batches are coded input errors naming the argument', (ctx) => {
    const engine = engineFor(ctx);
    const bad: [() => unknown, string][] = [
      [() => new InterestEncoder(engine, features, { rng: 1, longTerm: 'none', shortTerm: 'none' }), 'shortTerm'],
      [() => new InterestEncoder(engine, features, { rng: 1, longTerm: 'gru' as never }), 'longTerm'],
      [() => new InterestEncoder(engine, features, { rng: 1, shortTerm: 'cnn' as never }), 'shortTerm'],
      [() => new InterestEncoder(engine, features, { rng: 1, weighting: 'plain' as never }), 'weighting'],
      [() => new InterestEncoder(engine, features, { rng: 1, kappa: -2 }), 'kappa'],
    ];
    const enc = new InterestEncoder(engine, features, { rng: 1, hidden: 4, dk: 4 });
    const ok = batchOf(data, 3, 8, 5);
    const short = { ...ok, lengths: Int32Array.from([ok.lengths[0], 4, ok.lengths[2]]) };
    bad.push(
      [() => engine.scope(() => enc.forward(short)), 'lengths'],
      [() => engine.scope(() => enc.forward({ ...ok, ts: null })), 'ts'],
      [() => engine.scope(() => enc.forward({ ...ok, users: Int32Array.from([0, 1, 1e6]) })), 'users'],
      [() => engine.scope(() => enc.forward({ ...ok, items: ok.items.map((v, i) => (i === 2 ? data.nItems : v)) })), 'items'],
      [() => engine.scope(() => enc.forward({ ...ok, items: ok.items.slice(1) })), 'items'],
    );
    for (const [f, arg] of bad) {
      const e = errorOf(f);
      expect(e.code, e.message).toBe('input');
      expect(e.details.arg, e.message).toBe(arg);
    }
    expect(errorOf(() => engine.scope(() => enc.forward(short))).message).toMatch(/lengths\[1\] = 4 is under the window of 5/);
    // Without a short-term part, a history shorter than the window is fine.
    const lstmOnly = new InterestEncoder(engine, features, { rng: 1, shortTerm: 'none', hidden: 4 });
    expect(engine.scope(() => T.noGrad(() => lstmOnly.forward(short).shape))).toEqual([3, 4]);
    enc.dispose();
    lstmOnly.dispose();
  });
});
