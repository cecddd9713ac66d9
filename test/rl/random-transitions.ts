/**
 * Random next-state transitions for the DQN target tests: windows of H items with some
 * padding (−1 in a row's first slot), rewards in [−1, 2), a quarter of them terminal, and
 * per-row discounts γ^m in [0.3, 1).
 */
import type { Rng } from '../../src/util/rng.js';

export function randomTransitions(B: number, rng: Rng, shape: { nUsers: number; nItems: number; historyLen: number }) {
  const H = shape.historyLen;
  const nextUser = Int32Array.from({ length: B }, () => rng.int(shape.nUsers));
  const nextHistory = Int32Array.from({ length: B * H }, (_, j) => (j % H === 0 && rng.next() < 0.3 ? -1 : rng.int(shape.nItems)));
  const reward = Float32Array.from({ length: B }, () => rng.uniform(-1, 2));
  const done = Uint8Array.from({ length: B }, () => (rng.next() < 0.25 ? 1 : 0));
  const gammaN = Float32Array.from({ length: B }, () => rng.uniform(0.3, 1));
  return { nextUser, nextHistory, reward, done, gammaN };
}
