/**
 * The parts of an online learner that its `state()` leaves out, shared by the agents a
 * served recommender resumes (DQN, REINFORCE): Adam's moments and step count, and RNG
 * positions. Each agent adds its own memory (DQN's replay, REINFORCE's queued steps).
 *
 * Adam's state is written as `<prefix>step` (one f64) and `<prefix>m.<p>`, `<prefix>v.<p>`
 * (f32, parameter p in the optimiser's order), so one section can hold two optimisers.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { DeviceArray } from '../../backend/arrays.js';
import type { Optimizer } from '../../tensor/optim.js';
import type { Rng, RngState } from '../../util/rng.js';
import type { FieldArray } from '../memory/replay.js';

/** What `learnerState()` returns: the 'optimizer', 'replay' and 'rng' sections of a snapshot. */
export interface LearnerState<R = Record<string, RngState>> {
  optimizer: Record<string, Float32Array | Float64Array>;
  replay: Record<string, FieldArray>;
  rng: R;
}

/** A coded 'format' error naming the source and section. */
export type SectionError = (section: string, msg: string) => GnnrlError;

export function sectionError(what: string): SectionError {
  return (section, msg) => new GnnrlError('format', `${what}: section '${section}': ${msg}`, { field: section });
}

/** Adam's two moment arrays per parameter. */
function adamSlots(opt: Optimizer, who: string): [DeviceArray<'f32'>, DeviceArray<'f32'>][] {
  const slots = opt.stateArrays;
  if (slots.length !== opt.params.length || !slots.every((a) => a.length === 2)) {
    throw new GnnrlError('state', `${who}: the optimiser does not hold two moments per parameter (expected Adam)`);
  }
  return slots as [DeviceArray<'f32'>, DeviceArray<'f32'>][];
}

/** Adds `opt`'s step count and moments to `out` under `prefix`. */
export async function readAdamState(engine: Engine, opt: Optimizer, out: Record<string, Float32Array | Float64Array>, prefix = '', who = 'agent'): Promise<void> {
  const slots = adamSlots(opt, who);
  out[`${prefix}step`] = Float64Array.of(opt.t);
  const flat = await engine.readMany(slots.flat());
  slots.forEach((_, p) => {
    out[`${prefix}m.${p}`] = flat[2 * p] as Float32Array;
    out[`${prefix}v.${p}`] = flat[2 * p + 1] as Float32Array;
  });
}

/** Restores what `readAdamState` wrote under `prefix`; checks every array before writing any. */
export function writeAdamState(engine: Engine, opt: Optimizer, src: Record<string, Float32Array | Float64Array> | undefined, bad: SectionError, prefix = '', who = 'agent'): void {
  const slots = adamSlots(opt, who);
  const step = src?.[`${prefix}step`];
  if (!(step instanceof Float64Array && step.length === 1 && Number.isInteger(step[0]) && step[0] >= 0)) throw bad('optimizer', `'${prefix}step': expected one f64 integer >= 0`);
  slots.forEach(([m, v], p) => {
    for (const [name, arr] of [[`${prefix}m.${p}`, m], [`${prefix}v.${p}`, v]] as const) {
      const a = src![name];
      if (!(a instanceof Float32Array && a.length === arr.length)) throw bad('optimizer', `'${name}': expected ${arr.length} f32 values (Adam's moments of parameter ${p}), got ${a ? a.length : 'nothing'}`);
    }
  });
  slots.forEach(([m, v], p) => {
    engine.write(m, src![`${prefix}m.${p}`] as Float32Array);
    engine.write(v, src![`${prefix}v.${p}`] as Float32Array);
  });
  opt.t = step[0];
}

/** Moves `r` to a saved position; a malformed one is `bad('rng', …)` naming the stream. */
export function setRngState(r: Rng, s: unknown, name: string, bad: SectionError): void {
  try {
    r.setState(s);
  } catch {
    throw bad('rng', `'${name}': expected [a, b, c, d, spareNormal]`);
  }
}
