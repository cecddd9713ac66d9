/**
 * The synthetic world as a MovieLens-100K folder (u.data, u.user, u.item, u.genre,
 * u.occupation), for what needs MovieLens' side files — DDPG-LA's input features, the
 * graph encoders' `--features` — on a machine that cannot download the real one.
 *
 * Ratings and timestamps are the world's (planted preferences, interest drift); the side
 * data is derived from the world so that it carries signal, as the real files do:
 *   - genres: an item's genre is its world group (the taste clusters), one genre per item;
 *   - occupation: the group whose centre the user's vector is closest to (by inner product),
 *     so occupation says which genre the user likes;
 *   - age: 18–65 from the user's bias (older users rate higher here; a monotone map);
 *   - gender: the sign of the user's first latent coordinate;
 *   - year: 1950–2019 from the item's popularity rank (popular items are recent).
 * The mapping is deterministic given the world, and the folder loads with
 * `loadMovieLens(dir)` and `gnnrl train --data ml-100k:<dir>`.
 */
import { syntheticWorld, type SyntheticWorld, type WorldConfig, type WorldPreset } from './synthetic.js';
import { writeMovieLens } from './writers.js';

export interface SyntheticMovieLensOptions extends Partial<WorldConfig> {
  /** World size preset (default 'small'); explicit WorldConfig fields override it. */
  preset?: WorldPreset;
}

/** Writes the world of `opts` to `dir` in the 100K layout; returns the world. */
export async function writeSyntheticMovieLens(dir: string, opts: SyntheticMovieLensOptions = {}): Promise<SyntheticWorld> {
  const { preset = 'small', ...config } = opts;
  const world = syntheticWorld({ preset, seed: 42, ...config });
  const { nUsers, nItems, dim } = world;
  const groups = world.groupCentres.length / dim;
  const occupation = new Int32Array(nUsers);
  for (let u = 0; u < nUsers; u++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let g = 0; g < groups; g++) {
      let s = 0;
      for (let c = 0; c < dim; c++) s += world.userFactors[u * dim + c] * world.groupCentres[g * dim + c];
      if (s > bestScore) [best, bestScore] = [g, s];
    }
    occupation[u] = best;
  }
  const biasRank = rankOf(world.userBias);
  const popRank = rankOf(Float32Array.from(world.popularity));
  await writeMovieLens(dir, world.interactions, {
    format: '100k',
    users: {
      age: Float32Array.from({ length: nUsers }, (_, u) => 18 + Math.round((47 * biasRank[u]) / Math.max(1, nUsers - 1))),
      gender: Int32Array.from({ length: nUsers }, (_, u) => (world.userFactors[u * dim] >= 0 ? 1 : 0)),
      genderVocab: ['F', 'M'],
      occupation,
      occupationVocab: Array.from({ length: groups }, (_, g) => `occupation${g}`),
      zip: Array.from({ length: nUsers }, () => '00000'),
    },
    items: {
      title: Array.from({ length: nItems }, (_, i) => `Item ${i}`),
      year: Float32Array.from({ length: nItems }, (_, i) => 1950 + Math.round((69 * popRank[i]) / Math.max(1, nItems - 1))),
      genreOffsets: Int32Array.from({ length: nItems + 1 }, (_, i) => i),
      genres: Int32Array.from(world.itemGroup),
      genreVocab: Array.from({ length: groups }, (_, g) => `Genre${g}`),
    },
  });
  return world;
}

/** Rank of each value in ascending order (ties by index), 0-based. */
function rankOf(v: ArrayLike<number>): Int32Array {
  const order = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b] || a - b);
  const rank = new Int32Array(v.length);
  order.forEach((i, r) => (rank[i] = r));
  return rank;
}
