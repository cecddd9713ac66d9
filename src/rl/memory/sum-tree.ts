/**
 * A sum tree (and a min tree beside it) over `capacity` non-negative priorities, for
 * proportional sampling in O(log n): `find(u)` returns the leaf whose prefix-sum interval
 * holds u ∈ [0, total). Both trees live in Float64Arrays laid out as binary heaps: node 1
 * is the root, node k's children are 2k and 2k + 1, leaves start at `size` (the capacity
 * rounded up to a power of two). Leaves beyond `capacity` stay 0 (sum) and +∞ (min).
 *
 * `set` recomputes each parent on the path from its two children instead of adding a
 * delta, so rounding errors do not accumulate however many updates the tree sees.
 */
import { check } from '../../errors.js';

export class SumTree {
  readonly capacity: number;
  private readonly size: number;
  private readonly sums: Float64Array;
  private readonly mins: Float64Array;

  constructor(capacity: number) {
    check(Number.isInteger(capacity) && capacity >= 1, 'capacity', `an integer >= 1, got ${capacity}`);
    let size = 1;
    while (size < capacity) size *= 2;
    this.capacity = capacity;
    this.size = size;
    this.sums = new Float64Array(2 * size);
    this.mins = new Float64Array(2 * size).fill(Infinity);
  }

  /** Sets leaf i's priority (finite, ≥ 0). */
  set(i: number, priority: number): void {
    check(Number.isInteger(i) && i >= 0 && i < this.capacity, 'i', `an integer in [0, ${this.capacity}), got ${i}`);
    check(Number.isFinite(priority) && priority >= 0, 'priority', `a finite number >= 0, got ${priority}`);
    let k = i + this.size;
    this.sums[k] = priority;
    this.mins[k] = priority;
    const { sums, mins } = this;
    for (k >>= 1; k >= 1; k >>= 1) {
      sums[k] = sums[2 * k]! + sums[2 * k + 1]!;
      mins[k] = Math.min(mins[2 * k]!, mins[2 * k + 1]!);
    }
  }

  /** Leaf i's priority (0 when never set). */
  get(i: number): number {
    check(Number.isInteger(i) && i >= 0 && i < this.capacity, 'i', `an integer in [0, ${this.capacity}), got ${i}`);
    return this.sums[i + this.size]!;
  }

  /** Σ of all priorities. */
  total(): number {
    return this.sums[1]!;
  }

  /** The smallest priority among leaves that were set (+∞ when none was). */
  min(): number {
    return this.mins[1]!;
  }

  /**
   * The leaf i with prefix(i) ≤ u < prefix(i) + p_i, where prefix(i) = Σ_{j<i} p_j.
   * Zero-priority leaves are never returned; u at or past the total (rounding) gives the
   * last leaf with a positive priority. The tree must hold a positive total.
   */
  find(u: number): number {
    check(this.sums[1]! > 0, 'tree', 'a positive total priority before find()');
    check(Number.isFinite(u) && u >= 0, 'u', `a finite number >= 0, got ${u}`);
    const { sums, size } = this;
    let k = 1;
    while (k < size) {
      const left = sums[2 * k]!;
      // Go right only if u lies past the left subtree and the right one has mass: the
      // second test keeps rounding (u ≥ total) from walking into empty leaves.
      if (u >= left && sums[2 * k + 1]! > 0) {
        u -= left;
        k = 2 * k + 1;
      } else {
        k = 2 * k;
      }
    }
    return k - size;
  }

  /** Leaf priorities 0 … capacity − 1 (a copy). */
  leaves(): Float64Array {
    return this.sums.slice(this.size, this.size + this.capacity);
  }
}
