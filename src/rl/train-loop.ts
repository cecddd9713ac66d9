/**
 * The interaction loop: act (exploring), step the environment, hand the transitions to
 * the agent, let it update. Fixed policies run through the same loop and simply do not
 * learn. Episode returns are tracked per slot as they finish, for progress and curves.
 */
import { GnnrlError } from '../errors.js';
import type { Agent, Environment, UpdateReport } from './types.js';
import { Yielder } from './yield.js';

export interface TrainProgress {
  /** Batched environment steps taken. */
  step: number;
  steps: number;
  /** Slot-steps per second so far. */
  stepsPerSecond: number;
  /** Mean return of the last `window` episodes to finish (NaN before any). */
  recentReturn: number;
  episodes: number;
  /** The latest update's report, when the agent learned. */
  update: UpdateReport | null;
}

export interface TrainOptions {
  /** Batched environment steps (each steps every slot once). */
  steps: number;
  /** Seed of the training episodes (default 1). */
  seed?: number;
  /** `update()` calls per environment step (default 1). */
  updatesPerStep?: number;
  /** Episodes averaged in `recentReturn` (default 100). */
  window?: number;
  /** Called every `reportEvery` steps (default 50) and at the end. */
  onProgress?: (p: TrainProgress) => void | Promise<void>;
  reportEvery?: number;
  /**
   * Called every `checkpointEvery` steps with the step count (for learning curves: the
   * caller evaluates a copy of the policy there). Awaited.
   */
  onCheckpoint?: (step: number) => void | Promise<void>;
  checkpointEvery?: number;
  /** Stops at the next step boundary. */
  signal?: AbortSignal;
}

export interface TrainResult {
  steps: number;
  seconds: number;
  episodes: number;
  /** Returns of the episodes that finished during training, in order. */
  episodeReturns: number[];
  lastUpdate: UpdateReport | null;
  aborted: boolean;
}

export async function trainAgent(env: Environment, agent: Agent, opts: TrainOptions): Promise<TrainResult> {
  const { steps } = opts;
  if (!Number.isInteger(steps) || steps < 0) throw new GnnrlError('input', `train: steps: expected an integer >= 0, got ${steps}`, { arg: 'steps' });
  const updatesPerStep = opts.updatesPerStep ?? 1;
  if (!Number.isInteger(updatesPerStep) || updatesPerStep < 0) throw new GnnrlError('input', `train: updatesPerStep: expected an integer >= 0, got ${updatesPerStep}`, { arg: 'updatesPerStep' });
  const window = opts.window ?? 100;
  const reportEvery = opts.reportEvery ?? 50;
  const B = env.batch;
  const ret = new Float64Array(B);
  const returns: number[] = [];
  let lastUpdate: UpdateReport | null = null;
  let obs = env.reset(opts.seed ?? 1);
  const t0 = performance.now();
  const progress = (step: number): TrainProgress => {
    const recent = returns.slice(-window);
    return {
      step,
      steps,
      stepsPerSecond: (step * B) / Math.max((performance.now() - t0) / 1000, 1e-9),
      recentReturn: recent.length ? recent.reduce((a, x) => a + x, 0) / recent.length : NaN,
      episodes: returns.length,
      update: lastUpdate,
    };
  };
  const yielder = new Yielder();
  let step = 0;
  let aborted = false;
  for (; step < steps; step++) {
    if (opts.signal?.aborted) {
      aborted = true;
      break;
    }
    if (opts.onCheckpoint && opts.checkpointEvery && step % opts.checkpointEvery === 0) await opts.onCheckpoint(step);
    await yielder.maybe();
    const actions = await agent.act(obs, { explore: true });
    const r = env.step(actions);
    if (agent.learns) agent.observe({ obs, actions, slateSize: env.slateSize, result: r });
    for (let b = 0; b < B; b++) {
      ret[b] += r.reward[b];
      if (r.done[b]) {
        returns.push(ret[b]);
        ret[b] = 0;
      }
    }
    if (agent.learns) {
      for (let u = 0; u < updatesPerStep; u++) {
        const rep = await agent.update();
        if (rep) lastUpdate = rep;
      }
    }
    obs = r.next;
    if (opts.onProgress && (step + 1) % reportEvery === 0) await opts.onProgress(progress(step + 1));
  }
  if (opts.onCheckpoint && opts.checkpointEvery && !aborted) await opts.onCheckpoint(step);
  if (opts.onProgress && step % reportEvery !== 0) await opts.onProgress(progress(step));
  return { steps: step, seconds: (performance.now() - t0) / 1000, episodes: returns.length, episodeReturns: returns, lastUpdate, aborted };
}
