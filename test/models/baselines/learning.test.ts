/**
 * Learning on planted preferences: the synthetic 'small' world (1000 users, 2000 items,
 * ≈ 40K explicit ratings from μ + b_u + b_i + 0.5·p_u·q_i + noise, rounded to 1..5),
 * split 80/20 at random. Each model must beat the one below it on test RMSE by a margin
 * set to about half the gap measured with this seed (measured numbers in the comments),
 * so the tests fail if a model stops learning but not on noise.
 *
 * Measured (seed 7, this split): global mean 0.9242; BaselineOnly (ALS) 0.7678; SVD with
 * test settings 0.7575; SVD++ 0.7601; NMF 0.8228; KNNBasic 0.8372; KNNWithMeans 0.7778;
 * KNNBaseline 0.7762. The data are sparse (≈ 32 training ratings per user, 16 per item),
 * so matrix factorisation gains little over the biases here, as on MovieLens (the
 * reference's published tables show SVD about 0.01 ahead of BaselineOnly).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { syntheticWorld } from '../../../src/data/synthetic.js';
import { splitRandom, type Split } from '../../../src/data/split.js';
import { BaselineOnly, KNNBaseline, KNNBasic, KNNWithMeans, NMF, Popularity, SVD, SVDpp } from '../../../src/models/baselines/index.js';
import type { RecommenderModel } from '../../../src/models/types.js';
import { rmse } from './helpers.js';

const SEED = 7;
let split: Split;
let globalMeanRmse: number;

async function testRmse(m: RecommenderModel): Promise<number> {
  await m.fit(split.train);
  return rmse(await m.predict(split.test.user, split.test.item), split.test.rating!);
}

beforeAll(() => {
  const world = syntheticWorld({ preset: 'small', seed: SEED });
  split = splitRandom(world.interactions, 0.8, { seed: SEED });
  const tr = split.train.rating!;
  let mu = 0;
  for (let j = 0; j < tr.length; j++) mu += tr[j];
  mu /= tr.length;
  globalMeanRmse = rmse(new Float32Array(split.test.user.length).fill(mu), split.test.rating!);
});

describe('rating models learn the planted preferences', () => {
  test('BaselineOnly beats the global mean (measured 0.7678 vs 0.9242; margin 0.07)', async () => {
    expect(globalMeanRmse).toBeGreaterThan(0.9);
    expect(await testRmse(new BaselineOnly())).toBeLessThan(globalMeanRmse - 0.07);
  });

  test('BaselineOnly by SGD too (measured 0.7587; margin 0.07)', async () => {
    expect(await testRmse(new BaselineOnly({ method: 'sgd' }))).toBeLessThan(globalMeanRmse - 0.07);
  });

  test('SVD beats BaselineOnly (measured 0.7575 vs 0.7678; margin 0.005)', async () => {
    // Test settings, not the defaults: with 100 factors at γ = 0.005 for 20 epochs SVD
    // under-fits this sparse world and ties BaselineOnly (measured 0.7687). 20 factors,
    // γ = 0.01, λ = 0.1 learn it; over seeds 7, 11, 23, 5, 99 the gap was 0.009–0.012.
    const base = await testRmse(new BaselineOnly());
    const svd = await testRmse(new SVD({ factors: 20, lr: 0.01, reg: 0.1 }));
    expect(svd).toBeLessThan(base - 0.005);
  });

  test('SVD++ beats the global mean and BaselineOnly (measured 0.7601; margins 0.08 and 0.003)', async () => {
    // Defaults (20 factors, 20 epochs, γ 0.007, λ 0.02). Which items a user rated says much
    // about the user here (clicks favour high affinity), which the implicit term uses.
    const base = await testRmse(new BaselineOnly());
    const r = await testRmse(new SVDpp());
    expect(r).toBeLessThan(globalMeanRmse - 0.08);
    expect(r).toBeLessThan(base - 0.003);
  });

  test('NMF beats the global mean (measured 0.8228; margin 0.05)', async () => {
    expect(await testRmse(new NMF())).toBeLessThan(globalMeanRmse - 0.05);
  });

  test('KNN variants beat the global mean (measured 0.8372 / 0.7778 / 0.7762; margins 0.04 / 0.07 / 0.07)', async () => {
    expect(await testRmse(new KNNBasic())).toBeLessThan(globalMeanRmse - 0.04);
    expect(await testRmse(new KNNWithMeans())).toBeLessThan(globalMeanRmse - 0.07);
    expect(await testRmse(new KNNBaseline())).toBeLessThan(globalMeanRmse - 0.07);
  });

  test('item-based KNN with pearson_baseline learns too (measured 0.8075; margin 0.06)', async () => {
    expect(await testRmse(new KNNBaseline({ userBased: false, similarity: 'pearson_baseline' }))).toBeLessThan(globalMeanRmse - 0.06);
  });
});

describe('ranking', () => {
  test('Popularity hits held-out items far more often than chance (measured hit rate 0.193 against chance 0.01; floor 5× chance)', async () => {
    const m = new Popularity();
    await m.fit(split.train);
    const users = Int32Array.from(new Set(split.test.user));
    const k = 20;
    const rec = await m.recommend(users, k);
    const row = new Map<number, number>();
    users.forEach((u, r) => row.set(u, r));
    let hits = 0;
    for (let j = 0; j < split.test.user.length; j++) {
      const r = row.get(split.test.user[j])!;
      if (rec.items.subarray(r * k, (r + 1) * k).includes(split.test.item[j])) hits++;
    }
    const rate = hits / split.test.user.length;
    const chance = k / split.train.nItems;
    expect(rate).toBeGreaterThan(5 * chance);
  });
});
