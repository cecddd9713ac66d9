/**
 * n-step returns for batched environments: one accumulator per episode slot turns the
 * 1-step stream (s_t, a_t, r_t, done_t, s_{t+1}) into n-step transitions
 *
 *   (s_t, a_t, R, done, s_{t+m}, γ^m),   R = Σ_{k<m} γ^k r_{t+k},
 *
 * Convention (what the DQN target reads):
 *   y = R + gammaN · (1 − done) · max_a Q_target(next, a),   gammaN = γ^m,
 * where m is the number of rewards actually summed:
 *  - m = n and done = 0 when the episode ran on for n steps; `next` is s_{t+n};
 *  - m < n and done = 1 when the episode ended at step t + m − 1 (the truncated sum);
 *    `next` is then that step's next observation (in batched environments the new
 *    episode's first one), which the (1 − done) factor ignores;
 *  - m < n and done = 0 only from `flush()`, which cuts the windows short and
 *    bootstraps from the latest next observation (use it at a time limit, or to drain).
 * gammaN is γ^m in every row, terminal rows included, so a consumer never needs n.
 *
 * Fields are of two kinds: `current` ones (the state and action, such as user, history,
 * action) are taken from the step a transition starts at, `next` ones (nextUser,
 * nextHistory) from the step it ends at. Emitted batches hold both, plus `reward` (R,
 * f32), `done` (u8) and `gammaN` (f32): `outputSchema()` is the schema of a replay buffer
 * that stores them. Rows come out slot by slot, oldest first within a slot.
 */
import { check } from '../../errors.js';
import { allocField, checkRows, checkSchema, type FieldArray, type FieldSpec } from './replay.js';

export interface NStepOptions {
  /** Episode slots (B) the environment steps at once. */
  readonly slots: number;
  /** Rewards summed per transition (≥ 1; 1 passes transitions through unchanged). */
  readonly n: number;
  /** Discount γ ∈ [0, 1]. */
  readonly gamma: number;
  /** Fields taken from the first step of a transition (state, action). */
  readonly current: readonly FieldSpec[];
  /** Fields taken from the last step of a transition (next state). */
  readonly next: readonly FieldSpec[];
}

export interface NStepInput {
  /** r_t per slot (B). */
  readonly reward: Float32Array | Float64Array;
  /** 1 where the slot's episode ended at this step (B). */
  readonly done: Uint8Array;
  /** Every current and next field, B rows each. */
  readonly fields: Record<string, FieldArray>;
}

export interface NStepBatch {
  /** Transitions emitted. */
  readonly count: number;
  /** The slot each row came from. */
  readonly slot: Int32Array;
  /** current + next fields, `reward`, `done` and `gammaN`, count rows each. */
  readonly fields: Record<string, FieldArray>;
}

const RESERVED = ['reward', 'done', 'gammaN'];

export class NStepAccumulator {
  readonly slots: number;
  readonly n: number;
  readonly gamma: number;
  readonly current: readonly FieldSpec[];
  readonly next: readonly FieldSpec[];
  /** current fields of each slot's pending steps: slots × n rows, a ring per slot. */
  private readonly heads: Record<string, FieldArray> = {};
  /** The latest next fields of each slot (slots rows). */
  private readonly tails: Record<string, FieldArray> = {};
  private readonly rewards: Float64Array;
  private readonly start: Int32Array;
  private readonly len: Int32Array;

  constructor(opts: NStepOptions) {
    const { slots, n, gamma } = opts;
    check(Number.isInteger(slots) && slots >= 1, 'slots', `an integer >= 1, got ${slots}`);
    check(Number.isInteger(n) && n >= 1, 'n', `an integer >= 1, got ${n}`);
    check(typeof gamma === 'number' && gamma >= 0 && gamma <= 1, 'gamma', `a number in [0, 1], got ${gamma}`);
    checkSchema([...opts.current, ...opts.next], 'current + next');
    for (const f of [...opts.current, ...opts.next]) check(!RESERVED.includes(f.name), 'current + next', `no field named ${RESERVED.join(', ')} (the accumulator writes those), got '${f.name}'`);
    this.slots = slots;
    this.n = n;
    this.gamma = gamma;
    this.current = opts.current.map((f) => ({ ...f }));
    this.next = opts.next.map((f) => ({ ...f }));
    for (const f of this.current) this.heads[f.name] = allocField(f.dtype, slots * n * f.width);
    for (const f of this.next) this.tails[f.name] = allocField(f.dtype, slots * f.width);
    this.rewards = new Float64Array(slots * n);
    this.start = new Int32Array(slots);
    this.len = new Int32Array(slots);
  }

  /** The schema of the emitted rows (for the replay buffer that stores them). */
  outputSchema(): FieldSpec[] {
    return [
      ...this.current.map((f) => ({ ...f })),
      ...this.next.map((f) => ({ ...f })),
      { name: 'reward', dtype: 'f32', width: 1 },
      { name: 'done', dtype: 'u8', width: 1 },
      { name: 'gammaN', dtype: 'f32', width: 1 },
    ];
  }

  /** Steps waiting in slot b for their n-th reward. */
  pending(b: number): number {
    check(Number.isInteger(b) && b >= 0 && b < this.slots, 'slot', `an integer in [0, ${this.slots}), got ${b}`);
    return this.len[b]!;
  }

  /**
   * Adds one batched step and returns the transitions it completed: in each slot the one
   * that now has n rewards, or, where done = 1, every pending one (truncated, done = 1).
   */
  push(step: NStepInput): NStepBatch {
    const B = this.slots;
    check(step?.reward instanceof Float32Array || step?.reward instanceof Float64Array, 'reward', 'a Float32Array or Float64Array');
    check(step.reward.length === B, 'reward', `${B} values (one per slot), got ${step.reward.length}`);
    check(step.done instanceof Uint8Array && step.done.length === B, 'done', `a Uint8Array of ${B} flags, got ${step.done?.length}`);
    checkRows([...this.current, ...this.next], step.fields, B, 'fields', true);
    for (let b = 0; b < B; b++) check(Number.isFinite(step.reward[b]!), 'reward', `finite numbers, got ${step.reward[b]}`, b);

    const n = this.n;
    for (let b = 0; b < B; b++) {
      const pos = b * n + ((this.start[b]! + this.len[b]!) % n);
      for (const f of this.current) copyRow(step.fields[f.name]!, b, this.heads[f.name]!, pos, f.width);
      for (const f of this.next) copyRow(step.fields[f.name]!, b, this.tails[f.name]!, b, f.width);
      this.rewards[pos] = step.reward[b]!;
      this.len[b] = this.len[b]! + 1;
    }
    // Slots that emit: all pending rows on done, the oldest when the window is full.
    const emit = new Int32Array(B);
    let count = 0;
    for (let b = 0; b < B; b++) {
      emit[b] = step.done[b] ? this.len[b]! : this.len[b] === n ? 1 : 0;
      count += emit[b]!;
    }
    const out = this.allocOut(count);
    let row = 0;
    for (let b = 0; b < B; b++) {
      for (let e = 0; e < emit[b]!; e++) this.emitOldest(b, step.done[b] ? 1 : 0, out, row++);
      if (step.done[b]) this.start[b] = 0;
    }
    return out;
  }

  /**
   * Emits every pending transition of `slot` (or of all slots) as a non-terminal one
   * with m < n rewards, bootstrapping from the latest next fields, and empties it.
   */
  flush(slot?: number): NStepBatch {
    const which = slot === undefined ? [...Array(this.slots).keys()] : [slot];
    for (const b of which) this.pending(b);
    const count = which.reduce((s, b) => s + this.len[b]!, 0);
    const out = this.allocOut(count);
    let row = 0;
    for (const b of which) {
      while (this.len[b]! > 0) this.emitOldest(b, 0, out, row++);
      this.start[b] = 0;
    }
    return out;
  }

  /** Drops the pending steps of `slot` (or of all slots) without emitting them. */
  reset(slot?: number): void {
    const which = slot === undefined ? [...Array(this.slots).keys()] : [slot];
    for (const b of which) {
      this.pending(b);
      this.len[b] = 0;
      this.start[b] = 0;
    }
  }

  private allocOut(count: number): NStepBatch {
    const fields: Record<string, FieldArray> = {};
    for (const f of this.outputSchema()) fields[f.name] = allocField(f.dtype, count * f.width);
    return { count, slot: new Int32Array(count), fields };
  }

  /** Writes slot b's oldest pending step as a transition over all its pending rewards, and drops it. */
  private emitOldest(b: number, done: number, out: NStepBatch, row: number): void {
    const n = this.n;
    const first = this.start[b]!;
    const m = this.len[b]!;
    let ret = 0;
    let g = 1;
    for (let k = 0; k < m; k++) {
      ret += g * this.rewards[b * n + ((first + k) % n)]!;
      g *= this.gamma;
    }
    for (const f of this.current) copyRow(this.heads[f.name]!, b * n + first, out.fields[f.name]!, row, f.width);
    for (const f of this.next) copyRow(this.tails[f.name]!, b, out.fields[f.name]!, row, f.width);
    out.fields.reward![row] = ret;
    out.fields.done![row] = done;
    out.fields.gammaN![row] = g;
    out.slot[row] = b;
    this.start[b] = (first + 1) % n;
    this.len[b] = m - 1;
  }
}

function copyRow(src: FieldArray, from: number, dst: FieldArray, to: number, w: number): void {
  for (let j = 0; j < w; j++) dst[to * w + j] = src[from * w + j]!;
}
