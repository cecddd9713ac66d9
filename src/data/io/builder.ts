/**
 * Growable typed columns that loaders append to, and the bad-line policy they share.
 */
import { GnnrlError } from '../../errors.js';
import { IdMap } from '../idmap.js';
import type { Interactions } from '../interactions.js';
import type { BadLinePolicy } from '../load-types.js';

export type { BadLinePolicy, LoadReport, LoadedInteractions } from '../load-types.js';

/** Applies the policy to a malformed record: throws, or counts (and maybe warns). */
export class BadLines {
  skipped = 0;
  readonly messages: string[] = [];

  constructor(
    readonly policy: BadLinePolicy,
    private readonly onWarning: (err: GnnrlError) => void = (err) => process.emitWarning(err.message, 'GnnrlDataWarning'),
  ) {
    if (policy !== 'error' && policy !== 'skip' && policy !== 'warn') {
      throw new GnnrlError('input', `onBadLine: expected 'error' | 'skip' | 'warn', got ${JSON.stringify(policy)}`, { arg: 'onBadLine' });
    }
  }

  report(err: GnnrlError): void {
    if (this.policy === 'error') throw err;
    this.skipped++;
    if (this.messages.length < 20) this.messages.push(err.message);
    if (this.policy === 'warn') this.onWarning(err);
  }
}

export class GrowI32 {
  data: Int32Array;
  length = 0;
  constructor(cap = 1024) {
    this.data = new Int32Array(cap);
  }
  push(v: number): void {
    if (this.length === this.data.length) this.data = grow(this.data, new Int32Array(this.data.length * 2));
    this.data[this.length++] = v;
  }
  done(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

export class GrowF32 {
  data: Float32Array;
  length = 0;
  constructor(cap = 1024) {
    this.data = new Float32Array(cap);
  }
  push(v: number): void {
    if (this.length === this.data.length) this.data = grow(this.data, new Float32Array(this.data.length * 2));
    this.data[this.length++] = v;
  }
  done(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

export class GrowF64 {
  data: Float64Array;
  length = 0;
  constructor(cap = 1024) {
    this.data = new Float64Array(cap);
  }
  push(v: number): void {
    if (this.length === this.data.length) this.data = grow(this.data, new Float64Array(this.data.length * 2));
    this.data[this.length++] = v;
  }
  done(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

function grow<T extends Int32Array | Float32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Column builder for an interaction log: ids go through the maps, values are appended. */
export class InteractionsBuilder {
  readonly user = new GrowI32(1 << 16);
  readonly item = new GrowI32(1 << 16);
  readonly rating: GrowF32 | null;
  readonly ts: GrowF64 | null;

  constructor(
    hasRating: boolean,
    hasTs: boolean,
    readonly userIds = new IdMap(),
    readonly itemIds = new IdMap(),
  ) {
    this.rating = hasRating ? new GrowF32(1 << 16) : null;
    this.ts = hasTs ? new GrowF64(1 << 16) : null;
  }

  get rows(): number {
    return this.user.length;
  }

  finish(): Interactions {
    return {
      user: this.user.done(),
      item: this.item.done(),
      rating: this.rating ? this.rating.done() : null,
      ts: this.ts ? this.ts.done() : null,
      nUsers: this.userIds.size,
      nItems: this.itemIds.size,
      userIds: this.userIds,
      itemIds: this.itemIds,
    };
  }
}
