/**
 * InteractionGraph: everything the models need from a user-item log, built in one call.
 * Holds the merged user-item CSR and its transpose, degrees, optional id maps, and
 * normalised adjacencies built lazily per kind and cached, and their copies on an
 * engine's device (`adjacencyOnDevice`), uploaded once per engine with the segmented
 * SpMM plan, so encoders multiply by Â every step without re-uploading it.
 */
import { GnnrlError } from '../errors.js';
import type { AdjacencyOptions, BuiltGraph, MergePolicy } from '../native.js';
import { describe, inputError } from './args.js';
import { bipartiteAdjacency, buildGraph, type ImplOption } from './build.js';
import { IdMap, type IdInput } from './id-map.js';
import { degreeLayout, type SegmentLayout } from './layout.js';
import type { Csr } from './types.js';
import type { Engine } from '../engine.js';
import { releaseSpmmCsr, type PlannedCsr } from '../kernels/spmm.js';
import { uploadCsrForSpmm } from './upload.js';

export interface InteractionsInput {
  users: IdInput;
  items: IdInput;
  ratings?: Float32Array;
  ts?: Float64Array | Int32Array;
  /** Dense mode only: row count (default max id + 1). */
  nUsers?: number;
  nItems?: number;
}

export interface InteractionGraphOptions extends ImplOption {
  /** Duplicate (user, item) merge: default 'last' when ts is given, else 'mean'. */
  policy?: MergePolicy;
  threads?: number;
  /**
   * 'dense': ids are already 0..n-1 (Int32Array); 'map': external ids go through IdMaps;
   * 'auto' (default): dense when users and items are Int32Arrays, else map.
   */
  ids?: 'auto' | 'dense' | 'map';
}

/**
 * A data-layer log (`Interactions` from src/data: dense `user`/`item` indices with their
 * counts), taken as is: its indices are already dense, so the graph uses them directly.
 * Typed structurally so the graph layer does not depend on the data layer.
 */
export interface DenseLog {
  user: Int32Array;
  item: Int32Array;
  rating: Float32Array | null;
  ts: Float64Array | null;
  nUsers: number;
  nItems: number;
}

interface Source {
  users: Int32Array;
  items: Int32Array;
  ratings?: Float32Array;
  ts?: Float64Array | Int32Array;
}

export class InteractionGraph {
  readonly nUsers: number;
  readonly nItems: number;
  readonly userItem: Csr;
  readonly itemUser: Csr;
  readonly userDegree: Int32Array;
  readonly itemDegree: Int32Array;
  /** Present in 'map' mode: external <-> dense ids. */
  readonly userIds: IdMap | undefined;
  readonly itemIds: IdMap | undefined;
  readonly policy: MergePolicy;
  /** Uploaded adjacencies per engine (weakly held: a dropped engine drops its entries). */
  private readonly deviceCache = new WeakMap<Engine, Map<string, PlannedCsr>>();
  private readonly source: Source;
  private readonly opts: InteractionGraphOptions;
  private readonly adjCache = new Map<string, Csr>();
  private readonly layoutCache = new Map<string, SegmentLayout>();

  private constructor(
    g: BuiltGraph,
    source: Source,
    maps: { users?: IdMap; items?: IdMap },
    policy: MergePolicy,
    opts: InteractionGraphOptions,
  ) {
    this.userItem = g.userItem;
    this.itemUser = g.itemUser;
    this.userDegree = g.userDegree;
    this.itemDegree = g.itemDegree;
    this.nUsers = g.userItem.nRows;
    this.nItems = g.userItem.nCols;
    this.userIds = maps.users;
    this.itemIds = maps.items;
    this.source = source;
    this.policy = policy;
    this.opts = opts;
  }

  /**
   * The graph of a log: `{ users, items, ratings?, ts? }` (dense Int32Array indices or
   * external ids), or a data-layer `Interactions` (`loadMovieLens`, a split's `train`),
   * whose dense indices and counts are used as they are.
   */
  static fromInteractions(input: InteractionsInput | DenseLog, opts: InteractionGraphOptions = {}): InteractionGraph {
    if (typeof input !== 'object' || input === null) throw inputError('input', `an object, got ${describe(input)}`);
    if ('user' in input && 'item' in input && !('users' in input)) {
      const log = input as DenseLog;
      if (!(log.user instanceof Int32Array)) throw inputError('user', `an Int32Array of dense user indices, got ${describe(log.user)}`);
      if (!(log.item instanceof Int32Array)) throw inputError('item', `an Int32Array of dense item indices, got ${describe(log.item)}`);
      return InteractionGraph.fromInteractions(
        { users: log.user, items: log.item, ratings: log.rating ?? undefined, ts: log.ts ?? undefined, nUsers: log.nUsers, nItems: log.nItems },
        { ...opts, ids: 'dense' },
      );
    }
    input = input as InteractionsInput;
    const mode = opts.ids ?? 'auto';
    const dense = mode === 'dense' || (mode === 'auto' && input.users instanceof Int32Array && input.items instanceof Int32Array);
    if (dense) {
      if (!(input.users instanceof Int32Array)) throw inputError('users', `an Int32Array (ids: 'dense'), got ${describe(input.users)}`);
      if (!(input.items instanceof Int32Array)) throw inputError('items', `an Int32Array (ids: 'dense'), got ${describe(input.items)}`);
      const src = { users: input.users, items: input.items, ratings: input.ratings, ts: input.ts };
      return InteractionGraph.build(src, input.nUsers ?? maxPlusOne(input.users), input.nItems ?? maxPlusOne(input.items), {}, opts);
    }
    if (input.nUsers !== undefined || input.nItems !== undefined) {
      throw inputError('nUsers', "to be left out with mapped ids (ids: 'map'): the maps decide the counts");
    }
    const u = IdMap.fromIds(input.users, opts);
    const i = IdMap.fromIds(input.items, opts);
    const src = { users: u.dense, items: i.dense, ratings: input.ratings, ts: input.ts };
    return InteractionGraph.build(src, u.map.size, i.map.size, { users: u.map, items: i.map }, opts);
  }

  private static build(
    src: Source,
    nUsers: number,
    nItems: number,
    maps: { users?: IdMap; items?: IdMap },
    opts: InteractionGraphOptions,
  ): InteractionGraph {
    const policy = opts.policy ?? (src.ts ? 'last' : 'mean');
    const g = buildGraph(
      { users: src.users, items: src.items, weights: src.ratings, ts: src.ts, nUsers, nItems },
      { policy, threads: opts.threads, impl: opts.impl },
    );
    return new InteractionGraph(g, src, maps, policy, opts);
  }

  /** The bipartite adjacency of this kind (default sym, no self-loops, unweighted), built once. */
  adjacency(opts: AdjacencyOptions = {}): Csr {
    const key = adjKey(opts);
    let a = this.adjCache.get(key);
    if (!a) {
      a = bipartiteAdjacency(this.userItem, { ...opts, impl: this.opts.impl, threads: this.opts.threads });
      this.adjCache.set(key, a);
    }
    return a;
  }

  /**
   * The adjacency of this kind on `engine`'s device, uploaded on first use (with the
   * degree-aware SpMM plan on WebGPU) and reused after; `releaseDevice` frees it.
   */
  adjacencyOnDevice(engine: Engine, opts: AdjacencyOptions = {}): PlannedCsr {
    let perEngine = this.deviceCache.get(engine);
    if (!perEngine) this.deviceCache.set(engine, (perEngine = new Map()));
    const key = adjKey(opts);
    let dev = perEngine.get(key);
    if (!dev) {
      dev = uploadCsrForSpmm(engine, this.adjacency(opts));
      perEngine.set(key, dev);
    }
    return dev;
  }

  /** Bytes of this graph's device copies on `engine` (arrays and SpMM plans). */
  deviceMemoryBytes(engine: Engine): number {
    let b = 0;
    for (const dev of this.deviceCache.get(engine)?.values() ?? []) {
      b += (dev.rowPtr.length + dev.colIdx.length + dev.values.length) * 4;
      if (dev.plan) b += (dev.plan.units.length + dev.plan.split.length) * 4;
    }
    return b;
  }

  /** Frees this graph's device copies on `engine`. */
  releaseDevice(engine: Engine): void {
    const perEngine = this.deviceCache.get(engine);
    if (!perEngine) return;
    for (const dev of perEngine.values()) releaseSpmmCsr(engine, dev);
    this.deviceCache.delete(engine);
  }

  /** Degree-sorted segment layout of an adjacency kind, for the SpMM kernels. */
  layout(opts: AdjacencyOptions = {}, maxSegment = 256): SegmentLayout {
    const key = `${adjKey(opts)}|${maxSegment}`;
    let l = this.layoutCache.get(key);
    if (!l) {
      l = degreeLayout(this.adjacency(opts), { maxSegment });
      this.layoutCache.set(key, l);
    }
    return l;
  }

  /**
   * The graph of the given dense users only (renumbered 0..k-1 in the given order; items
   * keep their ids). Built from the merged rows, so it carries merged values and no ts.
   * `userIndex` maps new user rows back to this graph's.
   */
  subgraph(userIds: Int32Array): InteractionGraph & { userIndex: Int32Array } {
    if (!(userIds instanceof Int32Array)) throw inputError('userIds', `an Int32Array, got ${describe(userIds)}`);
    const seen = new Uint8Array(this.nUsers);
    let nnz = 0;
    for (let k = 0; k < userIds.length; k++) {
      const u = userIds[k];
      if (u < 0 || u >= this.nUsers) throw inputError('userIds', `an id in [0, ${this.nUsers}), got ${u}`, k);
      if (seen[u]) throw inputError('userIds', `unique ids, got ${u} again`, k);
      seen[u] = 1;
      nnz += this.userItem.rowPtr[u + 1] - this.userItem.rowPtr[u];
    }
    const users = new Int32Array(nnz);
    const items = new Int32Array(nnz);
    const ratings = new Float32Array(nnz);
    let p = 0;
    for (let k = 0; k < userIds.length; k++) {
      const u = userIds[k];
      for (let j = this.userItem.rowPtr[u]; j < this.userItem.rowPtr[u + 1]; j++) {
        users[p] = k;
        items[p] = this.userItem.colIdx[j];
        ratings[p++] = this.userItem.values[j];
      }
    }
    const src = { users, items, ratings };
    const g = buildGraph(
      { users, items, weights: ratings, nUsers: userIds.length, nItems: this.nItems },
      { policy: 'sum', threads: this.opts.threads, impl: this.opts.impl },
    );
    const sub = new InteractionGraph(g, src, { items: this.itemIds }, this.policy, this.opts);
    return Object.assign(sub, { userIndex: userIds.slice() });
  }

  /**
   * A new graph with more interactions appended to the log (this one is unchanged). In
   * map mode new external ids get the next dense ids; in dense mode the counts grow to
   * cover the new ids (or to the given nUsers/nItems).
   */
  withInteractions(more: InteractionsInput): InteractionGraph {
    if (typeof more !== 'object' || more === null) throw inputError('more', `an object, got ${describe(more)}`);
    const s = this.source;
    const hasRatings = s.ratings !== undefined;
    const hasTs = s.ts !== undefined;
    if (hasRatings !== (more.ratings !== undefined)) throw inputError('more.ratings', hasRatings ? 'a Float32Array (the graph has ratings)' : 'undefined (the graph has no ratings)');
    if (hasTs !== (more.ts !== undefined)) throw inputError('more.ts', hasTs ? 'timestamps (the graph has ts)' : 'undefined (the graph has no ts)');
    let users: Int32Array;
    let items: Int32Array;
    let nUsers: number;
    let nItems: number;
    const maps: { users?: IdMap; items?: IdMap } = {};
    if (this.userIds && this.itemIds) {
      maps.users = this.userIds.clone();
      maps.items = this.itemIds.clone();
      users = maps.users.encode(more.users, { missing: 'add' });
      items = maps.items.encode(more.items, { missing: 'add' });
      nUsers = maps.users.size;
      nItems = maps.items.size;
    } else {
      if (!(more.users instanceof Int32Array)) throw inputError('more.users', `an Int32Array (dense ids), got ${describe(more.users)}`);
      if (!(more.items instanceof Int32Array)) throw inputError('more.items', `an Int32Array (dense ids), got ${describe(more.items)}`);
      users = more.users;
      items = more.items;
      nUsers = more.nUsers ?? Math.max(this.nUsers, maxPlusOne(users));
      nItems = more.nItems ?? Math.max(this.nItems, maxPlusOne(items));
    }
    const src: Source = {
      users: concat(s.users, users),
      items: concat(s.items, items),
      ratings: hasRatings ? concatF32(s.ratings!, more.ratings!) : undefined,
      ts: hasTs ? concatTs(s.ts!, more.ts!) : undefined,
    };
    return InteractionGraph.build(src, nUsers, nItems, maps, { ...this.opts, policy: this.policy });
  }

  /** Bytes held by the CSRs, degrees, cached adjacencies/layouts, the source log and id maps. */
  memoryBytes(): number {
    const csr = (m: Csr) => m.rowPtr.byteLength + m.colIdx.byteLength + m.values.byteLength;
    let b = csr(this.userItem) + csr(this.itemUser) + this.userDegree.byteLength + this.itemDegree.byteLength;
    for (const a of this.adjCache.values()) b += csr(a);
    for (const l of this.layoutCache.values()) {
      b += l.order.byteLength + l.segRow.byteLength + l.segStart.byteLength + l.segEnd.byteLength + l.rowSegPtr.byteLength;
    }
    const s = this.source;
    b += s.users.byteLength + s.items.byteLength + (s.ratings?.byteLength ?? 0) + (s.ts?.byteLength ?? 0);
    b += (this.userIds?.memoryBytes() ?? 0) + (this.itemIds?.memoryBytes() ?? 0);
    return b;
  }
}

function adjKey(o: AdjacencyOptions): string {
  return `${o.norm ?? 'sym'}|${o.selfLoops ? 1 : 0}|${o.weighted ? 1 : 0}`;
}

function maxPlusOne(a: Int32Array): number {
  let m = -1;
  for (let k = 0; k < a.length; k++) if (a[k] > m) m = a[k];
  return m + 1;
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function concatF32(a: Float32Array, b: Float32Array): Float32Array {
  if (!(b instanceof Float32Array)) throw inputError('more.ratings', `a Float32Array, got ${describe(b)}`);
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function concatTs(a: Float64Array | Int32Array, b: Float64Array | Int32Array): Float64Array | Int32Array {
  if (a instanceof Int32Array && b instanceof Int32Array) return concat(a, b);
  if (!(b instanceof Float64Array) && !(b instanceof Int32Array)) {
    throw new GnnrlError('input', `more.ts: expected a Float64Array or an Int32Array, got ${describe(b)}`, { arg: 'more.ts' });
  }
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
