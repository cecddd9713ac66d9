/**
 * Tabular Q-learning and SARSA (Sutton & Barto, 2nd ed., §6.5 and §6.4) over a discrete
 * state and action space, with ε-greedy acting:
 *
 *   Q-learning:  Q(s, a) ← Q(s, a) + α [r + γ max_a' Q(s', a') − Q(s, a)]
 *   SARSA:       Q(s, a) ← Q(s, a) + α [r + γ Q(s', a')     − Q(s, a)]
 *
 * with the bootstrap term dropped when s' is terminal (done). α and ε are schedules of
 * the number of `learn` calls so far (constants are the usual case). Greedy ties are
 * broken uniformly at random, so an untrained table does not always pick action 0.
 *
 * The agent is generic over (state, action) indices: environments or adapters map their
 * own observations onto [0, nStates) and actions onto [0, nActions).
 *
 * Randomness: one `Rng` seeded from `seed`, with its draws counted, so `state()` holds
 * (seed, draws) and `load()` replays the stream to the same point: a resumed agent acts
 * exactly as the uninterrupted one would.
 */
import { check } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { toSchedule, type Schedule, type ScheduleLike, type ScheduleSpec } from '../schedules.js';

export type TabularMethod = 'qlearning' | 'sarsa';

export interface TabularOptions {
  readonly nStates: number;
  readonly nActions: number;
  /** Step size α ∈ [0, 1] (a schedule of learn steps, or a constant). Default 0.1. */
  readonly alpha?: ScheduleLike;
  /** Discount γ ∈ [0, 1]. */
  readonly gamma: number;
  /** Exploration ε ∈ [0, 1] (a schedule of learn steps, or a constant). Default 0.1. */
  readonly epsilon?: ScheduleLike;
  readonly method: TabularMethod;
  readonly seed?: number;
  /** Initial value of every Q(s, a). Default 0. */
  readonly initialQ?: number;
}

export interface TabularState {
  readonly kind: 'tabular';
  readonly method: TabularMethod;
  readonly nStates: number;
  readonly nActions: number;
  readonly gamma: number;
  readonly alpha: ScheduleSpec;
  readonly epsilon: ScheduleSpec;
  readonly seed: number;
  /** Random numbers drawn so far from the seed's stream. */
  readonly draws: number;
  /** learn() calls so far (the schedules' step). */
  readonly steps: number;
  /** Q(s, a) at s·nActions + a (a copy). */
  readonly q: Float64Array;
}

export class TabularAgent {
  readonly nStates: number;
  readonly nActions: number;
  readonly gamma: number;
  readonly method: TabularMethod;
  readonly alpha: Schedule;
  readonly epsilon: Schedule;
  readonly seed: number;
  /** Q(s, a) at s·nActions + a. */
  readonly q: Float64Array;
  private rng: Rng;
  private draws = 0;
  private learnSteps = 0;
  /** Scratch for the tied greedy actions. */
  private readonly ties: Int32Array;

  constructor(opts: TabularOptions) {
    const { nStates, nActions, gamma, method } = opts;
    check(Number.isInteger(nStates) && nStates >= 1, 'nStates', `an integer >= 1, got ${nStates}`);
    check(Number.isInteger(nActions) && nActions >= 1, 'nActions', `an integer >= 1, got ${nActions}`);
    check(typeof gamma === 'number' && gamma >= 0 && gamma <= 1, 'gamma', `a number in [0, 1], got ${gamma}`);
    check(method === 'qlearning' || method === 'sarsa', 'method', `'qlearning' | 'sarsa', got ${JSON.stringify(method)}`);
    const seed = opts.seed ?? 1;
    check(Number.isInteger(seed), 'seed', `an integer, got ${seed}`);
    const initialQ = opts.initialQ ?? 0;
    check(Number.isFinite(initialQ), 'initialQ', `a finite number, got ${initialQ}`);
    this.nStates = nStates;
    this.nActions = nActions;
    this.gamma = gamma;
    this.method = method;
    this.alpha = toSchedule(opts.alpha ?? 0.1, 'alpha');
    this.epsilon = toSchedule(opts.epsilon ?? 0.1, 'epsilon');
    this.seed = seed;
    this.q = new Float64Array(nStates * nActions).fill(initialQ);
    this.rng = new Rng(seed);
    this.ties = new Int32Array(nActions);
  }

  /** learn() calls so far. */
  get steps(): number {
    return this.learnSteps;
  }

  /** ε at the current step. */
  currentEpsilon(): number {
    const e = this.epsilon.value(this.learnSteps);
    check(e >= 0 && e <= 1, 'epsilon', `values in [0, 1], got ${e} at step ${this.learnSteps}`);
    return e;
  }

  /** ε-greedy action in `s` (greedy when `explore` is false). */
  act(s: number, explore = true): number {
    this.checkState(s, 's');
    if (explore && this.uniform() < this.currentEpsilon()) return this.randomInt(this.nActions);
    return this.greedy(s);
  }

  /** argmax_a Q(s, a), ties broken uniformly at random. */
  greedy(s: number): number {
    this.checkState(s, 's');
    const A = this.nActions;
    const row = s * A;
    let best = -Infinity;
    let n = 0;
    for (let a = 0; a < A; a++) {
      const v = this.q[row + a]!;
      if (v > best) {
        best = v;
        n = 0;
      }
      if (v === best) this.ties[n++] = a;
    }
    return n === 1 ? this.ties[0]! : this.ties[this.randomInt(n)]!;
  }

  /** max_a Q(s, a). */
  value(s: number): number {
    this.checkState(s, 's');
    let best = -Infinity;
    for (let a = 0; a < this.nActions; a++) best = Math.max(best, this.q[s * this.nActions + a]!);
    return best;
  }

  /**
   * One update from (s, a, r, s2) and, for SARSA, the action a2 taken in s2 (null or
   * ignored when done). Returns the TD error δ before the update.
   */
  learn(s: number, a: number, r: number, s2: number, a2: number | null, done: boolean): number {
    this.checkState(s, 's');
    this.checkAction(a, 'a');
    this.checkState(s2, 's2');
    check(Number.isFinite(r), 'r', `a finite number, got ${r}`);
    let bootstrap = 0;
    if (!done) {
      if (this.method === 'qlearning') {
        bootstrap = this.value(s2);
      } else {
        check(a2 !== null && a2 !== undefined, 'a2', 'the action taken in s2 (SARSA needs it unless done)');
        this.checkAction(a2, 'a2');
        bootstrap = this.q[s2 * this.nActions + a2]!;
      }
    }
    const alpha = this.alpha.value(this.learnSteps);
    check(alpha >= 0 && alpha <= 1, 'alpha', `values in [0, 1], got ${alpha} at step ${this.learnSteps}`);
    const k = s * this.nActions + a;
    const delta = r + this.gamma * bootstrap - this.q[k]!;
    this.q[k] = this.q[k]! + alpha * delta;
    this.learnSteps++;
    return delta;
  }

  state(): TabularState {
    return {
      kind: 'tabular',
      method: this.method,
      nStates: this.nStates,
      nActions: this.nActions,
      gamma: this.gamma,
      alpha: this.alpha.spec,
      epsilon: this.epsilon.spec,
      seed: this.seed,
      draws: this.draws,
      steps: this.learnSteps,
      q: this.q.slice(),
    };
  }

  /**
   * Restores Q, the step counter and the random stream of a snapshot taken from an agent
   * with the same shape and method (the schedules and γ stay this agent's own).
   */
  load(state: TabularState): void {
    check(state?.kind === 'tabular', 'state.kind', `'tabular', got ${JSON.stringify(state?.kind)}`);
    check(state.method === this.method, 'state.method', `'${this.method}', got ${JSON.stringify(state.method)}`);
    check(state.nStates === this.nStates && state.nActions === this.nActions, 'state', `a ${this.nStates} × ${this.nActions} table, got ${state.nStates} × ${state.nActions}`);
    check(state.q instanceof Float64Array && state.q.length === this.q.length, 'state.q', `a Float64Array of ${this.q.length} values`);
    check(Number.isInteger(state.seed), 'state.seed', `an integer, got ${state.seed}`);
    check(Number.isInteger(state.draws) && state.draws >= 0, 'state.draws', `an integer >= 0, got ${state.draws}`);
    check(Number.isInteger(state.steps) && state.steps >= 0, 'state.steps', `an integer >= 0, got ${state.steps}`);
    this.q.set(state.q);
    this.learnSteps = state.steps;
    // Replays the stream: O(draws), a few milliseconds per million draws.
    this.rng = new Rng(state.seed);
    for (let i = 0; i < state.draws; i++) this.rng.nextU32();
    this.draws = state.draws;
    (this as { seed: number }).seed = state.seed;
  }

  private uniform(): number {
    this.draws++;
    return this.rng.next();
  }

  private randomInt(n: number): number {
    this.draws++;
    return this.rng.int(n);
  }

  private checkState(s: number, arg: string): void {
    check(Number.isInteger(s) && s >= 0 && s < this.nStates, arg, `a state in [0, ${this.nStates}), got ${s}`);
  }

  private checkAction(a: number, arg: string): void {
    check(Number.isInteger(a) && a >= 0 && a < this.nActions, arg, `an action in [0, ${this.nActions}), got ${a}`);
  }
}
