/**
 * Finite-difference gradient checks. The loss is L = Σ w ⊙ f(x₁, …) for fixed random
 * weights w; the analytic gradient comes from the backend under test (fp32), the
 * numeric one from central differences of a float64 evaluation of f built from the
 * kernels' CPU references, so rounding in the check itself is negligible. The forward
 * output is compared with the same float64 evaluation first.
 */
import { expect } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { Rng } from '../../src/util/rng.js';
import { Tensor, tensor, mul, sum, readAll } from '../../src/tensor/index.js';
import { randArr } from './helpers.js';
import { expectAllClose } from '../util/close.js';

export interface GradInput {
  shape: number[];
  lo?: number;
  hi?: number;
  /** Custom values (e.g. away from a kink). */
  make?: (rng: Rng, n: number) => Float32Array;
}

export interface GradCase {
  name: string;
  inputs: GradInput[];
  /** Float64 forward over the inputs (same element order as the tensors). */
  ref: (xs: Float64Array[]) => Float64Array;
  /** The op under test. */
  op: (ts: Tensor[]) => Tensor;
  /** Inputs that receive no gradient (index tensors are captured by the closures instead). */
  noGrad?: number[];
}

const PROBES = 16;

function dot(w: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

export async function gradCheck(engine: Engine, c: GradCase, seed: number, rtol = 2e-3): Promise<void> {
  const rng = new Rng(seed);
  const xs = c.inputs.map((inp) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    return inp.make ? inp.make(rng, n) : randArr(rng, n, inp.lo ?? -1, inp.hi ?? 1);
  });
  const x64 = xs.map((x) => Float64Array.from(x));
  const y0 = c.ref(x64);
  const w = Float64Array.from(randArr(rng, y0.length));

  const grads = await engine.scopeAsync(async () => {
    const ts = xs.map((x, i) => {
      const t = tensor(engine, x, c.inputs[i].shape);
      t.requiresGrad = !(c.noGrad ?? []).includes(i);
      return t;
    });
    const y = c.op(ts);
    expect(y.size, `${c.name}: output size`).toBe(y0.length);
    // The tensor-level forward (broadcast plans, views, composition) against float64.
    let maxOut = 0;
    for (const v of y0) maxOut = Math.max(maxOut, Math.abs(v));
    expectAllClose((await y.read()) as Float32Array, y0, { scale: Float64Array.from(y0, (v) => Math.max(Math.abs(v), 0.1 * maxOut)), context: `(${c.name} forward, seed ${seed})` });
    const W = tensor(engine, Float32Array.from(w), y.shape);
    sum(mul(y, W)).backward();
    const withGrad = ts.filter((t) => t.requiresGrad);
    const read = await readAll(withGrad.map((t) => t.grad!));
    for (const t of ts) t.dispose(); // leaves with grads are not scope-tracked once backward kept their grads
    return read;
  });

  let gi = 0;
  for (let i = 0; i < xs.length; i++) {
    if ((c.noGrad ?? []).includes(i)) continue;
    const analytic = grads[gi++];
    const n = xs[i].length;
    let maxAbs = 0;
    for (let j = 0; j < n; j++) maxAbs = Math.max(maxAbs, Math.abs(analytic[j]));
    const probes = n <= PROBES ? [...Array(n).keys()] : Array.from({ length: PROBES }, () => rng.int(n));
    for (const j of probes) {
      const orig = x64[i][j];
      const h = 1e-6 * Math.max(1, Math.abs(orig));
      x64[i][j] = orig + h;
      const lp = dot(w, c.ref(x64));
      x64[i][j] = orig - h;
      const lm = dot(w, c.ref(x64));
      x64[i][j] = orig;
      const numeric = (lp - lm) / (2 * h);
      const err = Math.abs(analytic[j] - numeric);
      const tol = rtol * (Math.abs(numeric) + maxAbs) + 1e-6;
      if (!(err <= tol)) {
        throw new Error(`${c.name}: d/dx${i}[${j}] analytic ${analytic[j]} vs numeric ${numeric} (|diff| ${err.toExponential(2)} > ${tol.toExponential(2)}, seed ${seed})`);
      }
    }
  }
}
