/**
 * The policies every learned agent is measured against, in the same harness: uniform
 * random, most popular, greedy over any fitted `RecommenderModel`, and the simulator's
 * myopic oracle. None of them learns; each shows `slateSize` distinct items per slot
 * and skips the slot's history window (what the user has just consumed).
 */
import { GnnrlError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import type { Interactions } from '../../data/interactions.js';
import type { ModelState, RecommenderModel } from '../../models/types.js';
import type { ActOptions, Agent, Environment, Observation, TruthfulEnvironment, UpdateReport } from '../types.js';
import { historyExclusions, isExcluded, type ExclusionRows } from '../state/exclusions.js';

abstract class FixedPolicy implements Agent {
  readonly learns = false;
  abstract readonly kind: string;
  abstract readonly name: string;
  abstract act(obs: Observation, opts: ActOptions): Promise<Int32Array>;
  observe(): void {}
  async update(): Promise<UpdateReport | null> {
    return null;
  }
  async state(): Promise<ModelState> {
    return { kind: this.kind, config: this.config(), arrays: {} };
  }
  protected config(): Record<string, unknown> {
    return {};
  }
  dispose(): void {}
}

/** Uniformly random distinct items per slot, none from the history window. */
export class RandomPolicy extends FixedPolicy {
  readonly kind = 'random';
  readonly name = 'Random';
  private readonly rng: Rng;

  constructor(
    private readonly nItems: number,
    private readonly slateSize: number,
    readonly seed = 1,
  ) {
    super();
    this.rng = new Rng(seed);
  }

  async act(obs: Observation): Promise<Int32Array> {
    const k = this.slateSize;
    const rows = historyExclusions(obs);
    const out = new Int32Array(obs.batch * k);
    for (let b = 0; b < obs.batch; b++) {
      const eligible = this.nItems - (rows.rowPtr[b + 1] - rows.rowPtr[b]);
      if (eligible < k) throw new GnnrlError('input', `random policy: slot ${b} has ${eligible} items outside its history for a slate of ${k}`, { arg: 'slateSize' });
      for (let j = 0; j < k; j++) {
        let i: number;
        do i = this.rng.int(this.nItems);
        while (isExcluded(rows, b, i) || out.subarray(b * k, b * k + j).includes(i));
        out[b * k + j] = i;
      }
    }
    return out;
  }

  protected override config(): Record<string, unknown> {
    return { seed: this.seed };
  }
}

/** The most consumed items of a log, best first, past each slot's history. */
export class PopularityPolicy extends FixedPolicy {
  readonly kind = 'popularity';
  readonly name = 'Popularity';
  /** Items by descending count, ties to the lower index. */
  readonly ranking: Int32Array;

  constructor(
    log: Interactions,
    private readonly slateSize: number,
  ) {
    super();
    const counts = new Float64Array(log.nItems);
    for (let j = 0; j < log.item.length; j++) counts[log.item[j]]++;
    this.ranking = Int32Array.from({ length: log.nItems }, (_, i) => i).sort((x, y) => counts[y] - counts[x] || x - y);
  }

  /** The ranking itself, past `rows` (ranking metrics). */
  async rank(obs: Observation, k: number, rows: ExclusionRows = historyExclusions(obs)): Promise<Int32Array> {
    const out = new Int32Array(obs.batch * k).fill(-1);
    for (let b = 0; b < obs.batch; b++) {
      let j = 0;
      for (let r = 0; r < this.ranking.length && j < k; r++) if (!isExcluded(rows, b, this.ranking[r])) out[b * k + j++] = this.ranking[r];
    }
    return out;
  }

  async act(obs: Observation): Promise<Int32Array> {
    const k = this.slateSize;
    const rows = historyExclusions(obs);
    const out = new Int32Array(obs.batch * k);
    for (let b = 0; b < obs.batch; b++) {
      let j = 0;
      for (let r = 0; r < this.ranking.length && j < k; r++) {
        const i = this.ranking[r];
        if (!isExcluded(rows, b, i)) out[b * k + j++] = i;
      }
      if (j < k) throw new GnnrlError('input', `popularity policy: slot ${b} has fewer than ${k} items outside its history`, { arg: 'slateSize' });
    }
    return out;
  }
}

/** A fitted model's top-k for each slot's user, past the history window. */
export class GreedyModelPolicy extends FixedPolicy {
  readonly kind: string;
  readonly name: string;

  constructor(
    readonly model: RecommenderModel,
    private readonly slateSize: number,
  ) {
    super();
    this.kind = `greedy:${model.kind}`;
    this.name = `Greedy ${model.name}`;
  }

  /** The model's own top-k past `rows` (ranking metrics). */
  async rank(obs: Observation, k: number, rows: ExclusionRows = historyExclusions(obs)): Promise<Int32Array> {
    return (await this.model.recommend(obs.user, k, { exclude: rows })).items;
  }

  async act(obs: Observation): Promise<Int32Array> {
    const k = this.slateSize;
    const rec = await this.model.recommend(obs.user, k, { exclude: historyExclusions(obs) });
    for (let j = 0; j < rec.items.length; j++) {
      if (rec.items[j] < 0) throw new GnnrlError('input', `${this.kind}: slot ${Math.floor(j / k)} has fewer than ${k} eligible items`, { arg: 'slateSize' });
    }
    return rec.items;
  }

  protected override config(): Record<string, unknown> {
    return { model: this.model.kind };
  }
}

/** The simulator's myopic oracle: the slate with the highest expected immediate reward. */
export class OraclePolicy extends FixedPolicy {
  readonly kind = 'oracle';
  readonly name = 'Myopic oracle';

  constructor(private readonly env: Environment) {
    super();
    if (!isTruthful(env)) throw new GnnrlError('input', `oracle: environment ${env.name} does not know the truth (only simulators have an oracle)`, { arg: 'agent' });
  }

  async act(): Promise<Int32Array> {
    return (this.env as TruthfulEnvironment).oracleSlate();
  }
}

export function isTruthful(env: Environment): env is TruthfulEnvironment {
  return typeof (env as Partial<TruthfulEnvironment>).oracleSlate === 'function';
}
