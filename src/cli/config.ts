/**
 * The configuration of `gnnrl train`: every option, declared once with its flag, its key
 * in a JSON config file, its default and its validation. Precedence: defaults, then the
 * config file (`--config run.json`), then flags. The resolved config is plain JSON and
 * written to `<out>/config.json`; feeding that file back with `--config` reproduces the run.
 */
import {
  UsageError,
  fail,
  formatHelp,
  parseBool,
  parseChoice,
  parseInt32,
  parseList,
  parseNumber,
  parseString,
  readOptionsFile,
  resolveOptions,
  type OptionSpec,
} from './args.js';
import { formatColumnSpec, formatDataSpec, formatSplitSpec, parseColumnSpec, parseDataSpec, parseSplitSpec, type ColumnSpec } from './data-spec.js';
import { DEFAULT_MODELS, getModel, parseModelList } from '../models/registry.js';
import { ENCODER_MAX_DIM } from '../models/encoders/base.js';
import { GnnrlError } from '../errors.js';
import { BACKEND_CHOICES, type BackendChoice } from '../engine.js';

/** The fully resolved configuration of a train run (all JSON). */
export interface TrainConfig {
  /** Canonical data spec: 'synthetic:small', 'ml-100k:data/ml-100k', 'csv:log.csv', … */
  data: string;
  /** Column map for csv/tsv/jsonl data ('user=…,item=…,rating=…,ts=…'); null otherwise. */
  map: string | null;
  /** Canonical model names, in the order trained. */
  model: string[];
  /** 'user-time:0.8', 'loo', 'random:0.8' or 'time:0.8'. */
  split: string;
  /** A predefined test part (a data spec read like `data`, with the same `map`); `split` is then unused. */
  test: string | null;
  /** 'model.key=v1,v2,…': trains `model` once per value of its option `key` (sweep.csv, sweep.svg). */
  sweep: string | null;
  /** Share of train carved out for validation (0 = none: no early stopping, last epoch kept). */
  val: number;
  /** Epochs per iterative model; null = each model's default. */
  epochs: number | null;
  /** Epochs without improvement on validation before stopping (0 = never). */
  patience: number;
  /** Validation metric that picks the best epoch; null = each model's default (rmse for rating models, ndcg@K otherwise). */
  monitor: (typeof MONITORS)[number] | null;
  /** Cut-offs of the ranking metrics, ascending. */
  k: number[];
  /** Embedding / factor size; null = each model's default. */
  dim: number | null;
  /** Learning rate; null = each model's default. */
  lr: number | null;
  /** Batch size; null = each model's default. */
  batchSize: number | null;
  seed: number;
  backend: BackendChoice;
  /** Output folder. */
  out: string;
  /** Bootstrap confidence intervals of the final metrics. */
  ci: boolean;
  /** Validation scores at most this many users per epoch (0 = all). */
  valUsers: number;
  /** MovieLens side features (users: age, gender, occupation; items: genres, year) fed to the graph encoders. */
  features: boolean;
  /** Model-specific constructor options by model name, passed through as given. */
  modelOptions: Record<string, Record<string, unknown>>;
  /** No progress output. */
  quiet: boolean;
  /** Print the final metrics as JSON on stdout instead of the table. */
  json: boolean;
}

const DEFAULTS: TrainConfig = {
  data: 'synthetic:small',
  map: null,
  model: [...DEFAULT_MODELS],
  split: 'user-time:0.8',
  test: null,
  sweep: null,
  val: 0.1,
  epochs: null,
  patience: 5,
  monitor: null,
  k: [10, 20],
  dim: null,
  lr: null,
  batchSize: null,
  seed: 42,
  backend: 'auto',
  out: 'run',
  ci: false,
  valUsers: 2000,
  features: false,
  modelOptions: {},
  quiet: false,
  json: false,
};

/** A fresh copy of the defaults. */
export function defaultTrainConfig(): TrainConfig {
  return structuredClone(DEFAULTS);
}

/** `null` (JSON) or the word 'auto'/'default' means "the model's own default". */
function orModelDefault<T>(parse: (raw: unknown, where: string) => T): (raw: unknown, where: string) => T | null {
  return (raw, where) => (raw === null || (typeof raw === 'string' && /^(auto|default)$/i.test(raw.trim())) ? null : parse(raw, where));
}

function rethrowAsUsage<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof GnnrlError && !(err instanceof UsageError)) {
      throw new UsageError(err.message.startsWith(`${where}: `) ? err.message : `${where}: ${err.message}`, where);
    }
    throw err;
  }
}

/** What `fit` can monitor: the models validate ranking at K = 20 (eval/validate.ts). */
const MONITORS = ['rmse', 'mae', 'loss', 'recall@20', 'ndcg@20'] as const;

type Spec = OptionSpec & { key: keyof TrainConfig | 'config' | 'help' };

/** Every option of `gnnrl train`, in help order. */
export const TRAIN_OPTIONS: Spec[] = [
  {
    flag: 'data', key: 'data', value: 'SPEC', defaultText: DEFAULTS.data,
    help: 'ml-100k:DIR | ml-1m:DIR | ml-latest:DIR | csv:FILE | tsv:FILE | jsonl:FILE | synthetic[:tiny|small|medium|large]',
    parse: (raw, where) => formatDataSpec(parseDataSpec(raw, where)),
  },
  {
    flag: 'map', key: 'map', value: 'COLS', defaultText: '',
    help: 'columns of csv/tsv/jsonl data: user=…,item=…[,rating=…][,ts=…] (names or 0-based indices)',
    parse: (raw, where) => (raw === null ? null : formatColumnSpec(parseColumnSpec(raw, where))),
  },
  {
    flag: 'model', key: 'model', value: 'LIST', defaultText: DEFAULTS.model.join(','),
    help: "models to train, comma-separated, or 'all'",
    parse: (raw, where) => rethrowAsUsage(where, () => parseModelList(parseList(raw, where), where)),
  },
  {
    flag: 'split', key: 'split', value: 'SPEC', defaultText: DEFAULTS.split,
    help: 'train/test split: user-time:RATIO (per user, by time) | loo (last event per user) | random:RATIO | time:RATIO (global)',
    parse: (raw, where) => formatSplitSpec(parseSplitSpec(raw, where)),
  },
  {
    flag: 'test', key: 'test', value: 'SPEC', defaultText: '',
    help: 'a predefined test part (published train/test pairs), read like --data with the same --map; replaces --split. Test events naming users or items that --data lacks are dropped and counted',
    parse: (raw, where) => {
      if (raw === null) return null;
      const d = parseDataSpec(raw, where);
      if (d.kind === 'synthetic') throw new UsageError(`${where}: a predefined test part is a file or folder, not ${formatDataSpec(d)} (synthetic data is split with --split)`, where);
      return formatDataSpec(d);
    },
  },
  {
    flag: 'sweep', key: 'sweep', value: 'MODEL.KEY=V1,V2,…', defaultText: '',
    help: "trains MODEL once per value of its option KEY (e.g. ddpg-la.gamma=0.1,0.5,0.9 or svd.factors=10,50,100); one row per value in sweep.csv, the metrics against the value in sweep.svg, each run in <out>/KEY=VALUE/",
    parse: (raw, where) => (raw === null ? null : formatSweepSpec(parseSweepSpec(raw, where))),
  },
  {
    flag: 'val', key: 'val', value: 'SHARE', defaultText: String(DEFAULTS.val),
    help: "validation share carved from train the same way as the test (loo: each user's last training event), for early stopping; 0 = none",
    parse: (raw, where) => {
      const v = parseNumber(raw, where, 0, 1, 'a number in [0, 1)');
      if (v >= 1) fail(where, 'a number in [0, 1)', raw);
      return v;
    },
  },
  {
    flag: 'epochs', key: 'epochs', value: 'N', defaultText: "each model's own",
    help: 'epochs per iterative model',
    parse: orModelDefault((raw, where) => parseInt32(raw, where, 1)),
  },
  {
    flag: 'patience', key: 'patience', value: 'N', defaultText: String(DEFAULTS.patience),
    help: 'epochs without validation improvement before stopping; 0 = never stop early',
    parse: (raw, where) => parseInt32(raw, where, 0),
  },
  {
    flag: 'monitor', key: 'monitor', value: 'METRIC', defaultText: 'rmse for rating models, ndcg@20 otherwise',
    help: 'validation metric that picks the best epoch: rmse, mae, loss, recall@20 or ndcg@20 (validation ranks at K = 20)',
    parse: orModelDefault((raw, where) => parseChoice(raw, where, MONITORS)),
  },
  {
    flag: 'k', key: 'k', value: 'LIST', defaultText: DEFAULTS.k.join(','),
    help: 'cut-offs of the ranking metrics (P@K, R@K, NDCG@K, …)',
    parse: (raw, where) => {
      const ks = parseList(raw, where).map((s) => parseInt32(s, where, 1, 1000));
      return [...new Set(ks)].sort((a, b) => a - b);
    },
  },
  {
    flag: 'dim', key: 'dim', value: 'N', defaultText: "each model's own: 64 for the graph encoders, SVD 100, SVD++ 20, NMF 15",
    help: 'embedding / factor size',
    parse: orModelDefault((raw, where) => parseInt32(raw, where, 1, 4096)),
  },
  {
    flag: 'lr', key: 'lr', value: 'RATE', defaultText: "each model's own",
    help: 'learning rate of every model that has one (SVD, SVD++, the graph encoders)',
    parse: orModelDefault((raw, where) => {
      const v = parseNumber(raw, where, 0, 10, 'a number in (0, 10]');
      if (v <= 0) fail(where, 'a number in (0, 10]', raw);
      return v;
    }),
  },
  {
    flag: 'batch-size', key: 'batchSize', value: 'N', defaultText: "each model's own",
    help: 'examples per optimiser step',
    parse: orModelDefault((raw, where) => parseInt32(raw, where, 1)),
  },
  {
    flag: 'seed', key: 'seed', value: 'N', defaultText: String(DEFAULTS.seed),
    help: 'seed of the synthetic data, random splits, initialisation and sampling',
    parse: (raw, where) => parseInt32(raw, where, 0, 2 ** 31 - 1),
  },
  {
    flag: 'backend', key: 'backend', value: 'NAME', defaultText: DEFAULTS.backend,
    help: 'auto | webgpu | native | cpu (GNNRL_BACKEND overrides)',
    parse: (raw, where) => parseChoice(raw, where, BACKEND_CHOICES),
  },
  {
    flag: 'out', key: 'out', value: 'DIR', defaultText: `${DEFAULTS.out}/`,
    help: 'output folder (created): config, manifest, metrics, epochs.csv, curves.svg, <model>/best.ckpt',
    parse: (raw, where) => parseString(raw, where, 'a folder path'),
  },
  {
    flag: 'config', key: 'config', value: 'FILE', defaultText: '', flagOnly: true,
    help: 'JSON file with any of these options as keys (camelCase: batchSize, valUsers, modelOptions); flags override it',
    parse: (raw, where) => parseString(raw, where, 'a file path'),
  },
  {
    flag: 'ci', key: 'ci', boolean: true, defaultText: 'off',
    help: 'bootstrap 95% confidence intervals of the final metrics',
    parse: parseBool,
  },
  {
    flag: 'val-users', key: 'valUsers', value: 'N', defaultText: String(DEFAULTS.valUsers),
    help: 'per-epoch validation ranks at most N users (a fixed seeded sample); 0 = all',
    parse: (raw, where) => parseInt32(raw, where, 0),
  },
  {
    flag: 'features', key: 'features', boolean: true, defaultText: 'off',
    help: "MovieLens data: build user features (age, gender, occupation) and item features (genres, year) from the side files and feed them to the graph encoders with their id embeddings (input: 'both')",
    parse: parseBool,
  },
  {
    flag: 'model-options', key: 'modelOptions', value: 'JSON', defaultText: '',
    help: 'model-specific constructor options, e.g. \'{"lightgcn":{"layers":2}}\'',
    parse: (raw, where) => parseModelOptions(raw, where),
  },
  { flag: 'quiet', key: 'quiet', boolean: true, defaultText: 'off', help: 'no progress output on stderr', parse: parseBool },
  { flag: 'json', key: 'json', boolean: true, defaultText: 'off', help: 'print the final metrics as JSON instead of the table', parse: parseBool },
  { flag: 'help', key: 'help', boolean: true, defaultText: '', flagOnly: true, help: 'this text', parse: parseBool },
];

function parseModelOptions(raw: unknown, where: string): Record<string, Record<string, unknown>> {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch (err) {
      throw new UsageError(`${where}: expected a JSON object like {"svd":{"reg":0.05}}, got invalid JSON (${(err as Error).message})`, where);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`${where}: expected an object of model name -> options, got ${JSON.stringify(raw)}`, where);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, opts] of Object.entries(v as Record<string, unknown>)) {
    const canonical = rethrowAsUsage(where, () => parseModelList([name], where))[0];
    if (!opts || typeof opts !== 'object' || Array.isArray(opts)) throw new UsageError(`${where}: ${name}: expected an object of options, got ${JSON.stringify(opts)}`, where);
    out[canonical] = { ...out[canonical], ...(opts as Record<string, unknown>) };
  }
  return out;
}

/** Reads a JSON config file's options (unknown keys and bad values are usage errors naming the key and file). */
export function readConfigFile(path: string, read?: (p: string) => string): Partial<TrainConfig> {
  return readOptionsFile(TRAIN_OPTIONS, path, read) as Partial<TrainConfig>;
}

/** What the command line asked for: a config, or help. */
export type ParsedTrainArgs = { help: true } | { help: false; config: TrainConfig; configFile: string | null };

/**
 * Resolves argv (the arguments after `train`) into a config: defaults, then the
 * `--config` file, then flags. Throws `UsageError` naming the flag or key.
 */
export function parseTrainArgs(argv: readonly string[], read?: (p: string) => string): ParsedTrainArgs {
  const r = resolveOptions(TRAIN_OPTIONS, argv, defaultTrainConfig(), read);
  if (r.help) return { help: true };
  const c = r.config as unknown as TrainConfig;
  if (c.sweep) {
    // A sweep trains its one model: it is the model list unless the list was given.
    const swept = parseSweepSpec(c.sweep, '--sweep').model;
    const given = r.flags.has('model') || (r.configFile !== null && JSON.stringify(c.model) !== JSON.stringify(DEFAULTS.model));
    if (!given) c.model = [swept];
    else if (c.model.length !== 1 || c.model[0] !== swept) {
      throw new UsageError(`--sweep: sweeps ${swept} alone; --model lists ${c.model.join(', ')} (give --model ${swept}, or leave --model out)`, '--sweep');
    }
  }
  crossCheck(c, r.configFile !== null && !r.flags.has('map') ? `'map' in ${r.configFile}` : '--map');
  return { help: false, config: c, configFile: r.configFile };
}

/** `--sweep MODEL.KEY=V1,V2,…`: the model (canonical), the option and its values (numbers, booleans or strings). */
export interface SweepSpec {
  model: string;
  key: string;
  values: (number | boolean | string)[];
}

export function parseSweepSpec(raw: unknown, where: string): SweepSpec {
  const want = 'MODEL.KEY=V1,V2,… (e.g. svd.factors=10,50,100)';
  if (typeof raw !== 'string') throw new UsageError(`${where}: expected ${want}, got ${JSON.stringify(raw)}`, where);
  const m = /^\s*([^.=\s]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(raw);
  if (!m) throw new UsageError(`${where}: expected ${want}, got '${raw}'`, where);
  const model = rethrowAsUsage(where, () => parseModelList([m[1]], where))[0];
  const values = m[3].split(',').map((v, i) => {
    const t = v.trim();
    if (!t) throw new UsageError(`${where}: value ${i + 1} of '${m[3]}' is empty`, where);
    if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
    const x = Number(t);
    return Number.isFinite(x) ? x : t;
  });
  const seen = new Set(values.map((v) => JSON.stringify(v)));
  if (seen.size !== values.length) throw new UsageError(`${where}: repeated value in '${m[3]}'`, where);
  if (values.length < 2) throw new UsageError(`${where}: a sweep needs at least two values, got '${m[3]}'`, where);
  return { model, key: m[2], values };
}

export function formatSweepSpec(s: SweepSpec): string {
  return `${s.model}.${s.key}=${s.values.map(String).join(',')}`;
}

/** Checks between options (each was valid on its own). */
function crossCheck(c: TrainConfig, mapWhere: string): void {
  const data = parseDataSpec(c.data, '--data');
  const needsMap = data.kind === 'csv' || data.kind === 'tsv' || data.kind === 'jsonl';
  if (needsMap && !c.map) throw new UsageError(`--map: required with ${data.kind}: data, e.g. --map user=userId,item=movieId,rating=rating,ts=timestamp`, '--map');
  if (!needsMap && c.map) throw new UsageError(`${mapWhere}: only applies to csv:, tsv: and jsonl: data (this run reads ${c.data})`, '--map');
  if (c.test) {
    const t = parseDataSpec(c.test, '--test');
    if (t.kind !== data.kind) throw new UsageError(`--test: is read like --data, so it must be ${data.kind} data too (--data is ${c.data}, --test is ${c.test})`, '--test');
  }
  if (data.kind === 'jsonl' && c.map) {
    const cols = parseColumnSpec(c.map, mapWhere);
    for (const [role, col] of Object.entries(cols)) {
      if (typeof col === 'number') throw new UsageError(`${mapWhere}: ${role}: JSONL fields are keys, not column indices (got ${col})`, '--map');
    }
  }
  for (const name of Object.keys(c.modelOptions)) {
    if (!c.model.includes(name)) throw new UsageError(`--model-options: options for '${name}', which is not among the models trained (${c.model.join(', ')})`, '--model-options');
  }
  // Encoders' kernels bound the embedding width: refuse a wider one now, not at the first step.
  for (const name of c.model) {
    if (getModel(name).kind !== 'encoder') continue;
    const own = c.modelOptions[name]?.dim;
    const dim = own ?? c.dim;
    if (typeof dim === 'number' && dim > ENCODER_MAX_DIM) {
      const where = own !== undefined ? `--model-options: ${name}.dim` : '--dim';
      throw new UsageError(`${where}: ${name} takes at most ${ENCODER_MAX_DIM} (the widest row the SpMM kernels take), got ${dim}`, own !== undefined ? '--model-options' : '--dim');
    }
  }
}

/** `gnnrl train --help`. */
export function trainHelp(): string {
  return formatHelp(
    'usage: gnnrl train [options]\n\nTrains each model on one split of the data, evaluates it on the test part, and writes\ncheckpoints, metrics, a per-epoch log and learning curves to the output folder.',
    TRAIN_OPTIONS,
    `models: ${listModelsLine()}\n\nexit codes: 0 done, 1 failed while running, 2 bad options, 130 interrupted (Ctrl-C or SIGTERM; what exists is still written)\n`,
  );
}

function listModelsLine(): string {
  return parseModelList('all').join(', ');
}

/** Parses a data spec string in a resolved config (for the job). */
export function dataSpecOf(c: TrainConfig) {
  return parseDataSpec(c.data, '--data');
}

/** Parses the column map of a resolved config. */
export function columnSpecOf(c: TrainConfig): ColumnSpec | null {
  return c.map ? parseColumnSpec(c.map, '--map') : null;
}

/** Parses the split spec of a resolved config. */
export function splitSpecOf(c: TrainConfig) {
  return parseSplitSpec(c.split, '--split');
}
