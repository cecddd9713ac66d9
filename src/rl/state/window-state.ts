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
import { isGradEnabled, noGrad } from '../../tensor/autograd.js';
import { mul } from '../../tensor/ops/elementwise.js';
import type { TrainableEncoder } from '../../models/encoders/base.js';
import { Tensor } from '../../tensor/tensor.js';
import { Rng } from '../../util/rng.js';

/** How the history window enters the state vector (see the header). */
export type HistoryPool = 'window' | 'mean' | 'attention';
export const HISTORY_POOLS: readonly HistoryPool[] = ['window', 'mean', 'attention'];

export interface WindowStateOptions {
  /** Train the tables with the agent's loss (default false: frozen). */
  fineTune?: boolean;
  /**
   * End-to-end fusion: the vectors are this encoder's outputs, recomputed from its
   * parameters, and the agent's loss trains the GNN itself (implies fineTune). `tables`
   * must be its current outputs; they fix the RMS scaling, which then stays constant.
   */
  gnn?: TrainableEncoder;
  /** The GNN outputs' fixed scaling (default: from `tables`); a copy keeps its source's. */
  gnnScales?: { users: number; items: number };
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

/** 1 / the table's root-mean-square (0 for a zero table, which then stays zero). */
function inverseRms(x: Float32Array): number {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const rms = Math.sqrt(ss / Math.max(1, x.length));
  return rms > 0 ? 1 / rms : 0;
}

/** Divides every value by the table's root-mean-square (a zero table stays zero). */
export function rmsScaled(x: Float32Array): Float32Array {
  const k = inverseRms(x);
  const out = new Float32Array(x.length);
  if (k > 0) for (let i = 0; i < x.length; i++) out[i] = x[i] * k;
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
  /** The GNN of end-to-end fusion (null: the tables are the vectors). */
  readonly gnn: TrainableEncoder | null;
  /** The fixed RMS scaling of the GNN's outputs. */
  private readonly scales: { users: number; items: number };
  /** The GNN's scaled outputs for acting (no tape), recomputed after `changed()`. */
  private live: { users: Tensor; items: Tensor } | null = null;

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
    this.gnn = opts.gnn ?? null;
    if (this.gnn && (this.gnn.nUsers !== nUsers || this.gnn.nItems !== nItems || this.gnn.dim !== dim)) {
      throw new GnnrlError('input', `state: the GNN's outputs are ${this.gnn.nUsers} users × ${this.gnn.nItems} items × ${this.gnn.dim}, the tables ${nUsers} × ${nItems} × ${dim}`, { arg: 'gnn' });
    }
    this.fineTune = opts.fineTune === true || this.gnn !== null;
    this.scales = opts.gnnScales ? { ...opts.gnnScales } : { users: inverseRms(tables.users), items: inverseRms(tables.items) };
    this.source = tables.source;
    const items = new Float32Array((nItems + 1) * dim);
    items.set(rmsScaled(tables.items));
    const u = Tensor.fromArray(engine, rmsScaled(tables.users), [nUsers, dim]);
    const i = Tensor.fromArray(engine, items, [nItems + 1, dim]);
    // With a GNN the tables only hold its outputs at the start (the agents' initial item head).
    const trainTables = this.fineTune && !this.gnn;
    this.userTable = trainTables ? parameter(u) : u;
    this.itemTable = trainTables ? parameter(i) : i;
  }

  /** What the agent's optimiser trains: the GNN's parameters, the tables (fineTune) or nothing. */
  override parameters(): Tensor[] {
    return this.gnn ? this.gnn.parameters() : super.parameters();
  }

  /** Agents call this after each optimiser step: the GNN's outputs for acting are stale. */
  changed(): void {
    if (!this.gnn) return;
    this.dropLive();
    this.gnn.changed();
  }

  private dropLive(): void {
    if (!this.live) return;
    this.live.users.dispose();
    this.live.items.dispose();
    this.live = null;
  }

  /**
   * The vectors encode() reads and the pad row: the tables, or the GNN's scaled outputs —
   * on the tape when gradients are enabled (an update), else cached until `changed()`.
   * The GNN's item output has no zero row, so padding reads row 0 and is masked out.
   */
  private vectors(): { users: Tensor; items: Tensor; padRow: number } {
    if (!this.gnn) return { users: this.userTable, items: this.itemTable, padRow: this.nItems };
    const outputs = () => {
      const f = this.gnn!.forward();
      return { users: mul(f.users, this.scales.users), items: mul(f.items, this.scales.items) };
    };
    if (isGradEnabled()) return { ...outputs(), padRow: 0 };
    if (!this.live) {
      const v = noGrad(outputs);
      this.live = { users: this.engine.keep(v.users), items: this.engine.keep(v.items) };
    }
    return { ...this.live, padRow: 0 };
  }

  /** Host copies of the vectors as the tables hold them (users nUsers × d, items (nItems + 1) × d with the zero row). */
  private async hostVectors(): Promise<{ users: Float32Array; items: Float32Array }> {
    if (!this.gnn) {
      const [u, i] = (await Promise.all([this.userTable.read(), this.itemTable.read()])) as Float32Array[];
      return { users: u, items: i };
    }
    // The acting cache (no tape): a recorded forward here would be left outside any scope.
    const v = noGrad(() => this.vectors());
    const [u, i] = (await Promise.all([v.users.read(), v.items.read()])) as Float32Array[];
    const items = new Float32Array((this.nItems + 1) * this.dim);
    items.set(i);
    return { users: u, items };
  }

  /**
   * A second encoder with the same vectors as they are now (the target network's copy when
   * fine-tuning): with a GNN, a second GNN with the same parameters and the same scaling,
   * so a target network syncs parameter by parameter as the Q-network does.
   */
  async copy(): Promise<WindowStateEncoder> {
    if (this.gnn) {
      const gnn = await this.gnn.clone();
      const out = new WindowStateEncoder(this.engine, { dim: this.dim, nUsers: this.nUsers, nItems: this.nItems, users: new Float32Array(this.nUsers * this.dim), items: new Float32Array(this.nItems * this.dim), source: this.source }, this.historyLen, { pool: this.pool, gnn, gnnScales: this.scales });
      return out;
    }
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
    const { users, items } = await this.hostVectors();
    const out: Record<string, Float32Array> = { 'encoder.users': users, 'encoder.items': items };
    // End to end, the GNN's own parameters too ('encoder.gnn.<name>'), so a loaded agent
    // goes on training the GNN; the tables alone serve it (serving fine-tunes tables).
    if (this.gnn) for (const [n, v] of Object.entries(await this.gnn.state())) out[`encoder.gnn.${n}`] = v;
    return out;
  }

  /** Writes back what `stateArrays` saved (fine-tuned tables); `kind` names the agent in the error. */
  loadStateArrays(arrays: ModelState['arrays'], kind: string): void {
    if (!this.fineTune) return;
    const u = arrays['encoder.users'];
    const i = arrays['encoder.items'];
    if (!u || !i) throw new GnnrlError('input', `${kind}: the state lacks the fine-tuned encoder tables`, { arg: 'state', field: 'encoder' });
    if (this.gnn) {
      const gnn: Record<string, Float32Array> = {};
      for (const [n, v] of Object.entries(arrays)) if (n.startsWith('encoder.gnn.')) gnn[n.slice('encoder.gnn.'.length)] = v as Float32Array;
      if (Object.keys(gnn).length === 0) throw new GnnrlError('input', `${kind}: the state lacks the fused GNN's parameters (encoder.gnn.*); it was saved by an agent that fine-tuned tables, not the GNN`, { arg: 'state', field: 'encoder.gnn' });
      this.gnn.load(gnn);
      this.changed();
      return;
    }
    this.engine.write(this.userTable.data, u as Float32Array);
    this.engine.write(this.itemTable.data, i as Float32Array);
  }

  /** Frees both tables (frozen tables are not parameters, so Module.dispose would miss them). */
  override dispose(): void {
    if (!this.userTable.isDisposed) this.userTable.dispose();
    if (!this.itemTable.isDisposed) this.itemTable.dispose();
    this.dropLive();
    this.gnn?.dispose();
  }

  /** Row index of each window entry in the item table (padding → the zero row, or `padRow`). */
  windowRows(history: Int32Array, padRow = this.nItems): Int32Array {
    const rows = new Int32Array(history.length);
    for (let j = 0; j < history.length; j++) {
      const it = history[j];
      if (it >= this.nItems) throw new GnnrlError('input', `state: history item ${it} is outside the encoder's ${this.nItems} items`, { arg: 'history', index: j });
      rows[j] = it < 0 ? padRow : it;
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
    const v = this.vectors();
    const u = gather(v.users, users);
    const rows = this.windowRows(history, v.padRow);
    if (this.pool === 'window') {
      let w = gather(v.items, rows);
      // The GNN's outputs have no zero row: padding reads row 0, masked to zero here.
      if (v.padRow !== this.nItems) w = mul(w, Tensor.fromArray(this.engine, Float32Array.from(history, (it) => (it < 0 ? 0 : 1)), [B * H, 1]));
      return concat([u, w.reshape([B, H * this.dim])]);
    }
    if (this.pool === 'mean') return concat([u, meanPool(v.items, rows, history, B, H)]);
    return concat([u, attentionPool(u, v.items, rows, history, B, H)]);
  }
}
