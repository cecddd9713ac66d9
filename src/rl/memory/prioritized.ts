/**
 * Proportional prioritized replay (Schaul, Quan, Antonoglou & Silver, "Prioritized
 * Experience Replay", ICLR 2016):
 *
 *   p_i  = (|δ_i| + ε)^α                       priority from the last TD error of row i
 *   P(i) = p_i / Σ_k p_k                       sampling probability
 *   w_i  = (N · P(i))^(−β) / max_j w_j         importance weight, N = rows held
 *
 * max_j w_j runs over the whole buffer (not the batch), as in the paper, so it is the
 * weight of the smallest priority: w_i = (p_i / p_min)^(−β) ∈ (0, 1]. β is annealed by a
 * schedule (linear β0 → 1 by default) evaluated at the number of `sample` calls so far.
 * A new row gets the largest priority seen so far (1 before any update), so every
 * transition is replayed at least once with high probability before its TD error is known.
 *
 * Draws are independent (u ~ U[0, Σp) per sample, with replacement), so the counts of a
 * batch are exactly multinomial with probabilities P(i); the paper's stratified variant
 * (one draw per equal segment) lowers variance but is not offered here.
 *
 * Storage is a `ReplayBuffer` (the rows) plus a `SumTree` (the priorities) over the same
 * row indices; the ring overwrites a row and its priority together.
 */
import { GnnrlError, check } from '../../errors.js';
import { linearSchedule, toSchedule, type Schedule, type ScheduleLike } from '../schedules.js';
import { ReplayBuffer, checkCapacity, checkSchema, defaultMaxBytes, type FieldArray, type ReplayOptions, type ReplayState } from './replay.js';
import { SumTree } from './sum-tree.js';

export interface PrioritizedOptions extends ReplayOptions {
  /** How strongly priorities skew sampling: 0 is uniform, 1 fully proportional. Default 0.6. */
  readonly alpha?: number;
  /** β at step 0, annealed linearly to 1 over `betaSteps` sample calls. Default 0.4. */
  readonly beta0?: number;
  /** Sample calls over which β reaches 1. Default 100 000. */
  readonly betaSteps?: number;
  /** Overrides beta0/betaSteps with any schedule of the sample-call counter. */
  readonly beta?: ScheduleLike;
  /** Added to |δ| so no row's probability is 0. Default 1e-6; must be > 0. */
  readonly epsilon?: number;
}

export interface PrioritizedSample {
  readonly indices: Int32Array;
  readonly fields: Record<string, FieldArray>;
  /** Importance weight per sample, max-normalised over the buffer (≤ 1). */
  readonly weights: Float32Array;
  /** P(i) of each sample (float64, for diagnostics and tests). */
  readonly probabilities: Float64Array;
  /** The β the weights used. */
  readonly beta: number;
}

export interface PrioritizedState {
  readonly replay: ReplayState;
  /** Priority p_i (after the α power) of rows 0 … size − 1. */
  readonly priorities: Float64Array;
  readonly maxPriority: number;
  /** Sample calls so far (β's step). */
  readonly step: number;
}

export class PrioritizedReplay {
  readonly alpha: number;
  readonly epsilon: number;
  readonly beta: Schedule;
  private readonly buffer: ReplayBuffer;
  private tree: SumTree;
  private readonly rng: ReplayOptions['rng'];
  private maxP = 1;
  private steps = 0;

  constructor(opts: PrioritizedOptions) {
    const alpha = opts.alpha ?? 0.6;
    const epsilon = opts.epsilon ?? 1e-6;
    check(Number.isFinite(alpha) && alpha >= 0, 'alpha', `a finite number >= 0, got ${alpha}`);
    check(Number.isFinite(epsilon) && epsilon > 0, 'epsilon', `a finite number > 0, got ${epsilon}`);
    if (opts.beta !== undefined) {
      this.beta = toSchedule(opts.beta, 'beta');
    } else {
      const beta0 = opts.beta0 ?? 0.4;
      check(Number.isFinite(beta0) && beta0 >= 0 && beta0 <= 1, 'beta0', `a number in [0, 1], got ${beta0}`);
      this.beta = linearSchedule(beta0, 1, opts.betaSteps ?? 100_000);
    }
    // The tree adds two float64 heaps of 2·(capacity rounded up to a power of two)
    // entries: count them (as 32 bytes per row, their worst case) in the memory check.
    checkCapacity(opts.capacity, checkSchema(opts.schema) + 32, opts.maxBytes ?? defaultMaxBytes(), 'prioritized replay buffer');
    this.buffer = new ReplayBuffer({ ...opts, maxBytes: Infinity });
    this.tree = new SumTree(opts.capacity);
    this.alpha = alpha;
    this.epsilon = epsilon;
    this.rng = opts.rng;
  }

  get size(): number {
    return this.buffer.size;
  }

  get capacity(): number {
    return this.buffer.capacity;
  }

  get schema() {
    return this.buffer.schema;
  }

  /** Sample calls so far; β = beta.value(step). */
  get step(): number {
    return this.steps;
  }

  /** The largest priority p (after the α power) given so far; new rows get it. */
  get maxPriority(): number {
    return this.maxP;
  }

  /** Priority p_i of row i. */
  priority(i: number): number {
    check(Number.isInteger(i) && i >= 0 && i < this.size, 'i', `an integer in [0, ${this.size}), got ${i}`);
    return this.tree.get(i);
  }

  /** Appends rows as `ReplayBuffer.add` does, each at the current max priority; returns their buffer rows. */
  add(rows: Record<string, FieldArray>, count: number): Int32Array {
    const where = this.buffer.add(rows, count);
    for (let i = 0; i < where.length; i++) this.tree.set(where[i]!, this.maxP);
    return where;
  }

  /**
   * `batch` rows drawn with probability P(i), their fields, and importance weights with
   * β at the current step; then advances the step.
   */
  sample(batch: number): PrioritizedSample {
    check(Number.isInteger(batch) && batch >= 1, 'batch', `an integer >= 1, got ${batch}`);
    if (this.size === 0) throw new GnnrlError('state', 'prioritized replay buffer: sample() on an empty buffer; add() transitions first');
    const total = this.tree.total();
    const beta = this.beta.value(this.steps);
    const pMin = this.tree.min();
    const indices = new Int32Array(batch);
    const weights = new Float32Array(batch);
    const probabilities = new Float64Array(batch);
    for (let b = 0; b < batch; b++) {
      const i = this.tree.find(this.rng.next() * total);
      const p = this.tree.get(i);
      indices[b] = i;
      probabilities[b] = p / total;
      // (N·P(i))^(−β) / (N·P_min)^(−β), written as a ratio of priorities so N and Σp
      // cancel instead of rounding twice.
      weights[b] = Math.pow(p / pMin, -beta);
    }
    this.steps++;
    return { indices, fields: this.buffer.gather(indices), weights, probabilities, beta };
  }

  /** Sets p_i = (|δ_i| + ε)^α for each sampled row i (duplicates: the last one wins). */
  updatePriorities(indices: Int32Array, tdErrors: ArrayLike<number>): void {
    check(tdErrors.length === indices.length, 'tdErrors', `one TD error per index (${indices.length}), got ${tdErrors.length}`);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      check(Number.isInteger(i) && i >= 0 && i < this.size, 'indices', `rows in [0, ${this.size}), got ${i}`, k);
      const d = tdErrors[k]!;
      check(Number.isFinite(d), 'tdErrors', `finite numbers, got ${d}`, k);
      const p = Math.pow(Math.abs(d) + this.epsilon, this.alpha);
      this.tree.set(i, p);
      if (p > this.maxP) this.maxP = p;
    }
  }

  clear(): void {
    this.buffer.clear();
    // Reset every leaf to "unset" by rebuilding: a cleared buffer must not keep old minima.
    this.tree = new SumTree(this.capacity);
    this.maxP = 1;
  }

  state(): PrioritizedState {
    return { replay: this.buffer.state(), priorities: this.tree.leaves().slice(0, this.size), maxPriority: this.maxP, step: this.steps };
  }

  load(state: PrioritizedState): void {
    const size = state?.replay?.position?.size;
    check(state?.priorities instanceof Float64Array && state.priorities.length === size, 'state.priorities', `a Float64Array of ${size} priorities, got ${state?.priorities?.length}`);
    for (let i = 0; i < state.priorities.length; i++) {
      const p = state.priorities[i]!;
      check(Number.isFinite(p) && p > 0, 'state.priorities', `finite numbers > 0, got ${p}`, i);
    }
    check(Number.isFinite(state.maxPriority) && state.maxPriority > 0, 'state.maxPriority', `a finite number > 0, got ${state.maxPriority}`);
    check(Number.isInteger(state.step) && state.step >= 0, 'state.step', `an integer >= 0, got ${state.step}`);
    this.buffer.load(state.replay);
    const tree = new SumTree(this.capacity);
    for (let i = 0; i < state.priorities.length; i++) tree.set(i, state.priorities[i]!);
    this.tree = tree;
    this.maxP = state.maxPriority;
    this.steps = state.step;
  }
}
