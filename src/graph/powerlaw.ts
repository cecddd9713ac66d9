/**
 * Seeded synthetic interactions with Zipf-like user and item degrees, for benchmarks
 * (the CSR build here, SpMM elsewhere). Fast: one xoshiro draw and one pow/exp per id.
 */
import { Rng } from '../util/rng.js';

export interface PowerLawOptions {
  nUsers: number;
  nItems: number;
  nnz: number;
  seed: number;
  /** Zipf exponent of both degree distributions (default 0.9; 0 = uniform). */
  alpha?: number;
}

export interface SyntheticInteractions {
  users: Int32Array;
  items: Int32Array;
  /** Integer ratings 1..5. */
  ratings: Float32Array;
  /** Seconds, increasing on average with the row index (log order). */
  ts: Float64Array;
}

/**
 * Rank sampler for P(r) proportional to (r + 1)^-alpha, r in [0, n), by inverting the
 * continuous CDF; ranks are then scattered over ids by a seeded permutation so popular
 * ids are not all small numbers.
 */
function rankSampler(n: number, alpha: number): (u: number) => number {
  if (alpha === 1) {
    const l = Math.log(n + 1);
    return (u) => Math.min(n - 1, Math.floor(Math.exp(u * l) - 1));
  }
  const e = 1 - alpha;
  const top = Math.pow(n + 1, e) - 1;
  return (u) => Math.min(n - 1, Math.floor(Math.pow(u * top + 1, 1 / e) - 1));
}

export function powerLawInteractions(opts: PowerLawOptions): SyntheticInteractions {
  const { nUsers, nItems, nnz, seed } = opts;
  const alpha = opts.alpha ?? 0.9;
  const rng = new Rng(seed);
  const userOf = rng.shuffle(Int32Array.from({ length: nUsers }, (_, i) => i));
  const itemOf = rng.shuffle(Int32Array.from({ length: nItems }, (_, i) => i));
  const su = rankSampler(nUsers, alpha);
  const si = rankSampler(nItems, alpha);
  const users = new Int32Array(nnz);
  const items = new Int32Array(nnz);
  const ratings = new Float32Array(nnz);
  const ts = new Float64Array(nnz);
  const t0 = 1_600_000_000;
  for (let k = 0; k < nnz; k++) {
    users[k] = userOf[su(rng.next())];
    items[k] = itemOf[si(rng.next())];
    ratings[k] = 1 + (rng.nextU32() % 5);
    ts[k] = t0 + k * 10 + (rng.nextU32() % 600);
  }
  return { users, items, ratings, ts };
}
