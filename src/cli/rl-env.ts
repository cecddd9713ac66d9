/**
 * `--env` of `gnnrl rl`: the three environment kinds, their `--env-options`, and building
 * them for a run.
 *
 *   sim:<preset>         the user simulator on a synthetic world (options: the simulator's);
 *   replay:<data spec>   log replay over a split of the log `--data` accepts
 *                        (`replay:ml-100k:data/ml-100k`, `replay:csv:log.csv`): episodes walk
 *                        the test part, windows start from the train part, models train on
 *                        the train part (options: the replay's, plus split, map, judge);
 *   fitted:<data spec>   the simulator fitted to that log's train part through an encoder's
 *                        embeddings (options: the simulator's, the calibration's, plus
 *                        split, map, encoder).
 *
 * Options are checked here by kind (a usage error naming the key); everything that needs
 * the data or a model happens in `loadEnvData` / `buildEnv`, called by the job.
 */
import { UsageError, parseString } from './args.js';
import { GnnrlError } from '../errors.js';
import { WORLD_PRESETS, syntheticWorld, type SyntheticWorld, type WorldPreset } from '../data/synthetic.js';
import type { Interactions } from '../data/interactions.js';
import { resolveModelName } from '../models/registry.js';
import type { RecommenderModel } from '../models/types.js';
import { Simulator, SIMULATOR_DEFAULTS, simulatorConfig, type SimulatorOptions } from '../rl/env/simulator.js';
import { REPLAY_ENV_DEFAULTS, ReplayEnv, replayEnvConfig, type ReplayEnvOptions } from '../rl/env/replay.js';
import { CALIBRATION_DEFAULTS, calibrationOptions, fittedFromWorld, fittedSimulator, type ClickCalibration } from '../rl/env/fitted.js';
import { tablesFromModel } from '../rl/state/window-state.js';
import type { Environment } from '../rl/types.js';
import type { Engine } from '../engine.js';
import { applySplit, checkDataPaths, formatDataSpec, loadData, parseColumnSpec, parseDataSpec, parseSplitSpec, type DataSpec } from './data-spec.js';

export type EnvSpec = { kind: 'sim'; preset: WorldPreset } | { kind: 'replay' | 'fitted'; data: DataSpec };

const PRESETS = Object.keys(WORLD_PRESETS) as WorldPreset[];
const FORMS = `sim:${PRESETS.join(' | sim:')} | replay:<data> | fitted:<data> (<data> as gnnrl train --data takes it: ml-100k:DIR, csv:FILE, synthetic:small, …)`;

export function parseRlEnvSpec(raw: unknown, where = '--env'): EnvSpec {
  const s = parseString(raw, where, 'an environment spec such as sim:small');
  const colon = s.indexOf(':');
  const kind = (colon < 0 ? s : s.slice(0, colon)).toLowerCase();
  const arg = colon < 0 ? '' : s.slice(colon + 1);
  switch (kind) {
    case 'sim':
    case 'simulator': {
      const preset = (arg || 'small').toLowerCase();
      if (!(PRESETS as string[]).includes(preset)) throw new UsageError(`${where}: unknown simulator world '${arg}' in '${s}'; expected sim:${PRESETS.join(' | sim:')}`, where);
      return { kind: 'sim', preset: preset as WorldPreset };
    }
    case 'replay':
    case 'fitted': {
      if (!arg) throw new UsageError(`${where}: ${kind}: expected ${kind}:<data spec>, e.g. ${kind}:ml-100k:data/ml-100k or ${kind}:synthetic:small`, where);
      let data: DataSpec;
      try {
        data = parseDataSpec(arg, where);
      } catch (err) {
        throw new UsageError(`${where}: ${s}: ${(err as Error).message.replace(/^--env: /, '')}`, where);
      }
      return { kind, data };
    }
    default:
      throw new UsageError(`${where}: unknown environment '${s}'; expected ${FORMS}`, where);
  }
}

export function formatRlEnvSpec(e: EnvSpec): string {
  return e.kind === 'sim' ? `sim:${e.preset}` : `${e.kind}:${formatDataSpec(e.data)}`;
}

/** Options of data environments that are not the replay's, simulator's or calibration's. */
const DATA_KEYS = ['split', 'map'];
const SIM_KEYS = Object.keys(SIMULATOR_DEFAULTS);
const REPLAY_KEYS = [...Object.keys(REPLAY_ENV_DEFAULTS), ...DATA_KEYS, 'judge'];
const CAL_KEYS = Object.keys(CALIBRATION_DEFAULTS).filter((k) => k !== 'seed');
const FITTED_KEYS = [...SIM_KEYS, ...CAL_KEYS, ...DATA_KEYS, 'encoder'];

/** The option names an environment kind accepts. */
export function envOptionKeys(kind: EnvSpec['kind']): string[] {
  return kind === 'sim' ? SIM_KEYS : kind === 'replay' ? REPLAY_KEYS : FITTED_KEYS;
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
}

/** Re-raises a library `input` error as a usage error naming `where`. */
function asUsage<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof GnnrlError && !(err instanceof UsageError)) throw new UsageError(`${where}: ${err.message.replace(/^(--)?[\w-]+: /, '')}`, where);
    throw err;
  }
}

/**
 * Checks `--env-options` for the kind of `spec`: unknown keys and bad values are usage
 * errors naming the key; the data files must exist.
 */
export function checkEnvOptions(spec: EnvSpec, opts: Record<string, unknown>, where = '--env-options'): void {
  const known = envOptionKeys(spec.kind);
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) {
      const what = spec.kind === 'sim' ? 'simulator' : spec.kind === 'replay' ? 'replay' : 'fitted simulator';
      throw new UsageError(`${where}: unknown ${what} option '${key}'; known: ${known.join(', ')}`, where);
    }
  }
  if (spec.kind === 'sim') {
    const cfg = asUsage(where, () => simulatorConfig(opts as SimulatorOptions, 'env-options'));
    const preset = WORLD_PRESETS[spec.preset];
    if (cfg.slateSize > preset.nItems - cfg.historyLen) {
      throw new UsageError(`${where}: slateSize ${cfg.slateSize} leaves too few items outside a ${cfg.historyLen}-item history window in sim:${spec.preset} (${preset.nItems} items)`, where);
    }
    return;
  }
  checkDataPaths(spec.data, '--env');
  if (opts.split !== undefined) parseSplitSpec(opts.split, `${where}: split`);
  if (opts.map !== undefined) parseColumnSpec(opts.map, `${where}: map`);
  if (spec.data.kind !== 'synthetic' && spec.data.kind !== 'movielens' && opts.map === undefined) {
    throw new UsageError(`${where}: map: required with ${spec.data.kind}: data, e.g. {"map":"user=userId,item=movieId,rating=rating,ts=timestamp"}`, where);
  }
  if (spec.kind === 'replay') {
    asUsage(where, () => replayEnvConfig(pick(opts, Object.keys(REPLAY_ENV_DEFAULTS)) as ReplayEnvOptions, 'env-options'));
    if (opts.judge !== undefined) asUsage(where, () => resolveModelName(String(opts.judge), 'env-options.judge'));
  } else {
    asUsage(where, () => simulatorConfig(pick(opts, SIM_KEYS) as SimulatorOptions, 'env-options'));
    asUsage(where, () => calibrationOptions(pick(opts, CAL_KEYS), 'env-options'));
    // Any model with a factor form will do (tablesFromModel refuses others when the run builds the env).
    if (opts.encoder !== undefined) asUsage(where, () => resolveModelName(String(opts.encoder), 'env-options.encoder'));
  }
}

/** The log an environment is built on, known before any model is fitted. */
export interface EnvData {
  spec: EnvSpec;
  name: string;
  /** What models are trained on and popularity counts: the world's log, or the train part. */
  log: Interactions;
  /** The held-out part (replay and fitted), for ranking metrics; null for sim:. */
  test: Interactions | null;
  nUsers: number;
  nItems: number;
  /** For the manifest. */
  describe: Record<string, unknown>;
  /** sim: only: the synthetic world the simulator runs on. */
  world?: SyntheticWorld;
}

export async function loadEnvData(specText: string, opts: Record<string, unknown>, seed: number): Promise<EnvData> {
  const spec = parseRlEnvSpec(specText);
  if (spec.kind === 'sim') {
    const world = syntheticWorld({ preset: spec.preset, seed });
    return { spec, name: specText, log: world.interactions, test: null, nUsers: world.nUsers, nItems: world.nItems, describe: { world: spec.preset }, world };
  }
  const columns = opts.map === undefined ? null : parseColumnSpec(opts.map, '--env-options: map');
  const loaded = await loadData(spec.data, columns, seed);
  const split = parseSplitSpec(opts.split ?? 'user-time:0.8', '--env-options: split');
  const { train, test } = applySplit(loaded.interactions, split, seed);
  return {
    spec,
    name: specText,
    log: train,
    test,
    nUsers: train.nUsers,
    nItems: train.nItems,
    describe: { data: loaded.source, split: split.kind === 'loo' ? 'loo' : `${split.kind}:${split.ratio}`, trainEvents: train.user.length, testEvents: test.user.length },
  };
}

/** A built environment: fresh instances on demand (training and evaluation use separate ones). */
export interface BuiltEnv {
  make(): Environment;
  gamma: number;
  batch: number;
  horizon: number;
  slateSize: number;
  /** Calibration and other facts for the manifest. */
  describe: Record<string, unknown>;
}

export interface BuildContext {
  engine: Engine;
  /** A registry model fitted on `data.log` (or loaded), cached by the job. */
  model(name: string): Promise<RecommenderModel>;
  seed: number;
}

export async function buildEnv(data: EnvData, opts: Record<string, unknown>, ctx: BuildContext): Promise<BuiltEnv> {
  const spec = data.spec;
  if (spec.kind === 'sim') {
    const world = data.world!;
    const cfg = simulatorConfig(opts as SimulatorOptions, 'env-options');
    return { make: () => new Simulator(world, opts as SimulatorOptions, data.name), gamma: cfg.gamma, batch: cfg.batch, horizon: cfg.horizon, slateSize: cfg.slateSize, describe: { options: cfg } };
  }
  if (spec.kind === 'replay') {
    const o = pick(opts, Object.keys(REPLAY_ENV_DEFAULTS)) as ReplayEnvOptions;
    const cfg = replayEnvConfig(o);
    const judgeName = cfg.unknown === 'model' ? resolveModelName(String(opts.judge ?? (data.log.rating ? 'svd' : 'lightgcn')), 'env-options.judge') : null;
    const judge = judgeName ? await ctx.model(judgeName) : undefined;
    const first = await ReplayEnv.create(data.test!, o, { history: data.log, model: judge, name: data.name });
    return { make: () => first.fresh(), gamma: cfg.gamma, batch: cfg.batch, horizon: first.horizon, slateSize: cfg.slateSize, describe: { options: cfg, judge: judgeName, episodeUsers: first.episodeUsers.length, ratingRange: first.ratingRange } };
  }
  const encoder = resolveModelName(String(opts.encoder ?? 'lightgcn'), 'env-options.encoder');
  const model = await ctx.model(encoder);
  const tables = await tablesFromModel(ctx.engine, model);
  const simOpts = pick(opts, SIM_KEYS) as SimulatorOptions;
  const { world, calibration } = fittedSimulator(data.log, tables, simOpts, { ...pick(opts, CAL_KEYS), seed: ctx.seed }, data.name);
  const cal: ClickCalibration = calibration;
  // The options in force: the calibrated ones, under whatever was given.
  const cfg = fittedFromWorld(world, cal, simOpts, data.name).config;
  return {
    make: () => fittedFromWorld(world, cal, simOpts, data.name),
    gamma: cfg.gamma,
    batch: cfg.batch,
    horizon: cfg.horizon,
    slateSize: cfg.slateSize,
    describe: { options: cfg, encoder, calibration: { temperature: cal.temperature, noClick: cal.noClick, ctr: cal.ctr, fittedCtr: cal.fittedCtr, logLikelihood: cal.logLikelihood, users: cal.users, groups: world.config.clusters } },
  };
}
