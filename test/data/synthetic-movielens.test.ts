/**
 * The synthetic world as a MovieLens-100K folder (`gnnrl generate`): it loads with the
 * MovieLens loader, side files included, its ratings are the world's, and the derived side
 * data carries the signal it claims (occupation names the genre a user rates highest).
 */
import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMovieLens } from '../../src/data/movielens.js';
import { writeSyntheticMovieLens } from '../../src/data/synthetic-movielens.js';
import { generateCommand } from '../../src/cli/generate.js';

function sink() {
  const chunks: string[] = [];
  return { text: () => chunks.join(''), write: (s: string) => (chunks.push(s), true) };
}

describe('synthetic MovieLens folder', () => {
  test('loads with side features; ratings, users and items are the world’s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-synth-ml-'));
    const world = await writeSyntheticMovieLens(dir, { preset: 'tiny', seed: 5 });
    for (const f of ['u.data', 'u.user', 'u.item', 'u.genre', 'u.occupation']) expect(existsSync(join(dir, f)), f).toBe(true);
    const x = await loadMovieLens(dir, { features: true });
    expect(x.user.length).toBe(world.interactions.user.length);
    expect(x.nUsers).toBe(world.nUsers);
    expect(x.nItems).toBe(world.nItems);
    expect(x.userFeatures?.nRows).toBe(world.nUsers);
    expect(x.itemFeatures?.nRows).toBe(world.nItems);
    // Same multiset of (user, item, rating) as the world's log (ids are the dense indices + 1 or the same).
    const key = (u: unknown, i: unknown, r: number) => `${String(u)}|${String(i)}|${r}`;
    const want = new Set<string>();
    const w = world.interactions;
    for (let e = 0; e < w.user.length; e++) want.add(key(w.userIds.id(w.user[e]), w.itemIds.id(w.item[e]), w.rating![e]));
    let found = 0;
    for (let e = 0; e < x.user.length; e++) if (want.has(key(x.userIds.id(x.user[e]), x.itemIds.id(x.item[e]), x.rating![e]))) found++;
    expect(found).toBe(x.user.length);
  });

  test('occupation names the genre a user rates highest more often than chance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-synth-ml-'));
    const world = await writeSyntheticMovieLens(dir, { preset: 'small', seed: 7 });
    const groups = world.groupCentres.length / world.dim;
    // The generator's occupation of u is argmax_g p_u·c_g; check it against u's mean rating per group.
    const x = world.interactions;
    const sum = new Float64Array(world.nUsers * groups);
    const cnt = new Float64Array(world.nUsers * groups);
    for (let e = 0; e < x.user.length; e++) {
      const j = x.user[e] * groups + world.itemGroup[x.item[e]];
      sum[j] += x.rating![e];
      cnt[j]++;
    }
    const loaded = await loadMovieLens(dir, { features: true });
    const occCol = (u: number) => {
      // The occupation one-hot block: find which occupation column is set (names 'occupation=<name>').
      const t = loaded.userFeatures!;
      for (let c = 0; c < t.dim; c++) if (t.names[c].startsWith('occupation=') && t.data[u * t.dim + c] > 0) return Number(t.names[c].replace(/\D+/g, ''));
      return -1;
    };
    let hits = 0;
    let users = 0;
    for (let u = 0; u < world.nUsers; u++) {
      let best = -1;
      let bestMean = -Infinity;
      for (let g = 0; g < groups; g++) if (cnt[u * groups + g] >= 2 && sum[u * groups + g] / cnt[u * groups + g] > bestMean) [best, bestMean] = [g, sum[u * groups + g] / cnt[u * groups + g]];
      if (best < 0) continue;
      const uid = loaded.userIds.get(x.userIds.id(u));
      users++;
      if (occCol(uid) === best) hits++;
    }
    expect(users).toBeGreaterThan(500);
    // Chance is 1/16; the planted structure makes it several times that.
    expect(hits / users).toBeGreaterThan(3 / groups);
  });

  test('gnnrl generate writes the folder; a missing --out exits 2', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gnnrl-gen-')), 'ml');
    const err = sink();
    expect(await generateCommand(['--out', dir, '--preset', 'tiny', '--seed', '3'], { stdout: sink(), stderr: err })).toBe(0);
    expect(err.text()).toMatch(/ML-100K layout/);
    expect((await loadMovieLens(dir)).user.length).toBeGreaterThan(0);
    const bad = sink();
    expect(await generateCommand(['--preset', 'tiny'], { stdout: sink(), stderr: bad })).toBe(2);
    expect(bad.text()).toMatch(/--out: required/);
  });
});
