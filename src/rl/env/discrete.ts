/**
 * Small discrete MDPs for testing tabular agents against known answers: a generic
 * single-episode interface, a transition-table model with value iteration as the
 * reference solver, and two toy environments whose optimal Q is known.
 *
 * - `ChainEnv`: states 0 … L−1 in a row, start 0, terminal L−1. `forward` (action 1)
 *   moves one right, paying `goalReward` on entering the terminal and 0 otherwise;
 *   `back` (action 0) returns to 0 paying `backReward`. Deterministic, so Q-learning with
 *   any constant step size in (0, 1] converges to Q* exactly (no noise to average).
 * - `CliffWalkEnv`: Sutton & Barto's example 6.6, a 4 × 12 grid, start bottom-left, goal
 *   bottom-right, the cells between them the cliff: −1 per step, −100 and back to the
 *   start for stepping into the cliff. SARSA with ε-greedy exploration learns the safe
 *   path away from the edge, Q-learning the shortest path along it.
 *
 * These are 1-slot environments for tests and tabular baselines; the recommender
 * environments use the batched `Environment` of ../types.ts.
 */
import { GnnrlError, check } from '../../errors.js';

export interface DiscreteStep {
  /** The state after the step. */
  readonly s: number;
  readonly r: number;
  /** True when `s` is terminal; call `reset` before stepping again. */
  readonly done: boolean;
}

export interface DiscreteEnv {
  readonly nStates: number;
  readonly nActions: number;
  /** Starts an episode; returns its first state. */
  reset(): number;
  step(a: number): DiscreteStep;
}

/**
 * A finite MDP as tables: `transition[(s·A + a)·S + s']` = P(s' | s, a), `reward[s·A + a]`
 * the expected reward of taking a in s, `terminal[s]` = 1 where episodes end (their
 * value is 0 and their rows are ignored).
 */
export interface MdpModel {
  readonly nStates: number;
  readonly nActions: number;
  readonly transition: Float64Array;
  readonly reward: Float64Array;
  readonly terminal: Uint8Array;
}

/** A deterministic model from next-state and reward tables (s·A + a → s', r). */
export function deterministicModel(nStates: number, nActions: number, next: Int32Array, reward: Float64Array, terminal: Uint8Array): MdpModel {
  check(Number.isInteger(nStates) && nStates >= 1, 'nStates', `an integer >= 1, got ${nStates}`);
  check(Number.isInteger(nActions) && nActions >= 1, 'nActions', `an integer >= 1, got ${nActions}`);
  const sa = nStates * nActions;
  check(next.length === sa, 'next', `${sa} entries (nStates × nActions), got ${next.length}`);
  check(reward.length === sa, 'reward', `${sa} entries (nStates × nActions), got ${reward.length}`);
  check(terminal.length === nStates, 'terminal', `${nStates} flags, got ${terminal.length}`);
  const transition = new Float64Array(sa * nStates);
  for (let k = 0; k < sa; k++) {
    const s2 = next[k]!;
    check(Number.isInteger(s2) && s2 >= 0 && s2 < nStates, 'next', `states in [0, ${nStates}), got ${s2}`, k);
    transition[k * nStates + s2] = 1;
  }
  return { nStates, nActions, transition, reward: reward.slice(), terminal: terminal.slice() };
}

export interface ValueIterationResult {
  /** Q*(s, a) at s·A + a (0 in terminal states). */
  readonly q: Float64Array;
  /** V*(s) = max_a Q*(s, a). */
  readonly v: Float64Array;
  readonly iterations: number;
}

/**
 * Q* by value iteration: Q(s, a) ← R(s, a) + γ Σ_{s'} P(s'|s, a) max_{a'} Q(s', a'), until
 * the largest change is ≤ `tol`. With γ = 1 it converges only when every policy the
 * backups favour reaches a terminal state (true of the cliff walk); otherwise it stops
 * with a `state` error after `maxIterations`.
 */
export function valueIteration(model: MdpModel, gamma: number, opts: { tol?: number; maxIterations?: number } = {}): ValueIterationResult {
  check(typeof gamma === 'number' && gamma >= 0 && gamma <= 1, 'gamma', `a number in [0, 1], got ${gamma}`);
  const { nStates: S, nActions: A, transition: P, reward: R, terminal } = model;
  const tol = opts.tol ?? 1e-12;
  const maxIterations = opts.maxIterations ?? 100_000;
  const q = new Float64Array(S * A);
  const v = new Float64Array(S);
  for (let it = 1; it <= maxIterations; it++) {
    let delta = 0;
    for (let s = 0; s < S; s++) {
      if (terminal[s]) continue;
      for (let a = 0; a < A; a++) {
        const k = s * A + a;
        let next = 0;
        for (let s2 = 0; s2 < S; s2++) {
          const p = P[k * S + s2]!;
          if (p !== 0) next += p * v[s2]!;
        }
        const val = R[k]! + gamma * next;
        delta = Math.max(delta, Math.abs(val - q[k]!));
        q[k] = val;
      }
    }
    for (let s = 0; s < S; s++) {
      if (terminal[s]) continue;
      let best = -Infinity;
      for (let a = 0; a < A; a++) best = Math.max(best, q[s * A + a]!);
      v[s] = best;
    }
    if (delta <= tol) return { q, v, iterations: it };
  }
  throw new GnnrlError('state', `valueIteration: no convergence to ${tol} within ${maxIterations} iterations (γ = ${gamma}); a policy may never reach a terminal state`);
}

/** Rejects actions outside [0, nActions) and steps after the episode ended. */
function checkAction(env: DiscreteEnv, a: number, over: boolean, name: string): void {
  check(Number.isInteger(a) && a >= 0 && a < env.nActions, 'a', `an action in [0, ${env.nActions}), got ${a}`);
  if (over) throw new GnnrlError('state', `${name}: step() after the episode ended; call reset() first`);
}

export class ChainEnv implements DiscreteEnv {
  static readonly BACK = 0;
  static readonly FORWARD = 1;
  readonly nStates: number;
  readonly nActions = 2;
  readonly goalReward: number;
  readonly backReward: number;
  private s = 0;
  private over = false;

  constructor(opts: { length?: number; goalReward?: number; backReward?: number } = {}) {
    const length = opts.length ?? 5;
    check(Number.isInteger(length) && length >= 2, 'length', `an integer >= 2, got ${length}`);
    this.nStates = length;
    this.goalReward = opts.goalReward ?? 10;
    this.backReward = opts.backReward ?? 0.2;
  }

  reset(): number {
    this.s = 0;
    this.over = false;
    return 0;
  }

  step(a: number): DiscreteStep {
    checkAction(this, a, this.over, 'ChainEnv');
    const { s2, r } = this.transition(this.s, a);
    this.s = s2;
    this.over = s2 === this.nStates - 1;
    return { s: s2, r, done: this.over };
  }

  model(): MdpModel {
    const S = this.nStates;
    const next = new Int32Array(S * 2);
    const reward = new Float64Array(S * 2);
    const terminal = new Uint8Array(S);
    terminal[S - 1] = 1;
    for (let s = 0; s < S; s++) {
      for (let a = 0; a < 2; a++) {
        const t = s === S - 1 ? { s2: s, r: 0 } : this.transition(s, a);
        next[s * 2 + a] = t.s2;
        reward[s * 2 + a] = t.r;
      }
    }
    return deterministicModel(S, 2, next, reward, terminal);
  }

  private transition(s: number, a: number): { s2: number; r: number } {
    if (a === ChainEnv.BACK) return { s2: 0, r: this.backReward };
    const s2 = s + 1;
    return { s2, r: s2 === this.nStates - 1 ? this.goalReward : 0 };
  }
}

export class CliffWalkEnv implements DiscreteEnv {
  static readonly UP = 0;
  static readonly RIGHT = 1;
  static readonly DOWN = 2;
  static readonly LEFT = 3;
  readonly rows = 4;
  readonly cols = 12;
  readonly nStates = 48;
  readonly nActions = 4;
  /** Bottom-left and bottom-right cells. */
  readonly start = 36;
  readonly goal = 47;
  private s = 36;
  private over = false;

  /** State index of grid cell (row, col), row 0 at the top. */
  stateOf(row: number, col: number): number {
    return row * this.cols + col;
  }

  /** True for the cliff cells (bottom row between start and goal). */
  isCliff(s: number): boolean {
    return s > this.start && s < this.goal;
  }

  reset(): number {
    this.s = this.start;
    this.over = false;
    return this.s;
  }

  step(a: number): DiscreteStep {
    checkAction(this, a, this.over, 'CliffWalkEnv');
    const { s2, r } = this.transition(this.s, a);
    this.s = s2;
    this.over = s2 === this.goal;
    return { s: s2, r, done: this.over };
  }

  model(): MdpModel {
    const next = new Int32Array(this.nStates * 4);
    const reward = new Float64Array(this.nStates * 4);
    const terminal = new Uint8Array(this.nStates);
    terminal[this.goal] = 1;
    for (let s = 0; s < this.nStates; s++) {
      for (let a = 0; a < 4; a++) {
        const t = s === this.goal ? { s2: s, r: 0 } : this.transition(s, a);
        next[s * 4 + a] = t.s2;
        reward[s * 4 + a] = t.r;
      }
    }
    return deterministicModel(this.nStates, 4, next, reward, terminal);
  }

  private transition(s: number, a: number): { s2: number; r: number } {
    let row = Math.floor(s / this.cols);
    let col = s % this.cols;
    // Moves off the grid leave the agent where it is (and still cost −1).
    if (a === CliffWalkEnv.UP) row = Math.max(0, row - 1);
    else if (a === CliffWalkEnv.DOWN) row = Math.min(this.rows - 1, row + 1);
    else if (a === CliffWalkEnv.RIGHT) col = Math.min(this.cols - 1, col + 1);
    else col = Math.max(0, col - 1);
    const s2 = this.stateOf(row, col);
    if (this.isCliff(s2)) return { s2: this.start, r: -100 };
    return { s2, r: -1 };
  }
}
