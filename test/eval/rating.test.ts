import { describe, expect, test } from 'vitest';
import { mae, rmse } from '../../src/eval/rating.js';

describe('rmse and mae', () => {
  test('hand-worked', () => {
    const pred = new Float32Array([3, 4, 2.5, 5]);
    const truth = new Float32Array([4, 4, 1, 3]);
    // errors −1, 0, 1.5, 2: squares 1 + 0 + 2.25 + 4 = 7.25 → rmse √(7.25/4) = 1.3462912; mae 4.5/4 = 1.125
    expect(rmse(pred, truth)).toBeCloseTo(Math.sqrt(7.25 / 4), 12);
    expect(mae(pred, truth)).toBe(1.125);
  });

  test('accumulate in float64: 3 million equal errors average to that error', () => {
    const n = 3_000_000;
    const pred = new Float32Array(n).fill(3.1);
    const truth = new Float32Array(n).fill(3);
    // Each error is fround(3.1) − 3 = 0.0999999046…, not a short binary fraction, so a
    // float32 running sum would drift by percents over 3e6 terms; float64 stays within 1e-9.
    const e = Math.fround(3.1) - 3;
    expect(mae(pred, truth)).toBeCloseTo(e, 9);
    expect(rmse(pred, truth)).toBeCloseTo(e, 9);
  });

  test('NaN predictions show as NaN', () => {
    expect(rmse(new Float32Array([NaN, 1]), new Float32Array([1, 1]))).toBeNaN();
  });

  test('length mismatch and empty input are input errors', () => {
    expect(() => rmse(new Float32Array(2), new Float32Array(3))).toThrow(/rmse: predicted: expected 3 values \(one per entry of actual\), got 2/);
    expect(() => mae(new Float32Array(0), new Float32Array(0))).toThrow(/mae: actual: expected at least one rating/);
  });
});
