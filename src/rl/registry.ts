/**
 * The agent registry: every policy `gnnrl rl` can run, by name, and how to build it for an
 * environment. The CLI, configs and metrics use the canonical names below; aliases are
 * accepted wherever a name is.
 *
 *   dqn, double-dqn          learned: DqnAgent over the whole catalogue on GNN window state
 *   qlearning, sarsa         learned: TabularSlateAgent, tabular Q-learning / SARSA over a
 *                            discretised state (agents/tabular-slate.ts; needs item groups)
 *   random, popularity       fixed baselines
 *   greedy:<model>           the top-k of any registry model (trained on the log)
 *   oracle                   the simulator's myopic oracle
 *   linucb, lints            learned: linear contextual bandits (LinUCB, linear Thompson
 *                            sampling) on one shared model over GNN (or --state random) vectors
 *   reinforce, reinforce-topk  learned: REINFORCE over the catalogue softmax on GNN window
 *                            state, and its top-K off-policy corrected form (agents/reinforce.ts)
 *   ddpg, td3                learned: DDPG / TD3 actor–critic with Wolpertinger item actions
 *                            (proto-action → k nearest items by topK → critic re-rank; agents/ddpg.ts)
 *
 * Agent options (`--agent-options '{"dqn":{"lr":0.001}}'`) are validated here, by name and
 * value, before anything runs: an unknown key or a value out of range is an `input` error
 * whose `details.arg` is 'agent-options' and whose message names `<agent>.<key>`.
 *
 * GNN models (for `--state` and for `greedy:<model>`) come from `AgentContext.model(name)`,
 * which the caller implements once per run (train on the environment's log, or load a
 * checkpoint) and caches, so DQN's state and the greedy baseline share one fitted model.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import type { Interactions } from '../data/interactions.js';
import type { RecommenderModel } from '../models/types.js';
import { getModel, modelNames, resolveModelName } from '../models/registry.js';
import type { Agent, Environment } from './types.js';
import { parseSchedule } from './schedules.js';
import { GreedyModelPolicy, OraclePolicy, PopularityPolicy, RandomPolicy, isTruthful } from './policies/fixed.js';
import { HISTORY_POOLS, WindowStateEncoder, randomTables, tablesFromModel, type HistoryPool, type StateTables } from './state/window-state.js';
import { concatTables, parseStateSpec, singleEncoder, tablesFromVectors } from './state/state-spec.js';
import { GraphEncoderModel } from '../models/encoders/base.js';
import { DqnAgent, type DqnOptions } from './agents/dqn.js';
import { TabularSlateAgent, type TabularSlateOptions } from './agents/tabular-slate.js';
import { LinUcbAgent, type LinUcbOptions } from './agents/linucb.js';
import { LinTsAgent, type LinTsOptions } from './agents/lin-ts.js';
import { createReinforceAgent, type ReinforceOptions } from './agents/reinforce.js';
import { createDdpgAgent, type DdpgOptions } from './agents/ddpg.js';
import { TOPK_MAX } from '../kernels/topk.js';

/** One registered agent family. */
export interface AgentInfo {
  /** Canonical name ('greedy' stands for every 'greedy:<model>'). */
  name: string;
  display: string;
  learns: boolean;
  summary: string;
  /** Why it cannot run yet (null when it can). */
  unavailable: string | null;
}

export const AGENTS: readonly AgentInfo[] = [
  { name: 'dqn', display: 'DQN', learns: true, summary: 'DQN over the whole catalogue, Q(s,a) = φ(s)·e_a + b_a on GNN window state', unavailable: null },
  { name: 'double-dqn', display: 'Double DQN', learns: true, summary: "DQN with Double DQN's decoupled argmax", unavailable: null },
  { name: 'qlearning', display: 'Q-learning', learns: true, summary: 'tabular Q-learning over (last item group × window-count bucket); action = an item group, shown as its most popular items', unavailable: null },
  { name: 'sarsa', display: 'SARSA', learns: true, summary: 'tabular SARSA over the same discretised state and group actions', unavailable: null },
  { name: 'random', display: 'Random', learns: false, summary: 'uniformly random items outside the history window', unavailable: null },
  { name: 'popularity', display: 'Popularity', learns: false, summary: "the log's most consumed items", unavailable: null },
  { name: 'greedy', display: 'Greedy', learns: false, summary: "greedy:<model>: a fitted model's top-k (greedy:lightgcn, greedy:sage, greedy:svd, …)", unavailable: null },
  { name: 'oracle', display: 'Myopic oracle', learns: false, summary: "the simulator's myopic oracle (best expected immediate reward)", unavailable: null },
  { name: 'linucb', display: 'LinUCB', learns: true, summary: 'LinUCB contextual bandit: one shared ridge model over [u⊙e_a, w̄⊙e_a, e_a, 1] from GNN vectors, upper-confidence acting', unavailable: null },
  { name: 'lints', display: 'Linear TS', learns: true, summary: 'linear Thompson sampling on the same shared model (θ ~ N(θ̂, ν²A⁻¹) per slot)', unavailable: null },
  { name: 'reinforce', display: 'REINFORCE', learns: true, summary: 'REINFORCE over the catalogue softmax π(a|s) ∝ exp(φ(s)·e_a + b_a), learned baseline, entropy bonus', unavailable: null },
  { name: 'ddpg', display: 'DDPG', learns: true, summary: 'DDPG actor–critic: proto-item μ(s) + noise, its k nearest items (topK), the critic Q(s, e_a) re-ranks them (Wolpertinger)', unavailable: null },
  { name: 'td3', display: 'TD3', learns: true, summary: "DDPG with TD3's twin critics, delayed actor updates and target policy smoothing", unavailable: null },
  { name: 'reinforce-topk', display: 'REINFORCE (top-K)', learns: true, summary: 'REINFORCE with the top-K off-policy correction (behaviour head β, capped π/β, λ_K = K(1 − π)^{K−1})', unavailable: null },
];

const ALIASES: Record<string, string> = {
  'deep-q': 'dqn',
  ddqn: 'double-dqn',
  double: 'double-dqn',
  doubledqn: 'double-dqn',
  double_dqn: 'double-dqn',
  'q-learning': 'qlearning',
  q: 'qlearning',
  'lin-ucb': 'linucb',
  ucb: 'linucb',
  'lin-ts': 'lints',
  thompson: 'lints',
  ts: 'lints',
  uniform: 'random',
  pop: 'popularity',
  popular: 'popularity',
  greedy: 'greedy:lightgcn',
  myopic: 'oracle',
  pg: 'reinforce',
  'policy-gradient': 'reinforce',
  'reinforce-top-k': 'reinforce-topk',
  topk: 'reinforce-topk',
  wolpertinger: 'ddpg',
  'actor-critic': 'ddpg',
};

/** The names `--agent` accepts, for messages. */
export function agentNames(): string[] {
  return AGENTS.map((a) => (a.name === 'greedy' ? 'greedy:<model>' : a.name));
}

/** The family of a canonical name ('greedy:lightgcn' → 'greedy'). */
export function agentFamily(name: string): AgentInfo {
  const fam = name.startsWith('greedy:') ? 'greedy' : name;
  const info = AGENTS.find((a) => a.name === fam);
  if (!info) throw new GnnrlError('input', `agent: unknown agent '${name}'; valid agents: ${agentNames().join(', ')}`, { arg: 'agent' });
  return info;
}

/**
 * Canonical name of one agent (case-insensitive, aliases accepted). `greedy:<model>` takes
 * any registry model name or alias ('greedy:light-gcn' → 'greedy:lightgcn').
 */
export function resolveAgentName(raw: string, arg = 'agent'): string {
  const key = String(raw).trim().toLowerCase();
  const aliased = ALIASES[key] ?? key;
  if (aliased.startsWith('greedy:')) {
    const model = aliased.slice('greedy:'.length);
    try {
      return `greedy:${resolveModelName(model, arg)}`;
    } catch {
      throw new GnnrlError('input', `${arg}: unknown model '${model}' in '${raw}'; greedy:<model> takes one of ${modelNames().join(', ')}`, { arg });
    }
  }
  const info = AGENTS.find((a) => a.name === aliased && a.name !== 'greedy');
  if (!info) {
    throw new GnnrlError('input', `${arg}: unknown agent '${raw}'; valid agents: ${agentNames().join(', ')} (aliases: ${Object.keys(ALIASES).join(', ')})`, { arg });
  }
  return info.name;
}

/**
 * A comma list or array of agent names → distinct canonical names, in the order given.
 * Agents that cannot run yet (qlearning, sarsa) are refused with their reason.
 */
export function parseAgentList(names: string | readonly string[], arg = 'agent'): string[] {
  const list = typeof names === 'string' ? names.split(',') : [...names];
  const out: string[] = [];
  for (const raw of list) {
    if (!raw.trim()) throw new GnnrlError('input', `${arg}: empty agent name in the list`, { arg });
    const name = resolveAgentName(raw, arg);
    const info = agentFamily(name);
    if (info.unavailable) throw new GnnrlError('input', `${arg}: ${name}: ${info.unavailable}; choose from ${AGENTS.filter((a) => !a.unavailable).map((a) => (a.name === 'greedy' ? 'greedy:<model>' : a.name)).join(', ')}`, { arg });
    if (!out.includes(name)) out.push(name);
  }
  if (out.length === 0) throw new GnnrlError('input', `${arg}: expected at least one agent`, { arg });
  return out;
}

// ------------------------------------------------------------------ agent options

type Check = (v: unknown) => string | null;
const num = (ok: (x: number) => boolean, want: string): Check => (v) => (typeof v === 'number' && Number.isFinite(v) && ok(v) ? null : want);
const int = (min: number): Check => num((x) => Number.isInteger(x) && x >= min, `an integer >= ${min}`);
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'true or false');
const schedule: Check = (v) => {
  try {
    parseSchedule(v, 'epsilon');
    return null;
  } catch (err) {
    return `a number or a schedule spec ({"kind":"linear","start":1,"end":0.05,"steps":1000}): ${(err as Error).message}`;
  }
};

/** A schedule whose every value is > 0 (a temperature): constant value, or start and end, > 0. */
const positiveSchedule: Check = (v) => {
  const bad = schedule(v);
  if (bad !== null) return bad;
  const want = 'a number > 0 or a schedule spec with start/end/value > 0';
  if (typeof v === 'number') return v > 0 ? null : want;
  const spec = v as Record<string, unknown>;
  return (spec.kind === 'constant' ? ['value'] : ['start', 'end']).every((k) => (spec[k] as number) > 0) ? null : want;
};

const fineTuneCheck: Check = (v) => (typeof v === 'boolean' || v === 'gnn' ? null : "true, false or 'gnn'");

/** How the state holds the history window (WindowStateEncoder's `pool`). */
const poolCheck: Check = (v) => (typeof v === 'string' && (HISTORY_POOLS as readonly string[]).includes(v) ? null : HISTORY_POOLS.map((p) => `'${p}'`).join(' or '));

/** Options of the DQN agents (DqnOptions, minus `double`, which the name sets), plus the run loop's and the state's. */
const DQN_OPTIONS: Record<string, Check> = {
  gamma: num((x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
  lr: num((x) => x >= 0, 'a number >= 0'),
  hidden: (v) => (Array.isArray(v) && v.length > 0 && v.every((h) => Number.isInteger(h) && h >= 1) ? null : 'a non-empty array of positive integers'),
  batchSize: int(1),
  capacity: int(1),
  learningStarts: int(0),
  targetUpdate: int(1),
  tau: num((x) => x > 0 && x <= 1, 'a number in (0, 1]'),
  epsilon: schedule,
  nStep: int(1),
  prioritized: bool,
  alpha: num((x) => x >= 0, 'a number >= 0'),
  beta0: num((x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
  betaSteps: int(1),
  huberDelta: num((x) => x > 0, 'a number > 0'),
  clipNorm: num((x) => x > 0, 'a number > 0'),
  dueling: bool,
  exploration: (v) => (v === 'epsilon' || v === 'boltzmann' ? null : "'epsilon' or 'boltzmann'"),
  temperature: positiveSchedule,
  seed: int(0),
  /** Updates per environment step (the run loop's). */
  updatesPerStep: int(0),
  /** Train the state's vectors with the TD loss: true the tables, 'gnn' the GNN itself (end to end). */
  fineTune: fineTuneCheck,
  pool: poolCheck,
};

/** A constant or a schedule whose every value lies in [0, 1] (α and ε of the tabular agents). */
const unitSchedule: Check = (v) => {
  const want = 'a number in [0, 1] or a schedule spec with start/end/value in [0, 1]';
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 && v <= 1 ? null : want;
  if (schedule(v) !== null) return schedule(v);
  const spec = v as Record<string, unknown>;
  return ['start', 'end', 'value'].every((k) => spec[k] === undefined || ((spec[k] as number) >= 0 && (spec[k] as number) <= 1)) ? null : want;
};

/** Options of the tabular agents (TabularSlateOptions minus `method`, which the name sets). */
const TABULAR_OPTIONS: Record<string, Check> = {
  alpha: unitSchedule,
  gamma: num((x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
  epsilon: unitSchedule,
  buckets: int(1),
  initialQ: num(() => true, 'a finite number'),
  seed: int(0),
};

/** Options of the linear bandits (LinUcbOptions / LinTsOptions) plus the run loop's. */
const BANDIT_COMMON: Record<string, Check> = {
  lambda: num((x) => x > 0, 'a number > 0'),
  seed: int(0),
  /** 0 switches learning off (the queue is never folded in). */
  updatesPerStep: int(0),
};

/** Options of the REINFORCE agents (ReinforceOptions minus `topK`, which the name sets), plus the run loop's. */
const REINFORCE_OPTIONS: Record<string, Check> = {
  gamma: num((x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
  lr: num((x) => x >= 0, 'a number >= 0'),
  hidden: (v) => (Array.isArray(v) && v.length > 0 && v.every((h) => Number.isInteger(h) && h >= 1) ? null : 'a non-empty array of positive integers'),
  batchSize: int(1),
  entropy: num((x) => x >= 0, 'a number >= 0'),
  baseline: bool,
  valueCoef: num((x) => x >= 0, 'a number >= 0'),
  clipNorm: num((x) => x > 0, 'a number > 0'),
  behaviour: (v) => (v === 'logged' || v === 'learned' ? null : "'logged' or 'learned'"),
  behaviourLr: num((x) => x >= 0, 'a number >= 0'),
  clip: num((x) => x >= 0 && x < 1, 'a number in [0, 1)'),
  cap: (v) => (v === null || (typeof v === 'number' && v > 0) ? null : 'a number > 0 (or null: uncapped)'),
  chunkElements: int(1),
  seed: int(0),
  updatesPerStep: int(0),
  fineTune: fineTuneCheck,
  pool: poolCheck,
};

const widths: Check = (v) => (Array.isArray(v) && v.length > 0 && v.every((h) => Number.isInteger(h) && h >= 1) ? null : 'a non-empty array of positive integers');
const oneOf = (...choices: string[]): Check => (v) => (typeof v === 'string' && choices.includes(v) ? null : choices.map((c) => `'${c}'`).join(' or '));

/** Options of the DDPG agents (DdpgOptions minus `td3`, which the name sets), plus the run loop's. */
const DDPG_OPTIONS: Record<string, Check> = {
  gamma: num((x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
  lr: num((x) => x >= 0, 'a number >= 0'),
  actorLr: num((x) => x >= 0, 'a number >= 0'),
  criticLr: num((x) => x >= 0, 'a number >= 0'),
  hidden: widths,
  actorHidden: widths,
  criticHidden: widths,
  tau: num((x) => x > 0 && x <= 1, 'a number in (0, 1]'),
  batchSize: int(1),
  capacity: int(1),
  learningStarts: int(0),
  nStep: int(1),
  knn: num((x) => Number.isInteger(x) && x >= 1 && x <= TOPK_MAX, `an integer in [1, ${TOPK_MAX}]`),
  noise: oneOf('gaussian', 'ou'),
  sigma: num((x) => x >= 0, 'a number >= 0'),
  theta: num((x) => x > 0 && x <= 1, 'a number in (0, 1]'),
  head: oneOf('tanh', 'linear'),
  actionScale: num((x) => x > 0, 'a number > 0'),
  targetAction: oneOf('knn', 'proto'),
  clipNorm: num((x) => x > 0, 'a number > 0'),
  policyDelay: int(1),
  targetNoise: num((x) => x >= 0, 'a number >= 0'),
  targetNoiseClip: num((x) => x > 0, 'a number > 0'),
  seed: int(0),
  updatesPerStep: int(0),
  pool: poolCheck,
};

const OPTIONS_BY_FAMILY: Record<string, Record<string, Check>> = {
  ddpg: DDPG_OPTIONS,
  td3: DDPG_OPTIONS,
  reinforce: REINFORCE_OPTIONS,
  'reinforce-topk': REINFORCE_OPTIONS,
  linucb: { alpha: num((x) => x >= 0, 'a number >= 0'), ...BANDIT_COMMON },
  lints: { nu: num((x) => x >= 0, 'a number >= 0'), ...BANDIT_COMMON },
  dqn: DQN_OPTIONS,
  'double-dqn': DQN_OPTIONS,
  qlearning: TABULAR_OPTIONS,
  sarsa: TABULAR_OPTIONS,
  random: { seed: int(0) },
  popularity: {},
  greedy: {},
  oracle: {},
};

/**
 * Checks one agent's options: every key known, every value in range. Throws an `input`
 * error with `details.arg = arg` naming `<agent>.<key>`.
 */
export function checkAgentOptions(agent: string, opts: unknown, arg = 'agent-options'): Record<string, unknown> {
  const fam = agentFamily(agent).name;
  if (!opts || typeof opts !== 'object' || Array.isArray(opts)) throw new GnnrlError('input', `${arg}: ${agent}: expected an object of options, got ${JSON.stringify(opts)}`, { arg });
  const known = OPTIONS_BY_FAMILY[fam] ?? {};
  for (const [key, value] of Object.entries(opts as Record<string, unknown>)) {
    const check = known[key];
    if (!check) {
      const list = Object.keys(known);
      throw new GnnrlError('input', `${arg}: unknown option '${key}' for ${agent}; ${list.length ? `known: ${list.join(', ')}` : `${agent} takes no options`}`, { arg, field: `${agent}.${key}` });
    }
    const want = check(value);
    if (want !== null) throw new GnnrlError('input', `${arg}: ${agent}.${key}: expected ${want}, got ${JSON.stringify(value)}`, { arg, field: `${agent}.${key}` });
  }
  return opts as Record<string, unknown>;
}

// ------------------------------------------------------------------ creating agents

/** What `createAgent` needs; one per run, shared by its agents. */
export interface AgentContext {
  engine: Engine;
  /** The environment the agent will act in (the oracle binds to it). */
  env: Environment;
  /** The environment's log (popularity, and what GNN models are trained on). */
  log: Interactions;
  /** A fitted registry model by canonical name, trained or loaded once and cached by the caller. */
  model(name: string): Promise<RecommenderModel>;
  /** GNN of the state encoder: an encoder model name, or 'random' (seeded random tables). */
  state: string;
  /** Per-agent options (already checked by `checkAgentOptions`). */
  options?: Record<string, unknown>;
  seed: number;
  /** Training steps planned (the default ε schedule decays over 60% of them). */
  steps?: number;
}

/** A built agent and how the run loop should drive it. */
export interface CreatedAgent {
  agent: Agent;
  /** `updatesPerStep` for trainAgent (learning agents). */
  updatesPerStep: number;
}

/**
 * The defaults `gnnrl rl` gives DQN (tuned for the simulator's episodes of ≤ 30 steps and
 * runs of a few thousand steps); DqnAgent's own library defaults are for longer runs.
 */
export function dqnDefaults(steps: number): DqnOptions & { updatesPerStep: number } {
  return {
    lr: 1e-3,
    hidden: [64],
    batchSize: 128,
    learningStarts: 500,
    targetUpdate: 100,
    // 3-step returns: on the simulator's defaults 1-step DQN barely beats greedy LightGCN
    // in 1,200 steps, 3-step DQN clearly (and the myopic oracle too).
    nStep: 3,
    epsilon: { kind: 'linear', start: 1, end: 0.05, steps: Math.max(1, Math.floor(0.6 * steps)) },
    updatesPerStep: 2,
  };
}

/** Dimension of the random state tables (`--state random`). */
const RANDOM_STATE_DIM = 32;

/** Builds agent `name` (canonical, from `parseAgentList`) for `ctx.env`. */
export async function createAgent(name: string, ctx: AgentContext): Promise<CreatedAgent> {
  const info = agentFamily(name);
  if (info.unavailable) throw new GnnrlError('input', `agent: ${name}: ${info.unavailable}`, { arg: 'agent' });
  const opts = checkAgentOptions(name, ctx.options ?? {});
  const env = ctx.env;
  const k = env.slateSize;
  switch (info.name) {
    case 'random':
      return { agent: new RandomPolicy(env.nItems, k, (opts.seed as number | undefined) ?? ctx.seed), updatesPerStep: 0 };
    case 'popularity':
      return { agent: new PopularityPolicy(ctx.log, k), updatesPerStep: 0 };
    case 'oracle':
      if (!isTruthful(env)) throw new GnnrlError('input', `agent: oracle: environment ${env.name} does not know the truth (only simulators have an oracle)`, { arg: 'agent' });
      return { agent: new OraclePolicy(env), updatesPerStep: 0 };
    case 'greedy': {
      const model = await ctx.model(name.slice('greedy:'.length));
      checkModelFits(model, env, name);
      return { agent: new GreedyModelPolicy(model, k), updatesPerStep: 0 };
    }
    case 'qlearning':
    case 'sarsa': {
      const o = opts as Omit<TabularSlateOptions, 'method'>;
      const epsilon = o.epsilon ?? { kind: 'linear', start: 1, end: 0.05, steps: Math.max(1, Math.floor(0.6 * (ctx.steps ?? 2000) * env.batch)) };
      return { agent: new TabularSlateAgent(env, ctx.log, { seed: ctx.seed, ...o, epsilon, method: info.name }), updatesPerStep: 1 };
    }
    case 'linucb':
    case 'lints': {
      const { updatesPerStep, ...given } = opts as (LinUcbOptions & LinTsOptions) & { updatesPerStep?: number };
      const tables = await stateTablesOf(ctx, env);
      const bctx = { tables, historyLen: env.historyLen, slateSize: k };
      const agent = info.name === 'linucb' ? new LinUcbAgent(bctx, { seed: ctx.seed, ...given }) : new LinTsAgent(bctx, { seed: ctx.seed, ...given });
      return { agent, updatesPerStep: updatesPerStep ?? 1 };
    }
    case 'reinforce':
    case 'reinforce-topk': {
      const { updatesPerStep, fineTune, pool, cap, ...given } = opts as Omit<ReinforceOptions, 'cap'> & { cap?: number | null; updatesPerStep?: number; fineTune?: FineTune; pool?: HistoryPool };
      const encoder = await stateEncoder(ctx, env, fineTune, pool);
      try {
        // JSON has no Infinity: null asks for an uncapped weight.
        const capOpt = cap === null ? { cap: Infinity } : cap === undefined ? {} : { cap };
        const agent = await createReinforceAgent({ engine: ctx.engine, encoder, slots: env.batch, slateSize: k, nItems: env.nItems }, { seed: ctx.seed, ...given, ...capOpt, topK: info.name === 'reinforce-topk' });
        return { agent: withEncoder(agent, encoder), updatesPerStep: updatesPerStep ?? 1 };
      } catch (err) {
        encoder.dispose();
        throw asOptionError(name, err);
      }
    }
    case 'ddpg':
    case 'td3': {
      const { updatesPerStep, pool, ...given } = opts as DdpgOptions & { updatesPerStep?: number; pool?: HistoryPool };
      // Actions live in the encoder's item space, so the encoder stays frozen (no fineTune).
      const tables = await stateTablesOf(ctx, env);
      const encoder = new WindowStateEncoder(ctx.engine, tables, env.historyLen, { fineTune: false, pool });
      try {
        const agent = await createDdpgAgent({ engine: ctx.engine, encoder, slots: env.batch, slateSize: k, nItems: env.nItems }, { seed: ctx.seed, ...given, td3: info.name === 'td3' });
        return { agent: withEncoder(agent, encoder), updatesPerStep: updatesPerStep ?? 1 };
      } catch (err) {
        encoder.dispose();
        throw asOptionError(name, err);
      }
    }
    case 'dqn':
    case 'double-dqn': {
      const { updatesPerStep, fineTune, pool, ...given } = opts as DqnOptions & { updatesPerStep?: number; fineTune?: FineTune; pool?: HistoryPool };
      const { updatesPerStep: defaultUps, ...defaults } = dqnDefaults(ctx.steps ?? 2000);
      const encoder = await stateEncoder(ctx, env, fineTune, pool);
      try {
        const agent = await DqnAgent.create({ engine: ctx.engine, encoder, slots: env.batch, slateSize: k }, { ...defaults, seed: ctx.seed, ...given, double: info.name === 'double-dqn' });
        return { agent: withEncoder(agent, encoder), updatesPerStep: updatesPerStep ?? defaultUps };
      } catch (err) {
        encoder.dispose();
        throw asOptionError(name, err);
      }
    }
    default:
      throw new GnnrlError('input', `agent: ${name} has no builder`, { arg: 'agent' });
  }
}

/** `fineTune` of the agents: frozen vectors, fine-tuned tables, or the GNN trained end to end. */
type FineTune = boolean | 'gnn';

/**
 * The state encoder of a learning agent. `fineTune: 'gnn'` (end-to-end fusion) trains a
 * copy of the state GNN through the agent's loss — a copy, because the run shares the
 * fitted GNN with greedy:<model> and the other agents — and needs a state that is one
 * graph encoder.
 */
async function stateEncoder(ctx: AgentContext, env: Environment, fineTune: FineTune | undefined, pool: HistoryPool | undefined): Promise<WindowStateEncoder> {
  if (fineTune !== 'gnn') return new WindowStateEncoder(ctx.engine, await stateTablesOf(ctx, env), env.historyLen, { fineTune: fineTune === true, pool });
  const name = singleEncoder(parseStateSpec(ctx.state));
  if (name === null) {
    throw new GnnrlError('input', `agent-options: fineTune 'gnn' trains the state GNN end to end, so --state must name one graph encoder (lightgcn, gcn, sage, gat), got '${ctx.state}'`, { arg: 'agent-options', field: 'fineTune' });
  }
  const model = await stateModel(ctx, env, name);
  if (!(model instanceof GraphEncoderModel)) throw new GnnrlError('input', `state: '${name}' is not a graph encoder model`, { arg: 'state' });
  const gnn = await model.trainableCopy();
  try {
    return new WindowStateEncoder(ctx.engine, await tablesFromModel(ctx.engine, model), env.historyLen, { pool, gnn });
  } catch (err) {
    gnn.dispose();
    throw err;
  }
}

/** Per run (its `model` function): the tables of each state spec, built once for every agent. */
const tableCache = new WeakMap<AgentContext['model'], Map<string, Promise<StateTables>>>();

/**
 * The state tables `ctx.state` names, as the agents' encoders are built from (before their
 * RMS scaling), built once per run and spec: pretrained files are read once, and `gnnrl rl`
 * saves exactly these for serving (models/state.ckpt). Do not modify the arrays.
 */
export function stateTablesOf(ctx: AgentContext, env: Environment): Promise<StateTables> {
  let m = tableCache.get(ctx.model);
  if (!m) tableCache.set(ctx.model, (m = new Map()));
  const key = `${ctx.state}\u0000${ctx.seed}\u0000${env.nUsers}x${env.nItems}`;
  let p = m.get(key);
  if (!p) {
    const built = stateTables(ctx, env);
    m.set(key, built);
    // A failed build is not cached: the next agent gets the same error afresh.
    built.catch(() => m.delete(key));
    p = built;
  }
  return p;
}

/**
 * The state's user and item vectors, as `ctx.state` names them (see state-spec.ts): a
 * state GNN's (fitted once per run), seeded random ones, pretrained vectors, or several
 * of these side by side.
 */
async function stateTables(ctx: AgentContext, env: Environment): Promise<StateTables> {
  // One part after another, never side by side: two GNN fits interleaving their engine
  // scopes across awaits would free each other's tensors (see Engine.scopeAsync).
  const parts: StateTables[] = [];
  for (const part of parseStateSpec(ctx.state)) {
    if (part.kind === 'random') parts.push(randomTables(env.nUsers, env.nItems, RANDOM_STATE_DIM, ctx.seed));
    else if (part.kind === 'encoder') parts.push(await tablesFromModel(ctx.engine, await stateModel(ctx, env, part.name)));
    else {
      const t = await tablesFromVectors(ctx.log, part);
      if (t.nUsers !== env.nUsers || t.nItems !== env.nItems) {
        throw new GnnrlError('input', `state: ${part.items} was matched to a log of ${t.nUsers} users × ${t.nItems} items, the environment ${env.name} has ${env.nUsers} × ${env.nItems}`, { arg: 'state', file: part.items });
      }
      parts.push(t);
    }
  }
  return concatTables(parts);
}

async function stateModel(ctx: AgentContext, env: Environment, name: string): Promise<RecommenderModel> {
  const entry = getModel(name);
  if (entry.kind !== 'encoder') throw new GnnrlError('input', `state: '${name}' is not a graph encoder; use one of lightgcn, gcn, sage, gat, random or vectors:<file>`, { arg: 'state' });
  const model = await ctx.model(entry.name);
  checkModelFits(model, env, `state ${entry.name}`);
  return model;
}

/** A model's users and items must be the environment's. */
export function checkModelFits(model: RecommenderModel, env: Environment, what: string): void {
  if (model.nItems !== env.nItems || model.nUsers !== env.nUsers) {
    throw new GnnrlError('input', `${what}: the model has ${model.nUsers} users × ${model.nItems} items, the environment ${env.name} ${env.nUsers} × ${env.nItems}`, { arg: 'model' });
  }
}

/** An agent's own `input` error about one of its options, re-said as an --agent-options error naming `<agent>.<option>`. */
function asOptionError(name: string, err: unknown): unknown {
  if (err instanceof GnnrlError && err.code === 'input') return new GnnrlError('input', `agent-options: ${name}.${err.details.arg ?? '?'}: ${err.message}`, { arg: 'agent-options', field: `${name}.${err.details.arg ?? ''}`, cause: err });
  return err;
}

/** The agents do not own their (frozen) encoder: dispose it with the agent. */
function withEncoder<A extends Agent>(agent: A, encoder: WindowStateEncoder): A {
  const dispose = agent.dispose.bind(agent);
  agent.dispose = () => {
    dispose();
    encoder.dispose();
  };
  return agent;
}
