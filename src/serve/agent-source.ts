/**
 * Serving a DQN or REINFORCE agent of `gnnrl rl`: its checkpoint (`<run>/<agent>/agent.ckpt`) and the
 * GNN its state was built from (`<run>/models/<state>.ckpt`, or a path given).
 *
 * The DQN's Q-function is factorised, Q(s, a) = φ(s)·e_a + b_a, with s = (user, their
 * last H items). So an agent is served like any factor model: the item table is the
 * agent's item head (e_a, b_a) and a user's row is φ of their current window. Feedback
 * moves the user's window (a positive item is appended) and recomputes their row; it
 * also becomes a transition (s, a, r, s′) in the agent's replay, and once replay holds
 * `learningStarts` of them, each drain runs a bounded number of updates and refreshes
 * every row from the updated network (one batched pass on the engine, in the drain, not
 * in a request).
 *
 * New users (no GNN row): the state encoder is built with `coldUsers` spare user rows
 * after the GNN's. A newcomer's row there is the mean of the (RMS-scaled) item vectors of
 * their window, rescaled to RMS 1 like the GNN's user rows — LightGCN's one-hop user
 * vector, up to its normalisation — rewritten whenever their window moves, so from their
 * first positive they are served by φ of (that row, their window) and their feedback is
 * replay like anyone's. Users past the spare rows get popularity.
 *
 * Snapshots (`agentSnapshot`): the agent's own state (online and target networks, Adam's
 * moments, the replay buffer, the RNG words) in the snapshot's weights, 'optimizer',
 * 'replay' and 'rng' sections, the GNN embedded in 'extras' (`gnn.w.*` its weights,
 * `gnn.x.*` its extras) with its kind and config in `meta.gnn`, every served user's
 * window (`agent.windows`), a frozen encoder's rows for new items (`agent.itemRows`) and
 * the served tables; `openAgent` on such a file resumes the same agent, serving and
 * learning.
 *
 * New items: the Q head and the encoder's item table are built with `newItems` spare
 * rows, whose bias is INACTIVE (−10⁴), so no max, no target and no ranking picks them.
 * An item first seen in feedback takes the next spare row: its Q-head row (e, b, online
 * and target) and its encoder row become the means of those of its co-occurring items —
 * the items in the windows of the users who took it, in that batch (the whole trained
 * catalogue's means when those windows are empty) — and from then on it is ranked, can
 * enter windows, and is learned from like any item. Items past the spare rows get
 * popularity only.
 *
 * REINFORCE agents ('reinforce', 'reinforce-topk') are served the same way: their logits
 * are φ(s)·e_a + b_a, so the table is the policy's head and the ranking π's mode. Each
 * event is a finished one-step episode (G = its reward) in the agent's queue, learned from
 * once `batchSize` are queued; actions the agent did not sample are weighed by its
 * behaviour head under the correction. The heads new items are given rows in are every
 * head with a row per item (`headsOf`): DQN's online and target, REINFORCE's policy and
 * behaviour heads.
 *
 * Limits (documented in the README): served n-step is 1 (feedback events are
 * independent, not one slot's trajectory); DDPG is not served (its critic re-ranks).
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { loadCheckpoint, type Checkpoint } from '../models/checkpoint.js';
import { restoreModel } from '../models/registry.js';
import type { RecommenderModel } from '../models/types.js';
import { DqnAgent, type DqnOptions } from '../rl/agents/dqn.js';
import { ReinforceAgent, type ReinforceOptions } from '../rl/agents/reinforce.js';
import type { LearnerState } from '../rl/agents/learner-state.js';
import type { Tensor } from '../tensor/tensor.js';
import { tablesFromModel, WindowStateEncoder, type HistoryPool, type StateTables } from '../rl/state/window-state.js';
import { shiftIntoWindow } from '../rl/state/history-windows.js';
import type { Observation } from '../rl/types.js';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { ArraySet, SnapshotData } from './snapshot.js';
import type { FieldArray } from '../rl/memory/replay.js';
import type { CheckpointArray } from '../models/checkpoint.js';
import { FactorTable } from './factor-table.js';
import { Yielder } from '../rl/yield.js';

/** The DQN options a checkpoint's config carries (the rest of its config is sizes and counters). */
const OPTION_KEYS = ['double', 'gamma', 'lr', 'hidden', 'batchSize', 'capacity', 'learningStarts', 'targetUpdate', 'tau', 'epsilon', 'prioritized', 'alpha', 'beta0', 'betaSteps', 'huberDelta', 'clipNorm', 'seed', 'dueling', 'exploration', 'temperature'] as const;

/** The REINFORCE options a checkpoint's config carries (`topK` comes from its kind). */
const REINFORCE_OPTION_KEYS = ['gamma', 'lr', 'hidden', 'batchSize', 'entropy', 'baseline', 'valueCoef', 'clipNorm', 'behaviour', 'behaviourLr', 'clip', 'cap', 'chunkElements', 'seed'] as const;

/** The agent kinds a recommender serves: the factorised ones (their scores are φ(s)·e_a + b_a). */
const SERVED_KINDS = new Set(['dqn', 'double-dqn', 'reinforce', 'reinforce-topk']);

/** Whether a recommender can serve an agent of this kind (`gnnrl rl` saves such an agent's state tables when no model file holds them). */
export function isServableKind(kind: string): boolean {
  return SERVED_KINDS.has(kind);
}

/** Whether an agent kind is a REINFORCE one (served from its policy's head). */
function isReinforceKind(kind: string): boolean {
  return kind === 'reinforce' || kind === 'reinforce-topk';
}

/** An agent a recommender serves. */
export type ServableAgent = DqnAgent | ReinforceAgent;

/** The encoders whose user rows a cold user's row is written to (DQN's target encoder too when it has its own). */
function encodersOf(agent: ServableAgent): WindowStateEncoder[] {
  return agent instanceof DqnAgent && agent.targetEncoder !== agent.encoder ? [agent.encoder, agent.targetEncoder] : [agent.encoder];
}

/** The item heads (e, b) with a row per item: DQN's online and target, REINFORCE's policy and behaviour heads. */
function headsOf(agent: ServableAgent): { items: Tensor; bias: Tensor }[] {
  return agent instanceof DqnAgent ? [agent.online, agent.target].map((q) => ({ items: q.items, bias: q.itemBias })) : agent.itemHeads;
}

/** The names of those heads in the agent's state. */
function headNames(kind: string): { items: string; bias: string }[] {
  if (isReinforceKind(kind)) return [{ items: 'policy.items', bias: 'policy.itemBias' }, { items: 'policy.behaviourItems', bias: 'policy.behaviourBias' }];
  return ['online', 'target'].map((net) => ({ items: `${net}.items`, bias: `${net}.itemBias` }));
}

export interface AgentServeOptions {
  /** The GNN checkpoint the agent's state comes from (default: `<run>/models/<state>.ckpt` beside the agent's folder). */
  stateModel?: string;
  /** Updates per drain once replay is warm (default 4; 0 = serve without learning). */
  updatesPerBatch?: number;
  /** Overrides of the agent's own options (e.g. `learningStarts`, `lr`; for REINFORCE e.g. `batchSize`). */
  options?: DqnOptions | ReinforceOptions;
  /**
   * Spare user rows of the state encoder for users the GNN has no row for (default
   * 10 000; 0: such users get popularity). A snapshot keeps the number it was written with.
   */
  coldUsers?: number;
  /** Spare rows of the Q head for items first seen in feedback (default 1 000; 0: such items count for popularity only). Kept by a snapshot likewise. */
  newItems?: number;
}

/** The bias of a spare Q-head row not yet given to an item: below any real Q, so no max picks it. */
export const INACTIVE = -1e4;

/** An agent being served, with each user's window. */
export interface ServedAgent {
  readonly agent: ServableAgent;
  readonly encoder: WindowStateEncoder;
  readonly model: RecommenderModel;
  readonly historyLen: number;
  /** Users with a GNN row (encoder rows 0 … trainedUsers − 1). */
  readonly trainedUsers: number;
  /** Encoder user rows in all: trainedUsers + the spare cold rows; served user u is encoder row u. */
  readonly capacity: number;
  /** Items of the GNN (Q-head rows 0 … trainedItems − 1). */
  readonly trainedItems: number;
  /** Q-head rows in all: trainedItems + the spare rows for new items; served item i is row i. */
  readonly itemCapacity: number;
  /** servedUsers × H, −1 left-padded, oldest first (shared, copy-on-write per drain). */
  windows: Int32Array;
  readonly updatesPerBatch: number;
  /** The GNN checkpoint (ids, training edges). */
  readonly gnn: Checkpoint;
}

/** Whether a decoded file is a `gnnrl rl` checkpoint of a servable agent (DQN, REINFORCE), or a snapshot of a served one. */
export function isAgentCheckpoint(data: SnapshotData): boolean {
  return typeof data.meta.agent === 'string' && isServableKind(data.kind);
}

/** Each user's last H items of the training edges, in log order (the GNN checkpoint's `graph.*`). */
export function lastWindows(users: Int32Array, items: Int32Array, nUsers: number, H: number): Int32Array {
  const w = new Int32Array(nUsers * H).fill(-1);
  const count = new Int32Array(nUsers);
  // Walk backwards: the first H seen per user are their last H, placed right-aligned.
  for (let j = users.length - 1; j >= 0; j--) {
    const u = users[j];
    if (count[u] >= H) continue;
    w[u * H + H - 1 - count[u]] = items[j];
    count[u]++;
  }
  return w;
}

/** One-row observations for (user, window) pairs, as the agent's `observe` takes them. */
export function observationOf(users: Int32Array, windows: Int32Array, H: number): Observation {
  const B = users.length;
  const historyCount = new Int32Array(B);
  for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) if (windows[b * H + j] >= 0) historyCount[b]++;
  return {
    batch: B,
    user: users,
    historyLen: H,
    historyItems: windows,
    historyRatings: new Float32Array(B * H),
    historyTimes: new Float64Array(B * H),
    historyCount,
    stepInEpisode: new Int32Array(B),
    featureDim: 0,
    features: null,
  };
}

/** The GNN a snapshot of a served agent embeds (`meta.gnn`, extras `gnn.w.*` and `gnn.x.*`). */
function embeddedGnn(data: SnapshotData, file: string): Checkpoint | null {
  const g = data.meta.gnn as { kind?: unknown; config?: unknown; meta?: unknown } | undefined;
  if (g === undefined) return null;
  if (typeof g !== 'object' || g === null || typeof g.kind !== 'string') throw new GnnrlError('format', `${file}: section 'config': meta.gnn: expected { kind, config, meta } of the embedded GNN`, { file, field: 'config' });
  const arrays: Record<string, Float32Array | Int32Array> = {};
  const extras: Record<string, CheckpointArray> = {};
  for (const [name, a] of Object.entries(data.extras ?? {})) {
    if (name.startsWith('gnn.w.')) arrays[name.slice(6)] = a as Float32Array | Int32Array;
    else if (name.startsWith('gnn.x.')) extras[name.slice(6)] = a as CheckpointArray;
  }
  return { state: { kind: g.kind, config: (g.config ?? {}) as Record<string, unknown>, arrays }, meta: (g.meta ?? {}) as Record<string, unknown>, extras, version: 2, source: file };
}

/**
 * The state encoder over the GNN's tables plus `spareUsers` user rows and `spareItems`
 * item rows, all zero. The GNN's rows are scaled exactly as an encoder of the GNN alone
 * scales them (the agent was trained on those), not by the RMS of the padded tables.
 */
async function servedEncoder(engine: Engine, tables: StateTables, H: number, fineTune: boolean, spareUsers: number, spareItems: number, pool: HistoryPool = 'window'): Promise<WindowStateEncoder> {
  if (spareUsers === 0 && spareItems === 0) return new WindowStateEncoder(engine, tables, H, { fineTune, pool });
  const plain = new WindowStateEncoder(engine, tables, H);
  let scaled: Float32Array[];
  try {
    scaled = (await Promise.all([plain.userTable.read(), plain.itemTable.read()])) as Float32Array[];
  } finally {
    plain.dispose();
  }
  const { dim, nUsers, nItems } = tables;
  const users = new Float32Array((nUsers + spareUsers) * dim);
  users.set(tables.users);
  const items = new Float32Array((nItems + spareItems) * dim);
  items.set(tables.items);
  const enc = new WindowStateEncoder(engine, { ...tables, nUsers: nUsers + spareUsers, users, nItems: nItems + spareItems, items }, H, { fineTune, pool });
  engine.write(enc.userTable.data, scaled[0]);
  // The GNN's items only: its padding row (zero) is a spare item's row here, and the
  // encoder's own padding row, after the spare ones, is zero too.
  engine.write(enc.itemTable.data, scaled[1].subarray(0, nItems * dim));
  return enc;
}

/** An rl checkpoint's agent state with its item heads (and fine-tuned item tables) padded by `spare` inactive rows. */
function padItems(state: { kind: string; config: Record<string, unknown>; arrays: Record<string, Float32Array> }, nItems: number, dim: number, spare: number): typeof state {
  if (spare === 0) return state;
  const arrays: Record<string, Float32Array> = { ...state.arrays };
  const grow = (name: string, rows: number, width: number, fill: number, keep = rows) => {
    const a = arrays[name];
    if (!a) return;
    const out = new Float32Array((rows + spare) * width).fill(fill);
    out.set(a.subarray(0, keep * width));
    if (fill !== 0 && keep < rows) out.fill(0, keep * width);
    arrays[name] = out;
  };
  for (const head of headNames(state.kind)) {
    grow(head.items, nItems, dim, 0);
    grow(head.bias, nItems, 1, INACTIVE);
  }
  // Encoder item tables: nItems rows and a zero padding row, which becomes the first spare.
  for (const name of ['encoder.items', 'targetEncoder.items']) grow(name, nItems + 1, dim, 0, nItems);
  return { ...state, config: { ...state.config, nItems: nItems + spare }, arrays };
}

export async function openAgent(data: SnapshotData, file: string, engine: Engine, opts: AgentServeOptions = {}): Promise<ServedAgent> {
  const cfg = data.config as Record<string, unknown>;
  const stateName = typeof data.meta.state === 'string' ? data.meta.state : String(cfg.state ?? 'lightgcn');
  let gnn = embeddedGnn(data, file);
  if (!gnn) {
    // A state of pretrained or joined vectors was saved by gnnrl rl as a 'vectors' model (meta.stateCheckpoint, relative to the run).
    const saved = data.meta.stateCheckpoint;
    const wanted = typeof saved === 'string' ? saved : join('models', `${stateName}.ckpt`);
    const gnnPath = opts.stateModel ?? join(dirname(dirname(file)), wanted);
    if (!existsSync(gnnPath)) {
      throw new GnnrlError('input', `${file}: agent '${String(data.meta.agent)}' needs the ${typeof saved === 'string' ? 'state tables' : 'GNN'} its state was built from (${stateName}); not found at ${gnnPath} (gnnrl rl writes <out>/${wanted}; pass agent.stateModel)`, { file, arg: 'stateModel' });
    }
    gnn = await loadCheckpoint(gnnPath);
  }
  const serve = (data.meta.agentServe ?? null) as { coldUsers?: unknown; updatesPerBatch?: unknown } | null;
  const model = await restoreModel(gnn, engine);
  let encoder: WindowStateEncoder | null = null;
  try {
    const H = Number(cfg.historyLen);
    const slateSize = Number(cfg.slateSize ?? 1);
    if (!(Number.isInteger(H) && H >= 1)) throw new GnnrlError('format', `${file}: config.historyLen: expected an integer >= 1, got ${JSON.stringify(cfg.historyLen)}`, { file, field: 'historyLen' });
    const spareOf = (key: 'coldUsers' | 'newItems', dflt: number) => {
      const x = serve ? Number((serve as Record<string, unknown>)[key] ?? 0) : (opts[key] ?? dflt);
      if (!(Number.isInteger(x) && x >= 0)) throw new GnnrlError(serve ? 'format' : 'input', `${serve ? `${file}: meta.agentServe.${key}` : `agent.${key}`}: expected an integer >= 0, got ${JSON.stringify(serve ? (serve as Record<string, unknown>)[key] : opts[key])}`, { arg: key });
      return x;
    };
    const spare = spareOf('coldUsers', 10_000);
    const spareItems = spareOf('newItems', 1000);
    // An rl checkpoint's agent had the GNN's users and items; a served agent's snapshot, those plus its spare rows.
    const encUsers = serve ? model.nUsers + spare : model.nUsers;
    const encItems = serve ? model.nItems + spareItems : model.nItems;
    if (cfg.nItems !== encItems || cfg.nUsers !== encUsers) {
      throw new GnnrlError('format', `${file}: the agent is for ${String(cfg.nUsers)} users × ${String(cfg.nItems)} items, its GNN ${gnn.source} has ${model.nUsers} × ${model.nItems}${serve ? ` (+ ${spare} cold user rows, ${spareItems} new item rows)` : ''}`, { file });
    }
    const tables = await tablesFromModel(engine, model);
    // A fused agent (fusion 'gnn') saved its GNN's output vectors as tables: served as fine-tuned tables.
    encoder = await servedEncoder(engine, tables, H, cfg.fineTune === true, spare, spareItems, (cfg.pool as HistoryPool | undefined) ?? 'window');
    const reinforce = isReinforceKind(data.kind);
    const options: Record<string, unknown> = {};
    for (const k of reinforce ? REINFORCE_OPTION_KEYS : OPTION_KEYS) if (cfg[k] !== undefined && cfg[k] !== null) options[k] = cfg[k];
    // Served feedback events are independent one-step episodes (REINFORCE: G = r) or transitions (DQN: n = 1).
    const agent: ServableAgent = reinforce
      ? await ReinforceAgent.create({ engine, encoder, slots: 1, slateSize, nItems: encoder.nItems }, { ...(options as ReinforceOptions), ...(opts.options as ReinforceOptions | undefined), topK: data.kind === 'reinforce-topk' })
      : await DqnAgent.create({ engine, encoder, slots: 1, slateSize }, { ...(options as DqnOptions), ...(opts.options as DqnOptions | undefined), nStep: 1, double: data.kind === 'double-dqn' });
    try {
      const state = { kind: data.kind, config: data.config, arrays: data.weights as Record<string, Float32Array> };
      try {
        agent.load(serve ? state : padItems(state, model.nItems, tables.dim, spareItems));
      } catch (e) {
        if (!(e instanceof GnnrlError) || e.code === 'format') throw e;
        throw new GnnrlError('format', `${serve ? 'snapshot ' : ''}${file}: section 'weights': ${e.message}`, { file, field: 'weights', cause: e });
      }
      if (data.optimizer || data.replay || data.rng !== undefined) {
        const learner = { optimizer: (data.optimizer ?? {}) as LearnerState['optimizer'], replay: (data.replay ?? {}) as Record<string, FieldArray>, rng: (data.rng ?? {}) as never };
        agent.loadLearnerState(learner, `snapshot ${file}`);
      }
      let windows: Int32Array;
      const saved = data.extras?.['agent.windows'];
      if (serve) {
        if (!(saved instanceof Int32Array) || saved.length % H !== 0 || saved.length / H < model.nUsers || saved.length / H > model.nUsers + spare) {
          throw new GnnrlError('format', `${file}: section 'extras': agent.windows: expected i32 rows of ${H} items for ${model.nUsers} to ${model.nUsers + spare} users`, { file, field: 'extras' });
        }
        windows = Int32Array.from(saved);
      } else {
        const eu = gnn.extras['graph.user'];
        const ei = gnn.extras['graph.item'];
        windows = eu instanceof Int32Array && ei instanceof Int32Array ? lastWindows(eu, ei, model.nUsers, H) : new Int32Array(model.nUsers * H).fill(-1);
      }
      const updatesPerBatch = opts.updatesPerBatch ?? (serve && serve.updatesPerBatch !== undefined ? Number(serve.updatesPerBatch) : 4);
      if (!(Number.isInteger(updatesPerBatch) && updatesPerBatch >= 0)) throw new GnnrlError('input', `agent.updatesPerBatch: expected an integer >= 0, got ${updatesPerBatch}`, { arg: 'updatesPerBatch' });
      const served: ServedAgent = { agent, encoder, model, historyLen: H, trainedUsers: model.nUsers, capacity: model.nUsers + spare, trainedItems: model.nItems, itemCapacity: model.nItems + spareItems, windows, updatesPerBatch, gnn };
      // A frozen encoder's tables are not agent state: the rows new items were given come
      // back from extras, then the cold rows, a function of the windows, are rebuilt. A
      // fine-tuned encoder saved both in its tables (and trained them since).
      const itemRows = data.extras?.['agent.itemRows'];
      if (serve && !encoder.fineTune && itemRows !== undefined) {
        const d = encoder.dim;
        if (!(itemRows instanceof Float32Array && itemRows.length % d === 0 && itemRows.length / d <= spareItems)) {
          throw new GnnrlError('format', `${file}: section 'extras': agent.itemRows: expected f32 rows of ${d} for at most ${spareItems} new items`, { file, field: 'extras' });
        }
        engine.write(encoder.itemTable.data, itemRows, model.nItems * d);
      }
      // The dueling mean runs over the items the head has rows for, never its spare rows.
      const active = serve ? Number((serve as Record<string, unknown>).activeItems ?? model.nItems) : model.nItems;
      if (!(Number.isInteger(active) && active >= model.nItems && active <= model.nItems + spareItems)) {
        throw new GnnrlError('format', `${file}: meta.agentServe.activeItems: expected an integer in ${model.nItems} … ${model.nItems + spareItems}, got ${JSON.stringify((serve as Record<string, unknown>).activeItems)}`, { file, field: 'meta' });
      }
      if (agent instanceof DqnAgent) agent.setActiveItems(active);
      const cold = Array.from({ length: windows.length / H - model.nUsers }, (_, j) => model.nUsers + j);
      if (cold.length && !encoder.fineTune) await writeColdRows(served, cold, windows);
      return served;
    } catch (e) {
      agent.dispose();
      throw e;
    }
  } catch (e) {
    encoder?.dispose();
    model.dispose();
    throw e;
  }
}

/**
 * Each cold user's encoder row from their window: the mean of the window's rows of the
 * encoder's (RMS-scaled) item table, rescaled to RMS 1 (zeros for an empty window).
 */
async function writeColdRows(served: ServedAgent, users: readonly number[], windows: Int32Array): Promise<void> {
  const { encoder, historyLen: H } = served;
  const d = encoder.dim;
  const items = (await encoder.itemTable.read()) as Float32Array;
  const targets = encodersOf(served.agent);
  const row = new Float32Array(d);
  for (const u of users) {
    row.fill(0);
    let n = 0;
    for (let j = 0; j < H; j++) {
      const i = windows[u * H + j];
      if (i < 0) continue;
      n++;
      for (let a = 0; a < d; a++) row[a] += items[i * d + a];
    }
    let ss = 0;
    for (let a = 0; a < d; a++) ss += row[a] * row[a];
    const scale = n > 0 && ss > 0 ? Math.sqrt(d / ss) : 0;
    for (let a = 0; a < d; a++) row[a] *= scale;
    for (const enc of targets) encoder.engine.write(enc.userTable.data, row, u * d);
  }
}

/**
 * The agent half of a feedback batch, after `applyFeedback` did ids, seen items and
 * popularity (with no factors): windows move, transitions go to replay, bounded updates
 * run, and the user rows (and, after updates, the item head) are recomputed.
 * Returns the factor tables of the next version.
 */
export async function agentFeedback(
  served: ServedAgent,
  prev: { users: FactorTable; items: FactorTable },
  events: readonly { u: number; i: number; positive: boolean; reward: number }[],
  nUsers: number,
  nItems: number,
): Promise<{ users: FactorTable; items: FactorTable; updates: number }> {
  const H = served.historyLen;
  const rows0 = prev.users.rows;
  const items0 = prev.items.rows;
  // New items take the spare Q-head rows in id order; past them, popularity only.
  const itemRows = Math.max(items0, Math.min(nItems, served.itemCapacity));
  /** Per new item: the items in its takers' windows (its co-occurrence neighbours). */
  const co = new Map<number, number[]>();
  for (let i = items0; i < itemRows; i++) co.set(i, []);
  // Newcomers take the encoder's spare rows in id order; past them, popularity answers.
  const nRows = Math.max(rows0, Math.min(nUsers, served.capacity));
  const windows = new Int32Array(nRows * H).fill(-1);
  windows.set(served.windows.subarray(0, rows0 * H));
  const touched = new Set<number>();
  for (let u = rows0; u < nRows; u++) touched.add(u);
  const cold = new Set<number>();
  const one = new Int32Array(1);
  // REINFORCE learns from each event as a finished one-step episode (its return is the reward).
  const episodeEnds = served.agent instanceof ReinforceAgent ? 1 : 0;
  for (const { u, i, positive, reward } of events) {
    if (u < 0 || u >= nRows || i < 0 || i >= itemRows) continue;
    const before = windows.slice(u * H, u * H + H);
    if (positive && i >= items0) for (const j of before) if (j >= 0 && j < items0) co.get(i)!.push(j);
    if (positive) {
      shiftIntoWindow(windows, u * H, H, i);
      touched.add(u);
      if (u >= served.trainedUsers) cold.add(u);
    }
    const after = windows.slice(u * H, u * H + H);
    one[0] = u;
    served.agent.observe({
      obs: observationOf(Int32Array.from(one), before, H),
      actions: Int32Array.of(i),
      slateSize: 1,
      result: {
        reward: Float32Array.of(reward),
        click: Uint8Array.of(positive ? 1 : 0),
        conversion: new Uint8Array(1),
        choice: Int32Array.of(0),
        done: Uint8Array.of(episodeEnds),
        skipped: new Uint8Array(1),
        next: observationOf(Int32Array.from(one), after, H),
      },
    });
  }
  served.windows = windows;
  // New items' rows before any cold row (which reads the item table) or update.
  if (co.size) {
    await writeNewItems(served, co);
    if (served.agent instanceof DqnAgent) served.agent.setActiveItems(itemRows);
  }
  if (cold.size) await writeColdRows(served, [...cold].sort((a, b) => a - b), windows);
  let updates = 0;
  // A turn of the event loop after each update (on the CPU and native backends an update
  // never leaves the microtask queue): a recommend arriving mid-drain waits for at most
  // one update, not for the whole batch of them.
  const turn = new Yielder(0);
  for (let j = 0; j < served.updatesPerBatch; j++) {
    if ((await served.agent.update()) !== null) updates++;
    await turn.maybe();
  }
  if (updates > 0) {
    // The network moved: every row and the item head are recomputed from it.
    const all = Int32Array.from({ length: nRows }, (_, u) => u);
    const f = await served.agent.factorForm(all, windows);
    return { users: FactorTable.of(f.phi, f.dim, nRows, null, 'lazy'), items: FactorTable.of(f.items, f.dim, itemRows, f.itemBias, 'lazy'), updates };
  }
  let items = prev.items;
  if (co.size) {
    const head = await served.agent.factorForm(new Int32Array(0), new Int32Array(0));
    const d = head.dim;
    items = prev.items.derive(new Map(), Array.from({ length: itemRows - items0 }, (_, j) => ({ v: head.items.slice((items0 + j) * d, (items0 + j + 1) * d), b: head.itemBias[items0 + j] })));
  }
  if (!touched.size) return { users: prev.users, items, updates };
  const rows = Int32Array.from([...touched].sort((a, b) => a - b));
  const hist = new Int32Array(rows.length * H);
  rows.forEach((u, r) => hist.set(windows.subarray(u * H, u * H + H), r * H));
  const f = await served.agent.factorForm(rows, hist);
  const changed = new Map<number, { v: Float32Array }>();
  const appended: { v: Float32Array }[] = [];
  rows.forEach((u, r) => {
    const v = f.phi.slice(r * f.dim, (r + 1) * f.dim);
    if (u < rows0) changed.set(u, { v });
    else appended[u - rows0] = { v };
  });
  return { users: prev.users.derive(changed, appended), items, updates };
}

/** Mean of rows `idx` of an n × d table (all of rows 0 … all − 1 when `idx` is empty). */
function meanRow(table: Float32Array, d: number, idx: readonly number[], all: number): Float32Array {
  const out = new Float32Array(d);
  const n = idx.length || all;
  for (let r = 0; r < n; r++) {
    const i = idx.length ? idx[r] : r;
    for (let a = 0; a < d; a++) out[a] += table[i * d + a];
  }
  for (let a = 0; a < d; a++) out[a] /= Math.max(1, n);
  return out;
}

/**
 * Gives each new item (spare row i) the means of its co-occurring items' rows: every item
 * head's e and b (DQN's online and target, REINFORCE's policy and behaviour) and the
 * encoder's item row (both encoders).
 */
async function writeNewItems(served: ServedAgent, co: ReadonlyMap<number, readonly number[]>): Promise<void> {
  const { agent, encoder } = served;
  const d = encoder.dim;
  const n = served.trainedItems;
  const engine = encoder.engine;
  const nets = headsOf(agent);
  const heads = (await Promise.all(nets.flatMap((q) => [q.items.read(), q.bias.read()]))) as Float32Array[];
  const encs = encodersOf(agent);
  const tables = (await Promise.all(encs.map((e) => e.itemTable.read()))) as Float32Array[];
  for (const [i, idx] of co) {
    nets.forEach((q, k) => {
      engine.write(q.items.data, meanRow(heads[2 * k], d, idx, n), i * d);
      engine.write(q.bias.data, meanRow(heads[2 * k + 1], 1, idx, n), i);
    });
    encs.forEach((e, k) => engine.write(e.itemTable.data, meanRow(tables[k], d, idx, n), i * d));
  }
}

/**
 * A served agent as snapshot contents: the agent's state (kind, config, weights), its
 * learner state (optimizer, replay, rng), the GNN embedded in extras, the windows.
 * `Recommender.snapshotData` adds ids, the served tables, seen items and popularity.
 */
export async function agentSnapshot(served: ServedAgent, activeItems: number): Promise<{ kind: string; config: Record<string, unknown>; weights: Record<string, Float32Array>; meta: Record<string, unknown>; extras: ArraySet; optimizer: ArraySet; replay: ArraySet; rng: unknown }> {
  const state = await served.agent.state();
  const learner = await served.agent.learnerState();
  const gnn = served.gnn;
  const extras: ArraySet = {};
  for (const [name, a] of Object.entries(gnn.state.arrays)) extras[`gnn.w.${name}`] = a;
  for (const [name, a] of Object.entries(gnn.extras)) extras[`gnn.x.${name}`] = a as ArraySet[string];
  extras['agent.windows'] = served.windows;
  if (!served.encoder.fineTune && activeItems > served.trainedItems) {
    const d = served.encoder.dim;
    const table = (await served.encoder.itemTable.read()) as Float32Array;
    extras['agent.itemRows'] = table.slice(served.trainedItems * d, activeItems * d);
  }
  // The GNN's ids travel in the snapshot's own id maps (with the newcomers after them).
  const { ids: _ids, ...gnnMeta } = gnn.meta;
  return {
    kind: state.kind,
    config: state.config,
    weights: state.arrays as Record<string, Float32Array>,
    meta: {
      gnn: { kind: gnn.state.kind, config: gnn.state.config, meta: gnnMeta },
      agentServe: { trainedUsers: served.trainedUsers, coldUsers: served.capacity - served.trainedUsers, trainedItems: served.trainedItems, newItems: served.itemCapacity - served.trainedItems, activeItems: served.agent instanceof DqnAgent ? served.agent.activeItems : activeItems, updatesPerBatch: served.updatesPerBatch },
    },
    extras,
    optimizer: learner.optimizer,
    replay: learner.replay,
    rng: learner.rng,
  };
}

/** The served tables of an agent at load: φ of every user's window and the item head. */
export async function agentTables(served: ServedAgent): Promise<{ users: FactorTable; items: FactorTable }> {
  const n = served.windows.length / served.historyLen;
  const f = await served.agent.factorForm(Int32Array.from({ length: n }, (_, u) => u), served.windows);
  return { users: FactorTable.of(f.phi, f.dim, n, null, 'lazy'), items: FactorTable.of(f.items, f.dim, served.model.nItems, f.itemBias, 'lazy') };
}
