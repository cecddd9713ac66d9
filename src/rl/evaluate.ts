/**
 * Evaluation of any agent (learned or fixed) in any environment, greedily (no
 * exploration): mean undiscounted and discounted episode return with a 95% bootstrap CI
 * over episodes, CTR, CVR, mean session length and throughput.
 *
 * Length bias: in a batched environment short episodes finish first, so "the first N
 * episodes to end" over-represents them (and a policy that makes users leave sooner
 * would look better sampled that way). Evaluation therefore takes the first
 * `ceil(episodes / batch)` episodes of every slot and runs until every slot has them.
 */
import { GnnrlError } from '../errors.js';
import { bootstrapCI, quantileSorted } from '../eval/bootstrap.js';
import { Rng } from '../util/rng.js';
import type { Agent, Environment } from './types.js';
import { Yielder } from './yield.js';

export interface EvaluateOptions {
  /** Episodes to score, at least (rounded up to a multiple of the batch; default 256). */
  episodes?: number;
  /** Seed of the environment's evaluation episodes (default 12345). */
  seed?: number;
  /** γ of the discounted return (default 0.9). */
  gamma?: number;
  /** Bootstrap seed (default 1). */
  bootstrapSeed?: number;
}

/** One scored episode. */
export interface EpisodeRecord {
  slot: number;
  user: number;
  return: number;
  discountedReturn: number;
  length: number;
  clicks: number;
  conversions: number;
  shown: number;
}

export interface AgentMetrics {
  agent: string;
  name: string;
  episodes: number;
  meanReturn: number;
  /** 95% bootstrap interval of meanReturn. */
  ci95: [number, number];
  meanDiscountedReturn: number;
  /** Clicks per item shown. */
  ctr: number;
  /** Conversions per click (0 when there were no clicks). */
  cvr: number;
  meanSessionLength: number;
  /** Slot-steps (one user shown one slate) per second, acting and stepping together. */
  stepsPerSecond: number;
}

export interface Evaluation {
  metrics: AgentMetrics;
  records: EpisodeRecord[];
}

export async function evaluateAgent(env: Environment, agent: Agent, opts: EvaluateOptions = {}): Promise<Evaluation> {
  const want = opts.episodes ?? 256;
  if (!Number.isInteger(want) || want < 1) throw new GnnrlError('input', `evaluate: episodes: expected an integer >= 1, got ${want}`, { arg: 'episodes' });
  const gamma = opts.gamma ?? 0.9;
  if (!(gamma >= 0 && gamma <= 1)) throw new GnnrlError('input', `evaluate: gamma: expected a number in [0, 1], got ${gamma}`, { arg: 'gamma' });
  const B = env.batch;
  const k = env.slateSize;
  const perSlot = Math.ceil(want / B);
  const ret = new Float64Array(B);
  const disc = new Float64Array(B);
  const pow = new Float64Array(B).fill(1);
  const len = new Int32Array(B);
  const clicks = new Int32Array(B);
  const conv = new Int32Array(B);
  const shown = new Int32Array(B);
  const done = new Int32Array(B);
  const records: EpisodeRecord[][] = Array.from({ length: B }, () => []);
  let obs = env.reset(opts.seed ?? 12345);
  const users = Int32Array.from(obs.user);
  let remaining = B;
  let slotSteps = 0;
  // Every episode ends within the horizon, so this bound is never reached by a sound env.
  const maxSteps = (perSlot + 1) * Math.max(1, env.horizon) + 1;
  const yielder = new Yielder();
  const t0 = performance.now();
  for (let s = 0; remaining > 0; s++) {
    if (s >= maxSteps) throw new GnnrlError('state', `evaluate: ${env.name} ran ${s} steps without ending ${perSlot} episodes per slot (horizon ${env.horizon})`);
    await yielder.maybe();
    const actions = await agent.act(obs, { explore: false });
    const r = env.step(actions);
    slotSteps += B;
    for (let b = 0; b < B; b++) {
      // A skipped step (log replay, unknown: skip) is no step of the episode, but it can end it.
      if (!r.skipped[b]) {
        ret[b] += r.reward[b];
        disc[b] += pow[b] * r.reward[b];
        pow[b] *= gamma;
        len[b]++;
        clicks[b] += r.click[b];
        conv[b] += r.conversion[b];
        shown[b] += k;
      }
      if (r.done[b]) {
        if (done[b] < perSlot) {
          records[b].push({ slot: b, user: users[b], return: ret[b], discountedReturn: disc[b], length: len[b], clicks: clicks[b], conversions: conv[b], shown: shown[b] });
          if (++done[b] === perSlot) remaining--;
        }
        ret[b] = disc[b] = 0;
        pow[b] = 1;
        len[b] = clicks[b] = conv[b] = shown[b] = 0;
        users[b] = r.next.user[b];
      }
    }
    obs = r.next;
  }
  const seconds = (performance.now() - t0) / 1000;
  const flat = records.flat();
  return { metrics: summarize(agent.kind, agent.name, flat, slotSteps / Math.max(seconds, 1e-9), opts.bootstrapSeed ?? 1), records: flat };
}

/** Metrics of scored episodes. */
export function summarize(agent: string, name: string, records: EpisodeRecord[], stepsPerSecond: number, bootstrapSeed = 1): AgentMetrics {
  const n = records.length;
  if (n === 0) throw new GnnrlError('input', `evaluate: ${agent}: no episodes to summarise`, { arg: 'records' });
  const returns = Float64Array.from(records, (r) => r.return);
  let sr = 0, sd = 0, sl = 0, sc = 0, sv = 0, ss = 0;
  for (const r of records) {
    sr += r.return;
    sd += r.discountedReturn;
    sl += r.length;
    sc += r.clicks;
    sv += r.conversions;
    ss += r.shown;
  }
  return {
    agent,
    name,
    episodes: n,
    meanReturn: sr / n,
    ci95: n > 1 ? bootstrapCI(returns, { seed: bootstrapSeed }) : [sr / n, sr / n],
    meanDiscountedReturn: sd / n,
    ctr: ss > 0 ? sc / ss : 0,
    cvr: sc > 0 ? sv / sc : 0,
    meanSessionLength: sl / n,
    stepsPerSecond,
  };
}

/**
 * 95% (or `level`) bootstrap interval of mean(a) − mean(b), resampling each sample
 * independently: "A beats B" is the claim that this interval lies above zero.
 */
export function differenceCI(a: ArrayLike<number>, b: ArrayLike<number>, opts: { replicates?: number; level?: number; seed?: number } = {}): [number, number] {
  if (a.length === 0 || b.length === 0) throw new GnnrlError('input', 'differenceCI: both samples need at least one value', { arg: a.length === 0 ? 'a' : 'b' });
  const reps = opts.replicates ?? 2000;
  const level = opts.level ?? 0.95;
  const rng = new Rng(opts.seed ?? 1);
  const diffs = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let sa = 0;
    for (let i = 0; i < a.length; i++) sa += a[rng.int(a.length)];
    let sb = 0;
    for (let i = 0; i < b.length; i++) sb += b[rng.int(b.length)];
    diffs[r] = sa / a.length - sb / b.length;
  }
  diffs.sort();
  return [quantileSorted(diffs, (1 - level) / 2), quantileSorted(diffs, 1 - (1 - level) / 2)];
}
