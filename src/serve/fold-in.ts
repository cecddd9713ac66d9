/**
 * Fold-in: a new vector for one row (a user, or an item) against a fixed table of the
 * other side's vectors, by the implicit-feedback least squares of iALS (Hu, Koren and
 * Volinsky, ICDM 2008), solved exactly:
 *
 *   minimise  Σ_{i∈P} c_i (1 − b_i − x·v_i)²  +  w0 Σ_{i∉P} (0 − b_i − x·v_i)²  +  λ‖x‖²
 *
 * (λ given relative to the table's mean squared row norm, see `FoldInOptions.lambda`).
 *
 * P are the row's positive interactions with confidences c_i, every other row of the
 * table is a weak negative (weight w0), b_i are the table's biases (0 when it has none).
 * Written over all rows at once, the w0 term needs only the table's Gram matrix
 * G = Σ_i v_i v_iᵀ and moment h = Σ_i b_i v_i, computed once per table version, so one
 * fold-in costs O(|P|·d² + d³) whatever the catalogue size. Setting the gradient to zero:
 *
 *   (w0·G + Σ_P (c_i − w0) v_i v_iᵀ + λI) x  =  Σ_P c_i (1 − b_i) v_i + w0 Σ_P b_i v_i − w0·h
 *
 * The matrix is symmetric positive definite for λ > 0 (c_i ≥ w0 ≥ 0), so Cholesky solves it.
 * Why this and not a few SGD steps: the result is deterministic, needs no learning rate,
 * and does not depend on how many times a user was folded in before.
 */
import { GnnrlError } from '../errors.js';

/** The fixed side: its vectors (rows × dim), optional biases, and their Gram/moment. */
export interface FoldInTable {
  readonly dim: number;
  /** Rows used (the table may be longer: spare capacity). */
  readonly rows: number;
  /** Vector of one row (dim values; may be a view). */
  row(i: number): Float32Array;
  /** Bias of one row (0 when the table has none). */
  bias(i: number): number;
  /** Σ v vᵀ over the rows, dim × dim, f64. */
  readonly gram: Float64Array;
  /** Σ b v over the rows, dim, f64. */
  readonly biasMoment: Float64Array;
}

export interface FoldInOptions {
  /** Weight of the implicit negatives (default 0.1). */
  w0?: number;
  /**
   * Ridge λ in units of the table's mean squared row norm (trace(G) / rows), so one value
   * suits any model's scale (default 1).
   */
  lambda?: number;
}

/** G and h of a table, in f64, over its first `rows` rows. */
export function gramOf(dim: number, rows: number, row: (i: number) => Float32Array, bias: (i: number) => number): { gram: Float64Array; biasMoment: Float64Array } {
  const gram = new Float64Array(dim * dim);
  const biasMoment = new Float64Array(dim);
  for (let i = 0; i < rows; i++) addOuter(gram, biasMoment, row(i), bias(i), dim, 1);
  return { gram, biasMoment };
}

/** gram += s·v vᵀ and moment += s·b·v (s = −1 removes a row). */
export function addOuter(gram: Float64Array, moment: Float64Array, v: Float32Array, b: number, dim: number, s: number): void {
  for (let a = 0; a < dim; a++) {
    const va = s * v[a];
    moment[a] += va * b;
    for (let c = 0; c < dim; c++) gram[a * dim + c] += va * v[c];
  }
}

/**
 * The fold-in vector for positives `items` (indices into `table`) with confidences
 * `confidence` (same length, each ≥ w0). With no positives it is the zero vector.
 */
export function foldIn(table: FoldInTable, items: ArrayLike<number>, confidence: ArrayLike<number>, opts: FoldInOptions = {}): Float32Array {
  const w0 = opts.w0 ?? 0.1;
  const lambda = opts.lambda ?? 1;
  if (!(w0 >= 0 && Number.isFinite(w0))) throw new GnnrlError('input', `foldIn: w0: expected a number >= 0, got ${w0}`, { arg: 'w0' });
  if (!(lambda > 0 && Number.isFinite(lambda))) throw new GnnrlError('input', `foldIn: lambda: expected a number > 0, got ${lambda}`, { arg: 'lambda' });
  if (items.length !== confidence.length) throw new GnnrlError('input', `foldIn: ${items.length} items but ${confidence.length} confidences`, { arg: 'confidence' });
  const d = table.dim;
  const A = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  for (let j = 0; j < d * d; j++) A[j] = w0 * table.gram[j];
  let trace = 0;
  for (let a = 0; a < d; a++) trace += table.gram[a * d + a];
  const ridge = lambda * (table.rows > 0 && trace > 0 ? trace / table.rows : 1);
  for (let a = 0; a < d; a++) {
    A[a * d + a] += ridge;
    rhs[a] = -w0 * table.biasMoment[a];
  }
  for (let j = 0; j < items.length; j++) {
    const i = items[j];
    if (!(Number.isInteger(i) && i >= 0 && i < table.rows)) throw new GnnrlError('input', `foldIn: items[${j}] = ${i} is outside the table's ${table.rows} rows`, { arg: 'items', index: j });
    const c = confidence[j];
    if (!(c >= w0 && Number.isFinite(c))) throw new GnnrlError('input', `foldIn: confidence[${j}] = ${c}: expected a finite number >= w0 (${w0})`, { arg: 'confidence', index: j });
    const v = table.row(i);
    const b = table.bias(i);
    const s = c - w0;
    const t = c * (1 - b) + w0 * b;
    for (let a = 0; a < d; a++) {
      rhs[a] += t * v[a];
      const va = s * v[a];
      for (let e = 0; e < d; e++) A[a * d + e] += va * v[e];
    }
  }
  return Float32Array.from(choleskySolve(A, rhs, d));
}

/** Solves A x = b for symmetric positive definite A (d × d, row-major; A is overwritten). */
export function choleskySolve(A: Float64Array, b: Float64Array, d: number): Float64Array {
  // A = L Lᵀ, L stored in the lower triangle of A.
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j];
    for (let k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
    if (!(s > 0)) throw new GnnrlError('state', `choleskySolve: the matrix is not positive definite (pivot ${j} is ${s})`);
    const l = Math.sqrt(s);
    A[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j];
      for (let k = 0; k < j; k++) t -= A[i * d + k] * A[j * d + k];
      A[i * d + j] = t / l;
    }
  }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let t = b[i];
    for (let k = 0; k < i; k++) t -= A[i * d + k] * y[k];
    y[i] = t / A[i * d + i];
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let t = y[i];
    for (let k = i + 1; k < d; k++) t -= A[k * d + i] * x[k];
    x[i] = t / A[i * d + i];
  }
  return x;
}
