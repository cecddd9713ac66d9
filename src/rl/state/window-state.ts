/**
 * The RL state of a slot as a vector: the user's embedding followed by their history
 * window, either as it is (`pool: 'window'`, the default: the embeddings of the window's
 * items, oldest first, [u | e_1 | … | e_H], (1 + H)·d values) or pooled to one vector
 * ([u | p], 2·d values):
 *   'mean':      p = the mean of the window's item vectors (0 for an empty window);
 *   'attention': p = Σ_j softmax_j(u·x_j / √d) x_j over x = (u, e_1 … e_n), the user
 *                attending over their history (and themselves, so an empty window gives
 *                p = u), on the fused sequence self-attention kernel with position 0's
 *                row as the pool. It has no weights of its own, so a frozen state stays
 *                frozen and the target network needs no copy; with `fineTune` the TD loss
 *                reaches the tables through the kernel's backward.
 * The tables come from a trained GNN encoder's factors (`fromModel`), so the state says
 * what the graph knows about the user and what they have just consumed; padding (−1) maps
 * to a zero row. The window keeps order, which is what lets a Q-network see fatigue
 * (recent items of one group) and satisfaction (recent clickbait) that a mean would blur.
 *
 * Each table is scaled to unit root-mean-square so that the network's initial scale does
 * not depend on the encoder's. Frozen tables are plain tensors; with `fineTune` they are
 * parameters and the RL loss trains them (the fusion of the GNN's vectors with the agent).
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { FactorScores, ModelState, RecommenderModel } from '../../models/types.js';
import { Module } from '../../nn/module.js';
import { parameter } from '../../tensor/create.js';
import { concat, gather } from '../../tensor/ops/gather.js';
import { SEQ_MAX_DIM, SEQ_MAX_LEN } from '../../kernels/seq-attention.js';
import { attentionPool, meanPool } from './history-pool.js';
import { Tensor } from '../../tensor/tensor.js';
import { Rng } from '../../util/rng.js';

/** How the history window enters the state vector (see the header). */
export type HistoryPool = 'window' | 'mean' | 'attention';
export const HISTORY_POOLS: readonly HistoryPool[] = ['window', 'mean', 'attention'];

export interface WindowStateOptions {
  /** Train the tables with the agent's loss (default false: frozen). */
  fineTune?: boolean;
  /** Default 'window' (the items as they are). */
  pool?: HistoryPool;
}

/** Host copies of the tables a state encoder starts from. */
export interface StateTables {
  dim: number;
  nUsers: number;
  nItems: number;
  /** nUsers × dim. */
  users: Float32Array;
  /** nItems × dim. */
  items: Float32Array;
  /** Where they came from, for configs ('lightgcn', 'random'). */
  source: string;
}

/** Divides every value by the table's root-mean-square (a zero table stays zero). */
function rmsScaled(x: Float32Array): Float32Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const rms = Math.sqrt(ss / Math.max(1, x.length));
  const out = new Float32Array(x.length);
  if (rms > 0) for (let i = 0; i < x.length; i++) out[i] = x[i] / rms;
  return out;
}

async function hostArray(engine: Engine, x: Float32Array | import('../../backend/arrays.js').DeviceArray<'f32'>): Promise<Float32Array> {
  return x instanceof Float32Array ? x : ((await engine.read(x)) as Float32Array);
}

/** The user and item tables of a fitted model with a factor form (LightGCN, GCN, SVD, …). */
export async function tablesFromModel(engine: Engine, model: RecommenderModel): Promise<StateTables> {
  if (!model.factors) {
    throw new GnnrlError('input', `state: model '${model.kind}' has no factor form (user and item vectors); use an encoder such as lightgcn`, { arg: 'state' });
  }
  const f: FactorScores = await model.factors();
  const users = await hostArray(engine, f.users);
  const items = await hostArray(engine, f.items);
  if (users.length !== model.nUsers * f.dim || items.length !== model.nItems * f.dim) {
    throw new GnnrlError('state', `state: model '${model.kind}' factors are ${users.length}/${items.length} values, expected ${model.nUsers}×${f.dim} and ${model.nItems}×${f.dim}`);
  }
  return { dim: f.dim, nUsers: model.nUsers, nItems: model.nItems, users, items, source: model.kind };
}

/** Seeded N(0, 1) tables: the no-GNN ablation (IDs only, learned from scratch with `fineTune`). */
export function randomTables(nUsers: number, nItems: number, dim: number, seed: number): StateTables {
  const rng = new Rng(seed);
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal();
    return a;
  };
  return { dim, nUsers, nItems, users: fill(nUsers * dim), items: fill(nItems * dim), source: 'random' };
}

export class WindowStateEncoder extends Module {
  readonly dim: number;
  readonly historyLen: number;
  readonly nUsers: number;
  readonly nItems: number;
  /** (1 + H)·dim for 'window', 2·dim pooled. */
  readonly outDim: number;
  readonly fineTune: boolean;
  readonly pool: HistoryPool;
  readonly source: string;
  /** nUsers × dim. */
  readonly userTable: Tensor;
  /** (nItems + 1) × dim; the last row is the zero vector that padding maps to. */
  readonly itemTable: Tensor;

  constructor(
    readonly engine: Engine,
    tables: StateTables,
    historyLen: number,
    opts: WindowStateOptions = {},
  ) {
    super();
    if (!Number.isInteger(historyLen) || historyLen < 1) throw new GnnrlError('input', `state: historyLen: expected an integer >= 1, got ${historyLen}`, { arg: 'historyLen' });
    const { dim, nUsers, nItems } = tables;
    if (tables.users.length !== nUsers * dim || tables.items.length !== nItems * dim) {
      throw new GnnrlError('input', `state: tables hold ${tables.users.length} and ${tables.items.length} values, expected ${nUsers}×${dim} and ${nItems}×${dim}`, { arg: 'tables' });
    }
    this.dim = dim;
    this.historyLen = historyLen;
    this.nUsers = nUsers;
    this.nItems = nItems;
    const pool = opts.pool ?? 'window';
    if (!HISTORY_POOLS.includes(pool)) throw new GnnrlError('input', `state: pool: expected ${HISTORY_POOLS.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(pool)}`, { arg: 'pool' });
    if (pool === 'attention' && (dim > SEQ_MAX_DIM || historyLen + 1 > SEQ_MAX_LEN)) {
      throw new GnnrlError('input', `state: pool 'attention' needs dim <= ${SEQ_MAX_DIM} and historyLen <= ${SEQ_MAX_LEN - 1} (the attention kernel's limits), got dim ${dim}, historyLen ${historyLen}`, { arg: 'pool' });
    }
    this.pool = pool;
    this.outDim = pool === 'window' ? (1 + historyLen) * dim : 2 * dim;
    this.fineTune = opts.fineTune === true;
    this.source = tables.source;
    const items = new Float32Array((nItems + 1) * dim);
    items.set(rmsScaled(tables.items));
    const u = Tensor.fromArray(engine, rmsScaled(tables.users), [nUsers, dim]);
    const i = Tensor.fromArray(engine, items, [nItems + 1, dim]);
    this.userTable = this.fineTune ? parameter(u) : u;
    this.itemTable = this.fineTune ? parameter(i) : i;
  }

  /** A second encoder with the same tables (the target network's copy when fine-tuning). */
  async copy(): Promise<WindowStateEncoder> {
    const [u, i] = (await Promise.all([this.userTable.read(), this.itemTable.read()])) as Float32Array[];
    const out = new WindowStateEncoder(this.engine, { dim: this.dim, nUsers: this.nUsers, nItems: this.nItems, users: new Float32Array(this.nUsers * this.dim), items: new Float32Array(this.nItems * this.dim), source: this.source }, this.historyLen, { fineTune: this.fineTune, pool: this.pool });
    // The copy holds the already-scaled values as they are now.
    this.engine.write(out.userTable.data, u);
    this.engine.write(out.itemTable.data, i);
    return out;
  }

  /**
   * The tables an agent's `state()` must carry: the fine-tuned ones ('encoder.users',
   * 'encoder.items'); none when frozen (they are the GNN's, rebuilt from its checkpoint).
   */
  async stateArrays(): Promise<Record<string, Float32Array>> {
    if (!this.fineTune) return {};
    const [u, i] = (await Promise.all([this.userTable.read(), this.itemTable.read()])) as Float32Array[];
    return { 'encoder.users': u, 'encoder.items': i };
  }

  /** Writes back what `stateArrays` saved (fine-tuned tables); `kind` names the agent in the error. */
  loadStateArrays(arrays: ModelState['arrays'], kind: string): void {
    if (!this.fineTune) return;
    const u = arrays['encoder.users'];
    const i = arrays['encoder.items'];
    if (!u || !i) throw new GnnrlError('input', `${kind}: the state lacks the fine-tuned encoder tables`, { arg: 'state', field: 'encoder' });
    this.engine.write(this.userTable.data, u as Float32Array);
    this.engine.write(this.itemTable.data, i as Float32Array);
  }

  /** Frees both tables (frozen tables are not parameters, so Module.dispose would miss them). */
  override dispose(): void {
    if (!this.userTable.isDisposed) this.userTable.dispose();
    if (!this.itemTable.isDisposed) this.itemTable.dispose();
  }

  /** Row index of each window entry in the item table (padding → the zero row). */
  windowRows(history: Int32Array): Int32Array {
    const rows = new Int32Array(history.length);
    for (let j = 0; j < history.length; j++) {
      const it = history[j];
      if (it >= this.nItems) throw new GnnrlError('input', `state: history item ${it} is outside the encoder's ${this.nItems} items`, { arg: 'history', index: j });
      rows[j] = it < 0 ? this.nItems : it;
    }
    return rows;
  }

  /** States [B, outDim] for users (B) and their windows (B × H, −1 padded on the left). */
  encode(users: Int32Array, history: Int32Array): Tensor {
    const B = users.length;
    const H = this.historyLen;
    if (history.length !== B * H) throw new GnnrlError('input', `state: history has ${history.length} entries, expected ${B}×${H}`, { arg: 'history' });
    for (let b = 0; b < B; b++) {
      if (!(users[b] >= 0 && users[b] < this.nUsers)) throw new GnnrlError('input', `state: user ${users[b]} (slot ${b}) is outside the encoder's ${this.nUsers} users`, { arg: 'user', index: b });
    }
    const u = gather(this.userTable, users);
    if (this.pool === 'window') return concat([u, gather(this.itemTable, this.windowRows(history)).reshape([B, H * this.dim])]);
    if (this.pool === 'mean') return concat([u, meanPool(this.itemTable, this.windowRows(history), history, B, H)]);
    return concat([u, attentionPool(u, this.itemTable, history, B, H, this.nItems)]);
  }
}
