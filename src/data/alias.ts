/**
 * Walker's alias method (Vose's construction): O(n) to build from non-negative weights,
 * O(1) per draw. Used for popularity-proportional negatives and the synthetic world.
 */
import { GnnrlError } from '../errors.js';
import type { Rng } from '../util/rng.js';

export class AliasTable {
  readonly n: number;
  /** Probability of keeping column j rather than jumping to alias[j]. */
  readonly prob: Float64Array;
  readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    if (n === 0) throw new GnnrlError('input', 'AliasTable: weights is empty', { arg: 'weights' });
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w >= 0 && Number.isFinite(w))) throw new GnnrlError('input', `AliasTable: weights[${i}] = ${w} is not a finite non-negative number`, { arg: 'weights', index: i });
      total += w;
    }
    if (!(total > 0)) throw new GnnrlError('input', 'AliasTable: all weights are zero', { arg: 'weights' });
    this.n = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    // Leftovers are 1 up to rounding.
    while (nl > 0) {
      const l = large[--nl];
      this.prob[l] = 1;
      this.alias[l] = l;
    }
    while (ns > 0) {
      const s = small[--ns];
      this.prob[s] = 1;
      this.alias[s] = s;
    }
  }

  /** Two draws (column, coin) so that the coin keeps 32 bits even for large tables. */
  sample(rng: Rng): number {
    const j = rng.int(this.n);
    return rng.next() < this.prob[j] ? j : this.alias[j];
  }
}
