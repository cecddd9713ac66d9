/**
 * Annealing schedules for exploration (ε), learning rates and PER's β: a value as a
 * function of a step counter. Each schedule is a plain object with `value(step)` and the
 * JSON-able `spec` it was built from, so configs and checkpoints store the spec and
 * rebuild the same schedule with `parseSchedule`.
 *
 * - constant: `value` at every step;
 * - linear: `start` at step 0 to `end` at step `steps`, then held at `end`;
 * - exponential: `end + (start − end) · decay^step`, i.e. the gap to `end` shrinks by the
 *   factor `decay` per step; `halfLife` h is the same with decay = 0.5^(1/h).
 */
import { GnnrlError, check } from '../errors.js';

export type ScheduleSpec =
  | { kind: 'constant'; value: number }
  | { kind: 'linear'; start: number; end: number; steps: number }
  | { kind: 'exponential'; start: number; end: number; decay: number }
  | { kind: 'exponential'; start: number; end: number; halfLife: number };

export interface Schedule {
  readonly spec: ScheduleSpec;
  /** The value at `step` (a finite number ≥ 0; fractional steps interpolate). */
  value(step: number): number;
}

function checkStep(step: number): void {
  check(typeof step === 'number' && Number.isFinite(step) && step >= 0, 'step', `a finite number >= 0, got ${step}`);
}

function checkFinite(v: unknown, arg: string): asserts v is number {
  check(typeof v === 'number' && Number.isFinite(v), arg, `a finite number, got ${JSON.stringify(v)}`);
}

export function constantSchedule(value: number): Schedule {
  checkFinite(value, 'value');
  return {
    spec: { kind: 'constant', value },
    value(step) {
      checkStep(step);
      return value;
    },
  };
}

export function linearSchedule(start: number, end: number, steps: number): Schedule {
  checkFinite(start, 'start');
  checkFinite(end, 'end');
  check(typeof steps === 'number' && Number.isFinite(steps) && steps >= 0, 'steps', `a finite number >= 0, got ${steps}`);
  return {
    spec: { kind: 'linear', start, end, steps },
    value(step) {
      checkStep(step);
      // steps = 0 means "already at the end": no division by zero, no start value ever.
      if (step >= steps) return end;
      return start + (end - start) * (step / steps);
    },
  };
}

/** `decay` in (0, 1] per step, or `halfLife` > 0 steps (exactly one of the two). */
export function exponentialSchedule(opts: { start: number; end: number; decay?: number; halfLife?: number }): Schedule {
  const { start, end, decay, halfLife } = opts;
  checkFinite(start, 'start');
  checkFinite(end, 'end');
  check((decay === undefined) !== (halfLife === undefined), 'decay', `exactly one of decay or halfLife, got ${decay === undefined ? 'neither' : 'both'}`);
  let factor: number;
  let spec: ScheduleSpec;
  if (decay !== undefined) {
    check(typeof decay === 'number' && decay > 0 && decay <= 1, 'decay', `a number in (0, 1], got ${decay}`);
    factor = decay;
    spec = { kind: 'exponential', start, end, decay };
  } else {
    check(typeof halfLife === 'number' && Number.isFinite(halfLife) && halfLife > 0, 'halfLife', `a finite number > 0, got ${halfLife}`);
    factor = Math.pow(0.5, 1 / halfLife);
    spec = { kind: 'exponential', start, end, halfLife };
  }
  return {
    spec,
    value(step) {
      checkStep(step);
      return end + (start - end) * Math.pow(factor, step);
    },
  };
}

/**
 * Builds a schedule from its JSON spec (as stored in configs). A bare number is a constant
 * schedule. `arg` names the config key in errors ('epsilon', 'beta', …).
 */
export function parseSchedule(spec: unknown, arg = 'schedule'): Schedule {
  if (typeof spec === 'number') return wrap(arg, () => constantSchedule(spec));
  check(spec !== null && typeof spec === 'object' && !Array.isArray(spec), arg, `a number or a schedule spec { kind: 'constant' | 'linear' | 'exponential', … }, got ${JSON.stringify(spec)}`);
  const s = spec as Record<string, unknown>;
  const allowed: Record<string, string[]> = {
    constant: ['kind', 'value'],
    linear: ['kind', 'start', 'end', 'steps'],
    exponential: ['kind', 'start', 'end', 'decay', 'halfLife'],
  };
  const keys = typeof s.kind === 'string' && Object.hasOwn(allowed, s.kind) ? allowed[s.kind] : undefined;
  check(keys !== undefined, `${arg}.kind`, `'constant' | 'linear' | 'exponential', got ${JSON.stringify(s.kind)}`);
  // A misspelt key would otherwise silently fall back to a default; refuse it by name.
  for (const k of Object.keys(s)) check(keys.includes(k), `${arg}.${k}`, `no such key for a ${s.kind} schedule (keys: ${keys.join(', ')})`);
  return wrap(arg, () => {
    switch (s.kind) {
      case 'constant':
        return constantSchedule(s.value as number);
      case 'linear':
        return linearSchedule(s.start as number, s.end as number, s.steps as number);
      default:
        return exponentialSchedule({ start: s.start as number, end: s.end as number, decay: s.decay as number | undefined, halfLife: s.halfLife as number | undefined });
    }
  });
}

/** A schedule, a spec or a bare number, as agent options accept them. */
export type ScheduleLike = Schedule | ScheduleSpec | number;

export function toSchedule(s: ScheduleLike, arg: string): Schedule {
  if (typeof s === 'object' && s !== null && typeof (s as Schedule).value === 'function') return s as Schedule;
  return parseSchedule(s, arg);
}

/** Re-raises a constructor's input error with the config key in front (`epsilon.start: …`). */
function wrap(arg: string, build: () => Schedule): Schedule {
  try {
    return build();
  } catch (e) {
    if (e instanceof GnnrlError && e.code === 'input' && e.details.arg !== undefined) {
      const field = `${arg}.${e.details.arg}`;
      throw new GnnrlError('input', `${arg}.${e.message}`, { ...e.details, arg: field });
    }
    throw e;
  }
}
