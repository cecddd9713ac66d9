/**
 * The `gnnrl ope` job: a propensity log (read from a file, or logged now in the simulator by
 * the softmax logging policy), target policies (fixed agents by name, or agent checkpoints
 * from `gnnrl rl`), and per target the off-policy estimates beside the truth.
 *
 * The estimand: the target's per-decision value on the log's context distribution,
 * V(π) = E_{x ~ log} E_{a ~ π(x)} r(x, a) — what IPS, SNIPS and DR estimate. On a simulator
 * log it is known exactly: while logging, the simulator is asked for the expected reward
 * of the target's slate in every logged state (`collectLog`'s targets), and `trueValue`
 * is its mean (with a bootstrap interval over events, from the log's finite sample of
 * states). Every target is also run on-policy in the simulator (`onPolicy`: mean episode
 * return and reward per step): that is its value under its own state distribution, which
 * differs from V(π) when the target changes where users go (longer sessions, less
 * fatigue), so the two truths are reported side by side and the estimators are judged
 * against the first.
 *
 * Targets are deterministic (greedy acting), so π(a_i | x_i) = 1 when the target shows the
 * logged slate in x_i and 0 otherwise. The direct model of DR is a registry model fitted
 * on the world's log, its scores calibrated to reward on the logged events
 * (`calibrateScores`). Seeds: world and models `seed`, logging policy `seed`, logging
 * episodes seed + 1, on-policy evaluation seed + 2; the same config gives the same
 * metrics.json on the same backend.
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Engine } from '../engine.js';
import { GnnrlError } from '../errors.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import { syntheticWorld } from '../data/synthetic.js';
import { bootstrapCI } from '../eval/bootstrap.js';
import { calibrateScores } from '../eval/ope/direct.js';
import { doublyRobust, estimateAll, ips, pseudoInverse, snips, type OpeEstimate, type OpeEstimator, type OpeInput } from '../eval/ope/estimators.js';
import { loadCheckpoint } from '../models/checkpoint.js';
import { getModel, restoreModel, trainingGraph } from '../models/registry.js';
import type { ModelState, RecommenderModel } from '../models/types.js';
import { Simulator, simulatorConfig } from '../rl/env/simulator.js';
import { evaluateAgent } from '../rl/evaluate.js';
import { collectLog } from '../rl/log/collect.js';
import { fitBehaviourModel } from '../rl/log/behaviour.js';
import { writeLog, withPropensities, type LoggedData } from '../rl/log/format.js';
import { loadLog } from '../rl/log/loader.js';
import { SoftmaxLoggingPolicy, modelScorer, popularityScorer } from '../rl/policies/logging.js';
import { agentFamily, checkAgentOptions, createAgent } from '../rl/registry.js';
import type { Agent, Observation } from '../rl/types.js';
import { UsageError } from './args.js';
import { isSimLog, parsePolicySpec, simPreset, type OpeConfig } from './ope-config.js';
import type { ProgressStream } from './progress.js';
import { packageVersion } from './version.js';

export interface OpeIO {
  stderr?: ProgressStream;
  engine?: Engine;
  argv?: readonly string[];
}

export interface PolicyResult {
  policy: string;
  display: string;
  /** V(π) on the logged states (simulator logs), with a bootstrap interval over events; null for file logs. */
  trueValue: number | null;
  trueValueCI: [number, number] | null;
  /** Share of events where the target shows the logged slate (the events IPS keeps). */
  matchRate: number;
  estimates: OpeEstimate[];
  /** The target run on-policy in the simulator. */
  onPolicy: { episodes: number; meanReturn: number; ci95: [number, number]; meanSessionLength: number; rewardPerStep: number };
}

export interface OpeResult {
  outDir: string;
  config: OpeConfig;
  manifest: Record<string, unknown>;
  log: { source: string; events: number; slateSize: number; propensitySource: string; loggerValue: number | null; meanReward: number };
  policies: PolicyResult[];
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / Math.max(1, a.length);
};

/** Observation rows `rows` of a log, with windows cut or padded to H (the policies' window). */
function contextRows(log: LoggedData, rows: ArrayLike<number>, H: number): Observation {
  const B = rows.length;
  const L = log.historyLen;
  const user = new Int32Array(B);
  const step = new Int32Array(B);
  const historyItems = new Int32Array(B * H).fill(-1);
  const historyRatings = new Float32Array(B * H);
  const historyCount = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const j = rows[b];
    user[b] = log.user[j];
    step[b] = log.step[j];
    const take = Math.min(H, L);
    for (let t = 0; t < take; t++) {
      const it = log.history[j * L + L - take + t];
      historyItems[b * H + H - take + t] = it;
      if (it >= 0) {
        historyRatings[b * H + H - take + t] = 1;
        historyCount[b]++;
      }
    }
  }
  return { batch: B, user, historyLen: H, historyItems, historyRatings, historyTimes: new Float64Array(B * H), historyCount, stepInEpisode: step, featureDim: 0, features: null };
}

/** Most context scores (events × items) the behaviour model holds at once. */
const MAX_BEHAVIOUR_SCORES = 50_000_000;

/** A model's scores of every item for each logged event's user (n × nItems), for the behaviour model. */
async function contextScores(m: RecommenderModel, log: LoggedData): Promise<Float32Array> {
  if (log.n * m.nItems > MAX_BEHAVIOUR_SCORES) throw new UsageError(`--behaviour: ${m.kind}: ${log.n} events × ${m.nItems} items of scores is more than the ${MAX_BEHAVIOUR_SCORES.toLocaleString('en')} held at once; use --behaviour popularity`, '--behaviour');
  const out = new Float32Array(log.n * m.nItems);
  const chunk = 1024;
  for (let lo = 0; lo < log.n; lo += chunk) {
    const hi = Math.min(log.n, lo + chunk);
    out.set(await m.scoreItems(log.user.slice(lo, hi)), lo * m.nItems);
  }
  return out;
}

/** The target's slate in every logged context, acting in chunks of the simulator's batch (the last one padded). */
async function actOnLog(agent: Agent, log: LoggedData, batch: number, H: number): Promise<Int32Array> {
  const K = log.slateSize;
  const out = new Int32Array(log.n * K);
  for (let lo = 0; lo < log.n; lo += batch) {
    const rows = Int32Array.from({ length: batch }, (_, b) => Math.min(log.n - 1, lo + b));
    const a = await agent.act(contextRows(log, rows, H), { explore: false });
    const m = Math.min(batch, log.n - lo);
    out.set(a.subarray(0, m * K), lo * K);
  }
  return out;
}

export async function runOpeJob(config: OpeConfig, io: OpeIO = {}): Promise<OpeResult> {
  const started = new Date();
  const say = (s: string) => {
    if (!config.quiet) (io.stderr ?? process.stderr).write(s + '\n');
  };
  const preset = simPreset(config.env);
  const simCfg = simulatorConfig(config.envOptions, 'env-options');
  const world = syntheticWorld({ preset, seed: config.seed });
  const worldLog = world.interactions;
  const makeEnv = () => new Simulator(world, config.envOptions, config.env);
  const policySpecs = config.policy.map((p) => parsePolicySpec(p));
  let engine = io.engine;
  const ownEngine = !engine;
  const models = new Map<string, Promise<RecommenderModel>>();
  const agents: Agent[] = [];
  try {
    engine ??= await Engine.create({ backend: config.backend, quiet: true });
    const eng = engine;
    const model = (name: string): Promise<RecommenderModel> => {
      let p = models.get(name);
      if (!p) {
        p = (async () => {
          const entry = getModel(name);
          const m = await entry.create({ engine: eng, train: worldLog, graph: entry.kind === 'encoder' ? trainingGraph(worldLog.user, worldLog.item, worldLog.nUsers, worldLog.nItems) : undefined, options: { dim: config.modelDim, seed: config.seed } });
          say(`fitting ${m.name || entry.display} on the world's log`);
          await m.fit(worldLog, entry.iterative ? { epochs: config.modelEpochs } : {});
          return m;
        })();
        models.set(name, p);
      }
      return p;
    };

    // The target policies, built (and their checkpoints checked) before anything is written.
    const logEnv = makeEnv();
    const names: string[] = [];
    for (const ps of policySpecs) {
      if (ps.kind === 'name') {
        agents.push((await createAgent(ps.name, { engine: eng, env: logEnv, log: worldLog, model, state: 'lightgcn', seed: config.seed })).agent);
        names.push(ps.name);
      } else {
        agents.push(await agentFromCheckpoint(ps.path, config, { engine: eng, env: logEnv, model }));
        names.push(ps.path);
      }
    }

    // The log.
    let log: LoggedData;
    let truth: Float64Array[] | null = null;
    let targetActions: Int32Array[] | null = null;
    let loggerValue: number | null = null;
    if (isSimLog(config.log)) {
      const scorer = config.logger === 'popularity' ? popularityScorer(worldLog) : modelScorer(await model(config.logger));
      const logger = new SoftmaxLoggingPolicy(scorer, simCfg.slateSize, { temperature: config.temperature, epsilon: config.epsilon, seed: config.seed });
      say(`logging ${config.steps} × ${simCfg.batch} events in ${config.env} with ${logger.name}`);
      const c = await collectLog(logEnv, logger, { steps: config.steps, seed: config.seed + 1, targets: agents });
      log = c.log;
      truth = c.targetExpectedReward;
      targetActions = c.targetActions;
      loggerValue = c.loggerExpectedReward ? mean(c.loggerExpectedReward) : null;
    } else {
      log = await loadLog(config.log, { nUsers: world.nUsers, nItems: world.nItems, propensity: 'logged' === config.propensity ? 'logged' : 'estimate' });
      if (log.slateSize !== simCfg.slateSize) throw new UsageError(`--log: ${config.log} holds slates of ${log.slateSize}, the simulator shows ${simCfg.slateSize} (set --env-options '{"slateSize":${log.slateSize}}')`, '--log');
    }
    // A simulator log is written as logged (with the logger's own propensities), whatever is estimated below.
    const asLogged = log;
    let behaviour: Record<string, unknown> | null = null;
    if (config.propensity === 'estimate') {
      // The behaviour model sees the logged actions (and a model's scores when asked), never the logger's.
      const scores = config.behaviour === 'popularity' ? undefined : await contextScores(await model(config.behaviour), log);
      const fitted = fitBehaviourModel(log, { nItems: world.nItems, scores });
      log = withPropensities(log, fitted.propensities(log), 'estimated');
      behaviour = { scores: config.behaviour, beta: fitted.beta, logLikelihood: fitted.logLikelihood };
    }

    const outDir = resolve(config.out);
    await mkdir(outDir, { recursive: true });
    const write = (name: string, text: string) => writeFileAtomic(join(outDir, name), text);
    await write('config.json', JSON.stringify(config, null, 2) + '\n');
    if (isSimLog(config.log)) await writeLog(join(outDir, 'log.jsonl'), asLogged);

    // The direct model's scores of the logged slates (mean over positions), calibrated to reward.
    const K = log.slateSize;
    const direct = config.direct === 'none' ? null : await model(config.direct);
    const slateScore = async (slates: Int32Array): Promise<Float64Array> => {
      const users = new Int32Array(log.n * K);
      for (let j = 0; j < log.n; j++) users.fill(log.user[j], j * K, (j + 1) * K);
      const s = await direct!.predict(users, slates);
      const out = new Float64Array(log.n);
      for (let j = 0; j < log.n; j++) for (let p = 0; p < K; p++) out[j] += s[j * K + p] / K;
      return out;
    };
    const loggedScore = direct ? await slateScore(log.slate) : null;
    const calibration = loggedScore ? calibrateScores(loggedScore, log.reward) : null;
    const estimators: OpeEstimator[] = [ips, snips, ...(direct ? [doublyRobust] : []), ...(log.positionPropensity ? [pseudoInverse] : [])];

    const results: PolicyResult[] = [];
    for (const [m, agent] of agents.entries()) {
      const actions = targetActions ? targetActions[m] : await actOnLog(agent, log, simCfg.batch, simCfg.historyLen);
      const target = new Float64Array(log.n);
      const positionTarget = log.positionPropensity ? new Float64Array(log.n * K) : undefined;
      for (let j = 0; j < log.n; j++) {
        let same = 1;
        for (let p = 0; p < K; p++) {
          const hit = actions[j * K + p] === log.slate[j * K + p];
          if (!hit) same = 0;
          if (positionTarget) positionTarget[j * K + p] = hit ? 1 : 0;
        }
        target[j] = same;
      }
      // Sessions, when the log has them, are the bootstrap's units (their events are not independent).
      const input: OpeInput = { reward: log.reward, propensity: log.propensity, target, slateSize: K, ...(log.session ? { cluster: log.session } : {}), ...(log.positionPropensity ? { positionPropensity: log.positionPropensity, positionTarget } : {}) };
      if (calibration && loggedScore) {
        const tScore = await slateScore(actions);
        input.directLogged = Float64Array.from(loggedScore, calibration);
        input.directTarget = Float64Array.from(tScore, calibration);
      }
      const estimates = estimateOrUndefined(estimators, input, config);
      // On the logging simulator itself (reset to the evaluation seed): the oracle is bound to it.
      const e = await evaluateAgent(logEnv, agent, { episodes: config.episodes, seed: config.seed + 2, gamma: simCfg.gamma });
      const steps = e.records.reduce((s, r) => s + r.length, 0);
      const tv = truth ? truth[m] : null;
      results.push({
        policy: names[m],
        display: agent.name,
        trueValue: tv ? mean(tv) : null,
        trueValueCI: tv ? bootstrapCI(tv, { replicates: config.replicates, seed: config.seed }) : null,
        matchRate: mean(target),
        estimates,
        onPolicy: { episodes: e.metrics.episodes, meanReturn: e.metrics.meanReturn, ci95: e.metrics.ci95, meanSessionLength: e.metrics.meanSessionLength, rewardPerStep: e.records.reduce((s, r) => s + r.return, 0) / Math.max(1, steps) },
      });
      say(`${agent.name}: ${estimates.map((x) => `${x.display} ${x.value.toFixed(4)}`).join(', ')}${tv ? `; true ${mean(tv).toFixed(4)}` : ''}`);
    }

    const logInfo = { source: config.log, events: log.n, slateSize: K, propensitySource: log.propensitySource, loggerValue, meanReward: mean(log.reward) };
    const finished = new Date();
    const manifest: Record<string, unknown> = {
      gnnrl: packageVersion(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      ...(io.argv ? { command: ['gnnrl', 'ope', ...io.argv] } : {}),
      config,
      seeds: { world: config.seed, models: config.seed, logger: config.seed, logging: config.seed + 1, evaluation: config.seed + 2, bootstrap: config.seed },
      env: { spec: config.env, users: world.nUsers, items: world.nItems, options: simCfg },
      log: logInfo,
      ...(behaviour ? { behaviour } : {}),
      ...(calibration ? { direct: { model: config.direct, link: calibration.link, a: calibration.a, b: calibration.b } } : {}),
      backend: { name: eng.backend, reason: eng.reason, adapter: eng.adapter },
      started: started.toISOString(),
      finished: finished.toISOString(),
      seconds: (finished.getTime() - started.getTime()) / 1000,
      status: 'ok',
    };
    await write('metrics.json', opeMetricsJson(logInfo, results));
    await write('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
    return { outDir, config, manifest, log: logInfo, policies: results };
  } finally {
    for (const a of agents) a.dispose();
    for (const p of models.values()) await p.then((m) => m.dispose(), () => undefined);
    if (ownEngine && engine) await engine.dispose();
  }
}

/**
 * Every estimator on one target; a target that never shows a logged action leaves SNIPS
 * undefined (0/0), reported as NaN (null in metrics.json) rather than failing the run.
 */
function estimateOrUndefined(estimators: readonly OpeEstimator[], input: OpeInput, config: OpeConfig): OpeEstimate[] {
  const opts = { replicates: config.replicates, seed: config.seed };
  let any = false;
  for (let j = 0; j < input.target.length; j++) if (input.target[j] > 0) any = true;
  if (any) return estimateAll(estimators, input, opts);
  const defined = estimateAll(estimators.filter((e) => e !== snips), input, opts);
  return estimators.map((e) => defined.find((d) => d.estimator === e.name) ?? { estimator: e.name, display: e.display, value: NaN, ci95: [NaN, NaN] as [number, number], ess: 0, n: input.reward.length, meanWeight: 0, maxWeight: 0 });
}

/** An agent checkpoint of `gnnrl rl`, rebuilt for this run's world, checked against it. */
async function agentFromCheckpoint(path: string, config: OpeConfig, ctx: { engine: Engine; env: Simulator; model: (name: string) => Promise<RecommenderModel> }): Promise<Agent> {
  const where = '--policy';
  let ck;
  try {
    ck = await loadCheckpoint(path);
  } catch (err) {
    throw new UsageError(`${where}: ${path}: ${(err as Error).message}`, where);
  }
  const name = ck.meta.agent;
  if (typeof name !== 'string') throw new UsageError(`${where}: ${path} is not an agent checkpoint of gnnrl rl (no 'agent' in its metadata)`, where);
  if (ck.meta.env !== undefined && ck.meta.env !== config.env) throw new UsageError(`${where}: ${path}: the agent was trained on ${String(ck.meta.env)}, the log's world is ${config.env}: a checkpoint for another catalogue`, where);
  if (ck.meta.seed !== undefined && ck.meta.seed !== config.seed) throw new UsageError(`${where}: ${path}: the agent was trained on the world of seed ${String(ck.meta.seed)}, this run's is ${config.seed} (pass --seed ${String(ck.meta.seed)})`, where);
  const options = agentOptionsFrom(name, ck.state);
  const stateName = typeof ck.meta.state === 'string' ? ck.meta.state : 'lightgcn';
  // The GNN the agent was trained on: gnnrl rl saved it beside the agents (<out>/models/<gnn>.ckpt);
  // refitting it here would give other vectors unless every model option matched.
  const saved = join(dirname(dirname(path)), 'models', `${stateName}.ckpt`);
  let own: RecommenderModel | null = null;
  if (stateName !== 'random' && existsSync(saved)) {
    try {
      own = await restoreModel(await loadCheckpoint(saved), ctx.engine);
    } catch (err) {
      throw new UsageError(`${where}: ${path}: its GNN ${saved}: ${(err as Error).message}`, where);
    }
  }
  const model = (m: string) => (own && m === stateName ? Promise.resolve(own) : ctx.model(m));
  let agent: Agent;
  try {
    agent = (await createAgent(name, { engine: ctx.engine, env: ctx.env, log: ctx.env.world.interactions, model, state: stateName, options, seed: config.seed })).agent;
  } catch (err) {
    own?.dispose();
    throw new UsageError(`${where}: ${path}: ${(err as Error).message}`, where);
  }
  own?.dispose();
  const load = (agent as { load?: (s: ModelState) => void }).load;
  if (typeof load !== 'function') {
    agent.dispose();
    throw new UsageError(`${where}: ${path}: agent '${name}' cannot load a checkpoint`, where);
  }
  try {
    load.call(agent, ck.state);
  } catch (err) {
    agent.dispose();
    if (err instanceof GnnrlError) throw new UsageError(`${where}: ${path}: ${err.message}`, where);
    throw err;
  }
  return agent;
}

/** The options a checkpoint's config holds that the agent's builder takes (shapes such as `hidden` must match). */
function agentOptionsFrom(name: string, state: ModelState): Record<string, unknown> {
  agentFamily(name);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state.config)) {
    try {
      checkAgentOptions(name, { [k]: v });
      out[k] = v;
    } catch {
      // Not an option of the builder (counters, sizes, the state's source): skipped.
    }
  }
  return out;
}

/** metrics.json: the log, and per policy the truth and every estimate. */
export function opeMetricsJson(log: OpeResult['log'], policies: readonly PolicyResult[]): string {
  const byName: Record<string, unknown> = {};
  for (const p of policies) {
    byName[p.policy] = {
      display: p.display,
      trueValue: p.trueValue,
      trueValueCI: p.trueValueCI,
      matchRate: p.matchRate,
      estimates: Object.fromEntries(p.estimates.map(({ estimator, ...rest }) => [estimator, rest])),
      onPolicy: p.onPolicy,
    };
  }
  return JSON.stringify({ log, policies: byName }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
