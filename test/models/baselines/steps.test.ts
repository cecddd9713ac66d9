/**
 * One step of each iterative baseline, checked against arithmetic done by hand (written
 * out in the comments), and popularity's ranking with ties.
 */
import { describe, expect, test } from 'vitest';
import { BaselineOnly, NMF, Popularity, SVD, SVDpp } from '../../../src/models/baselines/index.js';
import { fromExternal } from '../../../src/data/interactions.js';
import { Rng } from '../../../src/util/rng.js';
import { MATRIX, ratingsLog } from './helpers.js';

const arr = (a: ArrayLike<number>) => Array.from(a);
const expectClose = (got: ArrayLike<number>, want: number[], digits = 6) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, j) => expect(got[j], `entry ${j}`).toBeCloseTo(w, digits));
};

describe('BaselineOnly', () => {
  test('ALS: biases after one iteration (items first, then users)', async () => {
    const mu = 37 / 13;
    // b_i = Σ_u (r − μ) / (λ_i + n_i) with λ_i = 10 (user biases still 0):
    const bi = [
      (5 - mu + (4 - mu) + (1 - mu)) / 13,
      (3 - mu + (1 - mu) + (1 - mu)) / 13,
      (5 - mu) / 11,
      (1 - mu + (1 - mu) + (5 - mu) + (4 - mu)) / 14,
      (2 - mu + (4 - mu)) / 12,
    ];
    // then b_u = Σ_i (r − μ − b_i) / (λ_u + n_u) with λ_u = 15:
    const bu = [
      (5 - mu - bi[0] + (3 - mu - bi[1]) + (1 - mu - bi[3])) / 18,
      (4 - mu - bi[0] + (1 - mu - bi[3]) + (2 - mu - bi[4])) / 18,
      (1 - mu - bi[0] + (1 - mu - bi[1]) + (5 - mu - bi[3]) + (4 - mu - bi[4])) / 19,
      (1 - mu - bi[1] + (5 - mu - bi[2]) + (4 - mu - bi[3])) / 18,
    ];
    const m = new BaselineOnly({ epochs: 1 });
    const res = await m.fit(ratingsLog(MATRIX));
    const s = await m.state();
    expectClose(s.arrays.itemBias, bi);
    expectClose(s.arrays.userBias, bu);
    // The reported loss is the training MSE after the epoch.
    let sq = 0;
    for (const [u, i, r] of MATRIX) sq += (r - (mu + bu[u] + bi[i])) ** 2;
    expect(res.history[0].loss).toBeCloseTo(sq / MATRIX.length, 6);
    // Predictions are μ + b_u + b_i.
    const p = await m.predict(Int32Array.of(2, 3), Int32Array.of(2, 0));
    expectClose(p, [mu + bu[2] + bi[2], mu + bu[3] + bi[0]], 5);
  });

  test('SGD: three steps in log order', async () => {
    // (u0,i0,4), (u0,i1,2), (u1,i0,3): μ = 3; γ = 0.1, λ = 0.1.
    //  1. e = 4 − 3 = 1:                b_u0 = 0.1·1 = 0.1,                b_i0 = 0.1
    //  2. e = 2 − (3 + 0.1) = −1.1:     b_u0 = 0.1 + 0.1(−1.1 − 0.01) = −0.011, b_i1 = 0.1(−1.1) = −0.11
    //  3. e = 3 − (3 + 0.1) = −0.1:     b_u1 = −0.01,  b_i0 = 0.1 + 0.1(−0.1 − 0.01) = 0.089
    const m = new BaselineOnly({ method: 'sgd', lr: 0.1, reg: 0.1, epochs: 1, shuffle: false });
    const res = await m.fit(ratingsLog([[0, 0, 4], [0, 1, 2], [1, 0, 3]]));
    const s = await m.state();
    expectClose(s.arrays.userBias, [-0.011, -0.01]);
    expectClose(s.arrays.itemBias, [0.089, -0.11]);
    expect(res.history[0].loss).toBeCloseTo((1 + 1.21 + 0.01) / 3, 6);
  });
});

describe('SVD', () => {
  // (u0,i0,4), (u1,i1,2): μ = 3. Two factors, γ = 0.1, λ = 0.1, visited in log order.
  const x = ratingsLog([[0, 0, 4], [1, 1, 2]]);
  const init = {
    userFactors: Float32Array.of(0.1, 0.2, 0.3, -0.1),
    itemFactors: Float32Array.of(0.5, -0.2, 0.1, 0.4),
  };

  test('one epoch of SGD from known factors', async () => {
    // Step 1, (u0,i0,4): q0·p0 = 0.1·0.5 + 0.2·(−0.2) = 0.01; e = 4 − (3 + 0.01) = 0.99
    //   b_u0 = b_i0 = 0.1·0.99 = 0.099
    //   p0 = (0.1 + 0.1(0.99·0.5 − 0.01), 0.2 + 0.1(0.99·(−0.2) − 0.02)) = (0.1485, 0.1782)
    //   q0 = (0.5 + 0.1(0.99·0.1 − 0.05), −0.2 + 0.1(0.99·0.2 + 0.02)) = (0.5049, −0.1782)
    // Step 2, (u1,i1,2): q1·p1 = 0.3·0.1 + (−0.1)·0.4 = −0.01; e = 2 − (3 − 0.01) = −0.99
    //   b_u1 = b_i1 = −0.099
    //   p1 = (0.3 + 0.1(−0.99·0.1 − 0.03), −0.1 + 0.1(−0.99·0.4 + 0.01)) = (0.2871, −0.1386)
    //   q1 = (0.1 + 0.1(−0.99·0.3 − 0.01), 0.4 + 0.1(−0.99·(−0.1) − 0.04)) = (0.0693, 0.4059)
    const m = new SVD({ factors: 2, lr: 0.1, reg: 0.1, epochs: 1, shuffle: false, init });
    const res = await m.fit(x);
    const s = await m.state();
    expectClose(s.arrays.userFactors, [0.1485, 0.1782, 0.2871, -0.1386]);
    expectClose(s.arrays.itemFactors, [0.5049, -0.1782, 0.0693, 0.4059]);
    expectClose(s.arrays.userBias, [0.099, -0.099]);
    expectClose(s.arrays.itemBias, [0.099, -0.099]);
    expect(res.history[0].loss).toBeCloseTo(0.99 ** 2, 6); // mean of 0.99² and (−0.99)²
    // r̂(u0,i0) = 3 + 0.099 + 0.099 + (0.1485·0.5049 − 0.1782·0.1782) = 3.24122241
    expectClose(await m.predict(Int32Array.of(0), Int32Array.of(0)), [3.24122241], 5);
    // The factor form carries the same numbers: p_u, q_i, b_i.
    const f = await m.factors();
    expect(f.dim).toBe(2);
    expectClose(f.itemBias as Float32Array, [0.099, -0.099]);
  });

  test('unbiased: no μ or biases in the step', async () => {
    // Step 1: e = 4 − 0.01 = 3.99; p0 = (0.1 + 0.1(3.99·0.5 − 0.01), 0.2 + 0.1(3.99·(−0.2) − 0.02)) = (0.2985, 0.1182)
    const m = new SVD({ factors: 2, lr: 0.1, reg: 0.1, epochs: 1, shuffle: false, biased: false, init });
    await m.fit(x);
    const s = await m.state();
    expectClose(s.arrays.userFactors.subarray(0, 2), [0.2985, 0.1182]);
    expectClose(s.arrays.userBias, [0, 0]);
  });

  test('the seed fixes the initial factors and the visiting order', async () => {
    const big = ratingsLog(MATRIX);
    const run = async (seed: number) => {
      const m = new SVD({ factors: 3, epochs: 2, lr: 0.05, seed });
      await m.fit(big);
      return arr((await m.state()).arrays.userFactors);
    };
    expect(await run(5)).toEqual(await run(5));
    expect(await run(5)).not.toEqual(await run(6));
  });
});

/**
 * SVD++ by its update equations applied literally, rating by rating: every y_j of N(u)
 * updated at every step (the model keeps a composed update instead). Users in index
 * order, each user's ratings in log order: the order the model uses with shuffle: false.
 */
function naiveSvdpp(
  rows: [number, number, number][],
  nUsers: number,
  nItems: number,
  f: number,
  epochs: number,
  lr: number,
  reg: number,
  P: Float64Array,
  Q: Float64Array,
  Y: Float64Array,
) {
  const mu = rows.reduce((s, r) => s + r[2], 0) / rows.length;
  const bu = new Float64Array(nUsers);
  const bi = new Float64Array(nItems);
  const byUser: [number, number][][] = Array.from({ length: nUsers }, () => []);
  for (const [u, i, r] of rows) byUser[u].push([i, r]);
  const N = byUser.map((l) => [...new Set(l.map((e) => e[0]))]);
  for (let ep = 0; ep < epochs; ep++) {
    for (let u = 0; u < nUsers; u++) {
      const s = 1 / Math.sqrt(N[u].length);
      for (const [i, r] of byUser[u]) {
        const z = Array.from({ length: f }, (_, c) => N[u].reduce((acc, j) => acc + Y[j * f + c], 0) * s);
        let dot = 0;
        for (let c = 0; c < f; c++) dot += Q[i * f + c] * (P[u * f + c] + z[c]);
        const e = r - (mu + bu[u] + bi[i] + dot);
        bu[u] += lr * (e - reg * bu[u]);
        bi[i] += lr * (e - reg * bi[i]);
        for (let c = 0; c < f; c++) {
          const pf = P[u * f + c];
          const qf = Q[i * f + c];
          P[u * f + c] = pf + lr * (e * qf - reg * pf);
          Q[i * f + c] = qf + lr * (e * (pf + z[c]) - reg * qf);
          for (const j of N[u]) Y[j * f + c] += lr * (e * qf * s - reg * Y[j * f + c]);
        }
      }
    }
  }
  return { P, Q, Y, bu, bi };
}

describe('SVD++', () => {
  test('two ratings of one user: the implicit term and the y_j updates', async () => {
    // (u0,i0,4), (u0,i1,2): μ = 3, N(u0) = {i0, i1}, |N|^−½ = 1/√2; f = 1, γ = λ = 0.1;
    // p = 0.2, q = (0.5, −0.3), y = (0.1, 0.3), biases 0.
    // Step 1 (i0, 4): z = (0.1 + 0.3)/√2 = 0.282843; r̂ − μ = 0.5·(0.2 + 0.282843) = 0.241421
    //   e = 0.758579; b_u = b_i0 = 0.0758579; p = 0.2 + 0.1(e·0.5 − 0.02) = 0.235929
    //   q0 = 0.5 + 0.1(e·0.482843 − 0.05) = 0.531627
    //   y_j += 0.1(e·0.5/√2 − 0.1 y_j): y = (0.125820, 0.323820)
    // Step 2 (i1, 2): z = (0.125820 + 0.323820)/√2 = 0.317943; r̂ − μ − b_u = −0.3·(0.235929 + 0.317943) = −0.166162
    //   e = 2 − (3 + 0.0758579 − 0.166162) = −0.909696
    //   b_u = 0.0758579 + 0.1(e − 0.00758579) = −0.0158703; b_i1 = 0.1·e = −0.0909696
    //   p = 0.235929 + 0.1(e·(−0.3) − 0.0235929) = 0.260861
    //   q1 = −0.3 + 0.1(e·(0.235929 + 0.317943) + 0.03) = −0.347386
    //   y_j += 0.1(e·(−0.3)/√2 − 0.1 y_j): y = (0.143859, 0.339879)
    const m = new SVDpp({
      factors: 1,
      epochs: 1,
      lr: 0.1,
      reg: 0.1,
      shuffle: false,
      init: { userFactors: Float32Array.of(0.2), itemFactors: Float32Array.of(0.5, -0.3), implicitFactors: Float32Array.of(0.1, 0.3) },
    });
    const res = await m.fit(ratingsLog([[0, 0, 4], [0, 1, 2]]));
    const s = await m.state();
    expectClose(s.arrays.implicitFactors, [0.143859, 0.339879], 5);
    expectClose(s.arrays.userFactors, [0.260861], 5);
    expectClose(s.arrays.itemFactors, [0.531627, -0.347386], 5);
    expectClose(s.arrays.userBias, [-0.0158703], 5);
    expectClose(s.arrays.itemBias, [0.0758579, -0.0909696], 5);
    expect(res.history[0].loss).toBeCloseTo((0.758579 ** 2 + 0.909696 ** 2) / 2, 5);
  });

  test('several epochs on random data match the literal update equations', async () => {
    const rng = new Rng(3);
    const nUsers = 6;
    const nItems = 7;
    const f = 3;
    const rows: [number, number, number][] = [];
    for (let u = 0; u < nUsers; u++) for (let i = 0; i < nItems; i++) if (rng.next() < 0.6) rows.push([u, i, 1 + rng.int(5)]);
    rng.shuffle(rows);
    const draw = (n: number) => Float32Array.from({ length: n }, () => 0.1 * rng.normal());
    const P = draw(nUsers * f);
    const Q = draw(nItems * f);
    const Y = draw(nItems * f);
    const want = naiveSvdpp(rows, nUsers, nItems, f, 3, 0.02, 0.05, Float64Array.from(P), Float64Array.from(Q), Float64Array.from(Y));
    const m = new SVDpp({ factors: f, epochs: 3, lr: 0.02, reg: 0.05, shuffle: false, init: { userFactors: P, itemFactors: Q, implicitFactors: Y } });
    await m.fit(ratingsLog(rows, nUsers, nItems));
    const s = await m.state();
    expectClose(s.arrays.implicitFactors, arr(want.Y), 5);
    expectClose(s.arrays.userFactors, arr(want.P), 5);
    expectClose(s.arrays.itemFactors, arr(want.Q), 5);
    expectClose(s.arrays.userBias, arr(want.bu), 5);
    // Factor form: users p_u + |N(u)|^−½ Σ y_j.
    const fac = await m.factors();
    const u = 2;
    const items = [...new Set(rows.filter((r) => r[0] === u).map((r) => r[1]))];
    for (let c = 0; c < f; c++) {
      const implicit = items.reduce((a, j) => a + want.Y[j * f + c], 0) / Math.sqrt(items.length);
      expect((fac.users as Float32Array)[u * f + c]).toBeCloseTo(want.P[u * f + c] + implicit, 5);
    }
  });
});

describe('NMF', () => {
  test('one multiplicative update', async () => {
    // (u0,i0,4), (u0,i1,2), (u1,i0,3); f = 1, p = (1, 0.5), q = (2, 1), λ_p = λ_q = 0.06.
    // Estimates: (u0,i0) 2, (u0,i1) 1, (u1,i0) 1.
    // U⁺ = (2·4 + 1·2, 2·3) = (10, 6)       U⁻ = (2·2 + 1·1, 2·1) = (5, 2)
    // I⁺ = (1·4 + 0.5·3, 1·2) = (5.5, 2)    I⁻ = (1·2 + 0.5·1, 1·1) = (2.5, 1)
    // p0 = 1·10/(5 + 2·0.06·1) = 1.953125   p1 = 0.5·6/(2 + 1·0.06·0.5) = 3/2.03
    // q0 = 2·5.5/(2.5 + 2·0.06·2) = 11/2.74 q1 = 1·2/(1 + 1·0.06·1) = 2/1.06
    const m = new NMF({ factors: 1, epochs: 1, init: { userFactors: Float32Array.of(1, 0.5), itemFactors: Float32Array.of(2, 1) } });
    const res = await m.fit(ratingsLog([[0, 0, 4], [0, 1, 2], [1, 0, 3]]));
    const s = await m.state();
    expectClose(s.arrays.userFactors, [1.953125, 3 / 2.03]);
    expectClose(s.arrays.itemFactors, [11 / 2.74, 2 / 1.06]);
    expect(res.history[0].loss).toBeCloseTo((4 + 1 + 4) / 3, 6); // errors 2, 1, 2 before the update
    // r̂(u1,i1) = p1·q1 ≈ 2.7874, inside [2, 4]; r̂(u0,i0) ≈ 7.84 is clipped to the top, 4.
    expectClose(await m.predict(Int32Array.of(1, 0), Int32Array.of(1, 0)), [(3 / 2.03) * (2 / 1.06), 4], 5);
  });
});

describe('Popularity', () => {
  test('ranks by event count, ties to the lower index, training items excluded', async () => {
    // Counts: a 3, b 2, c 3, d 1, e 0 (e exists only through the id space).
    const x = fromExternal({
      user: ['u', 'v', 'w', 'u', 'v', 'w', 'x', 'x', 'y'],
      item: ['a', 'a', 'a', 'b', 'b', 'c', 'c', 'c', 'd'],
    });
    const wide = { ...x, nItems: 5 };
    const m = new Popularity();
    const res = await m.fit(wide);
    expect(res.history.length).toBe(1);
    expect(Number.isNaN(res.history[0].loss)).toBe(true);
    expect(m.predictsRatings).toBe(false);
    expect(arr(await m.predict(Int32Array.of(0, 0, 0, 0, 0), Int32Array.of(0, 1, 2, 3, 4)))).toEqual([3, 2, 3, 1, 0]);
    // a (0) and c (2) tie at 3: a first.
    const all = await m.recommend(Int32Array.of(4), 5, { exclude: 'none' });
    expect(arr(all.items)).toEqual([0, 2, 1, 3, 4]);
    expect(arr(all.scores)).toEqual([3, 3, 2, 1, 0]);
    // User u (index 0) saw a and b: c, d, e remain.
    const u = await m.recommend(Int32Array.of(0), 4);
    expect(arr(u.items)).toEqual([2, 3, 4, -1]);
    // Works on implicit logs: x has no ratings.
    expect(x.rating).toBeNull();
  });
});
