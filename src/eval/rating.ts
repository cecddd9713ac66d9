/**
 * Rating-prediction errors. Sums run in float64 whatever the input type: over a
 * million float32 ratings a float32 accumulator would lose the third decimal.
 */
import { GnnrlError } from '../errors.js';

type Ratings = Float32Array | Float64Array;

function checkPairs(fn: string, predicted: Ratings, actual: Ratings): void {
  if (predicted.length !== actual.length) {
    throw new GnnrlError('input', `${fn}: predicted: expected ${actual.length} values (one per entry of actual), got ${predicted.length}`, { arg: 'predicted' });
  }
  if (predicted.length === 0) {
    throw new GnnrlError('input', `${fn}: actual: expected at least one rating, got none (an empty test set has no error)`, { arg: 'actual' });
  }
}

/**
 * Root mean squared error: sqrt((1/n) Σ (predicted[j] − actual[j])²).
 * A NaN prediction makes the result NaN (a diverged model should show as such, not be skipped).
 */
export function rmse(predicted: Ratings, actual: Ratings): number {
  checkPairs('rmse', predicted, actual);
  let s = 0;
  for (let j = 0; j < actual.length; j++) {
    const d = predicted[j] - actual[j];
    s += d * d;
  }
  return Math.sqrt(s / actual.length);
}

/** Mean absolute error: (1/n) Σ |predicted[j] − actual[j]|. NaN predictions give NaN. */
export function mae(predicted: Ratings, actual: Ratings): number {
  checkPairs('mae', predicted, actual);
  let s = 0;
  for (let j = 0; j < actual.length; j++) s += Math.abs(predicted[j] - actual[j]);
  return s / actual.length;
}
