/**
 * The episodes an environment has finished, as growable parallel arrays. Each slot
 * accumulates its running episode; `finish(slot)` appends it and clears the slot.
 * Evaluation reads returns and lengths from here, so every environment reports its
 * episodes the same way.
 */
import { GnnrlError, check } from '../../errors.js';
import type { EpisodeLog } from '../types.js';

export class EpisodeRecorder implements EpisodeLog {
  private n = 0;
  private ret = new Float64Array(64);
  private disc = new Float64Array(64);
  private len = new Int32Array(64);
  private clk = new Int32Array(64);
  private conv = new Int32Array(64);
  private shown = new Int32Array(64);
  // Running totals per slot.
  private readonly slotRet: Float64Array;
  private readonly slotDisc: Float64Array;
  private readonly slotDiscount: Float64Array;
  private readonly slotLen: Int32Array;
  private readonly slotClk: Int32Array;
  private readonly slotConv: Int32Array;
  private readonly slotShown: Int32Array;

  constructor(readonly slots: number, readonly gamma: number) {
    check(gamma >= 0 && gamma <= 1, 'gamma', `a number in [0, 1], got ${gamma}`);
    this.slotRet = new Float64Array(slots);
    this.slotDisc = new Float64Array(slots);
    this.slotDiscount = new Float64Array(slots).fill(1);
    this.slotLen = new Int32Array(slots);
    this.slotClk = new Int32Array(slots);
    this.slotConv = new Int32Array(slots);
    this.slotShown = new Int32Array(slots);
  }

  get count(): number {
    return this.n;
  }

  /** Adds one step's outcome to slot b's running episode. */
  record(b: number, reward: number, click: number, conversion: number, shown: number): void {
    this.slotRet[b] += reward;
    this.slotDisc[b] += this.slotDiscount[b] * reward;
    this.slotDiscount[b] *= this.gamma;
    this.slotLen[b]++;
    this.slotClk[b] += click;
    this.slotConv[b] += conversion;
    this.slotShown[b] += shown;
  }

  /** Closes slot b's episode: appends it to the log and starts the slot afresh. */
  finish(b: number): void {
    if (this.n === this.ret.length) this.grow();
    const j = this.n++;
    this.ret[j] = this.slotRet[b];
    this.disc[j] = this.slotDisc[b];
    this.len[j] = this.slotLen[b];
    this.clk[j] = this.slotClk[b];
    this.conv[j] = this.slotConv[b];
    this.shown[j] = this.slotShown[b];
    this.clearSlot(b);
  }

  /** Forgets every finished and running episode. */
  clear(): void {
    this.n = 0;
    for (let b = 0; b < this.slots; b++) this.clearSlot(b);
  }

  returnOf(j: number): number {
    return this.ret[this.at(j)];
  }
  discountedReturnOf(j: number): number {
    return this.disc[this.at(j)];
  }
  lengthOf(j: number): number {
    return this.len[this.at(j)];
  }
  clicksOf(j: number): number {
    return this.clk[this.at(j)];
  }
  conversionsOf(j: number): number {
    return this.conv[this.at(j)];
  }
  shownOf(j: number): number {
    return this.shown[this.at(j)];
  }

  private at(j: number): number {
    if (!Number.isInteger(j) || j < 0 || j >= this.n) throw new GnnrlError('input', `episode ${j} out of range [0, ${this.n})`, { arg: 'episode', index: j });
    return j;
  }

  private clearSlot(b: number): void {
    this.slotRet[b] = 0;
    this.slotDisc[b] = 0;
    this.slotDiscount[b] = 1;
    this.slotLen[b] = 0;
    this.slotClk[b] = 0;
    this.slotConv[b] = 0;
    this.slotShown[b] = 0;
  }

  private grow(): void {
    const cap = this.ret.length * 2;
    const g64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.ret = g64(this.ret);
    this.disc = g64(this.disc);
    this.len = g32(this.len);
    this.clk = g32(this.clk);
    this.conv = g32(this.conv);
    this.shown = g32(this.shown);
  }
}
