/**
 * Percentile bootstrap confidence intervals of means over users: resample users with
 * replacement, take each replicate's mean, and read the interval off the replicate
 * means' quantiles. Seeded, so a report can be reproduced exactly.
 */
import { GnnrlError } from '../errors.js';
import { Rng } from '../util/rng.js';

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  replicates?: number;
  /** Coverage of the interval, in (0, 1) (default 0.95). */
  level?: number;
  /** Seed of the resampling stream (default 1). */
  seed?: number;
}

/**
 * The q-quantile of ascending `sorted` by linear interpolation between order statistics
 * (position q·(n − 1), Hyndman & Fan type 7, as NumPy's default).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new GnnrlError('input', 'quantileSorted: sorted: expected at least one value', { arg: 'sorted' });
  if (!(q >= 0 && q <= 1)) throw new GnnrlError('input', `quantileSorted: q: expected a number in [0, 1], got ${q}`, { arg: 'q' });
  const h = q * (n - 1);
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function options(opts: BootstrapOptions): { replicates: number; level: number; seed: number } {
  const replicates = opts.replicates ?? 1000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(replicates) || replicates < 1) {
    throw new GnnrlError('input', `bootstrap: replicates: expected a positive integer, got ${replicates}`, { arg: 'replicates' });
  }
  if (!(level > 0 && level < 1)) throw new GnnrlError('input', `bootstrap: level: expected a number in (0, 1), got ${level}`, { arg: 'level' });
  return { replicates, level, seed: opts.seed ?? 1 };
}

/**
 * Intervals for several per-user series at once, keyed like `perUser`. All series must
 * have one value per user, in the same user order: every replicate draws one set of
 * users and applies it to all series (paired resampling), so the intervals of, say,
 * recall and NDCG come from the same resampled populations.
 */
export function bootstrapCIs(perUser: Record<string, Float64Array>, opts: BootstrapOptions = {}): Record<string, [number, number]> {
  const { replicates, level, seed } = options(opts);
  const names = Object.keys(perUser);
  if (names.length === 0) return {};
  const n = perUser[names[0]].length;
  if (n === 0) throw new GnnrlError('input', `bootstrap: perUser.${names[0]}: expected at least one user's value, got none`, { arg: 'perUser' });
  for (const name of names) {
    if (perUser[name].length !== n) {
      throw new GnnrlError('input', `bootstrap: perUser['${name}']: expected ${n} values like '${names[0]}', got ${perUser[name].length}`, { arg: 'perUser' });
    }
  }
  const rng = new Rng(seed);
  // Draw multiplicities (how often each user is picked) once per replicate, then weigh
  // every series by them: one pass of draws, however many metrics.
  const times = new Int32Array(n);
  const means = names.map(() => new Float64Array(replicates));
  for (let b = 0; b < replicates; b++) {
    times.fill(0);
    for (let j = 0; j < n; j++) times[rng.int(n)]++;
    for (let m = 0; m < names.length; m++) {
      const v = perUser[names[m]];
      let s = 0;
      for (let j = 0; j < n; j++) if (times[j]) s += times[j] * v[j];
      means[m][b] = s / n;
    }
  }
  const tail = (1 - level) / 2;
  const out: Record<string, [number, number]> = {};
  names.forEach((name, m) => {
    const sorted = means[m].sort();
    out[name] = [quantileSorted(sorted, tail), quantileSorted(sorted, 1 - tail)];
  });
  return out;
}

/** Percentile interval of the mean of `values` (one value per user). */
export function bootstrapCI(values: Float64Array, opts: BootstrapOptions = {}): [number, number] {
  return bootstrapCIs({ value: values }, opts).value;
}
