import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld, type SyntheticWorld } from '../../src/data/synthetic.js';
import { fromExternal, type Interactions } from '../../src/data/interactions.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { interactionsSha256 } from '../../src/data/interactions.js';
import type { RecommenderModel } from '../../src/models/types.js';
import { Recommender, type RecommendResponse } from '../../src/serve/recommender.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/serve/snapshot.js';
import type { ServedVersion } from '../../src/serve/served-version.js';
import { Rng } from '../../src/util/rng.js';
import { meanCI } from './mean-ci.js';

let engine: Engine;
let dir: string;
let world: SyntheticWorld;
let train: Interactions;
let model: RecommenderModel;
let ckpt: string;
/** Users left out of training entirely (cold start), with their logged items. */
const coldUsers: number[] = [];

const RUN = { bestEpoch: 1, data: 'synthetic', split: 'none', val: 0, seed: 1, gnnrl: 'test' };

beforeAll(async () => {
  engine = await Engine.create({ quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-'));
  world = syntheticWorld({ nUsers: 400, nItems: 300, dim: 8, meanEvents: 25, clusters: 8, seed: 11 });
  const x = world.interactions;
  for (let u = 320; u < 400; u++) coldUsers.push(u);
  const keep: number[] = [];
  for (let j = 0; j < x.user.length; j++) if (x.user[j] < 320) keep.push(j);
  train = fromExternal({ user: keep.map((j) => `u${x.user[j]}`), item: keep.map((j) => `i${x.item[j]}`) });
  const entry = getModel('lightgcn');
  model = await entry.create({ engine, train, graph: trainingGraph(train.user, train.item, train.nUsers, train.nItems), options: { dim: 16, seed: 3 } });
  await model.fit(train, { epochs: 30 });
  ckpt = join(dir, 'lightgcn.ckpt');
  await saveTrainedModel(ckpt, model, entry, train, RUN);
}, 240_000);

afterAll(() => {
  model?.dispose();
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Items of `u` (world index) in the world's log. */
function logged(u: number): number[] {
  const x = world.interactions;
  const out: number[] = [];
  for (let j = 0; j < x.user.length; j++) if (x.user[j] === u) out.push(x.item[j]);
  return [...new Set(out)];
}

/** What a response should be under version `v`: top-k by u·v + b over unseen, ranked items. */
function reference(v: ServedVersion, userId: string, k: number): { items: (string | number)[]; scores: number[] } {
  const u = v.userIds.get(userId);
  const { users: U, items: V } = v.factors!;
  const x = U.row(u);
  const cands: { i: number; s: number }[] = [];
  for (let i = 0; i < V.rows; i++) {
    if (v.unranked.has(i)) continue;
    const row = v.seen.rowPtr.length > u + 1 ? Array.from(v.seen.colIdx.subarray(v.seen.rowPtr[u], v.seen.rowPtr[u + 1])) : [];
    if (row.includes(i) || v.seen.added.get(u)?.has(i)) continue;
    let s = V.bias(i);
    const r = V.row(i);
    for (let a = 0; a < V.dim; a++) s += r[a] * x[a];
    cands.push({ i, s: Math.fround(s) });
  }
  cands.sort((a, b) => (b.s - a.s) || (a.i - b.i));
  return { items: cands.slice(0, k).map((c) => v.itemIds.id(c.i)), scores: cands.slice(0, k).map((c) => c.s) };
}


describe('Recommender on a gnnrl train checkpoint', () => {
  test('answers from the factor tables exactly as the model ranks, in external ids', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    expect(rec.mode).toBe('factors');
    expect(rec.version).toBe(1);
    const users = Int32Array.from([0, 5, 17, 200]);
    const want = await model.recommend(users, 10);
    const got = await rec.recommendBatch(Array.from(users, (u) => train.userIds.id(u)), 10);
    got.forEach((r, row) => {
      expect(r.items).toEqual(Array.from(want.items.subarray(row * 10, row * 10 + 10), (i) => train.itemIds.id(i)));
      r.scores.forEach((s, j) => expect(Math.abs(s - want.scores[row * 10 + j])).toBeLessThan(1e-4 * Math.max(1, Math.abs(s))));
      expect(r.version).toBe(1);
    });
    const one = await rec.recommend(train.userIds.id(5), 10);
    expect(one).toEqual(got[1]);
    await rec.close();
  });

  test('unknown users get popularity (or a coded error by policy); bad arguments are named', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    const r = await rec.recommend('nobody', 5);
    expect(r.fallback).toBe('popularity');
    expect(r.items).toHaveLength(5);
    for (let j = 1; j < 5; j++) expect(r.scores[j - 1]).toBeGreaterThanOrEqual(r.scores[j]);
    await expect(rec.recommend('u1', 0)).rejects.toThrow(/k: expected a positive integer, got 0/);
    await expect(rec.recommend('u1', 5, { exclude: 'all' as never })).rejects.toThrow(/exclude: expected 'train' \| 'none'/);
    const s = await rec.score('u1', ['i1', 'no-such-item']);
    expect(Number.isNaN(s.scores[1])).toBe(true);
    expect(() => rec.observe({ user: 'u1', item: 'i1' } as never)).toThrow(/expected one of reward, rating or click/);
    expect(() => rec.observe({ user: {}, item: 'i1', click: true } as never)).toThrow(/user: expected a string or integer id/);
    await expect(rec.similarItems('no-such-item', 3)).rejects.toThrow(/unknown item "no-such-item"/);
    const sim = await rec.similarItems('i1', 4);
    expect(sim.items).toHaveLength(4);
    expect(sim.items).not.toContain('i1');
    const strict = await Recommender.load(ckpt, { engine, unknownUser: 'error' });
    await expect(strict.recommend('nobody', 5)).rejects.toThrow(/unknown user "nobody"/);
    await strict.close();
    await rec.close();
    await expect(rec.recommend('u1', 3)).rejects.toThrow(/closed/);
  });

  test('diversify trades relevance for spread: lower mean pairwise cosine than the plain list', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    const v = rec.currentVersion();
    const V = v.factors!.items;
    const cos = (a: number, b: number) => {
      const x = V.row(a);
      const y = V.row(b);
      let s = 0, nx = 0, ny = 0;
      for (let d = 0; d < V.dim; d++) (s += x[d] * y[d]), (nx += x[d] ** 2), (ny += y[d] ** 2);
      return s / Math.sqrt(nx * ny);
    };
    const spread = (r: RecommendResponse) => {
      const idx = r.items.map((id) => v.itemIds.get(id));
      let s = 0, n = 0;
      for (let a = 0; a < idx.length; a++) for (let b = a + 1; b < idx.length; b++) (s += cos(idx[a], idx[b])), n++;
      return s / n;
    };
    let plain = 0, div = 0;
    for (const u of ['u0', 'u3', 'u9', 'u40', 'u77']) {
      plain += spread(await rec.recommend(u, 10));
      div += spread(await rec.recommend(u, 10, { diversify: 0.3 }));
    }
    expect(div).toBeLessThan(plain);
    await rec.close();
  });
});

describe('online updates', () => {
  test('2,000 recommends interleaved with observe: each response matches the version it names', async () => {
    const rec = await Recommender.load(ckpt, { engine, online: { intervalMs: 0, maxBatch: 7 } });
    const versions = new Map<number, ServedVersion>([[1, rec.currentVersion()]]);
    const rng = new Rng(4);
    const pending: Promise<{ user: string; r: RecommendResponse }>[] = [];
    for (let step = 0; step < 400; step++) {
      const u = `u${rng.int(300)}`;
      rec.observe({ user: u, item: `i${rng.int(250)}`, click: true });
      if (step % 9 === 0) rec.observe({ user: `new${step}`, item: `i${rng.int(250)}`, click: true });
      for (let q = 0; q < 5; q++) {
        const user = `u${rng.int(300)}`;
        pending.push(rec.recommend(user, 8).then((r) => ({ user, r })));
      }
      await new Promise((res) => setImmediate(res));
      versions.set(rec.version, rec.currentVersion());
    }
    await rec.flush();
    versions.set(rec.version, rec.currentVersion());
    expect(rec.version).toBeGreaterThan(3);
    const answers = await Promise.all(pending);
    const seenVersions = new Set(answers.map((a) => a.r.version));
    expect(seenVersions.size).toBeGreaterThan(1);
    for (const { user, r } of answers) {
      const v = versions.get(r.version);
      expect(v, `version ${r.version} was served but never current`).toBeDefined();
      const want = reference(v!, user, 8);
      expect(r.items).toEqual(want.items);
      r.scores.forEach((s, j) => expect(Math.abs(s - want.scores[j])).toBeLessThan(1e-5 * Math.max(1, Math.abs(s))));
    }
    expect(rec.stats().eventsApplied).toBe(400 + 45);
    expect(rec.size.users).toBe(train.nUsers + 45);
    expect(answers.length).toBe(2000);
    await rec.close();
  });

  test('flush drains a queue longer than maxBatch, one batch of at most maxBatch events at a time', async () => {
    const rec = await Recommender.load(ckpt, { engine, online: { intervalMs: 60_000, maxBatch: 3 } });
    const v = rec.currentVersion();
    rec.observe(Array.from({ length: 10 }, (_, j) => ({ user: v.userIds.id(j), item: v.itemIds.id(j + 1), click: true })));
    await rec.flush();
    const st = rec.stats();
    expect([st.queueDepth, st.eventsApplied, st.batches]).toEqual([0, 10, 4]);
    await rec.close();
  });

  test('a user whose taste shifts gets better recall after observe than from the frozen model', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    const frozen = await Recommender.load(ckpt, { engine });
    const groups = world.itemGroup;
    const rng = new Rng(21);
    const diffs: number[] = [];
    for (let u = 0; u < 60; u++) {
      const mine = logged(u);
      const count = new Int32Array(8);
      for (const i of mine) count[groups[i]]++;
      // The group this user took least: the new taste.
      let g = 0;
      for (let c = 1; c < 8; c++) if (count[c] < count[g]) g = c;
      const pool = [];
      for (let i = 0; i < world.nItems; i++) if (groups[i] === g && !mine.includes(i) && train.itemIds.has(`i${i}`)) pool.push(i);
      if (pool.length < 12) continue;
      for (let j = pool.length - 1; j > 0; j--) {
        const r = rng.int(j + 1);
        [pool[j], pool[r]] = [pool[r], pool[j]];
      }
      const shown = pool.slice(0, 6);
      const held = new Set(pool.slice(6, 12).map((i) => `i${i}`));
      rec.observe(shown.map((i) => ({ user: `u${u}`, item: `i${i}`, click: true })));
      await rec.flush();
      // The frozen model must not recommend what the user just took either.
      const exclude = new Set(shown.map((i) => `i${i}`));
      const after = await rec.recommend(`u${u}`, 20);
      const before = await frozen.recommend(`u${u}`, 20, { filter: (id) => !exclude.has(String(id)) });
      const hits = (r: RecommendResponse) => r.items.filter((id) => held.has(String(id))).length / held.size;
      diffs.push(hits(after) - hits(before));
    }
    expect(diffs.length).toBeGreaterThan(30);
    const ci = meanCI(diffs);
    expect(ci.lo, `recall@20 gain ${ci.mean.toFixed(3)} [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}]`).toBeGreaterThan(0);
    await rec.close();
    await frozen.close();
  });

  test('cold-start users beat popularity once they have 5 interactions; with none they get popularity', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    const rng = new Rng(8);
    const diffs: number[] = [];
    for (const u of coldUsers) {
      const mine = logged(u).filter((i) => train.itemIds.has(`i${i}`));
      if (mine.length < 10) continue;
      for (let j = mine.length - 1; j > 0; j--) {
        const r = rng.int(j + 1);
        [mine[j], mine[r]] = [mine[r], mine[j]];
      }
      const id = `cold${u}`;
      expect((await rec.recommend(id, 5)).fallback).toBe('popularity');
      const first = mine.slice(0, 5);
      const held = new Set(mine.slice(5).map((i) => `i${i}`));
      rec.observe(first.map((i) => ({ user: id, item: `i${i}`, rating: 5 })));
      await rec.flush();
      const folded = await rec.recommend(id, 20);
      expect(folded.fallback).toBeUndefined();
      const taken = new Set(first.map((i) => `i${i}`));
      const pop = await rec.recommend('nobody', 20 + 5);
      const popList = pop.items.filter((x) => !taken.has(String(x))).slice(0, 20);
      const hit = (items: (string | number)[]) => items.filter((x) => held.has(String(x))).length / held.size;
      diffs.push(hit(folded.items) - hit(popList));
    }
    expect(diffs.length).toBeGreaterThan(15);
    const ci = meanCI(diffs);
    expect(ci.lo, `recall@20 gain over popularity ${ci.mean.toFixed(3)} [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}]`).toBeGreaterThan(0);
    await rec.close();
  });

  test('a new item gets a vector from the users who took it and can then be recommended and found similar', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    const takers = ['u1', 'u2', 'u3', 'u4'];
    rec.observe(takers.map((user) => ({ user, item: 'brand-new', click: true })));
    await rec.flush();
    expect(rec.size.items).toBe(train.nItems + 1);
    const s = await rec.score('u5', ['brand-new']);
    expect(Number.isFinite(s.scores[0])).toBe(true);
    const sim = await rec.similarItems('brand-new', 3);
    expect(sim.items).toHaveLength(3);
    // Taken only by a user with no vector and no other items: no vector, never ranked.
    rec.observe({ user: 'ghost', item: 'orphan', click: true });
    await rec.flush();
    const v = rec.currentVersion();
    expect(v.unranked.has(v.itemIds.get('orphan'))).toBe(true);
    const r = await rec.recommend('ghost', 400);
    expect(r.items).not.toContain('orphan');
    await rec.close();
  });
});

describe('snapshots', () => {
  test('a grown model round-trips bit for bit and answers the same after reload', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    rec.observe([
      { user: 'u1', item: 'i7', click: true },
      { user: 'fresh', item: 'i3', rating: 5 },
      { user: 'fresh', item: 'i9', reward: 1 },
      { user: 'u2', item: 'newer', click: true },
    ]);
    await rec.flush();
    const file = join(dir, 'grown.gnnrl');
    await rec.snapshot(file);
    const back = await Recommender.load(file, { engine });
    expect(back.version).toBe(rec.version);
    expect(back.size).toEqual(rec.size);
    for (const u of ['u1', 'fresh', 'u2', 'u50']) expect(await back.recommend(u, 10)).toEqual(await rec.recommend(u, 10));
    // Bytes: decode → encode is the identity.
    const bytes = readFileSync(file);
    expect(Buffer.from(encodeSnapshot(decodeSnapshot(bytes, file))).equals(bytes)).toBe(true);
    // The training log's hash travels from the checkpoint into the snapshot.
    expect(decodeSnapshot(bytes).dataHash).toBe(interactionsSha256(train));
    // A second snapshot of the reloaded model holds the same contents.
    const again = join(dir, 'again.gnnrl');
    await back.snapshot(again);
    const a = decodeSnapshot(readFileSync(again));
    const b = decodeSnapshot(bytes);
    expect(Buffer.from(encodeSnapshot({ ...a, created: 'x' })).equals(Buffer.from(encodeSnapshot({ ...b, created: 'x' })))).toBe(true);
    await rec.close();
    await back.close();
  });

  test('a flipped byte in any section, or a truncated file, is refused naming the section', async () => {
    const rec = await Recommender.load(ckpt, { engine });
    rec.observe({ user: 'u1', item: 'i7', click: true });
    await rec.flush();
    const data = await rec.snapshotData();
    await rec.close();
    const bytes = encodeSnapshot(data);
    const header = JSON.parse(Buffer.from(bytes.subarray(48, 48 + new DataView(bytes.buffer).getUint32(12, true))).toString('utf8'));
    const start = (48 + new DataView(bytes.buffer).getUint32(12, true) + 7) & ~7;
    expect(header.sections.map((s: { name: string }) => s.name)).toEqual(['config', 'idmaps', 'weights', 'extras']);
    for (const s of header.sections as { name: string; offset: number; length: number }[]) {
      const bad = Uint8Array.from(bytes);
      bad[start + s.offset + Math.floor(s.length / 2)] ^= 0x40;
      expect(() => decodeSnapshot(bad, 'f.gnnrl')).toThrow(new RegExp(`snapshot f\\.gnnrl: section '${s.name}': corrupt: its SHA-256`));
    }
    const headerFlip = Uint8Array.from(bytes);
    headerFlip[60] ^= 1;
    expect(() => decodeSnapshot(headerFlip, 'f.gnnrl')).toThrow(/snapshot f\.gnnrl: header: corrupt/);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3), 'f.gnnrl')).toThrow(/section 'extras'.*truncated|truncated/);
    const path = join(dir, 'cut.gnnrl');
    writeFileSync(path, bytes.subarray(0, 100));
    await expect(Recommender.load(path, { engine })).rejects.toThrow(/snapshot .*cut\.gnnrl: header: truncated/);
  });
});

describe('model-served models', () => {
  test('a neighbourhood baseline is served by its own ranking; feedback updates seen items and popularity', async () => {
    const rated = syntheticWorld({ preset: 'tiny', seed: 5 }).interactions;
    const entry = getModel('knn-basic');
    const m = await entry.create({ engine, train: rated, options: {} });
    await m.fit(rated);
    const file = join(dir, 'knn.ckpt');
    await saveTrainedModel(file, m, entry, rated, RUN);
    const rec = await Recommender.load(file, { engine });
    expect(rec.mode).toBe('model');
    const user = rated.userIds.id(0);
    const want = await m.recommend(Int32Array.of(0), 5);
    const got = await rec.recommend(user, 5);
    expect(got.items).toEqual(Array.from(want.items, (i) => rated.itemIds.id(i)));
    rec.observe({ user, item: got.items[0], rating: 5 });
    await rec.flush();
    const next = await rec.recommend(user, 5);
    expect(next.version).toBe(2);
    expect(next.items).not.toContain(got.items[0]);
    await expect(rec.similarItems(rated.itemIds.id(0), 3)).rejects.toThrow(/not served from item vectors/);
    m.dispose();
    await rec.close();
  });
});
