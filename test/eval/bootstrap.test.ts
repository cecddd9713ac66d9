import { describe, expect, test } from 'vitest';
import { bootstrapCI, bootstrapCIs, quantileSorted } from '../../src/eval/bootstrap.js';
import { Rng } from '../../src/util/rng.js';

function mean(v: Float64Array): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

describe('bootstrap', () => {
  test('quantiles interpolate between order statistics (type 7)', () => {
    const s = [10, 20, 30, 40, 50];
    expect(quantileSorted(s, 0)).toBe(10);
    expect(quantileSorted(s, 1)).toBe(50);
    expect(quantileSorted(s, 0.5)).toBe(30);
    // position 0.1·4 = 0.4 → 10 + 0.4·(20 − 10) = 14; 0.975·4 = 3.9 → 40 + 0.9·10 = 49
    expect(quantileSorted(s, 0.1)).toBeCloseTo(14, 12);
    expect(quantileSorted(s, 0.975)).toBeCloseTo(49, 12);
  });

  test('constant values give a zero-width interval at the value', () => {
    expect(bootstrapCI(new Float64Array(50).fill(0.25), { replicates: 200 })).toEqual([0.25, 0.25]);
  });

  test('contains the mean, is seeded-reproducible, and has the normal-theory width', () => {
    // 400 hit/miss users at rate 1/2: the 95% interval's half-width ≈ 1.96·√(0.25/400) = 0.049.
    const rng = new Rng(11);
    const v = Float64Array.from({ length: 400 }, (_, j) => (j % 2 === 0 ? 1 : 0));
    rng.shuffle(v);
    const m = mean(v);
    const [lo, hi] = bootstrapCI(v, { seed: 5 });
    expect(lo).toBeLessThan(m);
    expect(hi).toBeGreaterThan(m);
    expect((hi - lo) / 2).toBeGreaterThan(0.04);
    expect((hi - lo) / 2).toBeLessThan(0.058);
    expect(bootstrapCI(v, { seed: 5 })).toEqual([lo, hi]);
    expect(bootstrapCI(v, { seed: 6 })).not.toEqual([lo, hi]);
    // A lower level gives a narrower interval inside the wider one.
    const [lo50, hi50] = bootstrapCI(v, { seed: 5, level: 0.5 });
    expect(lo50).toBeGreaterThan(lo);
    expect(hi50).toBeLessThan(hi);
  });

  test('paired resampling: a series and its double get intervals exactly twice as wide apart', () => {
    const rng = new Rng(3);
    const a = Float64Array.from({ length: 120 }, () => rng.next());
    const b = a.map((x) => 2 * x);
    const ci = bootstrapCIs({ a, b }, { replicates: 300, seed: 9 });
    expect(ci.b[0]).toBeCloseTo(2 * ci.a[0], 12);
    expect(ci.b[1]).toBeCloseTo(2 * ci.a[1], 12);
  });

  test('input errors', () => {
    const v = new Float64Array([1, 2]);
    expect(() => bootstrapCI(v, { replicates: 0 })).toThrow(/replicates: expected a positive integer, got 0/);
    expect(() => bootstrapCI(v, { level: 1 })).toThrow(/level: expected a number in \(0, 1\), got 1/);
    expect(() => bootstrapCI(new Float64Array(0))).toThrow(/expected at least one user's value/);
    expect(() => bootstrapCIs({ a: v, b: new Float64Array(3) })).toThrow(/perUser\['b'\]: expected 2 values like 'a', got 3/);
  });
});
