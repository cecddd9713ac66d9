/**
 * Top-K ranking metrics from recommendation lists, for several cut-offs K in one pass
 * over lists of the largest K.
 *
 * Definitions (papers differ; these are the ones gnnrl reports). For one user let
 * L = (l_1, l_2, …) be the list, best first, R the set of that user's relevant (test)
 * items with duplicates removed, |R| ≥ 1, and rel_j = 1 when l_j ∈ R and l_j did not
 * already occur at a better rank (so a repeated item cannot score twice), else 0.
 * Slots holding −1 (fewer eligible items than K) are never relevant but still count as
 * slots. hits@K = Σ_{j≤K} rel_j.
 *
 * - precision@K = hits@K / K (the denominator is K even when the list has −1 padding
 *   or |R| < K, so a perfect score needs K relevant items).
 * - recall@K = hits@K / |R| (not min(|R|, K): recall@K stays below 1 when |R| > K).
 * - ndcg@K = DCG@K / IDCG@K, binary gain with a log2 discount:
 *   DCG@K = Σ_{j≤K} rel_j / log2(j + 1), IDCG@K = Σ_{j≤min(|R|, K)} 1 / log2(j + 1)
 *   (the DCG of an ideal list that puts all relevant items first).
 * - hr@K (hit rate) = 1 when hits@K ≥ 1, else 0.
 * - mrr@K = 1 / j for the rank j ≤ K of the first relevant item, 0 when none is in the top K.
 * - map@K = (1 / min(|R|, K)) Σ_{j≤K} rel_j · hits@j / j (average precision truncated at
 *   K and normalised by the most hits K slots can hold, so a perfect list scores 1).
 *
 * Each is computed per user and averaged over users with |R| ≥ 1 (users with no relevant
 * items are skipped and counted, never scored 0). Sums run in float64.
 */
import { GnnrlError } from '../errors.js';

/** Metric families, in the order they appear in results. */
export const RANKING_METRICS = ['precision', 'recall', 'ndcg', 'hr', 'mrr', 'map'] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];

/** Relevant items per list row: CSR (`items[rowPtr[r] .. rowPtr[r+1])`), any order, repeats allowed. */
export interface RelevantRows {
  rowPtr: Int32Array;
  items: Int32Array;
}

/** Recommendation lists: rows of `k` item indices, best first, −1 for empty slots. */
export interface RankedLists {
  items: Int32Array;
  k: number;
}

export interface RankingOptions {
  /** Keep each evaluated row's value of every metric (for bootstrap CIs and per-user analysis). */
  perUser?: boolean;
}

export interface RankingResult {
  /** Mean over evaluated rows, keyed `name@K` (e.g. 'ndcg@20'); NaN when no row was evaluated. */
  metrics: Record<string, number>;
  /** Rows with at least one relevant item. */
  evaluated: number;
  /** Rows with no relevant item (excluded from the means). */
  skipped: number;
  /** With `perUser`: per metric, one value per evaluated row, in row order. */
  perUser?: Record<string, Float64Array>;
  /** With `perUser`: the list row each per-user value belongs to. */
  rows?: Int32Array;
}

/** The key a metric is reported under: `ndcg@20`, or `ndcg@20 (sampled 100)` with a suffix. */
export function metricName(metric: string, k: number, suffix = ''): string {
  return suffix ? `${metric}@${k} ${suffix}` : `${metric}@${k}`;
}

/** Sorted distinct cut-offs, each an integer in [1, max]. */
export function normalizeKs(ks: readonly number[] | number, max: number, fn: string): number[] {
  const list = typeof ks === 'number' ? [ks] : [...ks];
  if (list.length === 0) throw new GnnrlError('input', `${fn}: k: expected at least one cut-off, got none`, { arg: 'k' });
  for (const k of list) {
    if (!Number.isInteger(k) || k < 1 || k > max) {
      throw new GnnrlError('input', `${fn}: k: expected integers in [1, ${max}] (the list width), got ${k}`, { arg: 'k' });
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** log2 discounts 1/log2(j + 2) for 0-based rank j < n, and ideal DCGs idcg[m] = Σ_{j<m} disc[j]. */
function discounts(n: number): { disc: Float64Array; idcg: Float64Array } {
  const disc = new Float64Array(n);
  const idcg = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) {
    disc[j] = 1 / Math.log2(j + 2);
    idcg[j + 1] = idcg[j] + disc[j];
  }
  return { disc, idcg };
}

/** Index of `x` in sorted `a[0 .. n)`, or −1. */
function find(a: Int32Array, n: number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid];
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Precision, recall, NDCG, hit rate, MRR and MAP at every K in `ks` (see the module
 * comment for the exact definitions), from one list per row and that row's relevant items.
 * Every K must be at most `lists.k`.
 */
export function rankingMetrics(lists: RankedLists, relevant: RelevantRows, ks: readonly number[] | number, opts: RankingOptions = {}): RankingResult {
  const width = lists.k;
  if (!Number.isInteger(width) || width < 1) throw new GnnrlError('input', `rankingMetrics: lists.k: expected a positive integer, got ${width}`, { arg: 'lists.k' });
  if (lists.items.length % width !== 0) {
    throw new GnnrlError('input', `rankingMetrics: lists.items: expected a multiple of lists.k (${width}) entries, got ${lists.items.length}`, { arg: 'lists.items' });
  }
  const nRows = lists.items.length / width;
  const { rowPtr, items: relItems } = relevant;
  if (rowPtr.length !== nRows + 1) {
    throw new GnnrlError('input', `rankingMetrics: relevant.rowPtr: expected ${nRows + 1} entries (one per list row + 1), got ${rowPtr.length}`, { arg: 'relevant.rowPtr' });
  }
  if (rowPtr[0] !== 0 || rowPtr[nRows] !== relItems.length) {
    throw new GnnrlError('input', `relevant.rowPtr: expected to start at 0 and end at relevant.items.length (${relItems.length}), got ${rowPtr[0]} … ${rowPtr[nRows]}`, { arg: 'relevant.rowPtr' });
  }
  const cut = normalizeKs(ks, width, 'rankingMetrics');
  const nK = cut.length;
  const maxK = cut[nK - 1];
  const nM = RANKING_METRICS.length;
  const { disc, idcg } = discounts(maxK);

  const sums = new Float64Array(nM * nK);
  const per = opts.perUser ? Array.from({ length: nM * nK }, () => new Float64Array(nRows)) : null;
  const rows = opts.perUser ? new Int32Array(nRows) : null;
  let rel = new Int32Array(16);
  let found = new Uint8Array(16);
  let evaluated = 0;
  let skipped = 0;

  for (let r = 0; r < nRows; r++) {
    const a = rowPtr[r];
    const b = rowPtr[r + 1];
    if (!(b >= a)) throw new GnnrlError('input', `relevant.rowPtr: expected non-decreasing offsets, got ${a} then ${b} at row ${r}`, { arg: 'relevant.rowPtr', index: r });
    if (b - a > rel.length) {
      rel = new Int32Array(b - a);
      found = new Uint8Array(b - a);
    }
    // Distinct relevant items, sorted for binary search: a test log may repeat a pair.
    const seg = rel.subarray(0, b - a);
    seg.set(relItems.subarray(a, b));
    seg.sort();
    let m = 0;
    for (let j = 0; j < seg.length; j++) {
      if (seg[j] < 0) throw new GnnrlError('input', `rankingMetrics: relevant.items: expected item indices >= 0, got ${seg[j]} in row ${r}`, { arg: 'relevant.items' });
      if (j === 0 || seg[j] !== seg[j - 1]) rel[m++] = seg[j];
    }
    if (m === 0) {
      skipped++;
      continue;
    }
    found.fill(0, 0, m);
    let hits = 0;
    let dcg = 0;
    let rr = 0;
    let ap = 0;
    let kp = 0;
    const base = r * width;
    for (let j = 0; j < maxK; j++) {
      const x = lists.items[base + j];
      if (x >= 0) {
        const p = find(rel, m, x);
        if (p >= 0 && !found[p]) {
          found[p] = 1;
          hits++;
          dcg += disc[j];
          if (rr === 0) rr = 1 / (j + 1);
          ap += hits / (j + 1);
        }
      }
      if (j + 1 === cut[kp]) {
        const K = cut[kp];
        const best = Math.min(m, K);
        // Same order as RANKING_METRICS.
        const v0 = hits / K;
        const v1 = hits / m;
        const v2 = dcg / idcg[best];
        const v3 = hits > 0 ? 1 : 0;
        const v4 = rr;
        const v5 = ap / best;
        sums[0 * nK + kp] += v0;
        sums[1 * nK + kp] += v1;
        sums[2 * nK + kp] += v2;
        sums[3 * nK + kp] += v3;
        sums[4 * nK + kp] += v4;
        sums[5 * nK + kp] += v5;
        if (per) {
          per[0 * nK + kp][evaluated] = v0;
          per[1 * nK + kp][evaluated] = v1;
          per[2 * nK + kp][evaluated] = v2;
          per[3 * nK + kp][evaluated] = v3;
          per[4 * nK + kp][evaluated] = v4;
          per[5 * nK + kp][evaluated] = v5;
        }
        kp++;
      }
    }
    if (rows) rows[evaluated] = r;
    evaluated++;
  }

  const metrics: Record<string, number> = {};
  const perUser: Record<string, Float64Array> = {};
  for (let mi = 0; mi < nM; mi++) {
    for (let ki = 0; ki < nK; ki++) {
      const name = metricName(RANKING_METRICS[mi], cut[ki]);
      metrics[name] = evaluated > 0 ? sums[mi * nK + ki] / evaluated : NaN;
      if (per) perUser[name] = per[mi * nK + ki].slice(0, evaluated);
    }
  }
  const out: RankingResult = { metrics, evaluated, skipped };
  if (per && rows) {
    out.perUser = perUser;
    out.rows = rows.slice(0, evaluated);
  }
  return out;
}
