/**
 * Serving a DQN agent of `gnnrl rl`: its checkpoint (`<run>/<agent>/agent.ckpt`) and the
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
 * Limits (documented in the README): a user the GNN has no row for cannot get a state
 * and is answered by popularity; new items cannot join the Q head; served n-step is 1
 * (feedback events are independent, not one slot's trajectory).
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { loadCheckpoint, type Checkpoint } from '../models/checkpoint.js';
import { restoreModel } from '../models/registry.js';
import type { RecommenderModel } from '../models/types.js';
import { DqnAgent, type DqnOptions } from '../rl/agents/dqn.js';
import { tablesFromModel, WindowStateEncoder } from '../rl/state/window-state.js';
import { shiftIntoWindow } from '../rl/state/history-windows.js';
import type { Observation } from '../rl/types.js';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { SnapshotData } from './snapshot.js';
import { FactorTable } from './factor-table.js';

/** The DQN options a checkpoint's config carries (the rest of its config is sizes and counters). */
const OPTION_KEYS = ['double', 'gamma', 'lr', 'hidden', 'batchSize', 'capacity', 'learningStarts', 'targetUpdate', 'tau', 'epsilon', 'prioritized', 'alpha', 'beta0', 'betaSteps', 'huberDelta', 'clipNorm', 'seed'] as const;

export interface AgentServeOptions {
  /** The GNN checkpoint the agent's state comes from (default: `<run>/models/<state>.ckpt` beside the agent's folder). */
  stateModel?: string;
  /** Updates per drain once replay is warm (default 4; 0 = serve without learning). */
  updatesPerBatch?: number;
  /** Overrides of the agent's own options (e.g. `learningStarts`, `lr`). */
  options?: DqnOptions;
}

/** An agent being served, with each user's window. */
export interface ServedAgent {
  readonly agent: DqnAgent;
  readonly encoder: WindowStateEncoder;
  readonly model: RecommenderModel;
  readonly historyLen: number;
  /** nUsers × H, −1 left-padded, oldest first (shared, copy-on-write per drain). */
  windows: Int32Array;
  readonly updatesPerBatch: number;
  /** The GNN checkpoint (ids, training edges). */
  readonly gnn: Checkpoint;
}

/** Whether a decoded file is a `gnnrl rl` DQN agent checkpoint. */
export function isAgentCheckpoint(data: SnapshotData): boolean {
  return typeof data.meta.agent === 'string' && (data.kind === 'dqn' || data.kind === 'double-dqn');
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

export async function openAgent(data: SnapshotData, file: string, engine: Engine, opts: AgentServeOptions = {}): Promise<ServedAgent> {
  const cfg = data.config as Record<string, unknown>;
  const stateName = typeof data.meta.state === 'string' ? data.meta.state : String(cfg.state ?? 'lightgcn');
  const gnnPath = opts.stateModel ?? join(dirname(dirname(file)), 'models', `${stateName}.ckpt`);
  if (!existsSync(gnnPath)) {
    throw new GnnrlError('input', `${file}: agent '${String(data.meta.agent)}' needs the GNN its state was built from (${stateName}); not found at ${gnnPath} (gnnrl rl writes <out>/models/${stateName}.ckpt; pass agent.stateModel)`, { file, arg: 'stateModel' });
  }
  const gnn = await loadCheckpoint(gnnPath);
  const model = await restoreModel(gnn, engine);
  let encoder: WindowStateEncoder | null = null;
  try {
    const H = Number(cfg.historyLen);
    const slateSize = Number(cfg.slateSize ?? 1);
    if (!(Number.isInteger(H) && H >= 1)) throw new GnnrlError('format', `${file}: config.historyLen: expected an integer >= 1, got ${JSON.stringify(cfg.historyLen)}`, { file, field: 'historyLen' });
    if (cfg.nItems !== model.nItems || cfg.nUsers !== model.nUsers) {
      throw new GnnrlError('format', `${file}: the agent is for ${String(cfg.nUsers)} users × ${String(cfg.nItems)} items, its GNN ${gnnPath} has ${model.nUsers} × ${model.nItems}`, { file });
    }
    encoder = new WindowStateEncoder(engine, await tablesFromModel(engine, model), H, { fineTune: cfg.fineTune === true });
    const options: Record<string, unknown> = {};
    for (const k of OPTION_KEYS) if (cfg[k] !== undefined && cfg[k] !== null) options[k] = cfg[k];
    const agent = await DqnAgent.create({ engine, encoder, slots: 1, slateSize }, { ...(options as DqnOptions), ...opts.options, nStep: 1, double: data.kind === 'double-dqn' });
    agent.load({ kind: data.kind, config: data.config, arrays: data.weights as Record<string, Float32Array> });
    const eu = gnn.extras['graph.user'];
    const ei = gnn.extras['graph.item'];
    const windows = eu instanceof Int32Array && ei instanceof Int32Array ? lastWindows(eu, ei, model.nUsers, H) : new Int32Array(model.nUsers * H).fill(-1);
    const updatesPerBatch = opts.updatesPerBatch ?? 4;
    if (!(Number.isInteger(updatesPerBatch) && updatesPerBatch >= 0)) throw new GnnrlError('input', `agent.updatesPerBatch: expected an integer >= 0, got ${updatesPerBatch}`, { arg: 'updatesPerBatch' });
    return { agent, encoder, model, historyLen: H, windows, updatesPerBatch, gnn };
  } catch (e) {
    encoder?.dispose();
    model.dispose();
    throw e;
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
): Promise<{ users: FactorTable; items: FactorTable; updates: number }> {
  const H = served.historyLen;
  const nRows = prev.users.rows;
  const windows = Int32Array.from(served.windows);
  const touched = new Set<number>();
  const one = new Int32Array(1);
  for (const { u, i, positive, reward } of events) {
    if (u < 0 || u >= nRows || i < 0 || i >= prev.items.rows) continue;
    const before = windows.slice(u * H, u * H + H);
    if (positive) {
      shiftIntoWindow(windows, u * H, H, i);
      touched.add(u);
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
        done: new Uint8Array(1),
        skipped: new Uint8Array(1),
        next: observationOf(Int32Array.from(one), after, H),
      },
    });
  }
  served.windows = windows;
  let updates = 0;
  for (let j = 0; j < served.updatesPerBatch; j++) if ((await served.agent.update()) !== null) updates++;
  if (updates > 0) {
    // The network moved: every row and the item head are recomputed from it.
    const all = Int32Array.from({ length: nRows }, (_, u) => u);
    const f = await served.agent.factorForm(all, windows);
    return { users: FactorTable.of(f.phi, f.dim, nRows), items: FactorTable.of(f.items, f.dim, prev.items.rows, f.itemBias), updates };
  }
  if (!touched.size) return { ...prev, updates };
  const rows = Int32Array.from([...touched].sort((a, b) => a - b));
  const hist = new Int32Array(rows.length * H);
  rows.forEach((u, r) => hist.set(windows.subarray(u * H, u * H + H), r * H));
  const f = await served.agent.factorForm(rows, hist);
  const changed = new Map<number, { v: Float32Array }>();
  rows.forEach((u, r) => changed.set(u, { v: f.phi.slice(r * f.dim, (r + 1) * f.dim) }));
  return { users: prev.users.derive(changed), items: prev.items, updates };
}

/** The served tables of an agent at load: φ of every user's window and the item head. */
export async function agentTables(served: ServedAgent): Promise<{ users: FactorTable; items: FactorTable }> {
  const n = served.model.nUsers;
  const f = await served.agent.factorForm(Int32Array.from({ length: n }, (_, u) => u), served.windows);
  return { users: FactorTable.of(f.phi, f.dim, n), items: FactorTable.of(f.items, f.dim, served.model.nItems, f.itemBias) };
}
