/**
 * Resuming random streams and optimisers exactly (what a snapshot of an online learner
 * needs): Rng.getState/setState continue the same sequence, normals included (the cached
 * second normal is part of the state), bad states are refused without changing the
 * generator, and Optimizer.stateArrays exposes each parameter's state (Adam's two moments, SGD's velocity)
 * in parameter order.
 */
import { expect, test } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { GnnrlError } from '../src/errors.js';
import { Engine } from '../src/engine.js';
import * as T from '../src/tensor/index.js';

test('an Rng resumed from getState() draws what the original draws next', () => {
  const a = new Rng(42);
  for (let i = 0; i < 17; i++) a.next();
  a.normal(); // leaves the second normal of the pair cached
  const s = a.getState();
  expect(s[4]).not.toBeNull();
  const b = new Rng(7);
  b.setState(JSON.parse(JSON.stringify(s)));
  const draw = (r: Rng) => [r.normal(), r.next(), r.int(1000), r.normal(), r.uniform(-1, 1)];
  expect(draw(b)).toEqual(draw(a));
});

test('a bad state is refused and leaves the generator as it was', () => {
  const r = new Rng(3);
  const before = r.getState();
  for (const bad of [null, [1, 2, 3], [0, 0, 0, 0, null], [1, 2, 3, 4.5, null], [1, 2, 3, 4, 'x'], [1, 2, 3, 2 ** 33, null]]) {
    expect(() => r.setState(bad), JSON.stringify(bad)).toThrow(GnnrlError);
  }
  expect(r.getState()).toEqual(before);
});

test('Optimizer.stateArrays holds Adam moments and SGD velocity per parameter', async () => {
  const engine = await Engine.create({ backend: 'cpu', quiet: true });
  try {
    const w = T.parameter(T.tensor(engine, Float32Array.of(1, 2, 3)));
    const u = T.parameter(T.tensor(engine, Float32Array.of(4, 5)));
    const adam = new T.Adam([w, u], { lr: 0.1 });
    expect(adam.stateArrays.map((s) => s.map((a) => a.length))).toEqual([[3, 3], [2, 2]]);
    adam.zeroGrad();
    T.sum(w.mul(w)).add(T.sum(u)).backward();
    adam.step();
    const [m0] = await engine.readMany([adam.stateArrays[0][0]]);
    expect(Array.from(m0).every((x) => x !== 0)).toBe(true);
    expect(adam.t).toBe(1);
    expect(new T.SGD([w], { lr: 0.1 }).stateArrays.map((s) => s.length)).toEqual([1]);
  } finally {
    await engine.dispose();
  }
});
