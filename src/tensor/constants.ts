/** Small device constants shared per engine (uploaded once, never freed before the engine). */
import type { Engine } from '../engine.js';
import type { DeviceArray } from '../backend/arrays.js';

const ones = new WeakMap<Engine, DeviceArray<'f32'>>();

/** A one-element f32 array holding 1 (a dummy operand, and "no clipping" for optimisers). */
export function constantOne(engine: Engine): DeviceArray<'f32'> {
  let a = ones.get(engine);
  if (!a) ones.set(engine, (a = engine.array(new Float32Array([1]))));
  return a;
}
