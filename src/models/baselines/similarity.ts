/**
 * Similarities between users (or items) for the KNN models, each computed over the
 * entities' co-rated items (co-rating users) only, as the reference implementation
 * (Surprise) defines them. For entities x, x' with common items Y (n = |Y|):
 *
 * - cosine:   Σ r_xy r_x'y / √(Σ r_xy² · Σ r_x'y²)
 * - msd:      1 / (Σ (r_xy − r_x'y)² / n + 1)
 * - pearson:  (n Σ r r' − Σ r Σ r') / √((n Σ r² − (Σ r)²)(n Σ r'² − (Σ r')²)), i.e. the
 *             correlation with each side centred on its mean over Y
 * - pearson_baseline: Σ d_xy d_x'y / √(Σ d_xy² · Σ d_x'y²) with d_xy = r_xy − b_xy
 *             (baseline μ + b_x + b_y), shrunk by (n − 1) / (n − 1 + shrinkage)
 *
 * A pair with n < minSupport, or whose denominator is 0, has similarity 0; every entity
 * has similarity 1 with itself.
 *
 * The matrix is dense (n × n Float32Array, symmetric). It is computed one row at a
 * time: for x, walk its items y and, for each, the entities x' > x that rated y,
 * accumulating the pair sums in float64 arrays indexed by x' — O(Σ_y |R(y)|² / 2) time
 * and O(n) scratch besides the matrix, instead of n² accumulators.
 */
import { GnnrlError } from '../../errors.js';
import type { RatingCsr } from './rating-stats.js';

export type SimilarityName = 'cosine' | 'msd' | 'pearson' | 'pearson_baseline';

export const SIMILARITIES: readonly SimilarityName[] = ['cosine', 'msd', 'pearson', 'pearson_baseline'];

export interface SimilaritySpec {
  name: SimilarityName;
  /** Pairs with fewer common ratings get similarity 0. */
  minSupport: number;
  /** pearson_baseline only. */
  shrinkage: number;
}

/** Baselines b_xy = mu + bx[x] + by[y], for pearson_baseline. */
export interface SimilarityBaselines {
  mu: number;
  bx: Float32Array;
  by: Float32Array;
}

/** Rows between abort checks. */
const ROWS_PER_CHECK = 64;

/**
 * Throws a `limit` error unless an n × n matrix fits under `maxRows`, naming the size
 * and what to do instead.
 */
export function checkSimilaritySize(model: string, n: number, maxRows: number, userBased: boolean, other: number): void {
  if (n <= maxRows) return;
  const bytes = n * n * 4;
  const gb = (bytes / 2 ** 30).toFixed(1);
  const side = userBased ? 'users' : 'items';
  const switchHint = userBased ? `item-based similarities (userBased: false; ${other} items)` : `user-based similarities (userBased: true; ${other} users)`;
  throw new GnnrlError(
    'limit',
    `${model}: a dense ${side} × ${side} similarity matrix for ${n} ${side} needs ${n}² × 4 bytes = ${gb} GiB, over the limit of ` +
      `${maxRows} rows (options.maxSimilarityRows); use ${other < n ? switchHint : 'a smaller data set (filter rare users and items)'}, ` +
      'or raise the limit if the memory is there',
    { arg: 'options.maxSimilarityRows' },
  );
}

/**
 * The n × n similarity matrix of the entities whose ratings `xr` holds (row x: the
 * items y it rated), given the same ratings grouped the other way, `yr` (row y: the
 * entities that rated it, ascending). Returns null when `signal` aborts.
 */
export function similarityMatrix(
  xr: RatingCsr,
  yr: RatingCsr,
  spec: SimilaritySpec,
  baselines?: SimilarityBaselines,
  signal?: AbortSignal,
): Float32Array | null {
  const n = xr.offsets.length - 1;
  const sim = new Float32Array(n * n);
  if (spec.name === 'pearson_baseline' && !baselines) {
    throw new GnnrlError('state', 'similarityMatrix: pearson_baseline needs baselines');
  }
  const freq = new Int32Array(n);
  const touched = new Int32Array(n);
  // Pair sums indexed by x'; which ones a measure uses is noted where it accumulates.
  const s0 = new Float64Array(n);
  const s1 = new Float64Array(n);
  const s2 = new Float64Array(n);
  const s3 = new Float64Array(n);
  const s4 = new Float64Array(n);
  const { offsets: xo, index: xi, value: xv } = xr;
  const { offsets: yo, index: yi, value: yv } = yr;
  const name = spec.name;
  const pearson = name === 'pearson';
  const mu = baselines?.mu ?? 0;
  const bx = baselines?.bx;
  const by = baselines?.by;
  for (let x = 0; x < n; x++) {
    if (x % ROWS_PER_CHECK === 0 && signal?.aborted) return null;
    let nt = 0;
    for (let p = xo[x]; p < xo[x + 1]; p++) {
      const y = xi[p];
      const r = xv[p];
      const lo = yo[y];
      // yr rows ascend, so the partners x' > x are a suffix: walk it backwards.
      if (name === 'cosine' || name === 'pearson') {
        // s0 Σ r r', s1 Σ r², s2 Σ r'²; pearson also s3 Σ r, s4 Σ r'
        for (let q = yo[y + 1] - 1; q >= lo; q--) {
          const x2 = yi[q];
          if (x2 <= x) break;
          if (freq[x2]++ === 0) touched[nt++] = x2;
          const r2 = yv[q];
          s0[x2] += r * r2;
          s1[x2] += r * r;
          s2[x2] += r2 * r2;
          if (pearson) {
            s3[x2] += r;
            s4[x2] += r2;
          }
        }
      } else if (name === 'msd') {
        // s0 Σ (r − r')²
        for (let q = yo[y + 1] - 1; q >= lo; q--) {
          const x2 = yi[q];
          if (x2 <= x) break;
          if (freq[x2]++ === 0) touched[nt++] = x2;
          const dr = r - yv[q];
          s0[x2] += dr * dr;
        }
      } else {
        // s0 Σ d d', s1 Σ d², s2 Σ d'²
        const partial = mu + by![y];
        const d = r - (partial + bx![x]);
        for (let q = yo[y + 1] - 1; q >= lo; q--) {
          const x2 = yi[q];
          if (x2 <= x) break;
          if (freq[x2]++ === 0) touched[nt++] = x2;
          const d2 = yv[q] - (partial + bx![x2]);
          s0[x2] += d * d2;
          s1[x2] += d * d;
          s2[x2] += d2 * d2;
        }
      }
    }
    for (let t = 0; t < nt; t++) {
      const x2 = touched[t];
      const s = pairSimilarity(spec, freq[x2], s0[x2], s1[x2], s2[x2], s3[x2], s4[x2]);
      sim[x * n + x2] = s;
      sim[x2 * n + x] = s;
      freq[x2] = 0;
      s0[x2] = s1[x2] = s2[x2] = s3[x2] = s4[x2] = 0;
    }
    sim[x * n + x] = 1;
  }
  return sim;
}

/** One pair's similarity from its accumulated sums (see `similarityMatrix` for which sums). */
function pairSimilarity(spec: SimilaritySpec, n: number, s0: number, s1: number, s2: number, s3: number, s4: number): number {
  if (n < spec.minSupport) return 0;
  switch (spec.name) {
    case 'cosine': {
      const den = Math.sqrt(s1 * s2);
      return den > 0 ? s0 / den : 0;
    }
    case 'msd':
      return 1 / (s0 / n + 1);
    case 'pearson': {
      const a = n * s1 - s3 * s3;
      const b = n * s2 - s4 * s4;
      // a, b are n² × the variances; rounding can leave a hair below 0 for constant rows.
      if (!(a > 0 && b > 0)) return 0;
      const c = (n * s0 - s3 * s4) / Math.sqrt(a * b);
      return c > 1 ? 1 : c < -1 ? -1 : c;
    }
    case 'pearson_baseline': {
      const den = Math.sqrt(s1 * s2);
      if (!(den > 0)) return 0;
      // No shrinkage (0) leaves the correlation as it is, even for a single common rating.
      const shrink = spec.shrinkage > 0 ? (n - 1) / (n - 1 + spec.shrinkage) : 1;
      return shrink === 0 ? 0 : (s0 / den) * shrink;
    }
  }
}
