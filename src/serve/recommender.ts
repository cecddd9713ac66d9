/**
 * `Recommender`: a trained model behind external ids, answering requests in a service
 * and learning from feedback while it does.
 *
 * Versions: every request reads the current `ServedVersion` once at its start and
 * answers from it alone; each response carries that version's number. `observe` only
 * queues feedback; a background drain (every `intervalMs`, at most `maxBatch` events)
 * builds the next version from the current one (feedback.ts) while requests keep being
 * answered from the current one, then swaps the reference in one assignment. A request
 * that started before a swap finishes on the old version. The drain yields to the event
 * loop every few milliseconds, so a `recommend` never waits behind it for long.
 *
 * Unknown users are answered by policy (`unknownUser`): 'popularity' (default; the
 * response says `fallback: 'popularity'`) or 'error' (a coded error naming the user).
 * Unknown items in `score` get NaN; in `similarItems` they are an error.
 *
 * Popularity comes from, in order: the snapshot's `extras.itemCounts`, the training
 * edges, a baseline's own counts; without any, zeros (item order).
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { IdMap, normalizeId, type ExternalId } from '../data/idmap.js';
import type { FeatureTable } from '../data/features-types.js';
import { restoreModel, trainingGraph } from '../models/registry.js';
import type { RecommenderModel } from '../models/types.js';
import { FactorTable, topKHost } from './factor-table.js';
import { FeatureMap } from './feature-map.js';
import { applyFeedback, checkEvent, isPositive, type BatchReport, type FeedbackEvent, type FoldInSettings } from './feedback.js';
import { agentFeedback, agentSnapshot, agentTables, isAgentCheckpoint, openAgent, type AgentServeOptions, type ServedAgent } from './agent-source.js';
import { hasSeen, itemIn, orderByScore, trainItems, userIn, type SeenItems, type ServedVersion } from './served-version.js';
import { decodeServable, fromCheckpoint, loadServable, saveSnapshot, toCheckpoint, type ArraySet, type SnapshotData } from './snapshot.js';

export type UnknownUserPolicy = 'popularity' | 'error';

export interface OnlineOptions extends FoldInSettings {
  /** Milliseconds between drains of the feedback queue (default 50). */
  intervalMs?: number;
  /** Events folded into one new version at most (default 5000). */
  maxBatch?: number;
  /** Events the queue holds at most; `observe` beyond it is a 'limit' error (default 100,000). */
  maxQueue?: number;
  /** Whether feedback on unknown items adds them to the catalogue (default true). */
  newItems?: boolean;
}

export interface RecommenderOptions {
  engine: Engine;
  /** What to answer for a user the model does not know (default 'popularity'). */
  unknownUser?: UnknownUserPolicy;
  online?: OnlineOptions;
  /** Called when a background update fails (default: a process warning). The served version stays as it was. */
  onError?: (err: unknown) => void;
  /**
   * Features of the users / items the model was trained on (row r = dense index r, as
   * `Interactions.userFeatures`/`itemFeatures`): with them, `addUsers`/`addItems` give
   * newcomers a vector from their features alone (feature-map.ts). Factor-served models only.
   */
  userFeatures?: FeatureTable;
  itemFeatures?: FeatureTable;
  /** Ridge λ of the feature maps, relative (default 0.01). */
  featureLambda?: number;
  /** When the file is a `gnnrl rl` DQN or REINFORCE agent checkpoint: where its GNN is, and how it keeps learning (agent-source.ts). */
  agent?: AgentServeOptions;
}


export interface ServeRecommendOptions {
  /** 'train' (default): skip the items the user has interacted with (training log and observed); 'none': rank every item. */
  exclude?: 'train' | 'none';
  /** Keeps only the items it returns true for (called with external item ids). */
  filter?: (itemId: ExternalId) => boolean;
  /**
   * Maximal marginal relevance re-ranking (Carbonell & Goldstein 1998) of the top 5k
   * candidates: λ·relevance − (1 − λ)·max cosine to the items already chosen, relevance
   * min-max scaled. λ = 1 is the plain ranking. Factor-served models only.
   */
  diversify?: number;
}

export interface RecommendResponse {
  /** External item ids, best first (fewer than k when fewer items are eligible). */
  items: ExternalId[];
  scores: number[];
  /** The model version that answered. */
  version: number;
  /** Set when the popularity fallback answered. */
  fallback?: 'popularity';
}

export interface ScoreResponse {
  /** One score per requested item; NaN for an item the version does not know. */
  scores: number[];
  version: number;
  fallback?: 'popularity';
}

export interface SimilarResponse {
  items: ExternalId[];
  /** Cosine similarities of the item vectors. */
  scores: number[];
  version: number;
}

/** Counters of the online updater. */
export interface OnlineStats {
  version: number;
  queueDepth: number;
  eventsApplied: number;
  batches: number;
  lastBatch: BatchReport | null;
  lastError: string | null;
}

const DEFAULT_ONLINE = { intervalMs: 50, maxBatch: 5000, maxQueue: 100_000, newItems: true };

function checkK(k: unknown, fn: string): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k <= 0) {
    throw new GnnrlError('input', `Recommender.${fn}: k: expected a positive integer, got ${typeof k === 'number' ? k : JSON.stringify(k)}`, { arg: 'k' });
  }
}

function countsOf(items: ArrayLike<number>, n: number): Float32Array {
  const c = new Float32Array(n);
  for (let j = 0; j < items.length; j++) {
    const i = items[j];
    if (i >= 0 && i < n) c[i]++;
  }
  return c;
}

async function hostF32(engine: Engine, a: unknown): Promise<Float32Array> {
  if (a instanceof Float32Array) return a;
  return Float32Array.from((await engine.read(a as Parameters<Engine['read']>[0])) as Float32Array);
}

export class Recommender {
  private current: ServedVersion | null;
  private readonly queue: FeedbackEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private readonly stats0 = { eventsApplied: 0, batches: 0, lastBatch: null as BatchReport | null, lastError: null as string | null };
  readonly engine: Engine;
  readonly unknownUser: UnknownUserPolicy;
  private readonly online: Required<Pick<OnlineOptions, 'intervalMs' | 'maxBatch' | 'maxQueue' | 'newItems'>> & FoldInSettings;
  private readonly onError: (err: unknown) => void;
  /** What the file held beyond what versions carry (config, meta, extras the model needs). */
  private readonly base: SnapshotData;
  /** Serialises the writers of `current` (the feedback drain, addUsers/addItems), so versions form one chain. */
  private writeLock: Promise<unknown> = Promise.resolve();
  private maps: { users: FeatureMap | null; items: FeatureMap | null } = { users: null, items: null };
  /** The agent behind the factor tables, when serving a DQN or REINFORCE agent (agent-source.ts). */
  private served: ServedAgent | null = null;
  /** The agent file's own metadata (agent name, state, env), kept for its snapshots. */
  private agentMeta: Record<string, unknown> = {};

  private constructor(v: ServedVersion, base: SnapshotData, opts: RecommenderOptions) {
    this.current = v;
    this.base = base;
    this.engine = opts.engine;
    this.unknownUser = opts.unknownUser ?? 'popularity';
    this.online = { ...DEFAULT_ONLINE, ...(opts.online ?? {}) };
    this.onError = opts.onError ?? ((e) => process.emitWarning(`gnnrl: online update failed: ${(e as Error).message ?? e}`, { code: 'GNNRL_ONLINE_UPDATE' }));
    if ((opts.userFeatures || opts.itemFeatures) && !v.factors) {
      throw new GnnrlError('input', `Recommender.load: userFeatures/itemFeatures need a factor-served model ('${v.model.kind}' is served by its own ranking)`, { arg: opts.userFeatures ? 'userFeatures' : 'itemFeatures' });
    }
    if (v.factors) {
      const fit = (f: FeatureTable | undefined, t: FactorTable, trained: number, what: string) => {
        if (!f) return null;
        if (f.nRows !== trained) throw new GnnrlError('input', `Recommender.load: ${what}: ${f.nRows} rows, but the model was trained on ${trained}`, { arg: what });
        return FeatureMap.fit(f, t, opts.featureLambda, what);
      };
      this.maps = { users: fit(opts.userFeatures, v.factors.users, v.trainedUsers, 'userFeatures'), items: fit(opts.itemFeatures, v.factors.items, v.trainedItems, 'itemFeatures') };
    }
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeLock.then(fn, fn);
    this.writeLock = run.catch(() => undefined);
    return run;
  }

  /** New users with features and no interactions yet: each gets the vector its features map to (one new version). */
  addUsers(rows: readonly { user: ExternalId; features: ArrayLike<number> }[]): Promise<{ version: number; added: number }> {
    return this.addRows('users', rows.map((r) => ({ id: r.user, features: r.features })));
  }

  /** New items with features and no interactions yet: ranked at once by the vector their features map to. */
  addItems(rows: readonly { item: ExternalId; features: ArrayLike<number> }[]): Promise<{ version: number; added: number }> {
    return this.addRows('items', rows.map((r) => ({ id: r.item, features: r.features })));
  }

  private async addRows(side: 'users' | 'items', rows: { id: ExternalId; features: ArrayLike<number> }[]): Promise<{ version: number; added: number }> {
    const fn = side === 'users' ? 'addUsers' : 'addItems';
    this.live(fn);
    const map = this.maps[side];
    if (!map) throw new GnnrlError('state', `Recommender.${fn}: no ${side === 'users' ? 'userFeatures' : 'itemFeatures'} were given at load, so newcomers cannot be placed from features`);
    if (!Array.isArray(rows)) throw new GnnrlError('input', `Recommender.${fn}: expected an array of { ${side === 'users' ? 'user' : 'item'}, features }`, { arg: side });
    const vecs = rows.map((r, j) => {
      if (normalizeId(r.id) === undefined) throw new GnnrlError('input', `Recommender.${fn}: [${j}]: id: expected a string or integer id, got ${JSON.stringify(r.id)}`, { arg: side, index: j });
      return map.apply(r.features, `Recommender.${fn}: [${j}].features`);
    });
    return this.locked(async () => {
      const v = this.live(fn);
      const ids = side === 'users' ? v.userIds : v.itemIds;
      const count = side === 'users' ? v.nUsers : v.nItems;
      const table = side === 'users' ? v.factors!.users : v.factors!.items;
      const changed = new Map<number, { v: Float32Array }>();
      const appended: { v: Float32Array; b: number }[] = [];
      let n = count;
      const unranked = new Set(v.unranked);
      rows.forEach((r, j) => {
        let i = ids.get(r.id);
        if (i >= 0 && i < count) {
          // Known already: only a row without a vector (an unranked item) takes the feature vector.
          if (side === 'items' && v.unranked.has(i)) {
            changed.set(i, { v: vecs[j] });
            unranked.delete(i);
            return;
          }
          throw new GnnrlError('input', `Recommender.${fn}: [${j}]: ${JSON.stringify(r.id)} is already known`, { arg: side, index: j });
        }
        i = ids.getOrAdd(r.id);
        if (i !== n) throw new GnnrlError('input', `Recommender.${fn}: [${j}]: ${JSON.stringify(r.id)} is listed twice`, { arg: side, index: j });
        appended.push({ v: vecs[j], b: 0 });
        n++;
      });
      const grown = table.derive(changed, appended);
      const popularity = side === 'items' ? new Float32Array(n) : v.popularity;
      if (side === 'items') popularity.set(v.popularity);
      const next: ServedVersion = {
        ...v,
        version: v.version + 1,
        nUsers: side === 'users' ? n : v.nUsers,
        nItems: side === 'items' ? n : v.nItems,
        factors: side === 'users' ? { users: grown, items: v.factors!.items } : { users: v.factors!.users, items: grown },
        unranked,
        popularity,
        popularOrder: side === 'items' ? orderByScore(popularity) : v.popularOrder,
      };
      this.current = next;
      return { version: next.version, added: appended.length };
    });
  }

  /** Loads a snapshot (v2) or a `gnnrl train` checkpoint and restores its model through the registry. */
  static async load(file: string, opts: RecommenderOptions): Promise<Recommender> {
    Recommender.checkOptions(opts);
    return Recommender.fromData(await loadServable(file), opts, file);
  }

  /** Like `load`, from bytes in memory. */
  static async fromBytes(bytes: Uint8Array, opts: RecommenderOptions, source = '<memory>'): Promise<Recommender> {
    Recommender.checkOptions(opts);
    return Recommender.fromData(decodeServable(bytes, source), opts, source);
  }

  private static checkOptions(opts: RecommenderOptions): void {
    if (!opts || !opts.engine) throw new GnnrlError('input', 'Recommender.load: opts.engine: expected an Engine', { arg: 'engine' });
    const p = opts.unknownUser;
    if (p !== undefined && p !== 'popularity' && p !== 'error') {
      throw new GnnrlError('input', `Recommender.load: unknownUser: expected 'popularity' | 'error', got ${JSON.stringify(p)}`, { arg: 'unknownUser' });
    }
    const o = opts.online ?? {};
    for (const [k, min] of [['intervalMs', 0], ['maxBatch', 1], ['maxQueue', 1]] as const) {
      const x = o[k];
      if (x !== undefined && !(Number.isInteger(x) && x >= min)) throw new GnnrlError('input', `Recommender.load: online.${k}: expected an integer >= ${min}, got ${JSON.stringify(x)}`, { arg: `online.${k}` });
    }
  }

  private static async fromData(data: SnapshotData, opts: RecommenderOptions, source: string): Promise<Recommender> {
    if (isAgentCheckpoint(data)) return Recommender.fromAgent(data, opts, source);
    const model = await restoreModel(toCheckpoint(data, source), opts.engine);
    try {
      const served = (data.meta.served ?? null) as { nUsers: number; nItems: number; trainedUsers: number; trainedItems: number } | null;
      const nU = served ? served.nUsers : model.nUsers;
      const nI = served ? served.nItems : model.nItems;
      const mkIds = (list: ExternalId[] | undefined, n: number, what: 'users' | 'items'): IdMap => {
        if (!list) return IdMap.fromIds(Array.from({ length: n }, (_, i) => i));
        if (list.length !== n) throw new GnnrlError('format', `${source}: idmaps.${what}: ${list.length} ids, but the model serves ${n} ${what}`, { file: source, field: 'idmaps' });
        try {
          return IdMap.fromIds(list);
        } catch (e) {
          throw new GnnrlError('format', `${source}: idmaps.${what}: ${(e as Error).message}`, { file: source, field: 'idmaps', cause: e });
        }
      };
      const userIds = mkIds(data.ids?.users, nU, 'users');
      const itemIds = mkIds(data.ids?.items, nI, 'items');
      const ex = data.extras ?? {};
      const edgesU = ex['graph.user'];
      const edgesI = ex['graph.item'];
      const hasEdges = edgesU instanceof Int32Array && edgesI instanceof Int32Array && edgesU.length === edgesI.length;
      const seen = Recommender.seenOf(hasEdges ? edgesU : null, hasEdges ? edgesI : null, model, ex, source);
      const popularity = Recommender.popularityOf(data, model, hasEdges ? edgesI : null, nI);
      const factors = hasEdges ? await Recommender.factorsOf(data, model, opts.engine, source) : null;
      const unranked = new Set<number>(ex['served.unranked'] instanceof Int32Array ? Array.from(ex['served.unranked']) : []);
      const v: ServedVersion = {
        version: data.modelVersion,
        model,
        userIds,
        itemIds,
        nUsers: nU,
        nItems: nI,
        factors,
        seen,
        unranked,
        popularity,
        popularOrder: orderByScore(popularity),
        trainedUsers: served ? served.trainedUsers : model.nUsers,
        trainedItems: served ? served.trainedItems : model.nItems,
      };
      return new Recommender(v, data, opts);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /**
   * An agent (DQN, REINFORCE) served as a factor model: rows are φ of each user's window, items its
   * item head. From a `gnnrl rl` checkpoint the ids, edges and popularity are the GNN's; from a
   * snapshot of a served agent, the snapshot's (ids with newcomers, observed items, the
   * served tables bit for bit).
   */
  private static async fromAgent(data: SnapshotData, opts: RecommenderOptions, source: string): Promise<Recommender> {
    const served = await openAgent(data, source, opts.engine, opts.agent);
    try {
      const gnn = fromCheckpoint(served.gnn);
      const model = served.model;
      const snap = data.meta.agentServe !== undefined;
      const nServed = served.windows.length / served.historyLen;
      const info = (data.meta.served ?? null) as { nUsers: number; nItems: number } | null;
      const nUsers = snap && info ? info.nUsers : model.nUsers;
      const nItems = snap && info ? info.nItems : model.nItems;
      const mkIds = (list: ExternalId[] | undefined, n: number, what: string) => {
        const ids = list ?? Array.from({ length: n }, (_, i) => i);
        if (ids.length !== n) throw new GnnrlError('format', `${source}: idmaps.${what}: ${ids.length} ids, but the agent serves ${n} ${what}`, { file: source, field: 'idmaps' });
        return IdMap.fromIds(ids);
      };
      const userIds = mkIds(snap ? data.ids?.users : gnn.ids?.users, nUsers, 'users');
      const itemIds = mkIds(snap ? data.ids?.items : gnn.ids?.items, nItems, 'items');
      const eu = gnn.extras?.['graph.user'];
      const ei = gnn.extras?.['graph.item'];
      const edges = eu instanceof Int32Array && ei instanceof Int32Array;
      const seen = Recommender.seenOf(edges ? eu : null, edges ? ei : null, model, snap ? (data.extras ?? {}) : {}, source);
      const popularity = Recommender.popularityOf(snap ? data : gnn, model, edges ? ei : null, nItems);
      const factors = snap ? Recommender.agentServedTables(data, nServed, model.nItems, Math.min(nItems, served.itemCapacity), source) : await agentTables(served);
      const unranked = new Set<number>();
      for (let i = factors.items.rows; i < nItems; i++) unranked.add(i);
      const v: ServedVersion = {
        version: snap ? data.modelVersion : 1,
        model,
        userIds,
        itemIds,
        nUsers,
        nItems,
        factors,
        seen,
        unranked,
        popularity,
        popularOrder: orderByScore(popularity),
        trainedUsers: model.nUsers,
        trainedItems: model.nItems,
      };
      // Without spare Q-head rows, feedback on unknown items counts for popularity only.
      const newItems = served.itemCapacity > served.trainedItems && (opts.online?.newItems ?? true);
      const meta = snap ? { ...gnn.meta, servedAgent: data.meta.servedAgent ?? data.meta.agent } : { ...gnn.meta, servedAgent: data.meta.agent };
      const rec = new Recommender(v, { ...gnn, meta, modelVersion: v.version }, { ...opts, online: { ...opts.online, newItems } });
      rec.served = served;
      rec.agentMeta = data.meta;
      return rec;
    } catch (e) {
      served.agent.dispose();
      served.encoder.dispose();
      served.model.dispose();
      throw e;
    }
  }

  /** The served tables a snapshot of an agent holds (rows: the users with an encoder row). */
  private static agentServedTables(data: SnapshotData, rows: number, minItems: number, maxItems: number, source: string): { users: FactorTable; items: FactorTable } {
    const ex = data.extras ?? {};
    const dim = Number((data.meta.served as { dim?: unknown } | undefined)?.dim);
    const U = ex['served.users'];
    const V = ex['served.items'];
    const b = ex['served.itemBias'];
    const nItems = V instanceof Float32Array && dim > 0 ? V.length / dim : NaN;
    if (!(Number.isInteger(dim) && dim > 0 && U instanceof Float32Array && U.length === rows * dim && Number.isInteger(nItems) && nItems >= minItems && nItems <= maxItems && (b === undefined || (b instanceof Float32Array && b.length === nItems)))) {
      throw new GnnrlError('format', `${source}: section 'extras': the served tables do not match the agent (${rows} user rows, ${minItems} to ${maxItems} item rows, dim ${dim})`, { file: source, field: 'extras' });
    }
    return { users: FactorTable.of(U, dim, rows, null, 'lazy'), items: FactorTable.of(V as Float32Array, dim, nItems, b instanceof Float32Array ? b : null, 'lazy') };
  }

  private static seenOf(eu: Int32Array | null, ei: Int32Array | null, model: RecommenderModel, ex: ArraySet, source: string): SeenItems {
    let rowPtr: Int32Array = new Int32Array(1);
    let colIdx: Int32Array = new Int32Array(0);
    if (eu && ei) {
      const g = trainingGraph(eu, ei, model.nUsers, model.nItems);
      rowPtr = g.userItem.rowPtr;
      colIdx = g.userItem.colIdx;
    }
    const added = new Map<number, Set<number>>();
    const su = ex['served.seen.user'];
    const si = ex['served.seen.item'];
    if (su !== undefined || si !== undefined) {
      if (!(su instanceof Int32Array && si instanceof Int32Array && su.length === si.length)) {
        throw new GnnrlError('format', `${source}: section 'extras': served.seen.user and served.seen.item must be i32 arrays of one length`, { file: source, field: 'extras' });
      }
      for (let j = 0; j < su.length; j++) {
        let s = added.get(su[j]);
        if (!s) added.set(su[j], (s = new Set()));
        s.add(si[j]);
      }
    }
    return { rowPtr, colIdx, added };
  }

  private static popularityOf(data: SnapshotData, model: RecommenderModel, edgesI: Int32Array | null, n: number): Float32Array {
    const ex = data.extras ?? {};
    const w = data.weights;
    if (ex.itemCounts instanceof Float32Array && ex.itemCounts.length === n) return Float32Array.from(ex.itemCounts);
    const out = new Float32Array(n);
    if (edgesI) out.set(countsOf(edgesI, model.nItems));
    else if (w.itemCount instanceof Int32Array && w.itemCount.length === model.nItems) out.set(Float32Array.from(w.itemCount));
    else if (data.kind === 'popularity' && w.counts instanceof Float32Array && w.counts.length === model.nItems) out.set(w.counts);
    return out;
  }

  /** Host factor tables: the snapshot's served tables when present, else the model's factor form; null when it has none of dimension > 0. */
  private static async factorsOf(data: SnapshotData, model: RecommenderModel, engine: Engine, source: string): Promise<{ users: FactorTable; items: FactorTable } | null> {
    const ex = data.extras ?? {};
    const served = data.meta.served as { dim: number; nUsers: number; nItems: number } | undefined;
    if (served && ex['served.users'] instanceof Float32Array) {
      const { dim, nUsers, nItems } = served;
      const U = ex['served.users'];
      const V = ex['served.items'];
      const b = ex['served.itemBias'];
      if (!(V instanceof Float32Array) || U.length !== nUsers * dim || V.length !== nItems * dim || (b !== undefined && !(b instanceof Float32Array && b.length === nItems))) {
        throw new GnnrlError('format', `${source}: section 'extras': served tables do not match meta.served (${nUsers} users, ${nItems} items, dim ${dim})`, { file: source, field: 'extras' });
      }
      return { users: FactorTable.of(U, dim, nUsers), items: FactorTable.of(V, dim, nItems, b instanceof Float32Array ? b : null) };
    }
    if (!model.factors) return null;
    const f = await model.factors();
    if (!(f.dim > 0)) return null;
    const users = await hostF32(engine, f.users);
    const items = await hostF32(engine, f.items);
    const bias = f.itemBias ? await hostF32(engine, f.itemBias) : null;
    return { users: FactorTable.of(users, f.dim, model.nUsers), items: FactorTable.of(items, f.dim, model.nItems, bias) };
  }

  private live(fn: string): ServedVersion {
    if (!this.current) throw new GnnrlError('state', `Recommender.${fn}: the recommender is closed`);
    return this.current;
  }

  /** The model version now served. */
  get version(): number {
    return this.live('version').version;
  }

  /** Registry name of the served model. */
  get kind(): string {
    return this.live('kind').model.kind;
  }

  /** 'agent' for a served agent, 'factors' when answered from host factor tables (and updated online), 'model' when by the model itself. */
  get mode(): 'agent' | 'factors' | 'model' {
    const v = this.live('mode');
    return this.served ? 'agent' : v.factors ? 'factors' : 'model';
  }

  /** The served agent (DQN: replay size; REINFORCE: queued steps; both: update count), when serving one. */
  get agent(): ServedAgent['agent'] | null {
    return this.served?.agent ?? null;
  }

  /** Users and items the current version knows. */
  get size(): { users: number; items: number } {
    const v = this.live('size');
    return { users: v.nUsers, items: v.nItems };
  }

  /** Dense index of a user's external id in the current version, −1 when unknown. */
  userIndex(user: unknown): number {
    return userIn(this.live('userIndex'), user);
  }

  /** Dense index of an item's external id in the current version, −1 when unknown. */
  itemIndex(item: unknown): number {
    return itemIn(this.live('itemIndex'), item);
  }

  /** The served version itself (read-only; for tests and tools). */
  currentVersion(): ServedVersion {
    return this.live('currentVersion');
  }

  private unknown(v: ServedVersion, user: unknown, fn: string): void {
    if (this.unknownUser === 'error') {
      throw new GnnrlError('input', `Recommender.${fn}: unknown user ${JSON.stringify(user)} (the model knows ${v.nUsers} users; unknownUser is 'error')`, { arg: 'user' });
    }
  }

  private static checkOpts(opts: ServeRecommendOptions, fn: string): void {
    const ex = opts.exclude ?? 'train';
    if (ex !== 'train' && ex !== 'none') throw new GnnrlError('input', `Recommender.${fn}: exclude: expected 'train' | 'none', got ${JSON.stringify(ex)}`, { arg: 'exclude' });
    if (opts.filter !== undefined && typeof opts.filter !== 'function') throw new GnnrlError('input', `Recommender.${fn}: filter: expected a function of an item id`, { arg: 'filter' });
    const d = opts.diversify;
    if (d !== undefined && !(typeof d === 'number' && d >= 0 && d <= 1)) throw new GnnrlError('input', `Recommender.${fn}: diversify: expected a number in [0, 1], got ${JSON.stringify(d)}`, { arg: 'diversify' });
  }

  /** Popular items, skipping the user's seen ones (u ≥ 0, exclude 'train') and filtered ones. */
  private popular(v: ServedVersion, u: number, k: number, opts: ServeRecommendOptions): RecommendResponse {
    const items: ExternalId[] = [];
    const scores: number[] = [];
    const excl = (opts.exclude ?? 'train') === 'train' && u >= 0;
    for (let j = 0; j < v.popularOrder.length && items.length < k; j++) {
      const i = v.popularOrder[j];
      if (excl && hasSeen(v.seen, u, i)) continue;
      const id = v.itemIds.id(i);
      if (opts.filter && !opts.filter(id)) continue;
      items.push(id);
      scores.push(v.popularity[i]);
    }
    return { items, scores, version: v.version, fallback: 'popularity' };
  }

  /** The top-k items for one user, as external ids. */
  async recommend(user: ExternalId, k: number, opts: ServeRecommendOptions = {}): Promise<RecommendResponse> {
    const v = this.live('recommend');
    checkK(k, 'recommend');
    Recommender.checkOpts(opts, 'recommend');
    return (await this.answer(v, [user], k, opts))[0];
  }

  /** Top-k for several users at once, all from one version; one response per user. */
  async recommendBatch(users: readonly ExternalId[], k: number, opts: ServeRecommendOptions = {}): Promise<RecommendResponse[]> {
    const v = this.live('recommendBatch');
    if (!Array.isArray(users)) throw new GnnrlError('input', 'Recommender.recommendBatch: users: expected an array of user ids', { arg: 'users' });
    checkK(k, 'recommendBatch');
    Recommender.checkOpts(opts, 'recommendBatch');
    return this.answer(v, users, k, opts);
  }

  private async answer(v: ServedVersion, users: readonly ExternalId[], k: number, opts: ServeRecommendOptions): Promise<RecommendResponse[]> {
    const out: RecommendResponse[] = new Array(users.length);
    const byModel: number[] = [];
    users.forEach((id, j) => {
      const u = userIn(v, id);
      if (u < 0) {
        this.unknown(v, id, 'recommend');
        out[j] = this.popular(v, -1, k, opts);
      } else if (v.factors && u < v.factors.users.rows) out[j] = this.fromFactors(v, u, k, opts);
      else if (!v.factors && u < v.trainedUsers) byModel.push(j);
      else out[j] = this.popular(v, u, k, opts);
    });
    if (byModel.length) {
      const rows = await this.fromModel(v, Int32Array.from(byModel, (j) => userIn(v, users[j])), k, opts);
      byModel.forEach((j, r) => (out[j] = rows[r]));
    }
    return out;
  }

  private fromFactors(v: ServedVersion, u: number, k: number, opts: ServeRecommendOptions): RecommendResponse {
    const { users: U, items: V } = v.factors!;
    const scores = V.scoreAll(U.row(u));
    const excl = (opts.exclude ?? 'train') === 'train';
    const filter = opts.filter;
    // Excluded items leave the ranking as NaN scores (topKHost skips NaN): a pass over the
    // few excluded items, not a lookup per catalogue item.
    for (const i of v.unranked) if (i < V.rows) scores[i] = NaN;
    if (excl) {
      for (const i of trainItems(v.seen, u)) if (i < V.rows) scores[i] = NaN;
      const added = v.seen.added.get(u);
      if (added) for (const i of added) if (i < V.rows) scores[i] = NaN;
    }
    const skip = filter === undefined ? undefined : (i: number) => !filter(v.itemIds.id(i));
    const lambda = opts.diversify ?? 1;
    let picked: Int32Array;
    if (lambda < 1) picked = mmr(topKHost(scores, V.rows, 5 * k, skip), scores, V, k, lambda);
    else picked = topKHost(scores, V.rows, k, skip);
    return { items: Array.from(picked, (i) => v.itemIds.id(i)), scores: Array.from(picked, (i) => scores[i]), version: v.version };
  }

  /** Model-served users: the model's own ranking, cut deeper when a filter or observed items remove some. */
  private async fromModel(v: ServedVersion, users: Int32Array, k: number, opts: ServeRecommendOptions): Promise<RecommendResponse[]> {
    const n = v.model.nItems;
    const excl = (opts.exclude ?? 'train') === 'train';
    const thin = opts.filter !== undefined || (excl && v.seen.added.size > 0);
    let depth = Math.min(n, thin ? Math.max(4 * k, k + 32) : k);
    let pending = Array.from(users.keys());
    const out: RecommendResponse[] = new Array(users.length);
    for (;;) {
      const sub = Int32Array.from(pending, (r) => users[r]);
      const rec = await v.model.recommend(sub, depth, { exclude: opts.exclude ?? 'train' });
      const again: number[] = [];
      pending.forEach((r, row) => {
        const items: ExternalId[] = [];
        const scores: number[] = [];
        let exhausted = false;
        for (let j = 0; j < rec.k && items.length < k; j++) {
          const i = rec.items[row * rec.k + j];
          if (i < 0) {
            exhausted = true;
            break;
          }
          if (excl && v.seen.added.get(users[r])?.has(i)) continue;
          const id = v.itemIds.id(i);
          if (opts.filter && !opts.filter(id)) continue;
          items.push(id);
          scores.push(rec.scores[row * rec.k + j]);
        }
        if (items.length < k && !exhausted && depth < n) again.push(r);
        else out[r] = { items, scores, version: v.version };
      });
      if (!again.length) return out;
      pending = again;
      depth = Math.min(n, depth * 4);
    }
  }

  /** The version's score of each item for one user (what `recommend` ranks by); NaN for unknown items, popularity for unknown users. */
  async score(user: ExternalId, items: readonly ExternalId[]): Promise<ScoreResponse> {
    const v = this.live('score');
    if (!Array.isArray(items)) throw new GnnrlError('input', 'Recommender.score: items: expected an array of item ids', { arg: 'items' });
    const dense = items.map((x) => itemIn(v, x));
    const u = userIn(v, user);
    const f = v.factors;
    if (u >= 0 && f && u < f.users.rows) {
      const x = f.users.row(u);
      return {
        scores: dense.map((i) => {
          if (i < 0 || i >= f.items.rows) return NaN; // unknown, or an item with no row (past an agent's spare Q-head rows)
          const r = f.items.row(i);
          let s = f.items.bias(i);
          for (let a = 0; a < f.items.dim; a++) s += r[a] * x[a];
          return s;
        }),
        version: v.version,
      };
    }
    if (u >= 0 && !f && u < v.trainedUsers) {
      const at = dense.flatMap((i, j) => (i >= 0 && i < v.trainedItems ? [j] : []));
      const scores = dense.map(() => NaN);
      if (at.length) {
        const p = await v.model.predict(new Int32Array(at.length).fill(u), Int32Array.from(at, (j) => dense[j]));
        at.forEach((j, r) => (scores[j] = p[r]));
      }
      return { scores, version: v.version };
    }
    if (u < 0) this.unknown(v, user, 'score');
    return { scores: dense.map((i) => (i < 0 ? NaN : v.popularity[i])), version: v.version, fallback: 'popularity' };
  }

  /** The k items closest to `item` by cosine similarity of the item vectors (the item itself left out). */
  async similarItems(item: ExternalId, k: number): Promise<SimilarResponse> {
    const v = this.live('similarItems');
    checkK(k, 'similarItems');
    const i = itemIn(v, item);
    if (i < 0) throw new GnnrlError('input', `Recommender.similarItems: unknown item ${JSON.stringify(item)}`, { arg: 'item' });
    if (!v.factors) throw new GnnrlError('state', `Recommender.similarItems: model '${v.model.kind}' is not served from item vectors (no factor form of dimension > 0, or no training edges in the file), so item similarity is undefined`);
    const V = v.factors.items;
    if (v.unranked.has(i)) return { items: [], scores: [], version: v.version };
    const sims = cosines(V, V.row(i));
    const picked = topKHost(sims, V.rows, k, (j) => j === i || v.unranked.has(j));
    return { items: Array.from(picked, (j) => v.itemIds.id(j)), scores: Array.from(picked, (j) => sims[j]), version: v.version };
  }

  // ------------------------------------------------------------------ online updates

  /**
   * Queues feedback (one event or a list; each checked, the list all-or-nothing) and
   * returns at once; a background drain folds it in. 'limit' error when the queue is full.
   */
  observe(events: FeedbackEvent | readonly FeedbackEvent[]): { queued: number; queueDepth: number } {
    this.live('observe');
    const list = Array.isArray(events) ? events.map((e, j) => checkEvent(e, `Recommender.observe: events[${j}]`)) : [checkEvent(events, 'Recommender.observe')];
    if (this.queue.length + list.length > this.online.maxQueue) {
      throw new GnnrlError('limit', `Recommender.observe: the feedback queue is full (${this.queue.length} of ${this.online.maxQueue} events waiting); retry later or raise online.maxQueue`);
    }
    for (const e of list) this.queue.push(e);
    this.schedule();
    return { queued: list.length, queueDepth: this.queue.length };
  }

  private schedule(): void {
    if (this.timer || this.draining || !this.queue.length || !this.current) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draining = this.drainOnce().finally(() => {
        this.draining = null;
        this.schedule();
      });
    }, this.online.intervalMs);
  }

  private drainOnce(): Promise<void> {
    return this.locked(() => this.drainLocked());
  }

  private async drainLocked(): Promise<void> {
    const v = this.current;
    if (!v) return;
    const batch = this.queue.splice(0, this.online.maxBatch);
    try {
      const { next, report } = this.served ? await this.agentBatch(v, batch) : await applyFeedback(v, batch, this.online, this.online.newItems);
      if (this.current !== v) return; // closed meanwhile
      this.current = next;
      this.stats0.eventsApplied += batch.length;
      this.stats0.batches++;
      this.stats0.lastBatch = report;
    } catch (e) {
      this.stats0.lastError = (e as Error).message ?? String(e);
      this.onError(e);
    }
  }

  /** A batch for a served agent: ids, seen items and popularity as for any model, then the agent's own update. */
  private async agentBatch(v: ServedVersion, batch: FeedbackEvent[]): Promise<{ next: ServedVersion; report: BatchReport }> {
    const { next, report } = await applyFeedback({ ...v, factors: null }, batch, this.online, this.online.newItems);
    const pr = this.online.positiveRating ?? 4;
    const events = batch.map((e) => {
      const positive = isPositive(e, pr);
      return { u: userIn(next, e.user), i: itemIn(next, e.item), positive, reward: e.reward ?? (positive ? 1 : 0) };
    });
    const t = await agentFeedback(this.served!, v.factors!, events, next.nUsers, next.nItems);
    report.foldedUsers = new Set(events.filter((e) => e.positive && e.u >= 0 && e.u < t.users.rows).map((e) => e.u)).size;
    // Items past the Q head's spare rows have no row: popularity only.
    const unranked = new Set<number>();
    for (let i = t.items.rows; i < next.nItems; i++) unranked.add(i);
    return { next: { ...next, factors: { users: t.users, items: t.items }, unranked }, report };
  }

  /** Resolves once every event queued before the call has been folded in. */
  async flush(): Promise<void> {
    while (this.current && (this.queue.length || this.draining || this.timer)) {
      if (this.draining) {
        await this.draining;
        continue;
      }
      // Events but no drain running: start one now. (Waiting only for a pending timer's
      // drain spun forever when a queue longer than maxBatch outlived it, or when events
      // arrived during a drain this loop had started: no timer was left to wait for.)
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.draining = this.drainOnce().finally(() => {
        this.draining = null;
        this.schedule();
      });
      await this.draining;
    }
  }

  /** Counters of the online updater. */
  stats(): OnlineStats {
    return { version: this.current?.version ?? 0, queueDepth: this.queue.length, ...this.stats0 };
  }

  // ------------------------------------------------------------------ snapshots

  /** The metadata of the file the recommender was loaded from (a snapshot's `meta`, a checkpoint's training record). */
  get meta(): Readonly<Record<string, unknown>> {
    return this.base.meta;
  }

  /** The current version as snapshot contents; `extraMeta` is merged into its metadata (e.g. a learner's stream position). */
  async snapshotData(extraMeta: Record<string, unknown> = {}): Promise<SnapshotData> {
    if (this.served) return this.agentSnapshotData(extraMeta);
    const v = this.live('snapshot');
    const state = await v.model.state();
    const extras: ArraySet = {};
    for (const [name, a] of Object.entries(this.base.extras ?? {})) if (!name.startsWith('served.') && name !== 'itemCounts') extras[name] = a;
    extras.itemCounts = v.popularity;
    const meta: Record<string, unknown> = { ...this.base.meta, ...extraMeta };
    delete meta.served;
    // An agent's rows are φ of windows no file holds: its snapshot always carries the served tables.
    const grown = this.served !== null || v.version !== this.base.modelVersion || this.base.meta.served !== undefined;
    if (grown && v.factors) {
      const { users: U, items: V } = v.factors;
      extras['served.users'] = U.dense();
      extras['served.items'] = V.dense();
      const b = V.denseBias();
      if (b) extras['served.itemBias'] = b;
      extras['served.unranked'] = Int32Array.from([...v.unranked].sort((a, b2) => a - b2));
    }
    if (grown) {
      const su: number[] = [];
      const si: number[] = [];
      for (const u of [...v.seen.added.keys()].sort((a, b2) => a - b2)) for (const i of [...v.seen.added.get(u)!].sort((a, b2) => a - b2)) su.push(u), si.push(i);
      extras['served.seen.user'] = Int32Array.from(su);
      extras['served.seen.item'] = Int32Array.from(si);
      meta.served = { dim: v.factors?.items.dim ?? 0, nUsers: v.nUsers, nItems: v.nItems, trainedUsers: v.trainedUsers, trainedItems: v.trainedItems };
    }
    const ids = { users: v.userIds.ids().slice(0, v.nUsers), items: v.itemIds.ids().slice(0, v.nItems) };
    return { ...this.base, kind: state.kind, config: state.config, weights: state.arrays, meta, extras, ids, modelVersion: v.version, created: undefined, gnnrl: undefined };
  }

  /**
   * A served agent's snapshot (agent-source.ts `agentSnapshot`): the agent whole — weights,
   * Adam state, replay, RNG words, windows, the GNN — plus ids, served tables, observed
   * items and popularity. Taken in the write lock, so no drain moves the agent meanwhile.
   */
  private agentSnapshotData(extraMeta: Record<string, unknown>): Promise<SnapshotData> {
    return this.locked(async () => {
      const v = this.live('snapshot');
      const a = await agentSnapshot(this.served!, v.factors!.items.rows);
      const extras: ArraySet = { ...a.extras, itemCounts: v.popularity };
      const { users: U, items: V } = v.factors!;
      extras['served.users'] = U.dense();
      extras['served.items'] = V.dense();
      const b = V.denseBias();
      if (b) extras['served.itemBias'] = b;
      const su: number[] = [];
      const si: number[] = [];
      for (const u of [...v.seen.added.keys()].sort((x, y) => x - y)) for (const i of [...v.seen.added.get(u)!].sort((x, y) => x - y)) su.push(u), si.push(i);
      extras['served.seen.user'] = Int32Array.from(su);
      extras['served.seen.item'] = Int32Array.from(si);
      const { gnn: _g, agentServe: _s, served: _v, servedAgent: _a, ...own } = this.agentMeta;
      const meta = { ...own, ...a.meta, servedAgent: this.base.meta.servedAgent, served: { dim: V.dim, nUsers: v.nUsers, nItems: v.nItems, trainedUsers: v.trainedUsers, trainedItems: v.trainedItems }, ...extraMeta };
      const ids = { users: v.userIds.ids().slice(0, v.nUsers), items: v.itemIds.ids().slice(0, v.nItems) };
      return { kind: a.kind, config: a.config, weights: a.weights, meta, ids, extras, optimizer: a.optimizer, replay: a.replay, rng: a.rng, modelVersion: v.version, dataHash: this.base.dataHash };
    });
  }

  /** Writes the current version as a snapshot (temporary file, fsync, rename); returns its size in bytes. */
  async snapshot(file: string, extraMeta: Record<string, unknown> = {}): Promise<number> {
    return saveSnapshot(file, await this.snapshotData(extraMeta));
  }

  /** Stops the updater (queued events are dropped; `flush` first to keep them) and frees the model. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    const inflight = this.draining;
    const v = this.current;
    this.current = null;
    await inflight?.catch(() => undefined);
    v?.model.dispose();
    if (this.served) {
      this.served.agent.dispose();
      this.served.encoder.dispose();
      this.served = null;
    }
  }
}

/** Cosine of every row of `t` with `x` (0 for zero rows). */
function cosines(t: FactorTable, x: Float32Array): Float32Array {
  const out = new Float32Array(t.rows);
  let nx = 0;
  for (let a = 0; a < t.dim; a++) nx += x[a] * x[a];
  nx = Math.sqrt(nx);
  for (let j = 0; j < t.rows; j++) {
    const r = t.row(j);
    let s = 0;
    let nr = 0;
    for (let a = 0; a < t.dim; a++) {
      s += r[a] * x[a];
      nr += r[a] * r[a];
    }
    out[j] = nx > 0 && nr > 0 ? s / (nx * Math.sqrt(nr)) : 0;
  }
  return out;
}

/** Greedy MMR over `cands` (best first): k of them. */
function mmr(cands: Int32Array, scores: Float32Array, V: FactorTable, k: number, lambda: number): Int32Array {
  if (!cands.length) return cands;
  const hi = scores[cands[0]];
  const lo = scores[cands[cands.length - 1]];
  const rel = (i: number) => (hi > lo ? (scores[i] - lo) / (hi - lo) : 1);
  const unit = (i: number) => {
    const r = V.row(i);
    let n = 0;
    for (let a = 0; a < V.dim; a++) n += r[a] * r[a];
    n = n > 0 ? 1 / Math.sqrt(n) : 0;
    return Float32Array.from(r, (x) => x * n);
  };
  const units = new Map<number, Float32Array>();
  for (const i of cands) units.set(i, unit(i));
  const chosen: number[] = [];
  const maxSim = new Float32Array(cands.length).fill(-Infinity);
  const used = new Uint8Array(cands.length);
  while (chosen.length < Math.min(k, cands.length)) {
    let best = -1;
    let bestVal = -Infinity;
    for (let j = 0; j < cands.length; j++) {
      if (used[j]) continue;
      const div = chosen.length ? maxSim[j] : 0;
      const val = lambda * rel(cands[j]) - (1 - lambda) * div;
      if (val > bestVal) (bestVal = val), (best = j);
    }
    used[best] = 1;
    const c = units.get(cands[best])!;
    chosen.push(cands[best]);
    for (let j = 0; j < cands.length; j++) {
      if (used[j]) continue;
      const o = units.get(cands[j])!;
      let s = 0;
      for (let a = 0; a < V.dim; a++) s += c[a] * o[a];
      if (s > maxSim[j]) maxSim[j] = s;
    }
  }
  return Int32Array.from(chosen);
}


