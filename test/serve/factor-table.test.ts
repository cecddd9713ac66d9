import { describe, expect, test } from 'vitest';
import { choleskySolve, foldIn } from '../../src/serve/fold-in.js';
import { FactorTable, topKHost } from '../../src/serve/factor-table.js';
import { Rng } from '../../src/util/rng.js';
import { testSeed } from '../util/backends.js';

function randomTable(rng: Rng, rows: number, dim: number, withBias: boolean): FactorTable {
  const data = Float32Array.from({ length: rows * dim }, () => rng.normal() * 0.5);
  const bias = withBias ? Float32Array.from({ length: rows }, () => rng.normal() * 0.2) : null;
  return FactorTable.of(data, dim, rows, bias);
}

/** The fold-in objective written out over every row, in f64. */
function objective(t: FactorTable, pos: number[], conf: number[], x: ArrayLike<number>, w0: number, lambda: number): number {
  const c = new Map(pos.map((i, j) => [i, conf[j]]));
  let loss = 0;
  for (let i = 0; i < t.rows; i++) {
    const v = t.row(i);
    let s = t.bias(i);
    for (let a = 0; a < t.dim; a++) s += v[a] * x[a];
    loss += c.has(i) ? c.get(i)! * (1 - s) ** 2 : w0 * s * s;
  }
  // λ is relative to the mean squared row norm.
  let sq = 0;
  for (let i = 0; i < t.rows; i++) for (const v of t.row(i)) sq += v * v;
  for (let a = 0; a < t.dim; a++) loss += lambda * (sq / t.rows) * x[a] * x[a];
  return loss;
}

describe('fold-in', () => {
  test.each([
    [37, 5, true],
    [61, 8, false],
  ])('the solution zeroes the objective\'s gradient (%i rows, dim %i, bias %s)', (rows, dim, withBias) => {
    const rng = new Rng(testSeed());
    const t = randomTable(rng, rows, dim, withBias);
    const pos = [3, 11, 12, 30];
    const conf = [1, 4, 2, 1];
    const x = foldIn(t, pos, conf, { w0: 0.05, lambda: 0.2 });
    // Central differences of the full objective at x: all ≈ 0 (relative to the gradient scale at 0).
    const h = 1e-3;
    const x64 = Float64Array.from(x);
    const scale = Math.abs(objective(t, pos, conf, new Float64Array(dim), 0.05, 0.2));
    for (let a = 0; a < dim; a++) {
      const p = Float64Array.from(x64);
      const m = Float64Array.from(x64);
      p[a] += h;
      m[a] -= h;
      const g = (objective(t, pos, conf, p, 0.05, 0.2) - objective(t, pos, conf, m, 0.05, 0.2)) / (2 * h);
      expect(Math.abs(g) / scale).toBeLessThan(2e-4);
    }
    // And it is a minimum: any small step raises the loss.
    const f0 = objective(t, pos, conf, x64, 0.05, 0.2);
    const step = Float64Array.from(x64, (v) => v + 0.01 * rng.normal());
    expect(objective(t, pos, conf, step, 0.05, 0.2)).toBeGreaterThan(f0);
  });

  test('no positives gives the ridge solution of the negatives alone; bad arguments are named', () => {
    const t = randomTable(new Rng(2), 20, 4, false);
    expect(Array.from(foldIn(t, [], []), Math.abs)).toEqual([0, 0, 0, 0]);
    expect(() => foldIn(t, [20], [1])).toThrow(/items\[0\] = 20 is outside the table's 20 rows/);
    expect(() => foldIn(t, [1], [0.001], { w0: 0.01 })).toThrow(/confidence\[0\] = 0.001: expected a finite number >= w0/);
    expect(() => foldIn(t, [1], [1], { lambda: 0 })).toThrow(/lambda: expected a number > 0/);
  });

  test('choleskySolve solves a random SPD system', () => {
    const rng = new Rng(testSeed());
    const d = 7;
    const M = Float64Array.from({ length: d * d }, () => rng.normal());
    const A = new Float64Array(d * d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < d; k++) s += M[i * d + k] * M[j * d + k];
      A[i * d + j] = s;
    }
    const x = Float64Array.from({ length: d }, () => rng.normal());
    const b = new Float64Array(d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) b[i] += A[i * d + j] * x[j];
    const got = choleskySolve(Float64Array.from(A), b, d);
    for (let i = 0; i < d; i++) expect(got[i]).toBeCloseTo(x[i], 9);
  });
});

describe('FactorTable versions', () => {
  test('deriving leaves the old version as it was, and the Gram matrix follows the rows', () => {
    const rng = new Rng(testSeed());
    const t0 = randomTable(rng, 13, 3, true);
    const before = t0.dense();
    const newRow = Float32Array.of(1, 2, 3);
    const t1 = t0.derive(new Map([[4, { v: newRow, b: 0.5 }]]), [{ v: Float32Array.of(-1, 0, 1), b: 0.25 }]);
    const t2 = t1.derive(new Map(), [{ v: Float32Array.of(9, 9, 9) }]);
    // A second append from the older t1 must not overwrite t2's row 14.
    const t1b = t1.derive(new Map(), [{ v: Float32Array.of(7, 7, 7) }]);
    expect(Array.from(t0.dense())).toEqual(Array.from(before));
    expect(t0.rows).toBe(13);
    expect(t1.rows).toBe(14);
    expect(Array.from(t1.row(4))).toEqual([1, 2, 3]);
    expect(t1.bias(4)).toBe(0.5);
    expect(Array.from(t2.row(14))).toEqual([9, 9, 9]);
    expect(Array.from(t1b.row(14))).toEqual([7, 7, 7]);
    for (const t of [t0, t1, t2, t1b]) {
      const full = FactorTable.of(t.dense(), 3, t.rows, t.denseBias());
      for (let j = 0; j < 9; j++) expect(t.gram[j]).toBeCloseTo(full.gram[j], 4);
      for (let j = 0; j < 3; j++) expect(t.biasMoment[j]).toBeCloseTo(full.biasMoment[j], 4);
      const x = Float32Array.of(0.3, -0.2, 0.7);
      expect(Array.from(t.scoreAll(x))).toEqual(Array.from(full.scoreAll(x)));
    }
  });

  test('many changed rows compact into fresh storage without changing any value', () => {
    const rng = new Rng(5);
    const t0 = randomTable(rng, 3000, 2, false);
    const changed = new Map<number, { v: Float32Array }>();
    for (let i = 0; i < 1500; i++) changed.set(i * 2, { v: Float32Array.of(i, -i) });
    const t1 = t0.derive(changed);
    expect(t1.overlaySize).toBe(0);
    expect(Array.from(t1.row(20))).toEqual([10, -10]);
    expect(Array.from(t1.row(21))).toEqual(Array.from(t0.row(21)));
  });
});

describe('topKHost', () => {
  test('equals a full sort with ties to the lower index, skipping and NaN-free', () => {
    const rng = new Rng(testSeed());
    for (const [n, k] of [[0, 3], [5, 10], [97, 7], [1000, 64]]) {
      const s = Float32Array.from({ length: n }, () => Math.round(rng.normal() * 4) / 4);
      const skip = (i: number) => i % 5 === 3;
      const want = Array.from({ length: n }, (_, i) => i).filter((i) => !skip(i)).sort((a, b) => (s[b] - s[a]) || (a - b)).slice(0, k);
      expect(Array.from(topKHost(s, n, k, skip))).toEqual(want);
    }
  });
});
