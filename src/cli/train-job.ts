/**
 * The train job as a library function: data → split (+ validation) → graph → fit →
 * evaluate → write, for every requested model. The `gnnrl train` command only parses
 * arguments and prints; tests call `runTrainJob` in-process.
 *
 * Files are rewritten (atomically) after every model, so an interrupted or failed run
 * still leaves a consistent config, manifest, metrics, epoch log and curves for the models
 * that finished.
 */
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Engine } from '../engine.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import { interactionCount, type Interactions } from '../data/interactions.js';
import { evaluateModel } from '../eval/evaluate.js';
import { saveTrainedModel } from '../models/trained-checkpoint.js';
import { getModel, trainingGraph, type ModelEntry } from '../models/registry.js';
import type { FitOptions, RecommenderModel } from '../models/types.js';
import type { InteractionGraph } from '../graph/interaction-graph.js';
import { UsageError } from './args.js';
import { columnSpecOf, dataSpecOf, splitSpecOf, type TrainConfig } from './config.js';
import { applySplit, carveValidation, checkDataPaths, loadData, parseDataSpec, type LoadedData } from './data-spec.js';
import { alignToTrain } from '../data/align.js';
import { ProgressReporter, type ProgressStream } from './progress.js';
import { formatDuration, formatMetric } from './table.js';
import { curvesSvg, epochsCsv, metricsJson, type ModelResult } from './train-output.js';
import { packageVersion } from './version.js';

export type { ModelResult } from './train-output.js';

export interface TrainIO {
  /** Progress and messages (default: process.stderr). */
  stderr?: ProgressStream;
  /** Aborts at the next batch; what exists is still written. */
  signal?: AbortSignal;
  /** Use this engine instead of creating one from `config.backend` (it is not disposed). */
  engine?: Engine;
  /** The command line, recorded in the manifest. */
  argv?: readonly string[];
  /**
   * Called with each fitted model after its evaluation and checkpoint, before it is
   * disposed (programmatic callers inspect or reuse it here; tests compare it with the
   * checkpoint). Not called for interrupted or failed models.
   */
  onModelTrained?: (model: RecommenderModel, result: ModelResult) => void | Promise<void>;
}

export interface TrainResult {
  /** Absolute output folder. */
  outDir: string;
  config: TrainConfig;
  manifest: Record<string, unknown>;
  models: ModelResult[];
  /** True when the run was stopped by the signal. */
  interrupted: boolean;
  /** True when some model failed. */
  failed: boolean;
}

/** The training log's parts: `fit` trains on, `val` validates, `trainAll` = fit + val (excluded at test time). */
interface Parts {
  trainAll: Interactions;
  fit: Interactions;
  val: Interactions | null;
  test: Interactions;
}


/** Default monitor of a model (what its fit uses when not told): rmse for rating predictions, ndcg@20 for rankings. */
function monitorFor(config: TrainConfig, model: RecommenderModel): string {
  const own = model.predictsRatings ? 'rmse' : 'ndcg@20';
  const asked = config.monitor;
  if (!asked) return own;
  // A rating error asked of a ranking-only model cannot be measured: it keeps its own.
  if ((asked === 'rmse' || asked === 'mae') && !model.predictsRatings) return own;
  return asked;
}

/** Epochs a model will run (for the progress ETA): the config's, else the model's own default. */
function plannedEpochs(config: TrainConfig, entry: ModelEntry, model: RecommenderModel): number | null {
  if (!entry.iterative) return 1;
  if (config.epochs !== null) return config.epochs;
  const own = (model as { options?: { epochs?: unknown } }).options?.epochs;
  return typeof own === 'number' ? own : null;
}

function emptyResult(entry: ModelEntry, status: ModelResult['status'], note?: string): ModelResult {
  return {
    name: entry.name,
    display: entry.display,
    kind: entry.kind,
    status,
    ...(note ? { note } : {}),
    fitSeconds: 0,
    evalSeconds: 0,
    monitor: null,
    bestEpoch: 0,
    stoppedEarly: false,
    history: [],
    metrics: {},
  };
}

function counts(x: Interactions) {
  return { events: interactionCount(x), users: x.nUsers, items: x.nItems };
}

/** Runs the whole job. Usage problems found on the way (missing files, a split the data cannot do) throw `UsageError`. */
export async function runTrainJob(config: TrainConfig, io: TrainIO = {}): Promise<TrainResult> {
  const started = new Date();
  const progress = new ProgressReporter(io.stderr ?? process.stderr, { quiet: config.quiet });
  const dataSpec = dataSpecOf(config);
  const split = splitSpecOf(config);
  checkDataPaths(dataSpec, '--data');
  const testSpec = config.test ? parseDataSpec(config.test, '--test') : null;
  if (testSpec) checkDataPaths(testSpec, '--test');
  const entries = config.model.map((n) => getModel(n));

  const outDir = resolve(config.out);
  await mkdir(outDir, { recursive: true });
  const write = (name: string, text: string) => writeFileAtomic(join(outDir, name), text);
  await write('config.json', JSON.stringify(config, null, 2) + '\n');

  const version = packageVersion();
  const manifest: Record<string, unknown> = {
    gnnrl: version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    ...(io.argv ? { command: ['gnnrl', 'train', ...io.argv] } : {}),
    config,
    seed: config.seed,
    started: started.toISOString(),
  };
  const results: ModelResult[] = [];
  const writeAll = async (final: boolean) => {
    const finished = new Date();
    manifest.finished = final ? finished.toISOString() : null;
    manifest.seconds = (finished.getTime() - started.getTime()) / 1000;
    manifest.models = results.map((m) => ({ name: m.name, status: m.status, ...(m.checkpoint ? { checkpoint: m.checkpoint } : {}) }));
    await write('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
    await write('metrics.json', metricsJson(config.k, results));
    await write('epochs.csv', epochsCsv(results));
    await write('curves.svg', curvesSvg(results, `gnnrl train: ${config.data}`));
  };

  let engine: Engine | undefined = io.engine;
  const ownEngine = !engine;
  let graph: InteractionGraph | undefined;
  let interrupted = false;
  try {
    // ---- data
    progress.message(`loading ${config.data}`);
    const t0 = performance.now();
    const loaded: LoadedData = await loadData(dataSpec, columnSpecOf(config), config.seed, { features: config.features, sideFiles: entries.some((e) => e.needsSideFeatures) });
    const x = loaded.interactions;
    if (x.user.length === 0) throw new UsageError(`--data: ${config.data} holds no interactions`, '--data');
    if (split.kind === 'time' && !x.ts) throw new UsageError(`--split: time:${split.ratio} needs timestamps, and ${config.data} has none (map a ts column, or use user-time/random/loo)`, '--split');
    manifest.data = {
      ...loaded.source,
      ...counts(x),
      ratings: x.rating !== null,
      timestamps: x.ts !== null,
      loadSeconds: (performance.now() - t0) / 1000,
    };
    progress.message(`  ${counts(x).events} events, ${x.nUsers} users, ${x.nItems} items${x.rating ? '' : ' (implicit: no ratings)'} in ${formatDuration((performance.now() - t0) / 1000)}`);

    // ---- split (or the predefined test part)
    let s: { train: Interactions; test: Interactions };
    let predefined: ReturnType<typeof alignToTrain> | null = null;
    if (testSpec) {
      const loadedTest = await loadData(testSpec, columnSpecOf(config), config.seed);
      try {
        predefined = alignToTrain(x, loadedTest.interactions, '--test');
      } catch (err) {
        throw new UsageError((err as Error).message, '--test');
      }
      s = { train: x, test: predefined.test };
      manifest.test = { ...loadedTest.source, read: predefined.read, dropped: predefined.dropped, unknownUsers: predefined.unknownUsers, unknownItems: predefined.unknownItems };
      const lost = predefined.dropped > 0 ? `; dropped ${predefined.dropped} that name ${predefined.unknownUsers} users and ${predefined.unknownItems} items --data lacks (a model fitted on --data has no vectors for them)` : '';
      progress.message(`  test ${config.test}: ${predefined.read} events${lost}`);
    } else {
      s = applySplit(x, split, config.seed);
    }
    let parts: Parts = { trainAll: s.train, fit: s.train, val: null, test: s.test };
    if (config.val > 0) {
      const v = carveValidation(s.train, split, config.val, config.seed);
      parts = { trainAll: s.train, fit: v.train, val: v.test.user.length > 0 ? v.test : null, test: s.test };
    }
    if (parts.fit.user.length === 0 || parts.test.user.length === 0) {
      if (predefined) throw new UsageError(`--test: ${config.test} leaves ${parts.test.user.length} test events in the training data's id space (of ${predefined.read} read)`, '--test');
      throw new UsageError(`--split: ${config.split} leaves ${parts.fit.user.length} training and ${parts.test.user.length} test events; the data is too small for it`, '--split');
    }
    manifest.split = {
      spec: predefined ? `predefined: ${config.test}` : config.split,
      val: config.val,
      train: interactionCount(parts.fit),
      validation: parts.val ? interactionCount(parts.val) : 0,
      test: interactionCount(parts.test),
    };
    progress.message(`  split ${predefined ? 'predefined' : config.split}: ${interactionCount(parts.fit)} train, ${parts.val ? interactionCount(parts.val) : 0} validation, ${interactionCount(parts.test)} test`);

    // ---- which models can run on this data
    const runnable = entries.filter((e) => !e.needsRatings || x.rating);
    if (runnable.length === 0) {
      throw new UsageError(`--model: ${entries.map((e) => e.name).join(', ')} need explicit ratings, and ${config.data} has none; choose a ranking model (popularity, lightgcn, gcn, sage, gat)`, '--model');
    }

    // ---- engine
    engine ??= await Engine.create({ backend: config.backend, quiet: true });
    manifest.backend = { name: engine.backend, reason: engine.reason, adapter: engine.adapter };
    progress.message(`backend: ${engine.reason}`);

    if (entries.some((e) => e.kind === 'encoder')) {
      graph = trainingGraph(parts.fit.user, parts.fit.item, parts.fit.nUsers, parts.fit.nItems);
    }

    // ---- models
    for (const entry of entries) {
      if (io.signal?.aborted) {
        interrupted = true;
        results.push(emptyResult(entry, 'skipped', 'not run: the run was interrupted'));
        continue;
      }
      if (entry.needsRatings && !x.rating) {
        results.push(emptyResult(entry, 'skipped', 'needs explicit ratings; the data has none'));
        progress.message(`${entry.display}: skipped (needs explicit ratings; the data has none)`);
        continue;
      }
      const r = await trainOne(entry, config, parts, engine, graph, outDir, progress, io, { data: loaded.source.spec, gnnrl: version });
      results.push(r);
      if (r.status === 'interrupted') interrupted = true;
      await writeAll(false);
    }
  } catch (err) {
    // Whatever finished is still written, then the error goes up.
    manifest.status = 'failed';
    manifest.error = err instanceof Error ? err.message : String(err);
    await writeAll(true).catch(() => undefined);
    throw err;
  } finally {
    if (graph && engine) graph.releaseDevice(engine);
    if (ownEngine && engine) await engine.dispose();
  }
  interrupted ||= io.signal?.aborted === true;
  manifest.status = interrupted ? 'interrupted' : results.some((m) => m.status === 'failed') ? 'failed' : 'ok';
  await writeAll(true);
  return { outDir, config, manifest, models: results, interrupted, failed: results.some((m) => m.status === 'failed') };
}

/** Creates, fits, evaluates and checkpoints one model. Errors become a 'failed' result (the run goes on). */
async function trainOne(
  entry: ModelEntry,
  config: TrainConfig,
  parts: Parts,
  engine: Engine,
  graph: InteractionGraph | undefined,
  outDir: string,
  progress: ProgressReporter,
  io: TrainIO,
  about: { data: string; gnnrl: string },
): Promise<ModelResult> {
  const signal = io.signal;
  const result = emptyResult(entry, 'ok');
  let model: RecommenderModel | undefined;
  try {
    model = await entry.create({
      engine,
      train: parts.fit,
      graph,
      options: {
        dim: config.dim ?? undefined,
        lr: config.lr ?? undefined,
        batchSize: config.batchSize ?? undefined,
        seed: config.seed,
        validationUsers: config.valUsers > 0 ? config.valUsers : undefined,
        extra: {
          ...(entry.kind === 'encoder' && config.features ? { input: 'both' } : {}),
          ...config.modelOptions[entry.name],
        },
      },
    });
    result.display = model.name || entry.display;
    const monitor = parts.val ? monitorFor(config, model) : null;
    result.monitor = monitor;
    progress.startModel(result.display, plannedEpochs(config, entry, model));
    const fitOpts: FitOptions = {
      patience: config.patience,
      signal,
      onProgress: (p) => progress.batch(p),
      onEpoch: (r) => progress.epoch(r),
    };
    if (config.epochs !== null && entry.iterative) fitOpts.epochs = config.epochs;
    if (parts.val && monitor) {
      fitOpts.validation = parts.val;
      fitOpts.monitor = monitor;
    }
    const t0 = performance.now();
    const fit = await model.fit(parts.fit, fitOpts);
    result.fitSeconds = (performance.now() - t0) / 1000;
    result.history = fit.history;
    result.bestEpoch = fit.bestEpoch;
    result.stoppedEarly = fit.stoppedEarly;
    if (fit.curves && Object.keys(fit.curves).length) result.curves = fit.curves;

    if (signal?.aborted) {
      result.status = 'interrupted';
      result.note = `interrupted after ${fit.history.length} epoch(s); not evaluated`;
      if (fit.history.length > 0) result.checkpoint = await checkpoint(model, entry, parts, outDir, config, fit.bestEpoch, about);
      progress.message(`${result.display}: interrupted after ${fit.history.length} epoch(s)${result.checkpoint ? `, checkpoint ${result.checkpoint}` : ''}`);
      return result;
    }

    const t1 = performance.now();
    const report = await evaluateModel(model, { train: parts.trainAll, test: parts.test, k: config.k, engine, ci: config.ci });
    result.evalSeconds = (performance.now() - t1) / 1000;
    result.metrics = report.metrics;
    // A model whose predictions live on [0, 1] (DDPG-LA's actions) also reports its errors
    // on that scale, under names that say so: the seed compares such numbers with 1–5
    // baselines; the table keeps the 1–5 columns for every model and these beside them.
    const scale = (model as { ratingScale?: { min: number; max: number } }).ratingScale;
    if (scale && scale.max > scale.min && typeof report.metrics.rmse === 'number') {
      result.metrics = { ...report.metrics, 'rmse[0,1]': report.metrics.rmse / (scale.max - scale.min), 'mae[0,1]': report.metrics.mae / (scale.max - scale.min) };
    }
    if (report.ci) result.ci = report.ci;
    result.users = report.users;
    result.checkpoint = await checkpoint(model, entry, parts, outDir, config, fit.bestEpoch, about);
    progress.message(summaryLine(result, config));
    await io.onModelTrained?.(model, result);
  } catch (err) {
    result.status = 'failed';
    result.error = err instanceof Error ? err.message : String(err);
    progress.message(`${result.display}: failed: ${result.error}`);
  } finally {
    model?.dispose();
  }
  return result;
}

function summaryLine(r: ModelResult, config: TrainConfig): string {
  const k = Math.max(...config.k);
  const key = r.metrics.rmse !== undefined ? 'rmse' : `ndcg@${k}`;
  const epochs = r.history.length > 1 ? `, best epoch ${r.bestEpoch}/${r.history.length}${r.stoppedEarly ? ' (stopped early)' : ''}` : '';
  return `${r.display}: fit ${formatDuration(r.fitSeconds)}, eval ${formatDuration(r.evalSeconds)}${epochs}, ${key} ${formatMetric(r.metrics[key])}`;
}

/** Writes `<out>/<model>/best.ckpt`: the parameters `fit` left (the best epoch's under validation). */
async function checkpoint(
  model: RecommenderModel,
  entry: ModelEntry,
  parts: Parts,
  outDir: string,
  config: TrainConfig,
  bestEpoch: number,
  about: { data: string; gnnrl: string },
): Promise<string> {
  const path = join(outDir, entry.name, 'best.ckpt');
  await saveTrainedModel(path, model, entry, parts.fit, { bestEpoch, data: about.data, split: config.split, val: config.val, seed: config.seed, gnnrl: about.gnnrl });
  return relative(outDir, path);
}

/** Re-exported for the CLI: errors that are the user's to fix. */
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError;
}
