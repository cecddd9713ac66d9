/**
 * Every slot's recent history window, as `Observation` defines it (types.ts): the last H
 * items a user consumed, with feedback and times, oldest first, right-aligned, −1 / 0
 * padding on the left. One implementation for every environment and for serving.
 */
import type { Observation } from '../types.js';

/** Moves row [base, base + H) of `a` one place left and puts `v` at its right end. */
export function shiftIntoWindow(a: Int32Array | Float32Array | Float64Array, base: number, H: number, v: number): void {
  a.copyWithin(base, base + 1, base + H);
  a[base + H - 1] = v;
}

export class HistoryWindows {
  readonly items: Int32Array;
  readonly ratings: Float32Array;
  readonly times: Float64Array;
  readonly count: Int32Array;

  constructor(readonly batch: number, readonly historyLen: number) {
    this.items = new Int32Array(batch * historyLen).fill(-1);
    this.ratings = new Float32Array(batch * historyLen);
    this.times = new Float64Array(batch * historyLen);
    this.count = new Int32Array(batch);
  }

  /** Empties slot b's window. */
  clear(b: number): void {
    const H = this.historyLen;
    this.items.fill(-1, b * H, (b + 1) * H);
    this.ratings.fill(0, b * H, (b + 1) * H);
    this.times.fill(0, b * H, (b + 1) * H);
    this.count[b] = 0;
  }

  /** Appends an event to slot b's window (newest at the right end; H is small, so a shift). */
  push(b: number, item: number, rating: number, time: number): void {
    const H = this.historyLen;
    shiftIntoWindow(this.items, b * H, H, item);
    shiftIntoWindow(this.ratings, b * H, H, rating);
    shiftIntoWindow(this.times, b * H, H, time);
    if (this.count[b] < H) this.count[b]++;
  }

  /** Whether item i is in slot b's window. */
  has(b: number, i: number): boolean {
    const H = this.historyLen;
    for (let j = H - this.count[b]; j < H; j++) if (this.items[b * H + j] === i) return true;
    return false;
  }

  /** A copy of the windows as an observation of `user` at `stepInEpisode` (both copied too). */
  observation(user: Int32Array, stepInEpisode: Int32Array): Observation {
    return {
      batch: this.batch,
      user: user.slice(),
      historyLen: this.historyLen,
      historyItems: this.items.slice(),
      historyRatings: this.ratings.slice(),
      historyTimes: this.times.slice(),
      historyCount: this.count.slice(),
      stepInEpisode: stepInEpisode.slice(),
      featureDim: 0,
      features: null,
    };
  }
}
