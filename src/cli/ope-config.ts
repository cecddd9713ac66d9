/**
 * The configuration of `gnnrl ope`: every option declared once (flag, config-file key,
 * default, validation), layered defaults → `--config` → flags as for `gnnrl rl`. The
 * resolved config is plain JSON, written to `<out>/config.json`.
 *
 * `--log` is either a file written earlier (a propensity log, .jsonl or .csv; its users and
 * items index the world of `--env`) or a simulator spec (`sim:tiny`, …): then the softmax
 * logging policy (`--logger`, `--temperature`, `--epsilon`) acts `--steps` times in the
 * simulator and the log is written to `<out>/log.jsonl`.
 */
import { existsSync } from 'node:fs';
import { GnnrlError } from '../errors.js';
import { WORLD_PRESETS, type WorldPreset } from '../data/synthetic.js';
import { parseModelList } from '../models/registry.js';
import { simulatorConfig, type SimulatorOptions } from '../rl/env/simulator.js';
import { AGENTS, agentFamily, resolveAgentName } from '../rl/registry.js';
import { UsageError, formatHelp, parseBool, parseChoice, parseInt32, parseList, parseNumber, parseString, resolveOptions, type OptionSpec } from './args.js';
import { formatEnvSpec, parseEnvSpec } from './rl-config.js';
import { BACKEND_CHOICES, type BackendChoice } from '../engine.js';

/** One target policy: a registry name (fixed policies) or an agent checkpoint written by `gnnrl rl`. */
export type PolicySpec = { kind: 'name'; name: string } | { kind: 'checkpoint'; path: string };

export interface OpeConfig {
  /** A log file (.jsonl / .csv) or a simulator spec (sim:tiny, …). */
  log: string;
  /** The world the policies act in and are evaluated on (for a sim log: the log's own). */
  env: string;
  /** Target policies: registry names or checkpoint paths. */
  policy: string[];
  /** Scorer of the softmax logging policy (sim logs): 'popularity' or a registry model. */
  logger: string;
  temperature: number;
  epsilon: number;
  /** Logging steps (sim logs; each logs the simulator's batch of events). */
  steps: number;
  /** 'logged' (the log's propensities) or 'estimate' (a behaviour model's). */
  propensity: 'logged' | 'estimate';
  /** The behaviour model's context scores with 'estimate': 'popularity' (item intercepts only) or a registry model's scores. */
  behaviour: string;
  /** Direct model of doubly robust: a registry model fitted on the world's log, or 'none'. */
  direct: string;
  /** On-policy evaluation episodes of each target in the simulator. */
  episodes: number;
  replicates: number;
  seed: number;
  envOptions: SimulatorOptions;
  /** Training of the models the run fits (state GNN, greedy:<model>, logger, direct). */
  modelEpochs: number;
  modelDim: number;
  backend: BackendChoice;
  out: string;
  quiet: boolean;
  json: boolean;
}

const DEFAULTS: OpeConfig = {
  log: 'sim:tiny',
  env: 'sim:tiny',
  policy: ['greedy:lightgcn', 'popularity', 'oracle'],
  logger: 'popularity',
  temperature: 0.5,
  epsilon: 0.1,
  steps: 200,
  propensity: 'logged',
  behaviour: 'popularity',
  direct: 'lightgcn',
  episodes: 256,
  replicates: 1000,
  seed: 42,
  envOptions: {},
  modelEpochs: 20,
  modelDim: 32,
  backend: 'auto',
  out: 'ope-run',
  quiet: false,
  json: false,
};

export function defaultOpeConfig(): OpeConfig {
  return structuredClone(DEFAULTS);
}

/** The synthetic world of a `sim:<preset>` spec (ope's policies act in the simulator only). */
export function simPreset(env: string, where = '--env'): WorldPreset {
  const spec = parseEnvSpec(env, where);
  if (spec.kind !== 'sim' || !('preset' in spec)) throw new UsageError(`${where}: ${env}: gnnrl ope runs its policies in the simulator; expected sim:tiny | sim:small | sim:medium | sim:large`, where);
  return spec.preset;
}

/** True when `--log` names a simulator rather than a file. */
export function isSimLog(log: string): boolean {
  return /^(sim|simulator)(:|$)/i.test(log);
}

/** A policy entry: a path that exists, or ends in .ckpt, is a checkpoint; anything else a registry name. */
export function parsePolicySpec(raw: string, where = '--policy'): PolicySpec {
  if (raw.endsWith('.ckpt') || existsSync(raw)) {
    if (!existsSync(raw)) throw new UsageError(`${where}: checkpoint not found: ${raw}`, where);
    return { kind: 'checkpoint', path: raw };
  }
  let name: string;
  try {
    name = resolveAgentName(raw, where);
  } catch (err) {
    throw new UsageError((err as Error).message, where);
  }
  const info = agentFamily(name);
  if (info.unavailable) throw new UsageError(`${where}: ${name}: ${info.unavailable}`, where);
  if (info.learns) throw new UsageError(`${where}: ${name} learns, and by name it would be untrained; pass its checkpoint instead (gnnrl rl writes <out>/${name}/agent.ckpt)`, where);
  return { kind: 'name', name };
}

function modelName(raw: unknown, where: string, extra: string[]): string {
  const s = parseString(raw, where).toLowerCase();
  if (extra.includes(s)) return s;
  try {
    return parseModelList([s], where)[0];
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message.replace(/^[^:]*: /, '')} (or ${extra.join(', ')})`, where);
  }
}

type Spec = OptionSpec & { key: keyof OpeConfig | 'config' | 'help' };

export const OPE_OPTIONS: Spec[] = [
  {
    flag: 'log', key: 'log', value: 'FILE|SPEC', defaultText: DEFAULTS.log,
    help: 'a propensity log (.jsonl or .csv: user, step, history, item or slate, position, reward, propensity, time) or a simulator spec sim:tiny | sim:small | … to log in',
    parse: (raw, where) => {
      const s = parseString(raw, where, 'a log file or a simulator spec');
      if (isSimLog(s)) {
        try {
          simPreset(s, where);
          return formatEnvSpec(parseEnvSpec(s, where));
        } catch (err) {
          throw new UsageError((err as Error).message, where);
        }
      }
      if (!/\.(jsonl|ndjson|json|csv)$/i.test(s)) throw new UsageError(`${where}: ${s}: expected a .jsonl or .csv log, or a simulator spec such as sim:tiny`, where);
      return s;
    },
  },
  {
    flag: 'env', key: 'env', value: 'SPEC', defaultText: DEFAULTS.env,
    help: "the simulator world of a log file's users and items, where the policies act (a sim --log sets it)",
    parse: (raw, where) => {
      const s = parseString(raw, where, 'a simulator spec such as sim:tiny');
      try {
        simPreset(s, where);
        return formatEnvSpec(parseEnvSpec(s, where));
      } catch (err) {
        throw new UsageError((err as Error).message, where);
      }
    },
  },
  {
    flag: 'policy', key: 'policy', value: 'LIST', defaultText: DEFAULTS.policy.join(','),
    help: `target policies, comma-separated: fixed agents (${AGENTS.filter((a) => !a.learns && !a.unavailable).map((a) => (a.name === 'greedy' ? 'greedy:<model>' : a.name)).join(', ')}) or agent checkpoints (<rl out>/<agent>/agent.ckpt)`,
    parse: (raw, where) => {
      const list = parseList(raw, where);
      for (const p of list) parsePolicySpec(p, where);
      return list;
    },
  },
  {
    flag: 'logger', key: 'logger', value: 'SCORER', defaultText: DEFAULTS.logger,
    help: 'scores the softmax logging policy samples from (sim logs): popularity, or a model fitted on the log (lightgcn, svd, …)',
    parse: (raw, where) => modelName(raw, where, ['popularity']),
  },
  { flag: 'temperature', key: 'temperature', value: 'T', defaultText: String(DEFAULTS.temperature), help: "the logging softmax's temperature (lower: a more skewed log)", parse: (raw, where) => parseNumber(raw, where, 1e-6, 1e6) },
  { flag: 'epsilon', key: 'epsilon', value: 'E', defaultText: String(DEFAULTS.epsilon), help: 'uniform share of the logging policy (> 0 keeps every item possible)', parse: (raw, where) => parseNumber(raw, where, 0, 1) },
  { flag: 'steps', key: 'steps', value: 'N', defaultText: String(DEFAULTS.steps), help: 'logging steps in the simulator (each logs one event per session slot)', parse: (raw, where) => parseInt32(raw, where, 1) },
  {
    flag: 'propensity', key: 'propensity', value: 'MODE', defaultText: DEFAULTS.propensity,
    help: "logged (the log's own propensities) | estimate (fit a behaviour model to the logged actions)",
    parse: (raw, where) => parseChoice(raw, where, ['logged', 'estimate'] as const),
  },
  { flag: 'behaviour', key: 'behaviour', value: 'SCORER', defaultText: DEFAULTS.behaviour, help: "with --propensity estimate: popularity (a logit over item intercepts) or a model fitted on the world's log whose scores enter the logit with a fitted weight (a softmax over its scores)", parse: (raw, where) => modelName(raw, where, ['popularity']) },
  { flag: 'direct', key: 'direct', value: 'MODEL', defaultText: DEFAULTS.direct, help: "doubly robust's direct model: a registry model fitted on the world's log, calibrated to reward on the logged events; none skips DR", parse: (raw, where) => modelName(raw, where, ['none']) },
  { flag: 'episodes', key: 'episodes', value: 'N', defaultText: String(DEFAULTS.episodes), help: "episodes of each target's on-policy run in the simulator (its true value)", parse: (raw, where) => parseInt32(raw, where, 1) },
  { flag: 'replicates', key: 'replicates', value: 'N', defaultText: String(DEFAULTS.replicates), help: 'bootstrap resamples of the 95% intervals', parse: (raw, where) => parseInt32(raw, where, 10, 1_000_000) },
  { flag: 'seed', key: 'seed', value: 'N', defaultText: String(DEFAULTS.seed), help: 'seed of the world, the models, the logging policy, the log and the evaluation', parse: (raw, where) => parseInt32(raw, where, 0, 2 ** 30) },
  {
    flag: 'env-options', key: 'envOptions', value: 'JSON', defaultText: '',
    help: 'simulator options, e.g. \'{"slateSize":1,"horizon":20}\'',
    parse: (raw, where) => {
      let v = raw;
      if (typeof raw === 'string') {
        try {
          v = JSON.parse(raw);
        } catch (err) {
          throw new UsageError(`${where}: expected a JSON object, got invalid JSON (${(err as Error).message})`, where);
        }
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${where}: expected a JSON object like {"horizon":20}, got ${JSON.stringify(raw)}`, where);
      try {
        simulatorConfig(v as SimulatorOptions, 'env-options');
      } catch (err) {
        if (err instanceof GnnrlError) throw new UsageError(`${where}: ${err.message}`, where);
        throw err;
      }
      return v as SimulatorOptions;
    },
  },
  { flag: 'model-epochs', key: 'modelEpochs', value: 'N', defaultText: String(DEFAULTS.modelEpochs), help: 'epochs of the models fitted on the world log', parse: (raw, where) => parseInt32(raw, where, 1) },
  { flag: 'model-dim', key: 'modelDim', value: 'N', defaultText: String(DEFAULTS.modelDim), help: 'dimension of the models fitted on the world log', parse: (raw, where) => parseInt32(raw, where, 1, 4096) },
  { flag: 'backend', key: 'backend', value: 'NAME', defaultText: DEFAULTS.backend, help: 'auto | webgpu | native | cpu (GNNRL_BACKEND overrides)', parse: (raw, where) => parseChoice(raw, where, BACKEND_CHOICES) },
  { flag: 'out', key: 'out', value: 'DIR', defaultText: `${DEFAULTS.out}/`, help: 'output folder (created): config.json, manifest.json, metrics.json, log.jsonl (sim logs)', parse: (raw, where) => parseString(raw, where, 'a folder path') },
  { flag: 'config', key: 'config', value: 'FILE', defaultText: '', flagOnly: true, help: 'JSON file with any of these options as keys (camelCase); flags override it', parse: (raw, where) => parseString(raw, where, 'a file path') },
  { flag: 'quiet', key: 'quiet', boolean: true, defaultText: 'off', help: 'no progress output on stderr', parse: parseBool },
  { flag: 'json', key: 'json', boolean: true, defaultText: 'off', help: 'print the results as JSON instead of the table', parse: parseBool },
  { flag: 'help', key: 'help', boolean: true, defaultText: '', flagOnly: true, help: 'this text', parse: parseBool },
];

export type ParsedOpeArgs = { help: true } | { help: false; config: OpeConfig; configFile: string | null };

export function parseOpeArgs(argv: readonly string[], read?: (p: string) => string): ParsedOpeArgs {
  const r = resolveOptions(OPE_OPTIONS, argv, defaultOpeConfig(), read);
  if (r.help) return { help: true };
  const c = r.config as unknown as OpeConfig;
  if (isSimLog(c.log)) c.env = c.log;
  else if (!existsSync(c.log)) throw new UsageError(`--log: file not found: ${c.log}`, '--log');
  const env = simulatorConfig(c.envOptions, 'env-options');
  const preset = WORLD_PRESETS[simPreset(c.env)];
  if (env.slateSize > preset.nItems - env.historyLen) throw new UsageError(`--env-options: slateSize ${env.slateSize} leaves too few items outside a ${env.historyLen}-item history window in ${c.env}`, '--env-options');
  if (!isSimLog(c.log)) {
    for (const p of c.policy) if (parsePolicySpec(p).kind === 'name' && resolveAgentName(p) === 'oracle') throw new UsageError("--policy: oracle: the myopic oracle needs the simulator's hidden state at each logged event, which a log file does not hold; log in the simulator (--log sim:…) to evaluate it", '--policy');
  }
  return { help: false, config: c, configFile: r.configFile };
}

export function opeHelp(): string {
  return formatHelp(
    'usage: gnnrl ope --log <file | sim:preset> --policy <names or checkpoints> [options]\n\nEstimates each target policy\'s value from a propensity log with IPS, SNIPS, doubly robust\n(and the pseudo-inverse for slate logs with per-position propensities), each with a 95%\nbootstrap interval and its effective sample size, beside the true value: on a simulator\nlog the expected reward of the target\'s action in every logged state, and for every log\nthe target\'s on-policy run in the simulator.',
    OPE_OPTIONS,
    'exit codes: 0 done, 1 failed while running, 2 bad options (nothing written)\n',
  );
}
