import { describe, expect, it } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { Rng } from '../../src/util/rng.js';
import { PrioritizedReplay } from '../../src/rl/memory/prioritized.js';
import { SumTree } from '../../src/rl/memory/sum-tree.js';
import type { FieldSpec } from '../../src/rl/memory/replay.js';
import { chiSquare, chiSquareCritical } from '../util/chi2.js';

const schema: FieldSpec[] = [
  { name: 'id', dtype: 'i32', width: 1 },
  { name: 'obs', dtype: 'f32', width: 2 },
];

function rows(from: number, count: number) {
  const id = new Int32Array(count);
  const obs = new Float32Array(2 * count);
  for (let i = 0; i < count; i++) {
    id[i] = from + i;
    obs[2 * i] = from + i;
    obs[2 * i + 1] = -(from + i);
  }
  return { id, obs };
}

describe('SumTree', () => {
  it('matches brute force on random updates (total, min, get, find)', () => {
    const rng = new Rng(11);
    for (const n of [1, 2, 7, 37, 64]) {
      const tree = new SumTree(n);
      const p = new Float64Array(n);
      const set = new Uint8Array(n);
      for (let round = 0; round < 300; round++) {
        const i = rng.int(n);
        // Multiples of 1/8 keep every partial sum exact, so find() must agree exactly.
        const v = rng.int(16) / 8;
        tree.set(i, v);
        p[i] = v;
        set[i] = 1;
        let total = 0;
        let min = Infinity;
        for (let j = 0; j < n; j++) {
          total += p[j]!;
          if (set[j]) min = Math.min(min, p[j]!);
        }
        expect(tree.total()).toBe(total);
        expect(tree.min()).toBe(min);
        expect(tree.get(i)).toBe(v);
        if (total === 0) continue;
        for (let t = 0; t < 5; t++) {
          const u = rng.int(total * 8) / 8 + (rng.int(2) ? 0 : 1 / 16);
          let acc = 0;
          let want = -1;
          for (let j = 0; j < n; j++) {
            if (p[j]! > 0 && u >= acc && u < acc + p[j]!) {
              want = j;
              break;
            }
            acc += p[j]!;
          }
          if (want >= 0) expect(tree.find(u)).toBe(want);
        }
        // At or past the total (rounding), find() gives the last leaf with mass, never an empty one.
        let last = n - 1;
        while (p[last] === 0) last--;
        expect(tree.find(total)).toBe(last);
        expect(tree.find(total * 2)).toBe(last);
      }
      expect(Array.from(tree.leaves())).toEqual(Array.from(p));
    }
  });

  it('refuses bad indices and priorities', () => {
    const tree = new SumTree(3);
    expect(() => tree.set(3, 1)).toThrow(GnnrlError);
    expect(() => tree.set(0, -1)).toThrow(/priority: expected/);
    expect(() => tree.find(0)).toThrow(/positive total/);
    expect(() => new SumTree(0)).toThrow(/capacity: expected an integer >= 1/);
  });
});

describe('PrioritizedReplay', () => {
  it('gives importance weights equal to (N·P(i))^(−β) / max_j (N·P(j))^(−β) over the buffer', () => {
    const alpha = 0.7;
    const epsilon = 0.01;
    const buf = new PrioritizedReplay({ schema, capacity: 16, rng: new Rng(5), alpha, epsilon, beta0: 0.4, betaSteps: 10 });
    buf.add(rows(0, 12), 12);
    const rng = new Rng(99);
    const td = Array.from({ length: 12 }, () => rng.normal() * 2);
    buf.updatePriorities(Int32Array.from({ length: 12 }, (_, i) => i), td);
    const p = td.map((d) => Math.pow(Math.abs(d) + epsilon, alpha));
    const total = p.reduce((a, b) => a + b, 0);
    const n = 12;
    for (let step = 0; step < 12; step++) {
      const s = buf.sample(64);
      const beta = Math.min(1, 0.4 + 0.06 * step);
      expect(s.beta).toBeCloseTo(beta, 14);
      const maxW = Math.max(...p.map((pi) => Math.pow((n * pi) / total, -beta)));
      for (let b = 0; b < 64; b++) {
        const i = s.indices[b]!;
        expect(s.fields.id![b]).toBe(i);
        expect(s.probabilities[b]).toBeCloseTo(p[i]! / total, 14);
        const want = Math.pow((n * p[i]!) / total, -beta) / maxW;
        // Float32 output: equal to the float64 formula to float32 precision.
        expect(Math.abs(s.weights[b]! - want)).toBeLessThanOrEqual(want * 2 ** -23);
        expect(s.weights[b]!).toBeLessThanOrEqual(1);
      }
    }
    expect(buf.step).toBe(12);
  });

  it('samples with frequencies proportional to priority (χ² at p = 0.001) and a wrong distribution is rejected', () => {
    const k = 20;
    const buf = new PrioritizedReplay({ schema, capacity: k, rng: new Rng(2024), alpha: 1, epsilon: 1e-6 });
    buf.add(rows(0, k), k);
    // Priorities from 0.05 to 1 (20:1 skew).
    const td = Array.from({ length: k }, (_, i) => (i + 1) / k);
    buf.updatePriorities(Int32Array.from({ length: k }, (_, i) => i), td);
    const p = td.map((d) => d + 1e-6);
    const total = p.reduce((a, b) => a + b, 0);
    const probs = p.map((x) => x / total);
    const draws = 40_000;
    const counts = new Array(k).fill(0);
    for (let r = 0; r < draws / 1000; r++) for (const i of buf.sample(1000).indices) counts[i]++;
    const critical = chiSquareCritical(k - 1, 0.001);
    // Wilson–Hilferty is close to the exact 43.82 for 19 degrees of freedom.
    expect(critical).toBeGreaterThan(43.5);
    expect(critical).toBeLessThan(44.2);
    expect(chiSquare(counts, probs.map((q) => q * draws))).toBeLessThan(critical);
    expect(chiSquare(counts, new Array(k).fill(draws / k))).toBeGreaterThan(critical);
    // And priorities off by a small tilt (p_i + 0.1) are rejected too.
    const tilted = p.map((x) => x + 0.1);
    const tTotal = tilted.reduce((a, b) => a + b, 0);
    expect(chiSquare(counts, tilted.map((x) => (x / tTotal) * draws))).toBeGreaterThan(critical);
  });

  it('gives new rows the largest priority seen, and overwrites priority with the row', () => {
    const buf = new PrioritizedReplay({ schema, capacity: 4, rng: new Rng(1), alpha: 0.5, epsilon: 1e-3 });
    buf.add(rows(0, 2), 2);
    expect(buf.priority(0)).toBe(1);
    buf.updatePriorities(Int32Array.from([0, 1]), [8, 0.1]);
    const big = Math.pow(8 + 1e-3, 0.5);
    expect(buf.maxPriority).toBeCloseTo(big, 14);
    buf.add(rows(2, 3), 3); // rows 2, 3, then 0 (wraps)
    expect(buf.priority(2)).toBe(buf.maxPriority);
    expect(buf.priority(0)).toBe(buf.maxPriority);
    expect(buf.priority(1)).toBeCloseTo(Math.pow(0.1 + 1e-3, 0.5), 14);
    // alpha = 0 is uniform: every weight is 1.
    const flat = new PrioritizedReplay({ schema, capacity: 8, rng: new Rng(1), alpha: 0 });
    flat.add(rows(0, 8), 8);
    flat.updatePriorities(Int32Array.from([0, 1, 2]), [5, 0, 100]);
    expect(Array.from(flat.sample(10).weights)).toEqual(new Array(10).fill(1));
  });

  it('is deterministic per seed and round-trips state()', () => {
    const make = () => {
      const b = new PrioritizedReplay({ schema, capacity: 10, rng: new Rng(3) });
      b.add(rows(0, 10), 10);
      b.updatePriorities(Int32Array.from([1, 4, 7]), [3, -2, 0.5]);
      return b;
    };
    const a = make();
    const s1 = a.sample(32);
    expect(Array.from(make().sample(32).indices)).toEqual(Array.from(s1.indices));
    const c = new PrioritizedReplay({ schema, capacity: 10, rng: new Rng(3) });
    c.load(a.state());
    expect(c.step).toBe(1);
    expect(c.maxPriority).toBe(a.maxPriority);
    for (let i = 0; i < 10; i++) expect(c.priority(i)).toBe(a.priority(i));
  });

  it('checks its arguments by name', () => {
    const rng = new Rng(1);
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as GnnrlError;
      }
      throw new Error('no error');
    };
    expect(err(() => new PrioritizedReplay({ schema, capacity: 0, rng })).details.arg).toBe('capacity');
    expect(err(() => new PrioritizedReplay({ schema, capacity: 4, rng, epsilon: 0 })).details.arg).toBe('epsilon');
    expect(err(() => new PrioritizedReplay({ schema, capacity: 4, rng, alpha: -1 })).details.arg).toBe('alpha');
    expect(err(() => new PrioritizedReplay({ schema, capacity: 4, rng, beta0: 2 })).details.arg).toBe('beta0');
    expect(err(() => new PrioritizedReplay({ schema, capacity: 100, rng, maxBytes: 1000 })).code).toBe('limit');
    const buf = new PrioritizedReplay({ schema, capacity: 4, rng });
    expect(err(() => buf.sample(2)).code).toBe('state');
    buf.add(rows(0, 2), 2);
    expect(err(() => buf.updatePriorities(Int32Array.from([2]), [1])).details.arg).toBe('indices');
    expect(err(() => buf.updatePriorities(Int32Array.from([0]), [NaN])).details.arg).toBe('tdErrors');
    expect(err(() => buf.updatePriorities(Int32Array.from([0]), [1, 2])).details.arg).toBe('tdErrors');
  });
});
