/**
 * Finite-difference checks for a layer with parameters (SAGEConv, GATConv): the loss is
 * L = Σ w ⊙ layer(x) for fixed random w; the analytic gradients of x and of every
 * parameter come from the backend under test (fp32), the numeric ones from central
 * differences of a float64 plain-TypeScript forward of the same layer, which is also
 * compared with the backend's forward first.
 */
import { expect } from 'vitest';
import type { Engine } from '../../src/engine.js';
import type { Module } from '../../src/nn/module.js';
import { Rng } from '../../src/util/rng.js';
import { Tensor, mul, sum, readAll } from '../../src/tensor/index.js';
import { expectAllClose } from '../util/close.js';
import { randomF32 } from '../util/random-csr.js';

export type Params = Record<string, Float64Array>;

export interface ModuleGradCase {
  name: string;
  module: Module;
  x: Float32Array;
  xShape: number[];
  /** The layer under test on the backend. */
  forward: (x: Tensor) => Tensor;
  /** Float64 forward from x and the parameters by name (as `module.namedParameters()` names them). */
  ref: (x: Float64Array, p: Params) => Float64Array;
}

const PROBES = 12;

function dot(w: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
}

export async function moduleGradCheck(engine: Engine, c: ModuleGradCase, seed: number, rtol = 2e-3): Promise<void> {
  const rng = new Rng(seed ^ 0x5a5a);
  const state = await c.module.state();
  const names = Object.keys(state);
  const p64: Params = Object.fromEntries(names.map((n) => [n, Float64Array.from(state[n])]));
  const x64 = Float64Array.from(c.x);
  const y0 = c.ref(x64, p64);
  const w = Float64Array.from(randomF32(rng, y0.length));

  c.module.zeroGrad();
  const named = c.module.namedParameters();
  const grads = await engine.scopeAsync(async () => {
    const X = Tensor.fromArray(engine, c.x, c.xShape);
    X.requiresGrad = true;
    const y = c.forward(X);
    expect(y.size, `${c.name}: output size`).toBe(y0.length);
    let maxOut = 0;
    for (const v of y0) maxOut = Math.max(maxOut, Math.abs(v));
    const scale = Float64Array.from(y0, (v) => Math.max(Math.abs(v), 0.05 * maxOut));
    expectAllClose((await y.read()) as Float32Array, y0, { scale, rtol: 2e-4, context: `(${c.name} forward, seed ${seed})` });
    sum(mul(y, Tensor.fromArray(engine, Float32Array.from(w), y.shape))).backward();
    const read = await readAll([X.grad!, ...named.map(([n, p]) => {
      expect(p.grad, `${c.name}: parameter '${n}' got no gradient`).not.toBeNull();
      return p.grad!;
    })]);
    X.dispose();
    return read;
  });
  c.module.zeroGrad();

  const targets: [string, Float64Array][] = [['x', x64], ...names.map((n): [string, Float64Array] => [n, p64[n]])];
  const l0 = dot(w, y0);
  targets.forEach(([label, arr], t) => {
    let checked = 0;
    const analytic = grads[t];
    let maxAbs = 0;
    for (let j = 0; j < analytic.length; j++) maxAbs = Math.max(maxAbs, Math.abs(analytic[j]));
    const probes = arr.length <= PROBES ? [...arr.keys()] : Array.from({ length: PROBES }, () => rng.int(arr.length));
    for (const j of probes) {
      const orig = arr[j];
      const h = 1e-6 * Math.max(1, Math.abs(orig));
      arr[j] = orig + h;
      const lp = dot(w, c.ref(x64, p64));
      arr[j] = orig - h;
      const lm = dot(w, c.ref(x64, p64));
      arr[j] = orig;
      const numeric = (lp - lm) / (2 * h);
      const tol = rtol * (Math.abs(numeric) + maxAbs) + 1e-6;
      // A probe whose ±h step crosses a kink (ReLU, LeakyReLU, a max switching argument)
      // has no derivative to compare: its one-sided differences disagree. Skip it rather
      // than compare fp32's choice of slope with float64's (CI seed 165396034 hit one).
      if (Math.abs((lp - l0) / h - (l0 - lm) / h) > tol) continue;
      checked++;
      const err = Math.abs(analytic[j] - numeric);
      if (!(err <= tol)) {
        throw new Error(`${c.name}: d/d${label}[${j}] analytic ${analytic[j]} vs numeric ${numeric} (|diff| ${err.toExponential(2)} > ${tol.toExponential(2)}, seed ${seed})`);
      }
    }
    expect(checked, `${c.name}: d/d${label}: most probes sat on kinks (seed ${seed})`).toBeGreaterThanOrEqual(Math.ceil(probes.length / 2));
  });
}

/** Row-major a [m, k] · b [k, n] in float64. */
export function matmul64(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      if (v === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += v * b[p * n + j];
    }
  }
  return out;
}
