/**
 * Seeded pseudo-random numbers shared by every layer (weight init, sampling, synthetic
 * data). Two generators, each for its job:
 * - `Rng`: a sequential xoshiro128** stream, fast and good enough for data generation;
 * - `hashUniform`: a counter-based hash (PCG-style), so the GPU and CPU can draw the
 *   same number for the same (seed, index) without sharing state (dropout).
 */
import { GnnrlError } from '../errors.js';

/** splitmix32: turns any 32-bit seed into well-mixed state words. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** An Rng's position: its four xoshiro128** words and the cached second normal (null when none), JSON-safe. */
export type RngState = [number, number, number, number, number | null];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  /** The position, so a learner's streams can be saved and resumed exactly (`setState`). */
  getState(): RngState {
    return [this.a, this.b, this.c, this.d, this.spareNormal ?? null];
  }

  /** Resumes at a position from `getState()`; anything else is an input error and changes nothing. */
  setState(s: unknown): void {
    const word = (x: unknown) => Number.isInteger(x) && (x as number) >= -(2 ** 31) && (x as number) < 2 ** 32;
    if (!(Array.isArray(s) && s.length === 5 && s.slice(0, 4).every(word) && (s[4] === null || Number.isFinite(s[4])) && (s[0] | s[1] | s[2] | s[3]) !== 0)) {
      throw new GnnrlError('input', `Rng.setState: expected [a, b, c, d, spareNormal] from getState() (four 32-bit words, not all 0, and a number or null), got ${JSON.stringify(s)}`, { arg: 'state' });
    }
    [this.a, this.b, this.c, this.d] = s as number[];
    this.spareNormal = s[4] === null ? undefined : (s[4] as number);
  }

  constructor(seed = 1) {
    const st = { s: seed | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal by Box–Muller, caching the second draw. */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: any }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** An independent generator derived from this one (for parallel streams). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Counter-based uniform in [0, 1): the same (seed, counter) always gives the same value,
 * on the CPU here and in WGSL (`shaders/common/hash.wgsl` mirrors this function).
 */
export function hashU32(seed: number, counter: number): number {
  let h = (Math.imul(counter >>> 0, 747796405) + (seed >>> 0)) >>> 0;
  h = (Math.imul((h >>> ((h >>> 28) + 4)) ^ h, 277803737)) >>> 0;
  return ((h >>> 22) ^ h) >>> 0;
}

export function hashUniform(seed: number, counter: number): number {
  return hashU32(seed, counter) / 4294967296;
}
