/**
 * The simulator writes logs: a logging policy acts in an environment for a number of
 * batched steps and every slot-step becomes one logged event (user, step, history
 * window, slate, clicked position, reward, the policy's propensity of that slate, time).
 *
 * In a simulator the truth is known, so collecting can also record, for target policies
 * named up front, what each of them would have earned in the same logged states: the
 * expected immediate reward of the target's slate there (`expectedReward`), before the
 * logging policy's slate is shown. Its mean over the log is exactly the value that
 * off-policy estimators estimate from the log (the per-decision value of the target on
 * the logged context distribution), so tests and `gnnrl ope` can check the estimators
 * against it.
 */
import { GnnrlError, check } from '../../errors.js';
import type { Agent, Environment, TruthfulEnvironment } from '../types.js';
import { isTruthful } from '../policies/fixed.js';
import type { LoggingPolicy } from '../policies/logging.js';
import type { LoggedData } from './format.js';

export interface CollectOptions {
  /** Batched steps (each logs `env.batch` events). */
  steps: number;
  /** Seed of the environment's episodes (default 1). */
  seed?: number;
  /** Policies whose true per-decision value on the logged states to record (truthful environments only). */
  targets?: readonly Agent[];
}

export interface CollectedLog {
  log: LoggedData;
  /** Per target (in `targets` order): E[reward] of its slate in each logged state, one per event. */
  targetExpectedReward: Float64Array[];
  /** Per target: its slate (n × K) in each logged state. */
  targetActions: Int32Array[];
  /** The logging policy's own E[reward] in each logged state (truthful environments; else null). */
  loggerExpectedReward: Float64Array | null;
}

export async function collectLog(env: Environment, policy: LoggingPolicy, opts: CollectOptions): Promise<CollectedLog> {
  check(Number.isInteger(opts.steps) && opts.steps >= 1, 'steps', `an integer >= 1, got ${opts.steps}`);
  const targets = opts.targets ?? [];
  const truthful = isTruthful(env);
  if (targets.length > 0 && !truthful) throw new GnnrlError('input', `collect: targets: environment ${env.name} does not know the truth, so no target's value can be recorded`, { arg: 'targets' });
  const B = env.batch;
  const K = env.slateSize;
  const H = env.historyLen;
  const cap = opts.steps * B;
  const user = new Int32Array(cap);
  const session = new Int32Array(cap);
  const step = new Int32Array(cap);
  const history = new Int32Array(cap * H);
  const slate = new Int32Array(cap * K);
  const position = new Int32Array(cap);
  const reward = new Float32Array(cap);
  const propensity = new Float64Array(cap);
  const time = new Float64Array(cap);
  const targetER = targets.map(() => new Float64Array(cap));
  const targetAct = targets.map(() => new Int32Array(cap * K));
  const loggerER = truthful ? new Float64Array(cap) : null;
  let n = 0;
  let obs = env.reset(opts.seed ?? 1);
  // Session ids: slot b's current episode; a slot gets a new id when its episode ends.
  const current = Int32Array.from({ length: B }, (_, b) => b);
  let nextSession = B;
  for (let s = 0; s < opts.steps; s++) {
    const ers: Float32Array[] = [];
    const tas: Int32Array[] = [];
    for (const t of targets) {
      const a = await t.act(obs, { explore: false });
      tas.push(a);
      ers.push((env as TruthfulEnvironment).expectedReward(a));
    }
    const { actions, propensity: prop } = await policy.actWithPropensity(obs);
    const own = truthful ? (env as TruthfulEnvironment).expectedReward(actions) : null;
    const r = env.step(actions);
    for (let b = 0; b < B; b++) {
      if (r.skipped[b]) continue;
      if (!(prop[b] > 0 && prop[b] <= 1)) throw new GnnrlError('state', `collect: ${policy.kind} reported propensity ${prop[b]} for slot ${b} at step ${s}; expected (0, 1]`);
      user[n] = obs.user[b];
      session[n] = current[b];
      step[n] = obs.stepInEpisode[b];
      history.set(obs.historyItems.subarray(b * H, (b + 1) * H), n * H);
      slate.set(actions.subarray(b * K, (b + 1) * K), n * K);
      position[n] = r.choice[b];
      reward[n] = r.reward[b];
      propensity[n] = prop[b];
      time[n] = s;
      targets.forEach((_t, m) => {
        targetER[m][n] = ers[m][b];
        targetAct[m].set(tas[m].subarray(b * K, (b + 1) * K), n * K);
      });
      if (loggerER && own) loggerER[n] = own[b];
      n++;
    }
    for (let b = 0; b < B; b++) if (r.done[b]) current[b] = nextSession++;
    obs = r.next;
  }
  const log: LoggedData = {
    n,
    slateSize: K,
    historyLen: H,
    user: user.slice(0, n),
    session: session.slice(0, n),
    step: step.slice(0, n),
    history: history.slice(0, n * H),
    slate: slate.slice(0, n * K),
    position: position.slice(0, n),
    reward: reward.slice(0, n),
    propensity: propensity.slice(0, n),
    positionPropensity: null,
    time: time.slice(0, n),
    propensitySource: 'logged',
  };
  return { log, targetExpectedReward: targetER.map((a) => a.slice(0, n)), targetActions: targetAct.map((a) => a.slice(0, n * K)), loggerExpectedReward: loggerER ? loggerER.slice(0, n) : null };
}
