/**
 * Small helpers the baselines share: option checks that name the option, reading a
 * `ModelState` back with checks that name the array, and parameter initialisation.
 */
import { GnnrlError } from '../../errors.js';
import type { Rng } from '../../util/rng.js';
import type { EpochOutcome } from '../fit-loop.js';
import type { BatchProgress, ModelState } from '../types.js';
import { checkBool, checkChoice, checkInt, checkNumber } from '../option-checks.js';

/** Ratings per `onProgress` call and per abort check inside an epoch. */
export const PROGRESS_EVERY = 1 << 14;

/** How an epoch function reports within the epoch (`runEpochLoop` adds the epoch number). */
export type EpochProgress = (p: Omit<BatchProgress, 'epoch'>) => void;

/**
 * The report an SGD epoch makes every `PROGRESS_EVERY` ratings: the running mean squared
 * error of the `done` ratings so far. Returns true when `signal` has aborted, so the
 * caller's loop can `break` (a function called only every few thousand ratings, so the
 * per-rating loop stays as it is).
 */
export function reportProgress(progress: EpochProgress | undefined, done: number, total: number, sq: number, signal: AbortSignal | undefined): boolean {
  progress?.({ done, total, loss: sq / done });
  return signal?.aborted === true;
}

/** The last report of an epoch and its outcome: the mean squared error over the `done` ratings visited (0 when none). */
export function epochOutcome(progress: EpochProgress | undefined, done: number, total: number, sq: number): EpochOutcome {
  progress?.({ done, total, loss: done ? sq / done : 0 });
  return { loss: done ? sq / done : 0, samples: done };
}

// Options: the models' shared checks (../option-checks.ts), with the default applied first.
export const optInt = (model: string, name: string, v: number | undefined, dflt: number, min: number): number => checkInt(`${model}: options.${name}`, v ?? dflt, min);
export const optNum = (model: string, name: string, v: number | undefined, dflt: number, min = 0): number => checkNumber(`${model}: options.${name}`, v ?? dflt, min);
export const optBool = (model: string, name: string, v: boolean | undefined, dflt: boolean): boolean => checkBool(`${model}: options.${name}`, v ?? dflt);
export const optOneOf = <T extends string>(model: string, name: string, v: T | undefined, dflt: T, allowed: readonly T[]): T => checkChoice(`${model}: options.${name}`, v ?? dflt, allowed);

/** Throws unless `state.kind` is `kind`. */
export function checkKind(state: ModelState, kind: string, model: string): void {
  if (!state || state.kind !== kind) {
    throw new GnnrlError('input', `${model}.fromState: state.kind: expected '${kind}', got ${JSON.stringify(state?.kind)}`, { arg: 'state.kind' });
  }
}

/** `state.arrays[name]`, checked for its type and (when given) its length. */
export function stateF32(state: ModelState, name: string, length: number | undefined, model: string): Float32Array {
  const a = state.arrays?.[name];
  if (!(a instanceof Float32Array)) throw missing(model, name, 'a Float32Array', a);
  if (length !== undefined && a.length !== length) throw badLength(model, name, length, a.length);
  return a;
}

export function stateI32(state: ModelState, name: string, length: number | undefined, model: string): Int32Array {
  const a = state.arrays?.[name];
  if (!(a instanceof Int32Array)) throw missing(model, name, 'an Int32Array', a);
  if (length !== undefined && a.length !== length) throw badLength(model, name, length, a.length);
  return a;
}

function missing(model: string, name: string, want: string, got: unknown): GnnrlError {
  const what = got === undefined ? 'nothing' : (got as object)?.constructor?.name ?? typeof got;
  return new GnnrlError('input', `${model}.fromState: state.arrays.${name}: expected ${want}, got ${what}`, { arg: `state.arrays.${name}` });
}

function badLength(model: string, name: string, want: number, got: number): GnnrlError {
  return new GnnrlError('input', `${model}.fromState: state.arrays.${name}: expected ${want} entries, got ${got}`, { arg: `state.arrays.${name}` });
}

/** A finite number from `state.config.fitted`. */
export function fittedNumber(state: ModelState, name: string, model: string): number {
  const f = state.config?.fitted as Record<string, unknown> | undefined;
  const v = f?.[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new GnnrlError('input', `${model}.fromState: state.config.fitted.${name}: expected a finite number, got ${JSON.stringify(v)}`, {
      arg: `state.config.fitted.${name}`,
    });
  }
  return v;
}

/** Fills `a` with N(mean, sd²) draws. */
export function fillNormal(a: Float32Array, rng: Rng, mean: number, sd: number): Float32Array {
  for (let j = 0; j < a.length; j++) a[j] = mean + sd * rng.normal();
  return a;
}

/** Fills `a` with U[lo, hi) draws. */
export function fillUniform(a: Float32Array, rng: Rng, lo: number, hi: number): Float32Array {
  for (let j = 0; j < a.length; j++) a[j] = rng.uniform(lo, hi);
  return a;
}

/**
 * Overwrites `a` with a caller-given initial value (hand-checkable tests, warm starts),
 * checking its length; leaves `a` as drawn when none is given.
 */
export function applyInit(a: Float32Array, given: Float32Array | undefined, model: string, name: string): void {
  if (given === undefined) return;
  if (!(given instanceof Float32Array) || given.length !== a.length) {
    const got = given instanceof Float32Array ? `${given.length} entries` : typeof given;
    throw new GnnrlError('input', `${model}: options.init.${name}: expected a Float32Array of ${a.length} entries, got ${got}`, {
      arg: `options.init.${name}`,
    });
  }
  a.set(given);
}

/**
 * Zeroes the rows of entities without training events: no update ever reaches them,
 * and a zero row makes the factor form and the predictions fall back to the biases.
 */
export function zeroUnseenRows(a: Float32Array, dim: number, counts: Int32Array): void {
  for (let r = 0; r < counts.length; r++) if (counts[r] === 0) a.fill(0, r * dim, (r + 1) * dim);
}

/** Events in visiting order: a seeded shuffle each epoch, or log order. */
export function identityOrder(n: number): Int32Array {
  const o = new Int32Array(n);
  for (let j = 0; j < n; j++) o[j] = j;
  return o;
}
