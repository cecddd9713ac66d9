/**
 * Cold start from features: a linear map from a row's features to its factor vector,
 * fitted by ridge regression on the rows the model was trained on,
 *
 *   W = argmin ‖[X 1] W − V‖² + λ‖W‖²   ⇒   ([X 1]ᵀ[X 1] + λI) W = [X 1]ᵀ V,
 *
 * so a user or item that arrives with features but no interaction gets the vector that
 * rows with such features have on average (the idea of DropoutNet's and LightFM's
 * feature side, in its simplest closed form). λ is relative to the mean diagonal of
 * XᵀX (default 0.01), like fold-in's, so neither feature scale nor the number of rows
 * changes what the default means; the intercept is not shrunk.
 */
import { GnnrlError } from '../errors.js';
import type { FeatureTable } from '../data/features-types.js';
import { choleskySolve } from './fold-in.js';
import type { FactorTable } from './factor-table.js';

export class FeatureMap {
  private constructor(
    /** Feature columns (names, for checks and messages). */
    readonly names: readonly string[],
    readonly dim: number,
    /** (F + 1) × dim, the last row the intercept. */
    private readonly W: Float64Array,
  ) {}

  /** Fits the map from `features` (row r describes table row r) to `table`'s first `features.nRows` rows. */
  static fit(features: FeatureTable, table: FactorTable, lambda = 0.01, what = 'features'): FeatureMap {
    const F = features.dim;
    const n = features.nRows;
    const d = table.dim;
    if (n > table.rows) throw new GnnrlError('input', `${what}: ${n} feature rows, but the model has only ${table.rows} rows to learn from`, { arg: what });
    if (features.data.length !== n * F) throw new GnnrlError('input', `${what}: data holds ${features.data.length} values, expected nRows × dim = ${n * F}`, { arg: what });
    if (!(lambda > 0)) throw new GnnrlError('input', `${what}: lambda: expected a number > 0, got ${lambda}`, { arg: 'lambda' });
    const p = F + 1;
    const A = new Float64Array(p * p);
    const B = new Float64Array(p * d);
    const x = new Float64Array(p);
    let sq = 0;
    for (let r = 0; r < n; r++) {
      for (let a = 0; a < F; a++) x[a] = features.data[r * F + a];
      x[F] = 1;
      const v = table.row(r);
      for (let a = 0; a < p; a++) {
        const xa = x[a];
        if (a < F) sq += xa * xa;
        if (xa === 0) continue;
        for (let b = 0; b < p; b++) A[a * p + b] += xa * x[b];
        for (let c = 0; c < d; c++) B[a * d + c] += xa * v[c];
      }
    }
    const ridge = lambda * Math.max(sq / Math.max(1, F), 1e-12);
    for (let a = 0; a < F; a++) A[a * p + a] += ridge; // the intercept is not shrunk
    A[F * p + F] += 1e-9 * n;
    const W = new Float64Array(p * d);
    for (let c = 0; c < d; c++) {
      const col = new Float64Array(p);
      for (let a = 0; a < p; a++) col[a] = B[a * d + c];
      const w = choleskySolve(Float64Array.from(A), col, p);
      for (let a = 0; a < p; a++) W[a * d + c] = w[a];
    }
    return new FeatureMap(features.names.slice(), d, W);
  }

  get featureDim(): number {
    return this.names.length;
  }

  /** The vector for one feature row (length `featureDim`). */
  apply(f: ArrayLike<number>, what = 'features'): Float32Array {
    const F = this.names.length;
    if (f.length !== F) throw new GnnrlError('input', `${what}: ${f.length} values, expected ${F} (${this.names.slice(0, 4).join(', ')}${F > 4 ? ', …' : ''})`, { arg: what });
    const d = this.dim;
    const out = new Float32Array(d);
    for (let c = 0; c < d; c++) {
      let s = this.W[F * d + c];
      for (let a = 0; a < F; a++) {
        const v = f[a];
        if (!Number.isFinite(v)) throw new GnnrlError('input', `${what}[${a}] (${this.names[a]}): expected a finite number, got ${v}`, { arg: what, index: a });
        s += v * this.W[a * d + c];
      }
      out[c] = s;
    }
    return out;
  }
}
