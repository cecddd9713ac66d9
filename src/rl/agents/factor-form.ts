/**
 * An agent whose scores are factorised, score(s, a) = φ(s)·e_a + b_a (DQN's Q or
 * advantage, REINFORCE's logits), in factor form on the host: φ of given states and the
 * item head, so a server can rank them anywhere, off the engine's queue.
 */
import type { Engine } from '../../engine.js';
import { check } from '../../errors.js';
import { noGrad } from '../../tensor/autograd.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Yielder } from '../yield.js';

export interface FactorForm {
  dim: number;
  /** B × dim, φ of each state. */
  phi: Float32Array;
  /** nItems × dim. */
  items: Float32Array;
  /** nItems. */
  itemBias: Float32Array;
}

/** States per engine pass. */
const CHUNK = 1024;

/**
 * φ(users, their B × H windows) through `phi` (recorded nowhere), and the item head.
 * Serving refreshes every row with this after an update: a turn of the event loop between
 * chunks (on the CPU and native backends a chunk never leaves the microtask queue) keeps
 * a waiting request from queueing behind all of them.
 */
export async function factorFormOf(
  engine: Engine,
  a: { users: Int32Array; history: Int32Array; historyLen: number; dim: number; phi: (users: Int32Array, history: Int32Array) => Tensor; items: Tensor; itemBias: Tensor },
): Promise<FactorForm> {
  const H = a.historyLen;
  check(a.history.length === a.users.length * H, 'history', `${a.users.length} × ${H} window entries, got ${a.history.length}`);
  const phi = new Float32Array(a.users.length * a.dim);
  const turn = new Yielder(0);
  for (let s = 0; s < a.users.length; s += CHUNK) {
    if (s > 0) await turn.maybe();
    const u = a.users.subarray(s, s + CHUNK);
    const h = a.history.subarray(s * H, (s + u.length) * H);
    const part = await engine.scopeAsync(async () => (await noGrad(() => a.phi(u, h)).read()) as Float32Array);
    phi.set(part, s * a.dim);
  }
  const [items, itemBias] = (await Promise.all([a.items.read(), a.itemBias.read()])) as Float32Array[];
  return { dim: a.dim, phi, items, itemBias };
}
