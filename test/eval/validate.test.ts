import { describe, expect, test } from 'vitest';
import { PositiveIndex } from '../../src/data/negatives.js';
import { validationMetrics } from '../../src/eval/validate.js';
import { GnnrlError } from '../../src/errors.js';
import { FakeFactorModel } from './fake-model.js';
import { log } from './logs.js';

// dim 0, bias only: every user ranks items by bias = [0.5, 0.9, 0.1, 0.9, 0.3], ties to
// the lower index: 1 (0.9), 3 (0.9), 0 (0.5), 4 (0.3), 2 (0.1).
const bias = new Float32Array([0.5, 0.9, 0.1, 0.9, 0.3]);
const train = log(3, 5, [[0, 1], [1, 0], [2, 3]]);
const validation = log(3, 5, [
  [0, 3, 4],
  [0, 2, 3],
  [1, 1, 5],
  [1, 1, 4], // a repeated pair: relevant once
  [2, 3, 2], // user 2's only item is a training item: excluded from ranking, so user 2 is skipped
]);
const model = (predictsRatings: boolean) =>
  new FakeFactorModel(3, 5, { dim: 0, users: new Float32Array(0), items: new Float32Array(0), itemBias: bias }, { predictsRatings, offset: 3, train });

describe('validationMetrics', () => {
  test('hand-worked ranking and rating metrics', async () => {
    const m = await validationMetrics(model(true), PositiveIndex.of(train), validation, { k: 2 });
    // Top-2 with training items excluded:
    //   u0 (excl 1): [3, 0]; relevant {2, 3}: hit at rank 1 → recall 1/2,
    //                ndcg = (1/log2 2) / (1/log2 2 + 1/log2 3) = 1 / 1.6309298 = 0.6131472
    //   u1 (excl 0): [1, 3]; relevant {1}: hit at rank 1 → recall 1, ndcg 1
    //   u2: skipped. Means over 2 users: recall 0.75, ndcg 0.8065736.
    expect(m['recall@2']).toBeCloseTo(0.75, 12);
    expect(m['ndcg@2']).toBeCloseTo((1 / (1 + 1 / Math.log2(3)) + 1) / 2, 12);
    // Predictions bias + 3: 3.9, 3.1, 3.9, 3.9, 3.9 against 4, 3, 5, 4, 2:
    //   errors 0.1, −0.1, 1.1, 0.1, −1.9; squares sum 4.85 → rmse √0.97 = 0.984886; mae 3.3/5 = 0.66
    expect(m.rmse).toBeCloseTo(Math.sqrt(0.97), 5);
    expect(m.mae).toBeCloseTo(0.66, 5);
    expect(Object.keys(m).sort()).toEqual(['mae', 'ndcg@2', 'recall@2', 'rmse']);
  });

  test('no rating metrics for a ranking model; default k is 20', async () => {
    const m = await validationMetrics(model(false), PositiveIndex.of(train), validation);
    expect(Object.keys(m).sort()).toEqual(['ndcg@20', 'recall@20']);
    // Every eligible item is in a top-20 of 5 items: recall 1 for both scored users.
    expect(m['recall@20']).toBe(1);
  });

  test('maxUsers scores a seeded subsample, the same one for the same seed', async () => {
    const mdl = model(false);
    const seen = PositiveIndex.of(train);
    await validationMetrics(mdl, seen, validation, { k: 2, maxUsers: 1, seed: 7 });
    await validationMetrics(mdl, seen, validation, { k: 2, maxUsers: 1, seed: 7 });
    expect(mdl.recommendCalls.map((c) => c.length)).toEqual([1, 1]);
    expect(mdl.recommendCalls[0]).toEqual(mdl.recommendCalls[1]);
    // Only users 0 and 1 are scorable; a sample of one of them.
    expect([0, 1]).toContain(mdl.recommendCalls[0][0]);
  });

  test('rejects logs outside the model id space, naming the argument', async () => {
    const bad = log(4, 5, [[3, 1]]);
    await expect(validationMetrics(model(false), PositiveIndex.of(train), bad)).rejects.toThrow(/validation\.user\[0\]: expected a user index below/);
    await expect(validationMetrics(model(false), PositiveIndex.of(train), validation, { k: 0 })).rejects.toBeInstanceOf(GnnrlError);
  });
});
