/** Numeric comparison for kernel tests: relative error against a reference scale. */
import { expect } from 'vitest';

export interface CloseOptions {
  /** Relative tolerance (default 1e-4, the project's fp32 bar). */
  rtol?: number;
  /**
   * Per-element magnitude the error is relative to. For sums this should be the sum of
   * absolute terms (the error fp32 summation can make), not |expected|, which can cancel to 0.
   */
  scale?: ArrayLike<number>;
  /** Context printed on failure (seed, shape). */
  context?: string;
}

/** Asserts every element is finite and |a − e| ≤ rtol · max(scale, |e|, tiny). */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}): void {
  const rtol = opts.rtol ?? 1e-4;
  expect(actual.length, `length ${opts.context ?? ''}`).toBe(expected.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const s = Math.max(opts.scale ? opts.scale[i] : 0, Math.abs(e), 1e-30);
    const err = Number.isFinite(a) ? Math.abs(a - e) / s : Infinity;
    if (err > worstErr || !Number.isFinite(err)) {
      worstErr = err;
      worst = i;
      if (!Number.isFinite(err)) break;
    }
  }
  if (worstErr > rtol) {
    throw new Error(
      `element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (relative error ${worstErr.toExponential(2)} > ${rtol}) ${opts.context ?? ''}`,
    );
  }
}

/** A Float32Array filled with NaN: written to outputs so an unwritten element fails. */
export function poisonF32(n: number): Float32Array {
  return new Float32Array(n).fill(Number.NaN);
}

/**
 * Fills the pool with NaN-filled buffers of these element counts, so that the next
 * allocations a kernel makes for its outputs come back poisoned: an element the kernel
 * fails to write then shows up as NaN. (The pool reuses the most recently freed buffer.)
 */
export async function poisonPool(engine: import('../../src/engine.js').Engine, counts: number[]): Promise<void> {
  if (!engine.isGpu) return;
  const arrs = counts.map((n) => engine.array(poisonF32(Math.max(1, n))));
  await engine.sync();
  for (const a of arrs.reverse()) engine.free(a);
  engine.gpu.flush();
}

/** Largest |x| (at least `floor`), without spreading a big array into arguments. */
export function maxAbs(x: ArrayLike<number>, floor = 1e-3): number {
  let m = floor;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** A scale array of one value, the array's largest |x|: for outputs of mixed signs and sizes. */
export function uniformScale(x: ArrayLike<number>): Float64Array {
  return new Float64Array(x.length).fill(maxAbs(x));
}
