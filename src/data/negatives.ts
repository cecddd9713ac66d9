/**
 * Negative sampling for implicit-feedback training: for a (user, positive item) pair,
 * draw items the user has not interacted with, uniformly or in proportion to
 * popularity (alias table), from a seeded stream; results come as typed arrays.
 */
import { GnnrlError, check } from '../errors.js';
import { Rng } from '../util/rng.js';
import { AliasTable } from './alias.js';
import { itemDegrees, type Interactions } from './interactions.js';
import { bucketByKey } from '../util/bucket.js';

/** Each user's distinct positive items, sorted: items[offsets[u] .. offsets[u+1]). */
export class PositiveIndex {
  constructor(
    readonly offsets: Int32Array,
    readonly items: Int32Array,
    readonly nItems: number,
  ) {}

  static of(x: Interactions): PositiveIndex {
    const n = x.user.length;
    const { offsets, order } = bucketByKey(x.user, x.nUsers);
    const raw = new Int32Array(n);
    for (let j = 0; j < n; j++) raw[j] = x.item[order[j]];
    // Sort each segment and drop repeats (a log may hold the same pair twice).
    const items = new Int32Array(n);
    const out = new Int32Array(x.nUsers + 1);
    let w = 0;
    for (let u = 0; u < x.nUsers; u++) {
      const seg = raw.subarray(offsets[u], offsets[u + 1]).sort();
      out[u] = w;
      for (let j = 0; j < seg.length; j++) if (j === 0 || seg[j] !== seg[j - 1]) items[w++] = seg[j];
    }
    out[x.nUsers] = w;
    return new PositiveIndex(out, items.slice(0, w), x.nItems);
  }

  count(u: number): number {
    return this.offsets[u + 1] - this.offsets[u];
  }

  has(u: number, item: number): boolean {
    let lo = this.offsets[u];
    let hi = this.offsets[u + 1] - 1;
    const a = this.items;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid];
      if (v === item) return true;
      if (v < item) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

export type NegativeStrategy = 'uniform' | 'popularity';

export interface SamplerOptions {
  strategy?: NegativeStrategy;
  seed?: number;
  /** Items never to return for a user (default: the user's own events in the log). */
  exclude?: PositiveIndex;
  /** Popularity weight is count^exponent (default 1: proportional; 0.75 is word2vec's). */
  popularityExponent?: number;
  /** Item counts to weigh by (default: item degrees of the log given), e.g. from the full train log when sampling for a sub-batch. */
  itemCounts?: ArrayLike<number>;
}

/** Rejection tries before falling back to an exact draw from the user's complement. */
const MAX_TRIES = 64;

export class NegativeSampler {
  readonly rng: Rng;
  private readonly alias: AliasTable | null;
  private readonly weights: Float64Array | null;
  readonly exclude: PositiveIndex;

  constructor(
    x: Interactions,
    opts: SamplerOptions = {},
  ) {
    const strategy = opts.strategy ?? 'uniform';
    check(strategy === 'uniform' || strategy === 'popularity', 'strategy', `'uniform' | 'popularity', got ${JSON.stringify(strategy)}`);
    check(x.nItems > 0, 'interactions.nItems', 'at least one item');
    this.rng = new Rng(opts.seed ?? 1);
    this.exclude = opts.exclude ?? PositiveIndex.of(x);
    if (strategy === 'popularity') {
      const e = opts.popularityExponent ?? 1;
      const deg = opts.itemCounts ?? itemDegrees(x);
      check(deg.length === x.nItems, 'itemCounts', `length nItems (${x.nItems}), got ${deg.length}`);
      this.weights = new Float64Array(x.nItems);
      for (let i = 0; i < x.nItems; i++) this.weights[i] = deg[i] > 0 ? Math.pow(deg[i], e) : 0;
      this.alias = new AliasTable(this.weights);
    } else {
      this.alias = null;
      this.weights = null;
    }
  }

  /** One item that user u has not interacted with. */
  sample(u: number): number {
    const ex = this.exclude;
    const nItems = ex.nItems;
    for (let t = 0; t < MAX_TRIES; t++) {
      const it = this.alias ? this.alias.sample(this.rng) : this.rng.int(nItems);
      if (!ex.has(u, it)) return it;
    }
    return this.alias ? this.exactPopular(u) : this.exactUniform(u);
  }

  /** The r-th item (uniform r) not among u's sorted positives, in O(degree). */
  private exactUniform(u: number): number {
    const ex = this.exclude;
    const free = ex.nItems - ex.count(u);
    if (free <= 0) throw new GnnrlError('input', `negative sampling: user ${u} has interacted with every item, so no negative exists`, { arg: 'interactions', index: u });
    let cand = this.rng.int(free);
    for (let j = ex.offsets[u]; j < ex.offsets[u + 1]; j++) {
      if (ex.items[j] <= cand) cand++;
      else break;
    }
    return cand;
  }

  private exactPopular(u: number): number {
    const w = this.weights!;
    let total = 0;
    for (let i = 0; i < w.length; i++) if (!this.exclude.has(u, i)) total += w[i];
    if (!(total > 0)) {
      throw new GnnrlError('input', `negative sampling: every item with non-zero popularity is a positive of user ${u}`, { arg: 'interactions', index: u });
    }
    let r = this.rng.next() * total;
    let last = -1;
    for (let i = 0; i < w.length; i++) {
      if (w[i] === 0 || this.exclude.has(u, i)) continue;
      last = i;
      r -= w[i];
      if (r < 0) return i;
    }
    return last;
  }
}

export interface Triples {
  users: Int32Array;
  pos: Int32Array;
  neg: Int32Array;
}

/**
 * `perPositive` negatives for every event of `x`: entry e·perPositive + r pairs event e
 * (users[..], pos[..]) with its r-th negative.
 */
export function sampleNegatives(x: Interactions, opts: SamplerOptions & { perPositive?: number } = {}): Triples {
  const per = opts.perPositive ?? 1;
  check(Number.isInteger(per) && per >= 1, 'perPositive', `an integer >= 1, got ${per}`);
  const s = new NegativeSampler(x, opts);
  const n = x.user.length;
  const users = new Int32Array(n * per);
  const pos = new Int32Array(n * per);
  const neg = new Int32Array(n * per);
  for (let e = 0; e < n; e++) {
    const u = x.user[e];
    for (let r = 0; r < per; r++) {
      const k = e * per + r;
      users[k] = u;
      pos[k] = x.item[e];
      neg[k] = s.sample(u);
    }
  }
  return { users, pos, neg };
}

export interface BprOptions extends SamplerOptions {
  batchSize: number;
  /** Visit events in a new seeded random order each call (default true). */
  shuffle?: boolean;
}

/**
 * One epoch of BPR triples (user, positive, negative) in batches of `batchSize` (the
 * last may be shorter). Each batch owns fresh arrays, so callers may keep them.
 */
export function* bprBatches(x: Interactions, opts: BprOptions): Generator<Triples> {
  check(Number.isInteger(opts?.batchSize) && opts.batchSize >= 1, 'batchSize', `an integer >= 1, got ${opts?.batchSize}`);
  const s = new NegativeSampler(x, opts);
  const n = x.user.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (opts.shuffle ?? true) s.rng.fork().shuffle(order);
  for (let start = 0; start < n; start += opts.batchSize) {
    const m = Math.min(opts.batchSize, n - start);
    const users = new Int32Array(m);
    const pos = new Int32Array(m);
    const neg = new Int32Array(m);
    for (let j = 0; j < m; j++) {
      const e = order[start + j];
      users[j] = x.user[e];
      pos[j] = x.item[e];
      neg[j] = s.sample(users[j]);
    }
    yield { users, pos, neg };
  }
}
