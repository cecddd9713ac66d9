/**
 * The configuration of `gnnrl rl`: every option declared once (flag, config-file key,
 * default, validation), as for `gnnrl train`. Precedence: defaults, the `--config` file,
 * then flags. The resolved config is plain JSON, written to `<out>/config.json`; feeding it
 * back with `--config` repeats the run (the same metrics on the same backend).
 *
 * Everything that can be checked without running is checked here (agent names and
 * options, environment spec and options, model options, checkpoint paths), so a bad
 * option exits 2 before the output folder is created.
 */
import { existsSync } from 'node:fs';
import { UsageError, formatHelp, parseBool, parseChoice, parseInt32, parseList, parseString, readOptionsFile, resolveOptions, type OptionSpec } from './args.js';
import { GnnrlError } from '../errors.js';
import { getModel, parseModelList } from '../models/registry.js';
import type { SimulatorOptions } from '../rl/env/simulator.js';
import type { ReplayEnvOptions } from '../rl/env/replay.js';
import type { CalibrationOptions } from '../rl/env/fitted.js';
import { agentFamily } from '../rl/registry.js';
import { checkEnvOptions, formatRlEnvSpec, parseRlEnvSpec } from './rl-env.js';
import { WORLD_PRESETS, type WorldPreset } from '../data/synthetic.js';
import { AGENTS, checkAgentOptions, parseAgentList, resolveAgentName } from '../rl/registry.js';
import { BACKEND_CHOICES, type BackendChoice } from '../engine.js';
import { parseStateSpec } from '../rl/state/state-spec.js';

/** Per-model options of the GNN / greedy models the run fits (or loads). */
export interface RlModelOptions {
  /** Load this checkpoint (written by `gnnrl train`) instead of training on the log. */
  checkpoint?: string;
  epochs?: number;
  dim?: number;
}

/** The fully resolved configuration of an rl run (all JSON). */
export interface RlConfig {
  /** 'sim:tiny', 'sim:small', 'replay:<data>', 'fitted:<data>' */
  env: string;
  /** Canonical agent names, in the order run. */
  agent: string[];
  /** Where the state's vectors come from (rl/state/state-spec.ts): an encoder name, 'random', 'vectors:<file>', or parts joined by '+'. */
  state: string;
  /** Training steps per learning agent (each steps every episode slot once). */
  steps: number;
  /** Evaluation episodes per agent (rounded up to a multiple of the env's batch). */
  episodes: number;
  /** Evaluated points on each learning agent's curve (besides the final one). */
  curvePoints: number;
  /** Episodes per curve point (0 = --episodes). */
  curveEpisodes: number;
  /** A propensity log (.jsonl/.csv) the policy-gradient agents learn from instead of interacting; null = on-policy. */
  trainLog: string | null;
  /** Passes over `trainLog`. */
  logEpochs: number;
  seed: number;
  /**
   * Environment options, by kind (rl-env.ts): the simulator's (slateSize, horizon, fatigue,
   * drift, leave, …); replay's (unknown, reward, …, split, map, judge); fitted: the
   * simulator's, the calibration's (ctr, groups, …), split, map, encoder.
   */
  envOptions: SimulatorOptions & ReplayEnvOptions & CalibrationOptions & Record<string, unknown>;
  /** Per-agent options by canonical agent name. */
  agentOptions: Record<string, Record<string, unknown>>;
  /** Per-model options of the fitted models (state GNN and greedy:<model>). */
  modelOptions: Record<string, RlModelOptions>;
  backend: BackendChoice;
  out: string;
  quiet: boolean;
  json: boolean;
}

/** The demo: `npx gnnrl rl` (tiny world, so it finishes in well under 3 minutes on 2 CPU cores). */
const DEFAULTS: RlConfig = {
  env: 'sim:tiny',
  agent: ['dqn', 'double-dqn', 'random', 'popularity', 'greedy:lightgcn', 'oracle'],
  state: 'lightgcn',
  steps: 1200,
  episodes: 512,
  curvePoints: 4,
  curveEpisodes: 128,
  trainLog: null,
  logEpochs: 5,
  seed: 42,
  envOptions: {},
  agentOptions: {},
  modelOptions: {},
  backend: 'auto',
  out: 'run',
  quiet: false,
  json: false,
};

export function defaultRlConfig(): RlConfig {
  return structuredClone(DEFAULTS);
}

export { parseRlEnvSpec, formatRlEnvSpec, type EnvSpec } from './rl-env.js';

/** A simulator spec (`sim:<preset>`). */
export interface SimEnvSpec {
  kind: 'sim';
  preset: WorldPreset;
}

/**
 * `sim:<preset>` only, for commands that need the simulator's truth (gnnrl ope); a
 * replay: or fitted: spec is refused by name. `gnnrl rl` takes all three (parseRlEnvSpec).
 */
export function parseEnvSpec(raw: unknown, where = '--env'): SimEnvSpec {
  const e = parseRlEnvSpec(raw, where);
  if (e.kind !== 'sim') throw new UsageError(`${where}: ${formatRlEnvSpec(e)}: expected a simulator, sim:${Object.keys(WORLD_PRESETS).join(' | sim:')}`, where);
  return e;
}

export function formatEnvSpec(e: SimEnvSpec): string {
  return formatRlEnvSpec(e);
}

/** A JSON object from a flag (a string) or a config file (any value). */
function jsonObject(raw: unknown, where: string, example: string): Record<string, unknown> {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`${where}: expected a JSON object like ${example}, got invalid JSON (${(err as Error).message})`, where);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${where}: expected a JSON object like ${example}, got ${JSON.stringify(raw)}`, where);
  return v as Record<string, unknown>;
}

/** Re-raises a library `input` error as a usage error naming `where`. */
function asUsage<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof GnnrlError && !(err instanceof UsageError)) {
      const msg = err.message.replace(/^(--)?[\w-]+: /, '');
      throw new UsageError(`${where}: ${msg}`, where);
    }
    throw err;
  }
}

function parseEnvOptions(raw: unknown, where: string): RlConfig['envOptions'] {
  // Checked against the environment's kind in crossCheck (--env may come later).
  return jsonObject(raw, where, '{"slateSize":3,"horizon":20}') as RlConfig['envOptions'];
}

function parseAgentOptions(raw: unknown, where: string): Record<string, Record<string, unknown>> {
  const v = jsonObject(raw, where, '{"dqn":{"lr":0.001,"gamma":0.9}}');
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, opts] of Object.entries(v)) {
    const canonical = asUsage(where, () => resolveAgentName(name, where));
    asUsage(where, () => checkAgentOptions(canonical, opts, where));
    out[canonical] = { ...out[canonical], ...(opts as Record<string, unknown>) };
  }
  return out;
}

function parseRlModelOptions(raw: unknown, where: string): Record<string, RlModelOptions> {
  const v = jsonObject(raw, where, '{"lightgcn":{"epochs":20,"dim":32}}');
  const out: Record<string, RlModelOptions> = {};
  for (const [name, opts] of Object.entries(v)) {
    const canonical = asUsage(where, () => parseModelList([name], where))[0];
    if (!opts || typeof opts !== 'object' || Array.isArray(opts)) throw new UsageError(`${where}: ${name}: expected an object of options, got ${JSON.stringify(opts)}`, where);
    const o: RlModelOptions = {};
    for (const [key, value] of Object.entries(opts as Record<string, unknown>)) {
      const at = `${where}: ${canonical}.${key}`;
      if (key === 'checkpoint') o.checkpoint = parseString(value, at, 'a checkpoint file path');
      else if (key === 'epochs') o.epochs = parseInt32(value, at, 1);
      else if (key === 'dim') o.dim = parseInt32(value, at, 1, 4096);
      else throw new UsageError(`${where}: unknown option '${key}' for ${canonical}; known: checkpoint, epochs, dim`, where);
    }
    out[canonical] = { ...out[canonical], ...o };
  }
  return out;
}

type Spec = OptionSpec & { key: keyof RlConfig | 'config' | 'help' };

/** Every option of `gnnrl rl`, in help order. */
export const RL_OPTIONS: Spec[] = [
  {
    flag: 'env', key: 'env', value: 'SPEC', defaultText: DEFAULTS.env,
    help: 'environment: sim:tiny | sim:small | sim:medium | sim:large (the user simulator on that synthetic world), replay:<data> (log replay over a split of a --data log, e.g. replay:ml-100k:data/ml-100k) or fitted:<data> (the simulator fitted to that log through an encoder)',
    parse: (raw, where) => formatRlEnvSpec(parseRlEnvSpec(raw, where)),
  },
  {
    flag: 'agent', key: 'agent', value: 'LIST', defaultText: DEFAULTS.agent.join(','),
    help: `agents, comma-separated: ${AGENTS.filter((a) => !a.unavailable).map((a) => (a.name === 'greedy' ? 'greedy:<model>' : a.name)).join(', ')}`,
    parse: (raw, where) => asUsage(where, () => parseAgentList(parseList(raw, where), where)),
  },
  {
    flag: 'state', key: 'state', value: 'SPEC', defaultText: DEFAULTS.state,
    help: "where the state's user and item vectors come from: lightgcn | gcn | sage | gat (trained on the env's log, or --model-options checkpoint), random (no GNN), vectors:<file> (pretrained item vectors: .npy, .safetensors or .jsonl, matched by id; vectors:items=<file>,users=<file> for user vectors too), or several joined by + (lightgcn+vectors:llm.npy); the history window enters as the agents' pool option says (window | mean | attention)",
    parse: (raw, where) => {
      const parts = asUsage(where, () => parseStateSpec(parseString(raw, where), where));
      return parts
        .map((p) => {
          if (p.kind === 'random') return 'random';
          if (p.kind === 'vectors') return p.users ? `vectors:items=${p.items},users=${p.users}` : `vectors:${p.items}`;
          const name = asUsage(where, () => parseModelList([p.name.toLowerCase()], where))[0];
          if (getModel(name).kind !== 'encoder') throw new UsageError(`${where}: '${p.name}' is not a graph encoder; expected lightgcn, gcn, sage, gat, random or vectors:<file>`, where);
          return name;
        })
        .join('+');
    },
  },
  {
    flag: 'steps', key: 'steps', value: 'N', defaultText: String(DEFAULTS.steps),
    help: 'training steps per learning agent (each steps every episode slot of the env once)',
    parse: (raw, where) => parseInt32(raw, where, 0),
  },
  {
    flag: 'episodes', key: 'episodes', value: 'N', defaultText: String(DEFAULTS.episodes),
    help: 'evaluation episodes per agent (greedy, no exploration; rounded up to a multiple of the env batch)',
    parse: (raw, where) => parseInt32(raw, where, 1),
  },
  {
    flag: 'curve-points', key: 'curvePoints', value: 'N', defaultText: String(DEFAULTS.curvePoints),
    help: "evaluations during training for rewards.svg (at step 0 and every steps/N), besides the final one; 0 = final only",
    parse: (raw, where) => parseInt32(raw, where, 0, 1000),
  },
  {
    flag: 'curve-episodes', key: 'curveEpisodes', value: 'N', defaultText: String(DEFAULTS.curveEpisodes),
    help: 'episodes per curve evaluation; 0 = --episodes',
    parse: (raw, where) => parseInt32(raw, where, 0),
  },
  {
    flag: 'train-log', key: 'trainLog', value: 'FILE', defaultText: '',
    help: "a propensity log (.jsonl or .csv, e.g. gnnrl ope's log.jsonl) that reinforce and reinforce-topk learn from off-policy instead of interacting (the top-K correction reweights it); the log's users and items must be the environment's",
    parse: (raw, where) => {
      if (raw === null) return null;
      const s = parseString(raw, where, 'a .jsonl or .csv log file');
      if (!/\.(jsonl|ndjson|json|csv)$/i.test(s)) throw new UsageError(`${where}: ${s}: expected a .jsonl or .csv propensity log`, where);
      return s;
    },
  },
  { flag: 'log-epochs', key: 'logEpochs', value: 'N', defaultText: String(DEFAULTS.logEpochs), help: 'passes over --train-log', parse: (raw, where) => parseInt32(raw, where, 1, 10_000) },
  {
    flag: 'seed', key: 'seed', value: 'N', defaultText: String(DEFAULTS.seed),
    help: 'seed of the world, the models, the agents, the training and the evaluation episodes',
    parse: (raw, where) => parseInt32(raw, where, 0, 2 ** 30),
  },
  {
    flag: 'env-options', key: 'envOptions', value: 'JSON', defaultText: '',
    help: 'environment options, e.g. \'{"slateSize":3,"horizon":20,"fatigue":0.6,"drift":0.05,"leave":0.05}\'; replay: unknown (zero|skip|model), reward, likeThreshold, split, map, judge; fitted: ctr, groups, maxUsers, split, map, encoder',
    parse: (raw, where) => parseEnvOptions(raw, where),
  },
  {
    flag: 'agent-options', key: 'agentOptions', value: 'JSON', defaultText: '',
    help: 'per-agent options, e.g. \'{"dqn":{"lr":0.001,"gamma":0.9,"nStep":3,"prioritized":true}}\'',
    parse: (raw, where) => parseAgentOptions(raw, where),
  },
  {
    flag: 'model-options', key: 'modelOptions', value: 'JSON', defaultText: '',
    help: 'options of the fitted models (state GNN, greedy:<model>): \'{"lightgcn":{"epochs":20,"dim":32}}\' or \'{"lightgcn":{"checkpoint":"run/lightgcn/best.ckpt"}}\'',
    parse: (raw, where) => parseRlModelOptions(raw, where),
  },
  {
    flag: 'backend', key: 'backend', value: 'NAME', defaultText: DEFAULTS.backend,
    help: 'auto | webgpu | native | cpu (GNNRL_BACKEND overrides)',
    parse: (raw, where) => parseChoice(raw, where, BACKEND_CHOICES),
  },
  {
    flag: 'out', key: 'out', value: 'DIR', defaultText: `${DEFAULTS.out}/`,
    help: 'output folder (created): config, manifest, metrics, episodes.csv, rewards.svg, <agent>/agent.ckpt',
    parse: (raw, where) => parseString(raw, where, 'a folder path'),
  },
  {
    flag: 'config', key: 'config', value: 'FILE', defaultText: '', flagOnly: true,
    help: 'JSON file with any of these options as keys (camelCase: envOptions, agentOptions); flags override it',
    parse: (raw, where) => parseString(raw, where, 'a file path'),
  },
  { flag: 'quiet', key: 'quiet', boolean: true, defaultText: 'off', help: 'no progress output on stderr', parse: parseBool },
  { flag: 'json', key: 'json', boolean: true, defaultText: 'off', help: 'print the final metrics as JSON instead of the table', parse: parseBool },
  { flag: 'help', key: 'help', boolean: true, defaultText: '', flagOnly: true, help: 'this text', parse: parseBool },
];

/** Reads a JSON config file's options (unknown keys and bad values are usage errors naming the key and file). */
export function readRlConfigFile(path: string, read?: (p: string) => string): Partial<RlConfig> {
  return readOptionsFile(RL_OPTIONS, path, read) as Partial<RlConfig>;
}

export type ParsedRlArgs = { help: true } | { help: false; config: RlConfig; configFile: string | null };

/** Resolves argv (after `rl`) into a config: defaults, the `--config` file, then flags. Throws `UsageError` naming the flag or key. */
export function parseRlArgs(argv: readonly string[], read?: (p: string) => string): ParsedRlArgs {
  const r = resolveOptions(RL_OPTIONS, argv, defaultRlConfig(), read);
  if (r.help) return { help: true };
  const c = r.config as unknown as RlConfig;
  crossCheck(c);
  return { help: false, config: c, configFile: r.configFile };
}

/** Checks between options (each was valid on its own). */
/** Agents that can learn from a propensity log (`--train-log`). */
export const LOG_LEARNERS: readonly string[] = ['reinforce', 'reinforce-topk'];

function crossCheck(c: RlConfig): void {
  if (c.trainLog) {
    if (!existsSync(c.trainLog)) throw new UsageError(`--train-log: file not found: ${c.trainLog}`, '--train-log');
    if (!c.agent.some((a) => LOG_LEARNERS.includes(a))) throw new UsageError(`--train-log: only ${LOG_LEARNERS.join(' and ')} learn from a log, and --agent lists neither (${c.agent.join(', ')})`, '--train-log');
  }
  for (const name of Object.keys(c.agentOptions)) {
    if (!c.agent.includes(name)) throw new UsageError(`--agent-options: options for '${name}', which is not among the agents run (${c.agent.join(', ')})`, '--agent-options');
  }
  for (const [name, o] of Object.entries(c.modelOptions)) {
    if (o.checkpoint && !existsSync(o.checkpoint)) throw new UsageError(`--model-options: ${name}.checkpoint: file not found: ${o.checkpoint}`, '--model-options');
  }
  const spec = parseRlEnvSpec(c.env);
  checkEnvOptions(spec, c.envOptions, '--env-options');
  if (spec.kind === 'replay') {
    for (const name of c.agent) {
      const fam = agentFamily(name).name;
      if (fam === 'qlearning' || fam === 'sarsa' || fam === 'oracle') {
        throw new UsageError(`--agent: ${name} needs a simulator (${fam === 'oracle' ? 'an oracle knows the truth' : 'item groups to discretise the state'}); ${c.env} is log replay: use sim:<world> or fitted:<data>`, '--agent');
      }
      // Skipped steps break n-step returns (DQN refuses them mid-run): say so before running.
      const nStep = (c.agentOptions[name]?.nStep as number | undefined) ?? 3;
      if ((fam === 'dqn' || fam === 'double-dqn') && c.envOptions.unknown === 'skip' && nStep > 1) {
        throw new UsageError(`--agent-options: ${name}.nStep: ${nStep}-step returns need every step judged, and unknown: skip skips misses; set {"${name}":{"nStep":1}} or unknown: zero | model`, '--agent-options');
      }
    }
  }
}

/** `gnnrl rl --help`. */
export function rlHelp(): string {
  const agents = AGENTS.map((a) => `  ${(a.name === 'greedy' ? 'greedy:<model>' : a.name).padEnd(16)}${a.summary}${a.unavailable ? ' (not available yet)' : ''}`).join('\n');
  return formatHelp(
    'usage: gnnrl rl [options]\n\nTrains each learning agent in the environment, evaluates every agent (learned and fixed)\nover the same evaluation episodes, and writes metrics, episodes, reward curves and\ncheckpoints to the output folder. With no options: the demo on sim:tiny.',
    RL_OPTIONS,
    `agents:\n${agents}\n\nexit codes: 0 done, 1 failed while running, 2 bad options, 130 interrupted (Ctrl-C or SIGTERM; what exists is still written)\n`,
  );
}
