/**
 * Neighbourhood models (Koren 2010 §2.2; the reference implementation's KNNBasic,
 * KNNWithMeans and KNNBaseline). Written for user-based similarities (x = user, y =
 * item); item-based swaps the roles (x = item, y = user). For a pair (u, i), the
 * neighbours are the k entities x' most similar to x among those that rated y, keeping
 * only positive similarities (ties: lower index first), and
 *
 * - KNNBasic:     r̂ = Σ sim(x, x') r_x'y / Σ sim(x, x')
 * - KNNWithMeans: r̂ = μ_x + Σ sim(x, x') (r_x'y − μ_x') / Σ sim(x, x')
 * - KNNBaseline:  r̂ = b_xy + Σ sim(x, x') (r_x'y − b_x'y) / Σ sim(x, x'), b = μ + b_u + b_i
 *
 * Fallbacks, when u or i is unseen in training or fewer than `minK` neighbours have a
 * positive similarity: KNNBasic → the global mean μ; KNNWithMeans → μ_x, the mean rating
 * of the user (item-based: of the item) when it was seen in training, else μ; KNNBaseline
 * → the baseline μ + b_u + b_i (a bias of an unseen side is 0). (Surprise gives μ for
 * KNNWithMeans when either side is unseen; using μ_x where it exists is the one
 * deliberate difference.) Predictions are clipped to the training rating range.
 *
 * No factor form: `scoreItems` computes full rows, and `recommend` ranks them on the host.
 */
import { PositiveIndex } from '../../data/negatives.js';
import type { Interactions } from '../../data/interactions.js';
import type { FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, FitAborted, type ModelContext } from './base.js';
import { fitBiases, resolveBaselineOptions, type BaselineOptions, type ResolvedBaselineOptions } from './biases.js';
import { checkKind, optBool, optInt, optNum, optOneOf, stateF32, stateI32 } from './common.js';
import { ratingData, ratingsByItem, ratingsByUser, type RatingCsr } from './rating-stats.js';
import { SIMILARITIES, checkSimilaritySize, similarityMatrix, type SimilarityName } from './similarity.js';

/**
 * Options of the KNN models, defaulted as the reference implementation (Surprise) does:
 * `k` 40, `minK` 1, `userBased` true, `similarity` 'msd', `minSupport` 1, `shrinkage`
 * 100 (pearson_baseline only), `baseline` ALS (λ_i 10, λ_u 15, 10 epochs; used by
 * KNNBaseline and by pearson_baseline). `maxSimilarityRows` 12 000 bounds the dense
 * similarity matrix (12 000² floats = 576 MB).
 */
export interface KnnOptions {
  /** Most neighbours per prediction (default 40). */
  k?: number;
  /** Fewest neighbours with a positive similarity before falling back (default 1). */
  minK?: number;
  /** Similarities between users (default true) or between items. */
  userBased?: boolean;
  /**
   * 'msd' (default for all three, as in the reference; its docs recommend
   * 'pearson_baseline' for KNNBaseline), 'cosine', 'pearson' or 'pearson_baseline'.
   */
  similarity?: SimilarityName;
  /** Fewest common ratings for a non-zero similarity (default 1). */
  minSupport?: number;
  /** pearson_baseline shrinkage: sim × (n − 1)/(n − 1 + shrinkage) for n common ratings (default 100). */
  shrinkage?: number;
  /** How the baselines of KNNBaseline and pearson_baseline are fit (default ALS, see `BaselineOptions`). */
  baseline?: BaselineOptions;
  /** Largest number of users (user-based) or items the dense similarity matrix may have (default 12 000). */
  maxSimilarityRows?: number;
}

export interface ResolvedKnnOptions {
  k: number;
  minK: number;
  userBased: boolean;
  similarity: SimilarityName;
  minSupport: number;
  shrinkage: number;
  baseline: ResolvedBaselineOptions;
  maxSimilarityRows: number;
}

type Variant = 'basic' | 'means' | 'baseline';

/** What tells the three public KNN classes apart: the name in errors, the state kind, and what is averaged. */
export interface KnnSpec {
  label: string;
  kind: string;
  variant: Variant;
}

/** A public KNN class: constructible with the options, and naming its `KnnSpec` in a static `spec`. */
interface KnnClass<T extends KnnModel> {
  new (options?: KnnOptions, ctx?: ModelContext): T;
  readonly spec: KnnSpec;
}

function resolveKnnOptions(model: string, o: KnnOptions): ResolvedKnnOptions {
  return {
    k: optInt(model, 'k', o.k, 40, 1),
    minK: optInt(model, 'minK', o.minK, 1, 0),
    userBased: optBool(model, 'userBased', o.userBased, true),
    similarity: optOneOf(model, 'similarity', o.similarity, 'msd', SIMILARITIES),
    minSupport: optInt(model, 'minSupport', o.minSupport, 1, 0),
    shrinkage: optNum(model, 'shrinkage', o.shrinkage, 100),
    baseline: resolveBaselineOptions(model, o.baseline ?? {}, 'baseline.'),
    maxSimilarityRows: optInt(model, 'maxSimilarityRows', o.maxSimilarityRows, 12_000, 1),
  };
}

/** The three KNN models share everything but the deviation they average and their fallback. */
abstract class KnnModel extends BaselineModel {
  readonly kind: string;
  readonly name: string;
  readonly predictsRatings = true;
  readonly options: ResolvedKnnOptions;
  private readonly variant: Variant;
  private readonly label: string;
  /** nX × nX similarities, x = user (user-based) or item. */
  private sim: Float32Array = new Float32Array(0);
  private nX = 0;
  /** Per y, the entities x' that rated it (ascending) and their ratings. */
  private nbr: RatingCsr = { offsets: new Int32Array(1), index: new Int32Array(0), value: new Float32Array(0) };
  /** What the weighted average averages, per `nbr` entry: r, r − μ_x', or r − b_x'y. */
  private dev: Float32Array = new Float32Array(0);
  /** KNNWithMeans: mean rating of each x. */
  private means: Float32Array = new Float32Array(0);
  /** KNNBaseline: b_u and b_i. */
  private bu: Float32Array = new Float32Array(0);
  private bi: Float32Array = new Float32Array(0);
  // Neighbour selection scratch (a bounded min-heap by similarity) and its result.
  private readonly heapSim: Float32Array;
  private readonly heapIdx: Int32Array;
  private readonly heapPos: Int32Array;
  private sumSim = 0;
  private sumDev = 0;
  private rowScratch: { sumSim: Float64Array; sumDev: Float64Array; used: Int32Array } | null = null;

  /** See `KnnOptions` for the defaults. */
  constructor(options: KnnOptions = {}, ctx: ModelContext = {}) {
    super(ctx);
    // The subclasses differ only in their static `spec`, read from the class being
    // constructed, so that none needs a constructor (or a `fromState`) of its own.
    const { label, kind, variant } = (new.target as unknown as KnnClass<KnnModel>).spec;
    this.label = label;
    this.kind = kind;
    this.variant = variant;
    this.options = resolveKnnOptions(label, options);
    this.name = `${label} (${this.options.userBased ? 'user' : 'item'}, ${this.options.similarity})`;
    this.heapSim = new Float32Array(this.options.k);
    this.heapIdx = new Int32Array(this.options.k);
    this.heapPos = new Int32Array(this.options.k);
  }

  /**
   * Computes means or baselines and the similarity matrix. Not iterative: `fit` reports
   * one epoch with loss NaN; `opts.epochs` is ignored. An abort during the similarity
   * pass leaves the model as it was.
   */
  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const d = ratingData(train, this.label);
    const o = this.options;
    const nX = o.userBased ? d.nUsers : d.nItems;
    checkSimilaritySize(this.label, nX, o.maxSimilarityRows, o.userBased, o.userBased ? d.nItems : d.nUsers);
    return this.fitOnce(opts, d.rating.length, 'rmse', (signal) => {
      const byUser = ratingsByUser(d);
      const byItem = ratingsByItem(d);
      const xr = o.userBased ? byUser : byItem;
      const yr = o.userBased ? byItem : byUser;
      const needBiases = this.variant === 'baseline' || o.similarity === 'pearson_baseline';
      const b = needBiases ? fitBiases(d, o.baseline) : null;
      const sim = similarityMatrix(
        xr,
        yr,
        { name: o.similarity, minSupport: o.minSupport, shrinkage: o.shrinkage },
        b ? { mu: d.globalMean, bx: o.userBased ? b.bu : b.bi, by: o.userBased ? b.bi : b.bu } : undefined,
        signal,
      );
      if (!sim) throw new FitAborted();
      this.sim = sim;
      this.nX = nX;
      this.nbr = yr;
      this.means = this.variant === 'means' ? rowMeans(xr) : new Float32Array(0);
      this.bu = this.variant === 'baseline' ? b!.bu : new Float32Array(0);
      this.bi = this.variant === 'baseline' ? b!.bi : new Float32Array(0);
      this.installRatings(d, PositiveIndex.of(train));
      this.dev = this.deviations();
    });
  }

  /** Rebuilds a fitted model of the class it is called on (`KNNBasic.fromState(state)`) from `state()`. */
  static fromState<T extends KnnModel>(this: KnnClass<T>, state: ModelState, ctx: ModelContext = {}): T {
    // The kind first, as every model's fromState does, before the options are read.
    checkKind(state, this.spec.kind, this.spec.label);
    return new this(state.config as KnnOptions, ctx).restore(state);
  }

  /** Restores the arrays of `state` into this (freshly constructed) model. */
  protected restore(state: ModelState): this {
    const f = this.installCommonState(state);
    const o = this.options;
    this.nX = o.userBased ? f.nUsers : f.nItems;
    const nY = o.userBased ? f.nItems : f.nUsers;
    this.sim = stateF32(state, 'similarity', this.nX * this.nX, this.name);
    const offsets = stateI32(state, 'neighbourOffsets', nY + 1, this.name);
    this.nbr = {
      offsets,
      index: stateI32(state, 'neighbourIndex', offsets[nY], this.name),
      value: stateF32(state, 'neighbourRating', offsets[nY], this.name),
    };
    if (this.variant === 'means') this.means = stateF32(state, 'means', this.nX, this.name);
    if (this.variant === 'baseline') {
      this.bu = stateF32(state, 'userBias', f.nUsers, this.name);
      this.bi = stateF32(state, 'itemBias', f.nItems, this.name);
    }
    this.dev = this.deviations();
    return this;
  }

  /** The averaged quantity per neighbour entry; a function of the stored arrays only, so a restored model matches bit for bit. */
  private deviations(): Float32Array {
    const { offsets, index, value } = this.nbr;
    if (this.variant === 'basic') return value;
    const dev = new Float32Array(value.length);
    if (this.variant === 'means') {
      for (let q = 0; q < value.length; q++) dev[q] = value[q] - this.means[index[q]];
      return dev;
    }
    const mu = this.fitted!.globalMean;
    const bx = this.options.userBased ? this.bu : this.bi;
    const by = this.options.userBased ? this.bi : this.bu;
    for (let y = 0; y + 1 < offsets.length; y++) {
      for (let q = offsets[y]; q < offsets[y + 1]; q++) dev[q] = value[q] - (mu + bx[index[q]] + by[y]);
    }
    return dev;
  }

  /**
   * Selects x's neighbours among nbr entries [lo, hi): the k with the highest positive
   * similarity (ties to the lower index), leaving Σ sim and Σ sim·dev in sumSim/sumDev.
   * Returns how many were used.
   */
  private aggregate(x: number, lo: number, hi: number): number {
    const sim = this.sim;
    const base = x * this.nX;
    const idx = this.nbr.index;
    const dev = this.dev;
    const k = this.options.k;
    let sumSim = 0;
    let sumDev = 0;
    let positives = 0;
    if (hi - lo > k) for (let q = lo; q < hi; q++) if (sim[base + idx[q]] > 0) positives++;
    if (hi - lo <= k || positives <= k) {
      // Every positive candidate makes the cut; sum in candidate order (as itemBasedRow does).
      let used = 0;
      for (let q = lo; q < hi; q++) {
        const s = sim[base + idx[q]];
        if (s > 0) {
          sumSim += s;
          sumDev += s * dev[q];
          used++;
        }
      }
      this.sumSim = sumSim;
      this.sumDev = sumDev;
      return used;
    }
    const hs = this.heapSim;
    const hx = this.heapIdx;
    const hp = this.heapPos;
    let size = 0;
    for (let q = lo; q < hi; q++) {
      const x2 = idx[q];
      const s = sim[base + x2];
      if (!(s > 0)) continue;
      // Find the slot of the new neighbour, moving the entries in its way, then write it there.
      let pos: number;
      if (size < k) {
        // Sift up: the root holds the weakest kept neighbour (lowest sim, then highest index).
        pos = size++;
        while (pos > 0) {
          const parent = (pos - 1) >> 1;
          if (!(s < hs[parent] || (s === hs[parent] && x2 > hx[parent]))) break;
          hs[pos] = hs[parent];
          hx[pos] = hx[parent];
          hp[pos] = hp[parent];
          pos = parent;
        }
      } else if (hs[0] < s || (hs[0] === s && hx[0] > x2)) {
        // Replace the weakest and sift down.
        pos = 0;
        for (;;) {
          const l = 2 * pos + 1;
          if (l >= size) break;
          let m = l;
          if (l + 1 < size && (hs[l + 1] < hs[l] || (hs[l + 1] === hs[l] && hx[l + 1] > hx[l]))) m = l + 1;
          if (!(hs[m] < s || (hs[m] === s && hx[m] > x2))) break;
          hs[pos] = hs[m];
          hx[pos] = hx[m];
          hp[pos] = hp[m];
          pos = m;
        }
      } else {
        continue; // no stronger than the weakest kept one
      }
      hs[pos] = s;
      hx[pos] = x2;
      hp[pos] = q;
    }
    for (let j = 0; j < size; j++) {
      sumSim += hs[j];
      sumDev += hs[j] * dev[hp[j]];
    }
    this.sumSim = sumSim;
    this.sumDev = sumDev;
    return size;
  }

  /** The unclipped estimate for one pair, with the fallbacks of the class comment. */
  private estimateOne(u: number, i: number): number {
    const f = this.fitted!;
    const mu = f.globalMean;
    const uKnown = u < f.nUsers && this.userCount[u] > 0;
    const iKnown = i < f.nItems && this.itemCount[i] > 0;
    const userBased = this.options.userBased;
    const x = userBased ? u : i;
    const y = userBased ? i : u;
    let base: number;
    if (this.variant === 'basic') base = mu;
    else if (this.variant === 'means') base = (userBased ? uKnown : iKnown) ? this.means[x] : mu;
    else base = mu + (u < f.nUsers ? this.bu[u] : 0) + (i < f.nItems ? this.bi[i] : 0);
    if (!uKnown || !iKnown) return base;
    const used = this.aggregate(x, this.nbr.offsets[y], this.nbr.offsets[y + 1]);
    if (used < this.options.minK || !(this.sumSim > 0)) return base;
    const avg = this.sumDev / this.sumSim;
    return this.variant === 'basic' ? avg : base + avg;
  }

  protected estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void {
    for (let j = 0; j < users.length; j++) out[j] = this.estimateOne(users[j], items[j]);
  }

  protected estimateRows(users: Int32Array, out: Float32Array): void {
    const nItems = this.fitted!.nItems;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      if (this.itemBasedRow(u, out, r * nItems)) continue;
      for (let i = 0; i < nItems; i++) out[r * nItems + i] = this.estimateOne(u, i);
    }
  }

  /**
   * Item-based rows: sweeps the similarity rows of the user's rated items (contiguous,
   * by symmetry sim(i, j) = sim(j, i)) accumulating every positive neighbour of every
   * target item, instead of gathering a column per target item. Items with more than k
   * positive neighbours then go through `estimateOne`'s top-k selection. Sums run in the
   * same order as `estimateOne`'s, so the numbers are identical. Returns false when
   * this path does not apply (user-based, or an unseen user).
   */
  private itemBasedRow(u: number, out: Float32Array, offset: number): boolean {
    const f = this.fitted!;
    if (this.options.userBased || !(this.userCount[u] > 0)) return false;
    const lo = this.nbr.offsets[u];
    const hi = this.nbr.offsets[u + 1];
    const k = this.options.k;
    const n = f.nItems;
    if (!this.rowScratch || this.rowScratch.sumSim.length !== n) {
      this.rowScratch = { sumSim: new Float64Array(n), sumDev: new Float64Array(n), used: new Int32Array(n) };
    }
    const { sumSim, sumDev, used } = this.rowScratch;
    sumSim.fill(0);
    sumDev.fill(0);
    used.fill(0);
    const sim = this.sim;
    for (let q = lo; q < hi; q++) {
      const row = this.nbr.index[q] * n;
      const d = this.dev[q];
      for (let i = 0; i < n; i++) {
        const s = sim[row + i];
        if (s > 0) {
          sumSim[i] += s;
          sumDev[i] += s * d;
          used[i]++;
        }
      }
    }
    const mu = f.globalMean;
    const minK = this.options.minK;
    for (let i = 0; i < n; i++) {
      const iKnown = this.itemCount[i] > 0;
      let base: number;
      if (this.variant === 'basic') base = mu;
      else if (this.variant === 'means') base = iKnown ? this.means[i] : mu;
      else base = mu + this.bu[u] + this.bi[i];
      // More than k positive neighbours: the top-k selection decides, one item at a time.
      if (iKnown && used[i] > k) out[offset + i] = this.estimateOne(u, i);
      else if (!iKnown || used[i] < minK || !(sumSim[i] > 0)) out[offset + i] = base;
      else out[offset + i] = this.variant === 'basic' ? sumDev[i] / sumSim[i] : base + sumDev[i] / sumSim[i];
    }
    return true;
  }

  protected factorForm(): null {
    return null;
  }

  protected configJson(): Record<string, unknown> {
    return { ...this.options, baseline: { ...this.options.baseline } };
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    const a: Record<string, Float32Array | Int32Array> = {
      similarity: this.sim,
      neighbourOffsets: this.nbr.offsets,
      neighbourIndex: this.nbr.index,
      neighbourRating: this.nbr.value,
    };
    if (this.variant === 'means') a.means = this.means;
    if (this.variant === 'baseline') {
      a.userBias = this.bu;
      a.itemBias = this.bi;
    }
    return a;
  }

  protected release(): void {
    this.sim = new Float32Array(0);
    this.dev = new Float32Array(0);
    this.means = new Float32Array(0);
    this.bu = new Float32Array(0);
    this.bi = new Float32Array(0);
    this.nbr = { offsets: new Int32Array(1), index: new Int32Array(0), value: new Float32Array(0) };
  }

  /** The similarity matrix (nX × nX, row-major; x = user when user-based, else item). A view: do not modify. */
  similarities(): Float32Array {
    this.ready('similarities');
    return this.sim;
  }
}

/** Mean of each row's values (float64 sums); 0 for empty rows. */
function rowMeans(csr: RatingCsr): Float32Array {
  const n = csr.offsets.length - 1;
  const m = new Float32Array(n);
  for (let x = 0; x < n; x++) {
    const lo = csr.offsets[x];
    const hi = csr.offsets[x + 1];
    let s = 0;
    for (let q = lo; q < hi; q++) s += csr.value[q];
    m[x] = hi > lo ? s / (hi - lo) : 0;
  }
  return m;
}

/** KNNBasic: the similarity-weighted mean of the neighbours' ratings; falls back to the global mean. See `KnnOptions` for defaults. */
export class KNNBasic extends KnnModel {
  static readonly spec: KnnSpec = { label: 'KNNBasic', kind: 'knn-basic', variant: 'basic' };
}

/** KNNWithMeans: the user's (item's) mean plus the neighbours' weighted mean deviations from theirs. See `KnnOptions`. */
export class KNNWithMeans extends KnnModel {
  static readonly spec: KnnSpec = { label: 'KNNWithMeans', kind: 'knn-means', variant: 'means' };
}

/**
 * KNNBaseline: the baseline μ + b_u + b_i plus the neighbours' weighted deviations from
 * their baselines. Default similarity 'msd' as in the reference's defaults (which its
 * published tables use); its docs recommend `similarity: 'pearson_baseline'`.
 */
export class KNNBaseline extends KnnModel {
  static readonly spec: KnnSpec = { label: 'KNNBaseline', kind: 'knn-baseline', variant: 'baseline' };
}
