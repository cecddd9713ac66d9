import { describe, expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { ReplayBuffer, transitionSchema, type FieldSpec } from '../../src/rl/memory/replay.js';
import { constantSchedule, exponentialSchedule, linearSchedule, parseSchedule } from '../../src/rl/schedules.js';

const schema: FieldSpec[] = [
  { name: 'user', dtype: 'i32', width: 1 },
  { name: 'history', dtype: 'i32', width: 3 },
  { name: 'reward', dtype: 'f32', width: 1 },
  { name: 'done', dtype: 'u8', width: 1 },
  { name: 'q', dtype: 'f64', width: 2 },
];

/** Rows whose every field encodes the row's id k, so a stored row can be traced back. */
function rows(from: number, count: number) {
  const user = new Int32Array(count);
  const history = new Int32Array(count * 3);
  const reward = new Float32Array(count);
  const done = new Uint8Array(count);
  const q = new Float64Array(count * 2);
  for (let i = 0; i < count; i++) {
    const k = from + i;
    user[i] = k;
    history.set([k * 10, k * 10 + 1, k * 10 + 2], i * 3);
    reward[i] = k + 0.5;
    done[i] = k % 2;
    q.set([k / 3, -k / 7], i * 2);
  }
  return { user, history, reward, done, q };
}

function thrown(f: () => unknown): GnnrlError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(GnnrlError);
    return e as GnnrlError;
  }
  throw new Error('expected a GnnrlError');
}

describe('ReplayBuffer', () => {
  it('stores rows field by field and wraps around, overwriting the oldest', () => {
    const buf = new ReplayBuffer({ schema, capacity: 5, rng: new Rng(1) });
    expect(buf.size).toBe(0);
    expect(Array.from(buf.add(rows(0, 3), 3))).toEqual([0, 1, 2]);
    expect(buf.size).toBe(3);
    expect(Array.from(buf.add(rows(3, 4), 4))).toEqual([3, 4, 0, 1]);
    expect(buf.size).toBe(5);
    expect(buf.next).toBe(2);
    // Row r holds id 5, 6, 2, 3, 4: ids 0 and 1 were overwritten.
    const ids = [5, 6, 2, 3, 4];
    const got = buf.gather(Int32Array.from([0, 1, 2, 3, 4]));
    expect(Array.from(got.user!)).toEqual(ids);
    expect(Array.from(got.history!)).toEqual(ids.flatMap((k) => [k * 10, k * 10 + 1, k * 10 + 2]));
    expect(Array.from(got.reward!)).toEqual(ids.map((k) => k + 0.5));
    expect(Array.from(got.done!)).toEqual(ids.map((k) => k % 2));
    expect(Array.from(got.q!)).toEqual(ids.flatMap((k) => [k / 3, -k / 7]));
  });

  it('keeps only the last capacity rows of an add larger than the buffer', () => {
    const buf = new ReplayBuffer({ schema, capacity: 4, rng: new Rng(1) });
    buf.add(rows(0, 1), 1);
    const where = buf.add(rows(100, 10), 10);
    // 10 rows from cursor 1: the last four (ids 106…109) land at rows 3, 0, 1, 2.
    expect(Array.from(where)).toEqual([3, 0, 1, 2]);
    expect(buf.next).toBe(3);
    expect(Array.from(buf.field('user').subarray(0, 4))).toEqual([107, 108, 109, 106]);
  });

  it('samples uniformly with replacement, the same for the same seed', () => {
    const make = (seed: number) => {
      const b = new ReplayBuffer({ schema, capacity: 50, rng: new Rng(seed) });
      b.add(rows(0, 30), 30);
      return b;
    };
    const a = make(7).sample(64);
    const b = make(7).sample(64);
    const c = make(8).sample(64);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(Array.from(a.fields.q!)).toEqual(Array.from(b.fields.q!));
    expect(Array.from(a.indices)).not.toEqual(Array.from(c.indices));
    for (const i of a.indices) expect(i).toBeLessThan(30);
    // Fields follow the indices.
    expect(Array.from(a.fields.user!)).toEqual(Array.from(a.indices));
    // Uniform: every one of 30 rows shows up in 3000 draws, none wildly over-drawn.
    const counts = new Array(30).fill(0);
    const big = make(3).sample(3000);
    for (const i of big.indices) counts[i]++;
    expect(Math.min(...counts)).toBeGreaterThan(60);
    expect(Math.max(...counts)).toBeLessThan(140);
  });

  it('round-trips state() and load()', () => {
    const a = new ReplayBuffer({ schema, capacity: 6, rng: new Rng(2) });
    a.add(rows(0, 9), 9);
    const s = a.state();
    expect(JSON.parse(JSON.stringify(s.position))).toEqual(s.position);
    const b = new ReplayBuffer({ schema, capacity: 6, rng: new Rng(2) });
    b.load(s);
    expect(b.size).toBe(6);
    expect(b.next).toBe(3);
    expect(Array.from(b.field('history'))).toEqual(Array.from(a.field('history')));
    expect(Array.from(b.sample(20).indices)).toEqual(Array.from(a.sample(20).indices));
    // A partial buffer too, and a mismatched one is refused.
    const c = new ReplayBuffer({ schema, capacity: 6, rng: new Rng(2) });
    c.add(rows(0, 2), 2);
    const d = new ReplayBuffer({ schema, capacity: 6, rng: new Rng(2) });
    d.load(c.state());
    expect(d.size).toBe(2);
    expect(thrown(() => new ReplayBuffer({ schema, capacity: 7, rng: new Rng(2) }).load(s)).details.arg).toBe('state.position.capacity');
  });

  it('refuses capacity 0, non-integers and buffers over the memory limit', () => {
    const rng = new Rng(1);
    for (const capacity of [0, -3, 2.5, NaN]) {
      const e = thrown(() => new ReplayBuffer({ schema, capacity, rng }));
      expect(e.code).toBe('input');
      expect(e.details.arg).toBe('capacity');
    }
    // Row bytes: 4 + 12 + 4 + 1 + 16 = 37.
    const e = thrown(() => new ReplayBuffer({ schema, capacity: 1000, rng, maxBytes: 36_999 }));
    expect(e.code).toBe('limit');
    expect(e.message).toContain('37000 bytes');
    expect(e.message).toContain('limit of 36999 bytes');
    expect(new ReplayBuffer({ schema, capacity: 1000, rng, maxBytes: 37_000 }).rowBytes).toBe(37);
    // The default limit (a quarter of RAM) refuses a trillion rows before allocating.
    const huge = thrown(() => new ReplayBuffer({ schema, capacity: 1e12, rng }));
    expect(huge.code).toBe('limit');
    expect(huge.message).toMatch(/asks for 37000000000000 bytes, over the limit of \d+ bytes/);
    // With the limit lifted by hand, an allocation the runtime refuses is still a coded error.
    const refused = thrown(() => new ReplayBuffer({ schema: [{ name: 'x', dtype: 'u8', width: 1 }], capacity: 2 ** 52, rng, maxBytes: Infinity }));
    expect(refused.code).toBe('limit');
    expect(refused.details.arg).toBe('capacity');
  });

  it('checks schemas, rows and sample arguments by name', () => {
    const rng = new Rng(1);
    expect(thrown(() => new ReplayBuffer({ schema: [], capacity: 2, rng })).details.arg).toBe('schema');
    expect(thrown(() => new ReplayBuffer({ schema: [schema[0]!, schema[0]!], capacity: 2, rng })).details.arg).toBe('schema[1].name');
    expect(thrown(() => new ReplayBuffer({ schema: [{ name: 'x', dtype: 'i64' as 'i32', width: 1 }], capacity: 2, rng })).details.arg).toBe('schema[0].dtype');
    expect(thrown(() => new ReplayBuffer({ schema: [{ name: 'x', dtype: 'f32', width: 0 }], capacity: 2, rng })).details.arg).toBe('schema[0].width');
    const buf = new ReplayBuffer({ schema, capacity: 4, rng });
    expect(thrown(() => buf.sample(1)).code).toBe('state');
    const r = rows(0, 2);
    expect(thrown(() => buf.add({ ...r, reward: new Float64Array(2) as unknown as Float32Array }, 2)).details.arg).toBe('rows.reward');
    expect(thrown(() => buf.add({ ...r, history: new Int32Array(5) }, 2)).details.arg).toBe('rows.history');
    expect(thrown(() => buf.add({ ...r, extra: new Uint8Array(2) }, 2)).details.arg).toBe('rows.extra');
    buf.add(r, 2);
    expect(thrown(() => buf.sample(0)).details.arg).toBe('batch');
    expect(thrown(() => buf.gather(Int32Array.from([2]))).details.arg).toBe('indices');
  });

  it('builds the recommender transition schema', () => {
    const s = transitionSchema({ historyLen: 4, slateSize: 3, featureDim: 2, gammaN: true });
    expect(s.map((f) => `${f.name}:${f.dtype}:${f.width}`)).toEqual([
      'user:i32:1',
      'history:i32:4',
      'action:i32:3',
      'reward:f32:1',
      'done:u8:1',
      'nextUser:i32:1',
      'nextHistory:i32:4',
      'features:f32:2',
      'nextFeatures:f32:2',
      'gammaN:f32:1',
    ]);
  });
});

describe('schedules', () => {
  it('computes constant, linear and exponential values', () => {
    expect(constantSchedule(0.3).value(1e6)).toBe(0.3);
    const lin = linearSchedule(1, 0.1, 100);
    expect(lin.value(0)).toBe(1);
    expect(lin.value(50)).toBeCloseTo(0.55, 12);
    expect(lin.value(100)).toBeCloseTo(0.1, 12);
    expect(lin.value(1000)).toBe(0.1);
    expect(linearSchedule(1, 0, 0).value(0)).toBe(0);
    const exp = exponentialSchedule({ start: 1, end: 0.1, decay: 0.9 });
    expect(exp.value(0)).toBe(1);
    expect(exp.value(2)).toBeCloseTo(0.1 + 0.9 * 0.81, 12);
    const half = exponentialSchedule({ start: 1, end: 0, halfLife: 10 });
    expect(half.value(10)).toBeCloseTo(0.5, 12);
    expect(half.value(30)).toBeCloseTo(0.125, 12);
  });

  it('parses JSON specs and names what is wrong', () => {
    expect(parseSchedule({ kind: 'linear', start: 1, end: 0, steps: 4 }).value(1)).toBe(0.75);
    expect(parseSchedule(0.2).spec).toEqual({ kind: 'constant', value: 0.2 });
    const spec = { kind: 'exponential', start: 1, end: 0.05, halfLife: 100 } as const;
    expect(parseSchedule(JSON.parse(JSON.stringify(parseSchedule(spec).spec))).value(100)).toBeCloseTo(0.525, 12);
    const bad: [unknown, string][] = [
      [{ kind: 'cosine' }, 'epsilon.kind'],
      [{ kind: 'linear', start: 1, end: 0, step: 3 }, 'epsilon.step'],
      [{ kind: 'linear', start: 1, end: 0, steps: -1 }, 'epsilon.steps'],
      [{ kind: 'linear', start: 'a', end: 0, steps: 1 }, 'epsilon.start'],
      [{ kind: 'exponential', start: 1, end: 0, decay: 1.5 }, 'epsilon.decay'],
      [{ kind: 'exponential', start: 1, end: 0 }, 'epsilon.decay'],
      [null, 'epsilon'],
      [NaN, 'epsilon.value'],
    ];
    for (const [s, arg] of bad) {
      const e = thrown(() => parseSchedule(s, 'epsilon'));
      expect(e.code).toBe('input');
      expect(e.details.arg).toBe(arg);
      expect(e.message.startsWith(`${arg}`)).toBe(true);
    }
    expect(thrown(() => linearSchedule(1, 0, 10).value(-1)).details.arg).toBe('step');
  });
});
