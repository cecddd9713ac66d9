/**
 * The rl job as a library function: world → environment → (fitted GNN) → for every agent:
 * build, train (learning agents, with evaluated checkpoints for the curve), evaluate,
 * checkpoint → write. `gnnrl rl` only parses arguments and prints; tests call `runRlJob`.
 *
 * Seeds, all from `config.seed` (s): the synthetic world s, the GNN models s, every agent s
 * (DQN forks its own streams for initialisation, exploration and replay), the training
 * episodes s + 1, the evaluation episodes s + 2 (the same for every agent and every curve
 * point). Training and evaluation run in separate simulator instances, so evaluating a
 * checkpoint never shifts the training episodes: the same config and seed give the same
 * metrics.json on the same backend, apart from the timing fields (TIMING_FIELDS).
 *
 * Files are rewritten atomically after every agent, so an interrupted or failed run still
 * leaves a consistent folder for the agents that finished. Bad options are refused before
 * the folder is created.
 */
import { mkdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Engine } from '../engine.js';
import { GnnrlError } from '../errors.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../models/checkpoint.js';
import { getModel, restoreModel, trainingGraph } from '../models/registry.js';
import type { RecommenderModel } from '../models/types.js';
import { differenceCI, evaluateAgent } from '../rl/evaluate.js';
import { trainAgent } from '../rl/train-loop.js';
import { trainReinforceFromLog, type ReinforceAgent } from '../rl/agents/reinforce.js';
import { loadLog } from '../rl/log/loader.js';
import type { LoggedData } from '../rl/log/format.js';
import { LOG_LEARNERS } from './rl-config.js';
import { AgentRanker } from '../rl/agent-ranker.js';
import { evaluateModel } from '../eval/evaluate.js';
import { agentFamily, checkModelFits, createAgent, stateTablesOf } from '../rl/registry.js';
import { parseStateSpec, singleEncoder } from '../rl/state/state-spec.js';
import { isServableKind } from '../serve/agent-source.js';
import type { Agent, Environment } from '../rl/types.js';
import { UsageError } from './args.js';
import type { RlConfig } from './rl-config.js';
import { buildEnv, loadEnvData } from './rl-env.js';
import { RlProgress, episodesCsv, rewardsSvg, rlMetricsJson, type AgentResult, type Comparison } from './rl-output.js';
import type { ProgressStream } from './progress.js';
import { formatDuration } from './table.js';
import { packageVersion } from './version.js';

export type { AgentResult, Comparison } from './rl-output.js';

export interface RlIO {
  stderr?: ProgressStream;
  /** Stops training at the next step; what exists is still written. */
  signal?: AbortSignal;
  /** Use this engine instead of creating one (it is not disposed). */
  engine?: Engine;
  argv?: readonly string[];
}

export interface RlResult {
  outDir: string;
  config: RlConfig;
  manifest: Record<string, unknown>;
  agents: AgentResult[];
  comparisons: Comparison[];
  interrupted: boolean;
  failed: boolean;
}

/** Cut-offs of the ranking metrics on a test split (environments with a log). */
const RANKING_KS = [10, 20];

/** Default training of the GNN models the run fits on the log. */
const GNN_DEFAULTS = { dim: 32, epochs: 20 };


/** A folder name for an agent ('greedy:lightgcn' → 'greedy-lightgcn'). */
export function agentDir(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '-');
}

export async function runRlJob(config: RlConfig, io: RlIO = {}): Promise<RlResult> {
  const started = new Date();
  const progress = new RlProgress(io.stderr ?? process.stderr, { quiet: config.quiet });
  // The log (a synthetic world's, or a data spec's train part), before anything is written.
  const data = await loadEnvData(config.env, config.envOptions, config.seed);
  const log = data.log;
  const trainSeed = config.seed + 1;
  const evalSeed = config.seed + 2;

  let engine: Engine | undefined = io.engine;
  const ownEngine = !engine;
  const models = new Map<string, Promise<RecommenderModel>>();
  const fitted: { name: string; source: string; seconds: number; checkpoint?: string }[] = [];
  const results: AgentResult[] = [];
  let comparisons: Comparison[] = [];
  let interrupted = false;
  let outDir = '';
  const manifest: Record<string, unknown> = {};
  let writeAll = async (_final: boolean): Promise<void> => undefined;
  try {
    engine ??= await Engine.create({ backend: config.backend, quiet: true });
    const eng = engine;

    // Checkpoints given for models are loaded and checked before anything is written.
    for (const [name, o] of Object.entries(config.modelOptions)) {
      if (!o.checkpoint) continue;
      let model: RecommenderModel;
      try {
        model = await restoreModel(await loadCheckpoint(o.checkpoint), eng);
      } catch (err) {
        throw new UsageError(`--model-options: ${name}.checkpoint: ${o.checkpoint}: ${(err as Error).message}`, '--model-options');
      }
      if (model.kind !== name) throw new UsageError(`--model-options: ${name}.checkpoint: ${o.checkpoint} holds a '${model.kind}' model, not ${name}`, '--model-options');
      try {
        checkModelFits(model, { name: config.env, nUsers: data.nUsers, nItems: data.nItems } as Environment, `checkpoint ${o.checkpoint}`);
      } catch (err) {
        model.dispose();
        throw new UsageError(`--model-options: ${name}.checkpoint: ${(err as Error).message}`, '--model-options');
      }
      models.set(name, Promise.resolve(model));
      fitted.push({ name, source: o.checkpoint, seconds: 0 });
    }

    outDir = resolve(config.out);
    await mkdir(outDir, { recursive: true });
    const write = (name: string, text: string) => writeFileAtomic(join(outDir, name), text);
    await write('config.json', JSON.stringify(config, null, 2) + '\n');
    const version = packageVersion();
    Object.assign(manifest, {
      gnnrl: version,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      ...(io.argv ? { command: ['gnnrl', 'rl', ...io.argv] } : {}),
      config,
      seed: config.seed,
      seeds: { world: config.seed, models: config.seed, agents: config.seed, training: trainSeed, evaluation: evalSeed },
      env: { spec: config.env, users: data.nUsers, items: data.nItems, logEvents: log.user.length, ...data.describe },
      backend: { name: eng.backend, reason: eng.reason, adapter: eng.adapter },
      started: started.toISOString(),
    });
    writeAll = async (final: boolean) => {
      const finished = new Date();
      manifest.finished = final ? finished.toISOString() : null;
      manifest.seconds = (finished.getTime() - started.getTime()) / 1000;
      manifest.models = fitted;
      manifest.agents = results.map((a) => ({ name: a.name, status: a.status, ...(a.checkpoint ? { checkpoint: a.checkpoint } : {}) }));
      await write('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
      await write('metrics.json', rlMetricsJson({ env: config.env, seed: config.seed, steps: config.steps, episodes: config.episodes }, results, comparisons));
      await write('episodes.csv', episodesCsv(results));
      await write('rewards.svg', rewardsSvg(results, config.steps, `gnnrl rl: ${config.env}`));
    };
    progress.message(`backend: ${eng.reason}`);

    /** A registry model fitted on the env's log (or loaded above), once per run. */
    const model = (name: string): Promise<RecommenderModel> => {
      let p = models.get(name);
      if (!p) {
        p = (async () => {
          const entry = getModel(name);
          const o = { ...GNN_DEFAULTS, ...config.modelOptions[name] };
          const t0 = performance.now();
          const m = await entry.create({
            engine: eng,
            train: log,
            graph: entry.kind === 'encoder' ? trainingGraph(log.user, log.item, log.nUsers, log.nItems) : undefined,
            options: { dim: o.dim, seed: config.seed },
          });
          progress.message(`fitting ${m.name || entry.display} on the log${entry.iterative ? ` (${o.epochs} epochs)` : ''}`);
          await m.fit(log, { ...(entry.iterative ? { epochs: o.epochs } : {}), signal: io.signal });
          const seconds = (performance.now() - t0) / 1000;
          const path = join(outDir, 'models', `${entry.name}.ckpt`);
          const extras = entry.kind === 'encoder' ? { 'graph.user': log.user, 'graph.item': log.item } : undefined;
          await saveCheckpoint(path, await m.state(), { model: entry.name, display: m.name, nUsers: log.nUsers, nItems: log.nItems, data: config.env, seed: config.seed, gnnrl: version, ids: { users: log.userIds.toJSON().ids, items: log.itemIds.toJSON().ids } }, { extras });
          fitted.push({ name: entry.name, source: 'log', seconds, checkpoint: relative(outDir, path) });
          progress.message(`  ${m.name || entry.display}: fit in ${formatDuration(seconds)}, checkpoint ${relative(outDir, path)}`);
          return m;
        })();
        models.set(name, p);
      }
      return p;
    };

    /**
     * A state that is not one registry model's vectors (pretrained files, joined or random
     * tables) has no model checkpoint to rebuild it from: the tables the agents' encoders
     * were built from are saved once per run as a 'vectors' model, which serving reads.
     */
    let stateSaved: Promise<string> | undefined;
    const stateCheckpoint = (env: Environment): Promise<string> =>
      (stateSaved ??= (async () => {
        const tables = await stateTablesOf({ engine: eng, env, log, model, state: config.state, seed: config.seed }, env);
        const entry = getModel('vectors');
        const m = await entry.create({ engine: eng, train: log, options: { extra: { dim: tables.dim, users: tables.users, items: tables.items } } });
        try {
          await m.fit(log);
          const path = join(outDir, 'models', 'state.ckpt');
          const ids = { users: log.userIds.toJSON().ids, items: log.itemIds.toJSON().ids };
          await saveCheckpoint(path, await m.state(), { model: entry.name, display: entry.display, state: config.state, nUsers: log.nUsers, nItems: log.nItems, data: config.env, seed: config.seed, gnnrl: version, ids }, { extras: { 'graph.user': log.user, 'graph.item': log.item } });
          return relative(outDir, path);
        } finally {
          m.dispose();
        }
      })());

    // The environment (a fitted simulator fits its encoder through `model` first).
    const built = await buildEnv(data, config.envOptions, { engine: eng, model, seed: config.seed });
    Object.assign(manifest.env as Record<string, unknown>, built.describe);
    const makeEnv = () => built.make();
    progress.message(`${config.env}: ${data.nUsers} users × ${data.nItems} items, ${log.user.length} logged events${data.test ? ` (train part; ${data.test.user.length} held out)` : ''}; ${built.batch} sessions at once, horizon ${built.horizon}, slate ${built.slateSize}`);
    const evalEnv = makeEnv();
    // The --train-log events, read once for every agent that learns from them.
    let trainLog: Promise<LoggedData> | undefined;
    const curveEpisodes = config.curveEpisodes > 0 ? config.curveEpisodes : config.episodes;
    for (const name of config.agent) {
      const info = agentFamily(name);
      const result: AgentResult = { name, display: name.startsWith('greedy:') ? `Greedy ${getModel(name.slice(7)).display}` : info.display, learns: info.learns, status: 'ok', records: [], curve: [] };
      results.push(result);
      if (io.signal?.aborted) {
        interrupted = true;
        result.status = 'skipped';
        result.note = 'not run: the run was interrupted';
        continue;
      }
      let agent: Agent | undefined;
      const runOne = async (): Promise<void> => {
        const trainEnv = info.learns ? makeEnv() : evalEnv;
        const created = await createAgent(name, { engine: eng, env: trainEnv, log, model, state: config.state, options: config.agentOptions[name], seed: config.seed, steps: config.steps });
        agent = created.agent;
        result.display = agent.name;
        if (io.signal?.aborted) {
          interrupted = true;
          result.status = 'interrupted';
          result.note = 'interrupted before training';
          return;
        }
        if (agent.learns && config.trainLog && LOG_LEARNERS.includes(name)) {
          // Off-policy: learn from the logged events instead of interacting.
          trainLog ??= loadLog(config.trainLog, { nUsers: data.nUsers, nItems: data.nItems });
          const logged = await trainLog;
          progress.message(`${agent.name}: learning from ${config.trainLog} (${logged.n} events, ${config.logEpochs} epochs)`);
          const tr = await trainReinforceFromLog(agent as ReinforceAgent, logged, {
            epochs: config.logEpochs,
            onEpoch: (epoch, loss) => progress.message(`  epoch ${epoch}/${config.logEpochs}: loss ${loss.toFixed(4)}`),
          });
          result.train = {
            steps: tr.updates,
            episodes: 0,
            seconds: tr.seconds,
            stepsPerSecond: (logged.n * tr.epochs) / Math.max(tr.seconds, 1e-9),
            meanTrainReturn: NaN,
            lastLoss: tr.loss,
            epsilon: null,
            fromLog: { file: config.trainLog, events: logged.n, epochs: tr.epochs, meanWeight: tr.meanWeight, ess: tr.ess },
          };
          result.checkpoint = await saveAgent(agent, name, outDir, config, tr.updates, version, () => stateCheckpoint(evalEnv));
        } else if (agent.learns) {
          const a = agent;
          const every = config.curvePoints > 0 ? Math.max(1, Math.floor(config.steps / config.curvePoints)) : 0;
          progress.start(agent.name, trainEnv.batch);
          const tr = await trainAgent(trainEnv, agent, {
            steps: config.steps,
            seed: trainSeed,
            updatesPerStep: created.updatesPerStep,
            reportEvery: progress.isTTY ? 10 : Math.max(1, Math.ceil(config.steps / 10)),
            onProgress: (p) => progress.report(p),
            ...(every > 0
              ? {
                  checkpointEvery: every,
                  onCheckpoint: async (step: number) => {
                    if (step >= config.steps) return; // the final evaluation is the last point
                    const e = await evaluateAgent(evalEnv, a, { episodes: curveEpisodes, seed: evalSeed, gamma: built.gamma });
                    result.curve.push({ step, meanReturn: e.metrics.meanReturn });
                  },
                }
              : {}),
            signal: io.signal,
          });
          progress.clear();
          const eps = tr.lastUpdate?.exploration;
          result.train = {
            steps: tr.steps,
            episodes: tr.episodes,
            seconds: tr.seconds,
            stepsPerSecond: (tr.steps * trainEnv.batch) / Math.max(tr.seconds, 1e-9),
            meanTrainReturn: tr.episodeReturns.length ? tr.episodeReturns.reduce((s, x) => s + x, 0) / tr.episodeReturns.length : NaN,
            lastLoss: tr.lastUpdate?.loss ?? null,
            ...(tr.lastUpdate?.extra?.temperature !== undefined ? { epsilon: null, temperature: tr.lastUpdate.extra.temperature } : { epsilon: eps ?? null }),
          };
          result.checkpoint = await saveAgent(agent, name, outDir, config, tr.steps, version, () => stateCheckpoint(evalEnv));
          if (tr.aborted) {
            interrupted = true;
            result.status = 'interrupted';
            result.note = `interrupted after ${tr.steps} of ${config.steps} steps; not evaluated`;
            progress.message(`${agent.name}: interrupted after ${tr.steps} steps, checkpoint ${result.checkpoint}`);
            return;
          }
        }
        const e = await evaluateAgent(evalEnv, agent, { episodes: config.episodes, seed: evalSeed, gamma: built.gamma });
        const { agent: _k, name: _n, ...metrics } = e.metrics;
        result.metrics = metrics;
        result.records = e.records;
        if (agent.learns) result.curve.push({ step: result.train?.steps ?? config.steps, meanReturn: metrics.meanReturn });
        if (data.test && agent.rank) {
          // The greedy policy as a ranking of the held-out part, scored like any model.
          const rep = await evaluateModel(new AgentRanker(agent, log, evalEnv.historyLen), { train: log, test: data.test, k: RANKING_KS });
          result.ranking = { ...rep.metrics, users: rep.users.evaluated };
        }
        const trained = result.train ? `trained ${result.train.steps} steps in ${formatDuration(result.train.seconds)}, ` : '';
        progress.message(`${agent.name}: ${trained}return ${metrics.meanReturn.toFixed(3)} [${metrics.ci95[0].toFixed(3)}, ${metrics.ci95[1].toFixed(3)}] over ${metrics.episodes} episodes, session length ${metrics.meanSessionLength.toFixed(2)}`);
      };
      try {
        await runOne();
      } catch (err) {
        if (err instanceof UsageError) throw err;
        result.status = 'failed';
        result.error = err instanceof Error ? err.message : String(err);
        progress.message(`${result.display}: failed: ${result.error}`);
      } finally {
        progress.clear();
        agent?.dispose();
      }
      comparisons = compare(results);
      await writeAll(false);
    }
  } catch (err) {
    manifest.status = 'failed';
    manifest.error = err instanceof Error ? err.message : String(err);
    if (outDir) await writeAll(true).catch(() => undefined);
    throw err;
  } finally {
    for (const p of models.values()) await p.then((m) => m.dispose(), () => undefined);
    if (ownEngine && engine) await engine.dispose();
  }
  interrupted ||= io.signal?.aborted === true;
  manifest.status = interrupted ? 'interrupted' : results.some((a) => a.status === 'failed') ? 'failed' : 'ok';
  await writeAll(true);
  return { outDir, config, manifest, agents: results, comparisons, interrupted, failed: results.some((a) => a.status === 'failed') };
}

/** Every evaluated learner against every evaluated fixed policy. */
function compare(results: readonly AgentResult[]): Comparison[] {
  const out: Comparison[] = [];
  const ok = results.filter((a) => a.status === 'ok' && a.metrics && a.records.length > 0);
  for (const a of ok.filter((r) => r.learns)) {
    for (const b of ok.filter((r) => !r.learns)) {
      const ra = a.records.map((r) => r.return);
      const rb = b.records.map((r) => r.return);
      out.push({ agent: a.name, baseline: b.name, difference: a.metrics!.meanReturn - b.metrics!.meanReturn, ci95: differenceCI(ra, rb, { seed: 1 }) });
    }
  }
  return out;
}

/** Writes `<out>/<agent>/agent.ckpt` (the checkpoint container every model uses, written atomically). */
async function saveAgent(agent: Agent, name: string, outDir: string, config: RlConfig, steps: number, version: string, stateCheckpoint: () => Promise<string>): Promise<string> {
  const path = join(outDir, agentDir(name), 'agent.ckpt');
  const state = await agent.state();
  if (!state.kind) throw new GnnrlError('state', `${name}: state() has no kind`);
  // A servable agent (DQN, REINFORCE) on a state no single model checkpoint holds names the saved tables.
  const plain = singleEncoder(parseStateSpec(config.state)) !== null;
  const servable = isServableKind(state.kind);
  const stateFile = servable && !plain ? await stateCheckpoint() : undefined;
  await saveCheckpoint(path, state, { agent: name, display: agent.name, env: config.env, envOptions: config.envOptions, state: config.state, ...(stateFile ? { stateCheckpoint: stateFile } : {}), steps, seed: config.seed, gnnrl: version });
  return relative(outDir, path);
}
