import { describe, expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { NStepAccumulator } from '../../src/rl/memory/nstep.js';
import type { FieldSpec } from '../../src/rl/memory/replay.js';

const current: FieldSpec[] = [
  { name: 'state', dtype: 'i32', width: 1 },
  { name: 'action', dtype: 'i32', width: 2 },
];
const next: FieldSpec[] = [{ name: 'nextState', dtype: 'f64', width: 2 }];

interface Row {
  slot: number;
  state: number;
  action: number[];
  nextState: number[];
  reward: number;
  done: number;
  gammaN: number;
}

/**
 * The definition, written out per slot: step t starts a transition that ends at the
 * first done at or after t if that comes before t + n (done = 1, m = e − t + 1), else at
 * t + n − 1 (done = 0, m = n); it is emitted at that last step, with the next state of
 * that step and R = Σ_{k<m} γ^k r_{t+k}.
 */
function reference(rewards: number[][], dones: number[][], n: number, gamma: number): Row[][] {
  const T = rewards.length;
  const B = rewards[0]!.length;
  const emittedAt: Row[][] = Array.from({ length: T }, () => []);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let end = -1;
      let done = 0;
      for (let k = 0; k < n && t + k < T; k++) {
        if (dones[t + k]![b]) {
          end = t + k;
          done = 1;
          break;
        }
        if (k === n - 1) end = t + k;
      }
      if (end < 0) continue; // still pending when the stream stops
      const m = end - t + 1;
      let R = 0;
      for (let k = 0; k < m; k++) R += Math.pow(gamma, k) * rewards[t + k]![b]!;
      emittedAt[end]!.push({ slot: b, state: id(t, b), action: [id(t, b), 0 - id(t, b) || 0], nextState: [id(end, b) + 0.5, b], reward: R, done, gammaN: Math.pow(gamma, m) });
    }
  }
  // The accumulator's order: by slot, then oldest first.
  for (const rows of emittedAt) rows.sort((x, y) => x.slot - y.slot || x.state - y.state);
  return emittedAt;
}

const id = (t: number, b: number) => t * 100 + b;

function stepInput(t: number, B: number, reward: Float32Array, done: Uint8Array) {
  const state = new Int32Array(B);
  const action = new Int32Array(2 * B);
  const nextState = new Float64Array(2 * B);
  for (let b = 0; b < B; b++) {
    state[b] = id(t, b);
    action.set([id(t, b), -id(t, b)], 2 * b);
    nextState.set([id(t, b) + 0.5, b], 2 * b);
  }
  return { reward, done, fields: { state, action, nextState } };
}

function rowsOf(out: ReturnType<NStepAccumulator['push']>): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < out.count; i++) {
    rows.push({
      slot: out.slot[i]!,
      state: out.fields.state![i]!,
      action: Array.from(out.fields.action!.subarray(2 * i, 2 * i + 2)),
      nextState: Array.from(out.fields.nextState!.subarray(2 * i, 2 * i + 2)),
      reward: out.fields.reward![i]!,
      done: out.fields.done![i]!,
      gammaN: out.fields.gammaN![i]!,
    });
  }
  return rows;
}

describe('NStepAccumulator', () => {
  for (const n of [1, 3, 5]) {
    it(`matches the hand-computed n-step returns on a random stream with dones (n = ${n})`, () => {
      const rng = new Rng(100 + n);
      const B = 4;
      const T = 60;
      const gamma = 0.9;
      const rewards: number[][] = [];
      const dones: number[][] = [];
      const acc = new NStepAccumulator({ slots: B, n, gamma, current, next });
      let emitted = 0;
      const got: Row[][] = [];
      for (let t = 0; t < T; t++) {
        const r = Float32Array.from({ length: B }, () => Math.round(rng.normal() * 100) / 10);
        // Episodes of random length, some shorter than n, slot 3 never ending.
        const d = Uint8Array.from({ length: B }, (_, b) => (b < 3 && rng.next() < 0.2 ? 1 : 0));
        rewards.push(Array.from(r));
        dones.push(Array.from(d));
        const out = acc.push(stepInput(t, B, r, d));
        emitted += out.count;
        got.push(rowsOf(out));
      }
      const want = reference(rewards, dones, n, gamma);
      for (let t = 0; t < T; t++) {
        expect(got[t]!.length, `rows emitted at step ${t}`).toBe(want[t]!.length);
        got[t]!.forEach((g, i) => {
          const w = want[t]![i]!;
          expect({ ...g, reward: 0, gammaN: 0 }).toEqual({ ...w, reward: 0, gammaN: 0 });
          expect(g.reward).toBeCloseTo(Math.fround(w.reward), 5);
          expect(g.gammaN).toBeCloseTo(w.gammaN, 7);
        });
      }
      // Everything pushed is either emitted or still pending (< n per slot, none after a done).
      let pending = 0;
      for (let b = 0; b < B; b++) {
        expect(acc.pending(b)).toBeLessThan(n);
        pending += acc.pending(b);
      }
      expect(emitted + pending).toBe(B * T);
      // Both kinds of rows occurred, and terminal rows with fewer than n rewards (γ^m > γ^n).
      const all = got.flat();
      expect(all.some((r) => r.done === 1)).toBe(true);
      if (n > 1) expect(all.some((r) => r.done === 1 && r.gammaN > Math.fround(Math.pow(gamma, n)) + 1e-7)).toBe(true);
    });
  }

  it('flushes pending windows as truncated, bootstrapped transitions', () => {
    const acc = new NStepAccumulator({ slots: 2, n: 4, gamma: 0.5, current, next });
    const d = new Uint8Array(2);
    acc.push(stepInput(0, 2, Float32Array.from([1, 10]), d));
    acc.push(stepInput(1, 2, Float32Array.from([2, 20]), d));
    expect(acc.pending(0)).toBe(2);
    const one = rowsOf(acc.flush(1));
    expect(one.map((r) => [r.slot, r.state, r.reward, r.done, r.gammaN, r.nextState[0]])).toEqual([
      [1, 1, 10 + 0.5 * 20, 0, 0.25, 101.5],
      [1, 101, 20, 0, 0.5, 101.5],
    ]);
    expect(acc.pending(1)).toBe(0);
    acc.reset();
    expect(acc.pending(0)).toBe(0);
    expect(acc.flush().count).toBe(0);
    expect(acc.outputSchema().map((f) => f.name)).toEqual(['state', 'action', 'nextState', 'reward', 'done', 'gammaN']);
  });

  it('checks its arguments by name', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(GnnrlError);
        return (e as GnnrlError).details.arg;
      }
      throw new Error('no error');
    };
    expect(err(() => new NStepAccumulator({ slots: 1, n: 0, gamma: 0.9, current, next }))).toBe('n');
    expect(err(() => new NStepAccumulator({ slots: 1, n: 2, gamma: 1.1, current, next }))).toBe('gamma');
    expect(err(() => new NStepAccumulator({ slots: 0, n: 2, gamma: 0.9, current, next }))).toBe('slots');
    expect(err(() => new NStepAccumulator({ slots: 1, n: 2, gamma: 0.9, current: [{ name: 'reward', dtype: 'f32', width: 1 }], next }))).toBe('current + next');
    const acc = new NStepAccumulator({ slots: 2, n: 2, gamma: 0.9, current, next });
    const ok = stepInput(0, 2, new Float32Array(2), new Uint8Array(2));
    expect(err(() => acc.push({ ...ok, reward: new Float32Array(3) }))).toBe('reward');
    expect(err(() => acc.push({ ...ok, done: new Uint8Array(1) }))).toBe('done');
    expect(err(() => acc.push({ ...ok, fields: { ...ok.fields, state: new Int32Array(3) } }))).toBe('fields.state');
  });
});
