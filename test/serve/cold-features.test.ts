import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld, type SyntheticWorld } from '../../src/data/synthetic.js';
import { fromExternal, type Interactions } from '../../src/data/interactions.js';
import type { FeatureTable } from '../../src/data/features-types.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/rng.js';

let engine: Engine;
let dir: string;
let world: SyntheticWorld;
let train: Interactions;
let ckpt: string;
const held: number[] = [];
const K = 8;

/** Item features: its group one-hot and its true factor vector, with noise. */
function featuresOf(item: number, rng: Rng): number[] {
  const f = new Array(K + world.dim).fill(0);
  f[world.itemGroup[item]] = 1;
  for (let a = 0; a < world.dim; a++) f[K + a] = world.itemFactors[item * world.dim + a] + 0.3 * rng.normal();
  return f;
}

beforeAll(async () => {
  engine = await Engine.create({ quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-cold-'));
  world = syntheticWorld({ nUsers: 500, nItems: 300, dim: 8, meanEvents: 25, clusters: K, seed: 13 });
  const rng = new Rng(1);
  const all = Array.from({ length: world.nItems }, (_, i) => i);
  for (let j = all.length - 1; j > 0; j--) {
    const r = rng.int(j + 1);
    [all[j], all[r]] = [all[r], all[j]];
  }
  held.push(...all.slice(0, 40));
  const heldSet = new Set(held);
  const x = world.interactions;
  const keep: number[] = [];
  for (let j = 0; j < x.user.length; j++) if (!heldSet.has(x.item[j])) keep.push(j);
  train = fromExternal({ user: keep.map((j) => `u${x.user[j]}`), item: keep.map((j) => `i${x.item[j]}`) });
  const entry = getModel('lightgcn');
  const m = await entry.create({ engine, train, graph: trainingGraph(train.user, train.item, train.nUsers, train.nItems), options: { dim: 16, seed: 2 } });
  await m.fit(train, { epochs: 30 });
  ckpt = join(dir, 'm.ckpt');
  await saveTrainedModel(ckpt, m, entry, train, { bestEpoch: 1, data: 's', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  m.dispose();
}, 240_000);

afterAll(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function trainFeatures(permute: boolean): FeatureTable {
  const rng = new Rng(5);
  const n = train.nItems;
  const dim = K + world.dim;
  const order = Array.from({ length: n }, (_, j) => j);
  if (permute) {
    for (let j = n - 1; j > 0; j--) {
      const r = rng.int(j + 1);
      [order[j], order[r]] = [order[r], order[j]];
    }
  }
  const data = new Float32Array(n * dim);
  for (let j = 0; j < n; j++) {
    const item = Number(String(train.itemIds.id(order[j])).slice(1));
    data.set(featuresOf(item, rng), j * dim);
  }
  return { nRows: n, dim, data, names: [...Array.from({ length: K }, (_, g) => `group=${g}`), ...Array.from({ length: world.dim }, (_, a) => `f${a}`)] };
}

/** Pairwise accuracy over users who took a held-out item: P(score(taken) > score(not taken)). */
async function pairwise(rec: Recommender): Promise<{ mean: number; lo: number }> {
  const rng = new Rng(9);
  const x = world.interactions;
  const takenBy = new Map<number, Set<number>>();
  const heldSet = new Set(held);
  for (let j = 0; j < x.user.length; j++) {
    if (!heldSet.has(x.item[j]) || !train.userIds.has(`u${x.user[j]}`)) continue;
    let s = takenBy.get(x.user[j]);
    if (!s) takenBy.set(x.user[j], (s = new Set()));
    s.add(x.item[j]);
  }
  const wins: number[] = [];
  for (const [u, items] of takenBy) {
    const others = held.filter((i) => !items.has(i));
    for (const i of items) {
      const neg = others[rng.int(others.length)];
      const s = await rec.score(`u${u}`, [`i${i}`, `i${neg}`]);
      wins.push(s.scores[0] > s.scores[1] ? 1 : s.scores[0] === s.scores[1] ? 0.5 : 0);
    }
  }
  const n = wins.length;
  const mean = wins.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(wins.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, lo: mean - (1.96 * sd) / Math.sqrt(n) - 0.5 };
}

describe('cold start from features', () => {
  test('new items placed by their features are ranked above chance for the users who take them; shuffled features are not', async () => {
    const rng = new Rng(3);
    const rows = held.map((i) => ({ item: `i${i}`, features: featuresOf(i, rng) }));
    const rec = await Recommender.load(ckpt, { engine, itemFeatures: trainFeatures(false) });
    const r = await rec.addItems(rows);
    expect(r).toEqual({ version: 2, added: 40 });
    expect(rec.size.items).toBe(train.nItems + 40);
    const got = await pairwise(rec);
    expect(got.lo, `pairwise accuracy ${got.mean.toFixed(3)}`).toBeGreaterThan(0);
    // Control: the same pipeline with features that do not describe the items.
    const control = await Recommender.load(ckpt, { engine, itemFeatures: trainFeatures(true) });
    await control.addItems(rows);
    const ctl = await pairwise(control);
    expect(ctl.lo, `control pairwise accuracy ${ctl.mean.toFixed(3)}`).toBeLessThanOrEqual(0);
    // New items can now be recommended.
    const anyHeld = new Set(held.map((i) => `i${i}`));
    let shown = 0;
    for (let u = 0; u < 50; u++) shown += (await rec.recommend(`u${u}`, 20)).items.filter((id) => anyHeld.has(String(id))).length;
    expect(shown).toBeGreaterThan(0);
    await rec.close();
    await control.close();
  });

  test('bad feature rows and misuse are named', async () => {
    const rec = await Recommender.load(ckpt, { engine, itemFeatures: trainFeatures(false) });
    await expect(rec.addItems([{ item: 'x', features: [1, 2] }])).rejects.toThrow(/addItems: \[0\]\.features: 2 values, expected 16 \(group=0/);
    await expect(rec.addItems([{ item: 'i' + held.length, features: new Array(16).fill(0) }, { item: 'dup', features: new Array(16).fill(NaN) }])).rejects.toThrow(/\[1\]\.features\[0\] \(group=0\): expected a finite number/);
    const known = String(train.itemIds.id(0));
    await expect(rec.addItems([{ item: known, features: new Array(16).fill(0) }])).rejects.toThrow(/is already known/);
    await expect(rec.addUsers([{ user: 'z', features: [1] }])).rejects.toThrow(/no userFeatures were given at load/);
    await expect(Recommender.load(ckpt, { engine, itemFeatures: { nRows: 3, dim: 1, data: new Float32Array(3), names: ['a'] } })).rejects.toThrow(/itemFeatures: 3 rows, but the model was trained on \d+/);
    await rec.close();
  });
});
