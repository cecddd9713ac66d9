/**
 * Logging policies: stochastic policies that say how probable the slate they showed was,
 * so that what they log can be evaluated off-policy (IPS, SNIPS, DR need the logging
 * propensity of every logged action).
 *
 * `SoftmaxLoggingPolicy` samples over any item scorer (a fitted model's scores, the log's
 * popularity) outside the slot's history window:
 *
 *   μ(a | x) = (1 − ε)·softmax(score(x, ·)/temperature)_a + ε/|eligible(x)|
 *
 * A slate of K draws its positions one after another without replacement (Plackett–Luce
 * with the ε mixture at each position), and its propensity is the product of the
 * positions' conditional probabilities: the exact probability of that ordered slate.
 * ε > 0 keeps every eligible item's probability positive, which IPS's unbiasedness needs
 * for any target policy (support), while a low temperature makes the log skewed.
 */
import { GnnrlError, check } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import type { Interactions } from '../../data/interactions.js';
import type { ModelState, RecommenderModel } from '../../models/types.js';
import type { Agent, Observation, UpdateReport } from '../types.js';
import { historyExclusions, isExcluded, type ExclusionRows } from '../state/exclusions.js';

/** Dense scores of every item for each slot of an observation (batch × nItems). */
export interface ItemScorer {
  readonly name: string;
  readonly nItems: number;
  score(obs: Observation): Promise<Float32Array>;
}

/** A fitted model's scores for each slot's user (`scoreItems`). */
export function modelScorer(model: RecommenderModel): ItemScorer {
  return { name: model.kind, nItems: model.nItems, score: (obs) => model.scoreItems(obs.user) };
}

/** log(1 + count) of each item in a log, the same for every user: a popularity-skewed logger. */
export function popularityScorer(log: Interactions): ItemScorer {
  const s = new Float32Array(log.nItems);
  for (let j = 0; j < log.item.length; j++) s[log.item[j]]++;
  for (let i = 0; i < s.length; i++) s[i] = Math.log1p(s[i]);
  return {
    name: 'popularity',
    nItems: log.nItems,
    score: async (obs) => {
      const out = new Float32Array(obs.batch * s.length);
      for (let b = 0; b < obs.batch; b++) out.set(s, b * s.length);
      return out;
    },
  };
}

/** A policy that reports the probability of what it showed. */
export interface LoggingPolicy extends Agent {
  /** Samples a slate per slot and returns it with its probability under this policy. */
  actWithPropensity(obs: Observation): Promise<{ actions: Int32Array; propensity: Float64Array }>;
  /** The probability of given slates (batch × slateSize) in the slots of `obs`. */
  probabilities(obs: Observation, actions: Int32Array): Promise<Float64Array>;
}

export interface SoftmaxLoggingOptions {
  /** Softmax temperature over the scores (default 1; lower is more skewed). */
  temperature?: number;
  /** Share of uniform exploration over the eligible items (default 0.05). */
  epsilon?: number;
  seed?: number;
}

export class SoftmaxLoggingPolicy implements LoggingPolicy {
  readonly kind = 'softmax-logging';
  readonly name: string;
  readonly learns = false;
  readonly temperature: number;
  readonly epsilon: number;
  readonly seed: number;
  private readonly rng: Rng;

  constructor(
    readonly scorer: ItemScorer,
    readonly slateSize: number,
    opts: SoftmaxLoggingOptions = {},
  ) {
    this.temperature = opts.temperature ?? 1;
    this.epsilon = opts.epsilon ?? 0.05;
    this.seed = opts.seed ?? 1;
    check(Number.isInteger(slateSize) && slateSize >= 1 && slateSize <= scorer.nItems, 'slateSize', `an integer in [1, ${scorer.nItems}], got ${slateSize}`);
    check(this.temperature > 0 && Number.isFinite(this.temperature), 'temperature', `a finite number > 0, got ${this.temperature}`);
    check(this.epsilon >= 0 && this.epsilon <= 1, 'epsilon', `a number in [0, 1], got ${this.epsilon}`);
    this.name = `Softmax logger (${scorer.name}, T ${this.temperature}, ε ${this.epsilon})`;
    this.rng = new Rng(this.seed);
  }

  async act(obs: Observation): Promise<Int32Array> {
    return (await this.actWithPropensity(obs)).actions;
  }

  async actWithPropensity(obs: Observation): Promise<{ actions: Int32Array; propensity: Float64Array }> {
    return this.run(obs, null);
  }

  async probabilities(obs: Observation, actions: Int32Array): Promise<Float64Array> {
    check(actions.length === obs.batch * this.slateSize, 'actions', `batch × slateSize = ${obs.batch * this.slateSize} items, got ${actions.length}`);
    return (await this.run(obs, actions)).propensity;
  }

  /**
   * The whole distribution over single items per slot (batch × nItems; slateSize 1 only):
   * what doubly robust needs when this policy is the target.
   */
  async distribution(obs: Observation): Promise<Float64Array> {
    if (this.slateSize !== 1) throw new GnnrlError('input', `${this.kind}: distribution() is defined for single-item actions, this policy shows ${this.slateSize}`, { arg: 'slateSize' });
    const n = this.scorer.nItems;
    const scores = await this.checkedScores(obs);
    const rows = historyExclusions(obs);
    const out = new Float64Array(obs.batch * n);
    const taken = new Uint8Array(n);
    for (let b = 0; b < obs.batch; b++) this.positionProbabilities(scores, rows, b, taken, out.subarray(b * n, (b + 1) * n));
    return out;
  }

  /** Samples (given = null) or scores given slates; returns the slates and their propensities. */
  private async run(obs: Observation, given: Int32Array | null): Promise<{ actions: Int32Array; propensity: Float64Array }> {
    const n = this.scorer.nItems;
    const k = this.slateSize;
    const scores = await this.checkedScores(obs);
    const rows = historyExclusions(obs);
    const actions = given ?? new Int32Array(obs.batch * k);
    const propensity = new Float64Array(obs.batch);
    const p = new Float64Array(n);
    const taken = new Uint8Array(n);
    for (let b = 0; b < obs.batch; b++) {
      taken.fill(0);
      let prob = 1;
      for (let j = 0; j < k; j++) {
        const eligible = this.positionProbabilities(scores, rows, b, taken, p);
        if (eligible === 0) throw new GnnrlError('input', `${this.kind}: slot ${b} has fewer than ${k} items outside its history window`, { arg: 'slateSize' });
        let item: number;
        if (given) {
          item = given[b * k + j];
          if (!(item >= 0 && item < n)) throw new GnnrlError('input', `${this.kind}: actions: slot ${b}, position ${j}: item ${item} is not in [0, ${n})`, { arg: 'actions', index: b * k + j });
        } else {
          let u = this.rng.next();
          item = -1;
          for (let i = 0; i < n; i++) {
            if (p[i] === 0) continue;
            item = i;
            u -= p[i];
            if (u < 0) break;
          }
          actions[b * k + j] = item;
        }
        prob *= p[item];
        taken[item] = 1;
      }
      propensity[b] = prob;
    }
    return { actions, propensity };
  }

  /** Fills `p` with slot b's next-position probabilities over items not excluded or taken; returns the eligible count. */
  private positionProbabilities(scores: Float32Array, rows: ExclusionRows, b: number, taken: Uint8Array, p: Float64Array): number {
    const n = this.scorer.nItems;
    const base = b * n;
    let maxS = -Infinity;
    let eligible = 0;
    for (let i = 0; i < n; i++) {
      if (taken[i] || isExcluded(rows, b, i)) {
        p[i] = -1;
        continue;
      }
      p[i] = 0;
      eligible++;
      if (scores[base + i] > maxS) maxS = scores[base + i];
    }
    if (eligible === 0) return 0;
    let z = 0;
    for (let i = 0; i < n; i++) if (p[i] === 0) z += p[i] = Math.exp((scores[base + i] - maxS) / this.temperature) || Number.MIN_VALUE;
    const e = this.epsilon;
    for (let i = 0; i < n; i++) p[i] = p[i] < 0 ? 0 : (1 - e) * (p[i] / z) + e / eligible;
    return eligible;
  }

  private async checkedScores(obs: Observation): Promise<Float32Array> {
    const s = await this.scorer.score(obs);
    if (s.length !== obs.batch * this.scorer.nItems) throw new GnnrlError('state', `${this.kind}: scorer ${this.scorer.name} gave ${s.length} scores, expected ${obs.batch} × ${this.scorer.nItems}`);
    return s;
  }

  observe(): void {}
  async update(): Promise<UpdateReport | null> {
    return null;
  }
  async state(): Promise<ModelState> {
    return { kind: this.kind, config: { scorer: this.scorer.name, slateSize: this.slateSize, temperature: this.temperature, epsilon: this.epsilon, seed: this.seed }, arrays: {} };
  }
  dispose(): void {}
}
