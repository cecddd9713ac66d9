/** Shuffled mini-batches of rating examples, the 'mse' objective's training input. */
import type { Interactions } from '../../data/interactions.js';
import { Rng } from '../../util/rng.js';

/** A batch of rating examples. */
export interface RatingBatch {
  users: Int32Array;
  items: Int32Array;
  ratings: Float32Array;
}

/** The log's rows in a seeded shuffled order, `batchSize` at a time (the last batch may be short). */
export function* ratingBatches(x: Interactions, batchSize: number, seed: number): Generator<RatingBatch> {
  const n = x.user.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  new Rng(seed).shuffle(order);
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const b = { users: new Int32Array(m), items: new Int32Array(m), ratings: new Float32Array(m) };
    for (let j = 0; j < m; j++) {
      const e = order[s + j];
      b.users[j] = x.user[e];
      b.items[j] = x.item[e];
      b.ratings[j] = x.rating![e];
    }
    yield b;
  }
}
