/**
 * The one set of option checks every model uses (encoders, baselines, their layers'
 * options): each takes where the value came from ('GCN: layers', 'svd: options.lr') and
 * throws an 'input' error saying what was expected and what was given, with `arg` set to
 * the option's name.
 */
import { GnnrlError } from '../errors.js';

function fail(where: string, arg: string, expected: string, got: unknown): never {
  throw new GnnrlError('input', `${where}: expected ${expected}, got ${JSON.stringify(got)}`, { arg });
}

/** `where` is 'Model: name' or 'Model: options.name'; the part after ': ' names the argument. */
function argOf(where: string): string {
  const i = where.lastIndexOf(': ');
  return i >= 0 ? where.slice(i + 2) : where;
}

/** An integer ≥ min ('a positive integer' when min is 1). */
export function checkInt(where: string, v: unknown, min = 1): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) fail(where, argOf(where), min === 1 ? 'a positive integer' : `an integer ≥ ${min}`, v);
  return v as number;
}

/** A finite number ≥ min. */
export function checkNumber(where: string, v: unknown, min = 0): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= min)) fail(where, argOf(where), `a finite number ≥ ${min}`, v);
  return v as number;
}

/** A finite number > 0. */
export function checkPositive(where: string, v: unknown): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail(where, argOf(where), 'a positive number', v);
  return v as number;
}

export function checkBool(where: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(where, argOf(where), 'true or false', v);
  return v as boolean;
}

/** One of `allowed`. */
export function checkChoice<T extends string>(where: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) fail(where, argOf(where), `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  return v as T;
}
