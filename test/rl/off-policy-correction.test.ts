/**
 * The top-K correction's arithmetic against hand values (λ_K, clipped and capped
 * importance weights, K = 1 as plain importance sampling), its refusals, and the softmax
 * policy's chunked log-normaliser against a float64 full one on awkward sizes, on the
 * engine the environment picks (native here, WebGPU with GNNRL_REQUIRE_GPU=1, CPU with
 * GNNRL_BACKEND=cpu).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { checkPropensities, correctionTerms, importanceWeight, lambdaK, resolveCorrection } from '../../src/rl/agents/off-policy-correction.js';
import { MASKED, logNormaliser, maskChunk, rowsPerChunk, sampleWithoutReplacement } from '../../src/rl/agents/softmax-policy.js';
import { windowExclusions } from '../../src/rl/state/exclusions.js';
import { Tensor } from '../../src/tensor/index.js';
import { Rng } from '../../src/util/rng.js';

function codedError(fn: () => unknown, arg: string, field?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a GnnrlError naming ${arg}`).toBeInstanceOf(GnnrlError);
  const e = caught as GnnrlError;
  expect(e.code).toBe('input');
  expect(e.details.arg).toBe(arg);
  if (field) expect(e.details.field).toBe(field);
}

describe('λ_K and the importance weight', () => {
  test('λ_K = K(1 − π)^{K−1} against hand values; K = 1 gives 1', () => {
    expect(lambdaK(0.3, 1)).toBe(1);
    expect(lambdaK(0.25, 2)).toBeCloseTo(1.5, 12);
    expect(lambdaK(0.5, 3)).toBeCloseTo(0.75, 12);
    expect(lambdaK(0.1, 4)).toBeCloseTo(4 * 0.729, 12);
    // An item π never picks is shown by any of the K draws: the full K; a certain one gains nothing more.
    expect(lambdaK(0, 5)).toBe(5);
    expect(lambdaK(1, 5)).toBe(0);
  });

  test('w = min(π / max(β, clip), cap) against hand values', () => {
    const def = resolveCorrection({});
    expect(def).toEqual({ clip: 1e-8, cap: 10 });
    expect(importanceWeight(0.2, 0.1, def)).toBeCloseTo(2, 12);
    expect(importanceWeight(0.5, 0.01, def)).toBe(10); // 50, capped
    expect(importanceWeight(0.02, 0.001, { clip: 0.05, cap: 10 })).toBeCloseTo(0.4, 12); // β floored at 0.05
    expect(importanceWeight(0.5, 0.01, { clip: 0, cap: Infinity })).toBeCloseTo(50, 12);
    expect(importanceWeight(0, 0.3, def)).toBe(0);
  });

  test('K = 1 reduces to plain importance sampling; mean weight and ESS by hand', () => {
    const pi = [0.2, 0.05, 0.6, 0.1];
    const beta = [0.1, 0.1, 0.3, 0.4];
    const t = correctionTerms(pi, beta, 1, { clip: 0, cap: Infinity });
    expect(Array.from(t.lambda)).toEqual([1, 1, 1, 1]);
    const w = [2, 0.5, 2, 0.25];
    w.forEach((x, i) => expect(t.weight[i]).toBeCloseTo(x, 6));
    expect(t.meanWeight).toBeCloseTo(4.75 / 4, 6);
    expect(t.ess).toBeCloseTo((4.75 * 4.75) / (4 + 0.25 + 4 + 0.0625), 5);
    expect(t.cappedShare).toBe(0);
    const capped = correctionTerms(pi, beta, 3, { clip: 0, cap: 1 });
    expect(Array.from(capped.weight)).toEqual([1, 0.5, 1, 0.25]);
    expect(capped.cappedShare).toBe(0.5);
    pi.forEach((p, i) => expect(capped.lambda[i]).toBeCloseTo(3 * (1 - p) ** 2, 6));
  });

  test('bad options and probabilities are coded input errors naming the field', () => {
    codedError(() => resolveCorrection({ clip: 1 }), 'clip');
    codedError(() => resolveCorrection({ clip: -0.1 }), 'clip');
    codedError(() => resolveCorrection({ cap: 0 }), 'cap');
    codedError(() => resolveCorrection({ cap: Number.NaN }), 'cap');
    codedError(() => lambdaK(0.5, 0), 'K');
    codedError(() => lambdaK(1.5, 2), 'pi');
    codedError(() => importanceWeight(0.5, 1.2, { clip: 0, cap: 10 }), 'beta');
    codedError(() => importanceWeight(0.5, 0, { clip: 0, cap: 10 }), 'beta');
    codedError(() => checkPropensities([0.5, 0, 0.2]), 'log', 'propensity');
    codedError(() => checkPropensities([0.5, 1.0000001]), 'log', 'propensity');
    codedError(() => checkPropensities([Number.NaN]), 'log', 'propensity');
    try {
      checkPropensities([0.5, 0.3, -1]);
    } catch (err) {
      expect((err as GnnrlError).details.index).toBe(2);
    }
  });
});

describe('softmax policy: chunked log-normaliser and sampling', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ quiet: true });
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  /** log Σ_{a eligible} exp(φ·e_a + b_a) in float64, the whole row at once. */
  function fullLse(phi: Float32Array, items: Float32Array, bias: Float32Array, B: number, I: number, d: number, history: Int32Array, H: number): Float64Array {
    const out = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      const excluded = new Set(Array.from(history.subarray(b * H, (b + 1) * H)).filter((i) => i >= 0));
      let m = -Infinity;
      const z: number[] = [];
      for (let a = 0; a < I; a++) {
        if (excluded.has(a)) continue;
        let s = bias[a];
        for (let c = 0; c < d; c++) s += phi[b * d + c] * items[a * d + c];
        z.push(s);
        m = Math.max(m, s);
      }
      out[b] = m + Math.log(z.reduce((acc, s) => acc + Math.exp(s - m), 0));
    }
    return out;
  }

  test.each([
    [13, 37, 5, 3],
    [7, 1031, 3, 4],
    [1, 2, 1, 1],
  ])('B=%i I=%i d=%i H=%i: every chunking equals the full normaliser', async (B, I, d, H) => {
    const rng = new Rng(B * 7919 + I);
    const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => s * rng.normal());
    const phi = rand(B * d, 1.5);
    const items = rand(I * d, 1.5);
    const bias = rand(I, 0.5);
    const history = new Int32Array(B * H).fill(-1);
    // Windows with padding, duplicates and (for I = 2) one item left eligible.
    for (let b = 0; b < B; b++) for (let t = Math.floor(H / 2); t < H; t++) history[b * H + t] = rng.int(Math.max(1, I - 1));
    const want = fullLse(phi, items, bias, B, I, d, history, H);
    const exclude = windowExclusions(history, B, H);
    const tPhi = Tensor.fromArray(engine, phi, [B, d]);
    const tItems = Tensor.fromArray(engine, items, [I, d]);
    const tBias = Tensor.fromArray(engine, bias, [I, 1]);
    try {
      for (const rows of [1, 2, 5, B, B + 3]) {
        const got = await logNormaliser(engine, { phi: tPhi, items: tItems, bias: tBias, exclude, rowsPerChunk: rows });
        for (let b = 0; b < B; b++) expect(Math.abs(got[b] - want[b]), `row ${b}, chunks of ${rows}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[b])));
      }
    } finally {
      tPhi.dispose();
      tItems.dispose();
      tBias.dispose();
    }
  });

  test('rowsPerChunk bounds a chunk by chunkElements (at least one row) and refuses a bad bound', () => {
    expect(rowsPerChunk(1000, 4096)).toBe(4);
    expect(rowsPerChunk(5000, 4096)).toBe(1);
    codedError(() => rowsPerChunk(10, 0), 'chunkElements');
  });

  test('the mask puts MASKED exactly at each row’s window items, and none when no row excludes anything', async () => {
    const history = Int32Array.from([-1, 2, 0, -1, -1, -1, 4, 4, 1]);
    const rows = windowExclusions(history, 3, 3);
    const m = maskChunk(engine, rows, 0, 3, 5)!;
    const v = (await m.read()) as Float32Array;
    m.dispose();
    const want = new Float32Array(15);
    for (const [r, a] of [[0, 0], [0, 2], [2, 1], [2, 4]]) want[r * 5 + a] = MASKED;
    expect(Array.from(v)).toEqual(Array.from(want));
    expect(maskChunk(engine, rows, 1, 2, 5)).toBeNull();
  });

  test('Gumbel-top-K sampling: distinct eligible items, frequencies of the first draw follow π', () => {
    const cols = 6;
    const z = Float32Array.from([0, 1, MASKED, 2, -1, 0.5]);
    const rng = new Rng(5);
    const keys = new Float64Array(cols);
    const out = new Int32Array(3);
    const counts = new Float64Array(cols);
    const draws = 20000;
    for (let s = 0; s < draws; s++) {
      expect(sampleWithoutReplacement(z, 0, cols, 3, rng, out, 0, keys)).toBe(true);
      expect(new Set(out).size).toBe(3);
      expect(Array.from(out)).not.toContain(2);
      counts[out[0]]++;
    }
    const e = [0, 1, 2, -1, 0.5].map(Math.exp);
    const zsum = e.reduce((a, x) => a + x, 0);
    const pi = [e[0], e[1], 0, e[2], e[3], e[4]].map((x) => x / zsum);
    for (let a = 0; a < cols; a++) expect(Math.abs(counts[a] / draws - pi[a])).toBeLessThan(4 * Math.sqrt((pi[a] * (1 - pi[a])) / draws) + 1e-9);
    // Fewer eligible items than the slate: refused.
    expect(sampleWithoutReplacement(Float32Array.from([MASKED, 0, MASKED]), 0, 3, 2, rng, out, 0, new Float64Array(3))).toBe(false);
  });
});
