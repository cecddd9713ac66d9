/**
 * The RL layer's shared contract: batched environments, observations and transitions as
 * structs of typed arrays, and the agent interface every policy (learned or fixed)
 * implements, so the run loop, evaluation, the CLI and serving treat them alike.
 *
 * Batching: an environment runs `batch` independent episode slots at once. `step` takes
 * one slate per slot and returns one outcome per slot. A slot whose episode ended in a
 * step (`done[b] = 1`) is reset at once to a new episode (a new user), and `next` holds
 * that new episode's first observation in that row; the terminal transition's target
 * therefore ignores `next` (the (1 − done) factor), as in vectorised gym environments.
 *
 * History windows: the last `historyLen` items a slot's user consumed (clicked), oldest
 * first, right-aligned: row b occupies `historyItems[b·H .. b·H + H)`, with −1 padding
 * on the left when the user has consumed fewer than H items (`historyCount[b]` valid).
 */
import type { ModelState } from '../models/types.js';
import type { ExcludeRows } from '../rank/types.js';

/** What the agent sees of each slot: the user, their recent history window, and optional features. */
export interface Observation {
  /** Slots in this batch. */
  readonly batch: number;
  /** Dense user index per slot. */
  readonly user: Int32Array;
  /** H, the window length (the same for every observation of an environment). */
  readonly historyLen: number;
  /** batch × H item indices, oldest first, −1 left-padded. */
  readonly historyItems: Int32Array;
  /** batch × H feedback per history item (rating, or 1 for a click), 0 in padding. */
  readonly historyRatings: Float32Array;
  /** batch × H event times (seconds, or steps in the simulator), 0 in padding. */
  readonly historyTimes: Float64Array;
  /** Valid entries per row (≤ H). */
  readonly historyCount: Int32Array;
  /** Steps taken so far in each slot's episode. */
  readonly stepInEpisode: Int32Array;
  /** Optional observed per-slot features, batch × featureDim (0 when none). */
  readonly featureDim: number;
  readonly features: Float32Array | null;
}

/** The outcome of one batched step. */
export interface StepResult {
  /** Reward per slot (the environment documents its definition). */
  readonly reward: Float32Array;
  /** 1 when the user clicked an item of the slate. */
  readonly click: Uint8Array;
  /** 1 when the click converted (second stage after a click). */
  readonly conversion: Uint8Array;
  /** Slate position chosen per slot, −1 for no click (or skipped by log replay). */
  readonly choice: Int32Array;
  /** 1 when the slot's episode ended at this step (the slot was then reset). */
  readonly done: Uint8Array;
  /**
   * 1 where the environment could not judge the action (log replay with `unknown: skip`):
   * the step is not a transition and the reward is 0. All zeros for simulators.
   */
  readonly skipped: Uint8Array;
  /** Observation after the step (the new episode's first one in rows where done = 1). */
  readonly next: Observation;
}

/** A batched recommendation environment. */
export interface Environment {
  /** Short name for tables ('sim:small', 'replay:ml-100k:…'). */
  readonly name: string;
  readonly nUsers: number;
  readonly nItems: number;
  /** Episode slots stepped at once. */
  readonly batch: number;
  /** Items shown per step (1 = single-item actions). */
  readonly slateSize: number;
  /** Maximum steps per episode. */
  readonly horizon: number;
  /** H of every observation. */
  readonly historyLen: number;
  /** Starts every slot on a fresh episode; the same seed gives the same episodes. */
  reset(seed: number): Observation;
  /** `actions`: batch × slateSize item indices (row-major). Invalid items are an `input` error naming the slot. */
  step(actions: Int32Array): StepResult;
  /** Episodes finished since `reset`, with their undiscounted return and length, in finishing order. */
  readonly finished: EpisodeLog;
}

/** Episodes an environment finished, as parallel arrays (grown as episodes end). */
export interface EpisodeLog {
  readonly count: number;
  /** Undiscounted return of episode j. */
  returnOf(j: number): number;
  /** Discounted return Σ γ^t r_t with the γ the log was created with. */
  discountedReturnOf(j: number): number;
  lengthOf(j: number): number;
  clicksOf(j: number): number;
  conversionsOf(j: number): number;
  /** Items shown (slates × slate size) in episode j, for CTR. */
  shownOf(j: number): number;
}

/**
 * An environment that knows the truth (the simulator): the expected immediate reward of
 * any slate for each slot's current user state, and a myopic oracle.
 */
export interface TruthfulEnvironment extends Environment {
  /** E[reward] of showing `actions` (batch × slateSize) now, per slot, without stepping. */
  expectedReward(actions: Int32Array): Float32Array;
  /** The slate that maximises the expected immediate reward per slot (batch × slateSize). */
  oracleSlate(): Int32Array;
}

/** A batch of transitions, as the run loop hands them to an agent. Rows with `skipped = 1` are to be ignored. */
export interface TransitionBatch {
  readonly obs: Observation;
  /** batch × slateSize. */
  readonly actions: Int32Array;
  readonly slateSize: number;
  readonly result: StepResult;
}

export interface ActOptions {
  /** Explore (ε-greedy, Boltzmann, noise) when true; act greedily when false. */
  explore: boolean;
}

/** What one `update()` reports (for progress and curves). */
export interface UpdateReport {
  /** Training loss of the update (TD, policy, …). */
  loss: number;
  /** Current exploration parameter (ε, temperature, σ), when the agent has one. */
  exploration?: number;
  /** Other named numbers (mean Q, importance-weight mean, …). */
  extra?: Record<string, number>;
}

/**
 * A policy that acts in an environment. Fixed policies (random, popularity, greedy over a
 * model, the oracle) implement `act` only and report `learns: false`.
 */
export interface Agent {
  /** Registry name ('dqn', 'qlearning', 'random', 'greedy:lightgcn', …). */
  readonly kind: string;
  /** Display name for tables. */
  readonly name: string;
  /** True when `observe`/`update` change the policy. */
  readonly learns: boolean;
  /** batch × slateSize item indices for each slot of `obs`. */
  act(obs: Observation, opts: ActOptions): Promise<Int32Array>;
  /**
   * The greedy policy as a ranking (optional): k items per slot of `obs`, best first,
   * skipping row b of `exclude` (default: each slot's history window); −1 past the
   * eligible items. Ranking metrics on a test split go through it (AgentRanker).
   */
  rank?(obs: Observation, k: number, exclude?: ExcludeRows): Promise<Int32Array>;
  /** Takes a batch of transitions (stores them in replay, or learns on-line). */
  observe(t: TransitionBatch): void;
  /** One learning step when the agent is ready (enough replay); null when it did nothing. */
  update(): Promise<UpdateReport | null>;
  /** Parameters and config, in the checkpoint format every model uses. */
  state(): Promise<ModelState>;
  dispose(): void;
}
