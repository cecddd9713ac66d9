/**
 * Creating tensors: from typed arrays, constants, and seeded random initialisers.
 * Random values are drawn on the host with the project's seeded Rng and uploaded, so
 * the same seed gives bit-identical tensors on every backend.
 */
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { Rng } from '../util/rng.js';
import { Tensor } from './tensor.js';
import { checkShape, fmtShape, sizeOf, type Shape } from './shape.js';

/** A tensor holding `data` (copied); a number[] becomes f32. */
export function tensor(engine: Engine, data: Float32Array | Int32Array | Uint32Array | number[], shape?: Shape): Tensor {
  const arr = Array.isArray(data) ? Float32Array.from(data) : data;
  return Tensor.fromArray(engine, arr, shape ?? [arr.length]);
}

export function zeros(engine: Engine, shape: Shape): Tensor {
  return Tensor.empty(engine, shape).fill(0);
}

export function ones(engine: Engine, shape: Shape): Tensor {
  return Tensor.empty(engine, shape).fill(1);
}

export function full(engine: Engine, shape: Shape, value: number): Tensor {
  return Tensor.empty(engine, shape).fill(value);
}

/** A seed or a generator: a generator advances, so successive draws differ. */
export type RandomSource = number | Rng;

function rngOf(src: RandomSource): Rng {
  return typeof src === 'number' ? new Rng(src) : src;
}

function draw(engine: Engine, shape: Shape, f: () => number): Tensor {
  checkShape(shape, 'random');
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = f();
  return Tensor.fromArray(engine, data, shape);
}

export function randUniform(engine: Engine, shape: Shape, opts: { lo?: number; hi?: number; rng: RandomSource }): Tensor {
  const rng = rngOf(opts.rng);
  const lo = opts.lo ?? 0;
  const hi = opts.hi ?? 1;
  return draw(engine, shape, () => rng.uniform(lo, hi));
}

export function randNormal(engine: Engine, shape: Shape, opts: { mean?: number; std?: number; rng: RandomSource }): Tensor {
  const rng = rngOf(opts.rng);
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  return draw(engine, shape, () => mean + std * rng.normal());
}

function fans(shape: Shape, op: string): [number, number] {
  if (shape.length !== 2) throw new GnnrlError('input', `${op}: expected a 2-D [fanIn, fanOut] shape, got ${fmtShape(shape)}`, { arg: 'shape' });
  return [shape[0], shape[1]];
}

/** Glorot uniform: U(±sqrt(6 / (fanIn + fanOut))) for a [fanIn, fanOut] weight. */
export function xavierUniform(engine: Engine, shape: Shape, rng: RandomSource, gain = 1): Tensor {
  const [fi, fo] = fans(shape, 'xavierUniform');
  const a = gain * Math.sqrt(6 / Math.max(1, fi + fo));
  return randUniform(engine, shape, { lo: -a, hi: a, rng });
}

/** Glorot normal: N(0, 2 / (fanIn + fanOut)). */
export function xavierNormal(engine: Engine, shape: Shape, rng: RandomSource, gain = 1): Tensor {
  const [fi, fo] = fans(shape, 'xavierNormal');
  return randNormal(engine, shape, { std: gain * Math.sqrt(2 / Math.max(1, fi + fo)), rng });
}

/** Reads several tensors with one submit and one wait. */
export async function readAll(tensors: Tensor[]): Promise<(Float32Array | Int32Array | Uint32Array)[]> {
  if (tensors.length === 0) return [];
  const engine = tensors[0].engine;
  return engine.readMany(tensors.map((t) => t.data));
}

/**
 * Marks `t` as a trainable parameter: requires a gradient, survives every scope
 * (engine.keep), and is owned by whoever holds it (dispose it, or the module).
 */
export function parameter(t: Tensor): Tensor {
  if (t.dtype !== 'f32') throw new GnnrlError('input', `parameter: must be f32, got ${t.dtype}`, { arg: 't' });
  if (t.node) throw new GnnrlError('input', `parameter: expected a leaf tensor, got the output of '${t.node.op}' (detach it first)`, { arg: 't' });
  t.requiresGrad = true;
  t.isParameter = true;
  return t.engine.keep(t);
}
