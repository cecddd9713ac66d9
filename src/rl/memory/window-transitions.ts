/**
 * How the window-state agents (DQN, DDPG) put a batch of environment steps into replay,
 * written once: the action learned from is the item the user took, else the slate's first;
 * a row is (user, history window, action, next user, next window, reward, done); n-step
 * returns need every step judged, and without them the steps the environment skipped
 * (log replay with `unknown: skip`) are left out.
 */
import { GnnrlError } from '../../errors.js';
import type { TransitionBatch } from '../types.js';
import type { FieldArray } from './replay.js';
import type { NStepAccumulator } from './nstep.js';

/** Where the rows go: a uniform or prioritised buffer (both take rows this way). */
export interface RowSink {
  add(rows: Record<string, FieldArray>, count: number): unknown;
}

export interface WindowAgentShape {
  /** Agent kind, for messages. */
  kind: string;
  /** Slots the agent was built for. */
  slots: number;
  /** H of its encoder. */
  historyLen: number;
}

/** Checks `t` against the agent's shape and stores its rows in `replay` (through `nstep` when given). */
export function storeWindowTransitions(agent: WindowAgentShape, replay: RowSink, nstep: NStepAccumulator | null, t: TransitionBatch): void {
  const { obs, actions, slateSize: k, result } = t;
  const B = obs.batch;
  if (B !== agent.slots) throw new GnnrlError('input', `${agent.kind}: observe got ${B} slots, the agent was built for ${agent.slots}`, { arg: 'batch' });
  if (obs.historyLen !== agent.historyLen) throw new GnnrlError('input', `${agent.kind}: observations have a ${obs.historyLen}-item window, the encoder expects ${agent.historyLen}`, { arg: 'historyLen' });
  const action = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const c = result.choice[b];
    action[b] = actions[b * k + (c >= 0 ? c : 0)];
  }
  const fields: Record<string, FieldArray> = { user: obs.user, history: obs.historyItems, action, nextUser: result.next.user, nextHistory: result.next.historyItems };
  let skipped = 0;
  for (let b = 0; b < B; b++) skipped += result.skipped[b];
  if (nstep) {
    if (skipped > 0) throw new GnnrlError('input', `${agent.kind}: n-step returns need every step judged; this environment skipped ${skipped} (use nStep 1, or unknown: zero)`, { arg: 'nStep' });
    const out = nstep.push({ reward: result.reward, done: result.done, fields });
    if (out.count > 0) replay.add(out.fields, out.count);
    return;
  }
  fields.reward = result.reward;
  fields.done = result.done;
  if (skipped === 0) {
    replay.add(fields, B);
    return;
  }
  const keep: number[] = [];
  for (let b = 0; b < B; b++) if (!result.skipped[b]) keep.push(b);
  if (keep.length === 0) return;
  const rows: Record<string, FieldArray> = {};
  for (const [name, arr] of Object.entries(fields)) {
    const w = arr.length / B;
    const out = new (arr.constructor as new (n: number) => FieldArray)(keep.length * w);
    keep.forEach((b, j) => out.set(arr.subarray(b * w, b * w + w), j * w));
    rows[name] = out;
  }
  replay.add(rows, keep.length);
}
