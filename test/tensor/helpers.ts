/** Shared pieces of the tensor tests: awkward shapes, random inputs, poisoned outputs. */
import type { Engine } from '../../src/engine.js';
import type { DeviceArray } from '../../src/backend/arrays.js';
import { Rng } from '../../src/util/rng.js';
import { poisonF32 } from '../util/close.js';

/** [rows, cols]: 1×1, odd sizes, not multiples of any tile or workgroup size, a row, a column, big-ish. */
export const SHAPES: [number, number][] = [
  [1, 1],
  [7, 13],
  [65, 129],
  [1, 1000],
  [1000, 1],
  [300, 257],
];

export function randArr(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

/** Values in ±[lo, hi]: random sign, magnitude away from zero (divisors). */
export function randAway(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(lo, hi);
  return a;
}

/** Output storage filled with NaN, so any element a kernel fails to write is caught. */
export function poisoned(engine: Engine, n: number): DeviceArray<'f32'> {
  return engine.array(poisonF32(n));
}

export function f64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a);
}
