import { expect, test } from 'vitest';
import { GAT_VARIANTS, gatBackward, gatBackwardReference, gatForward, gatForwardReference, type GatShape } from '../../src/kernels/gat.js';
import { prepareGatGraph } from '../../src/graph/upload.js';
import { withSelfLoops } from '../../src/graph/gat-edges.js';
import { Rng } from '../../src/util/rng.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose, poisonPool, uniformScale } from '../util/close.js';
import { randomCsr, randomF32, type CsrPattern } from '../util/random-csr.js';
import type { Csr } from '../../src/graph/types.js';

const cases: { n: number; nnz: number; heads: number; f: number; pattern: CsrPattern; selfLoops: boolean }[] = [
  { n: 1, nnz: 1, heads: 1, f: 1, pattern: 'uniform', selfLoops: false },
  { n: 67, nnz: 400, heads: 3, f: 5, pattern: 'empty-rows', selfLoops: false },
  { n: 130, nnz: 1_500, heads: 2, f: 16, pattern: 'one-huge-row', selfLoops: true },
  { n: 257, nnz: 3_000, heads: 4, f: 17, pattern: 'uniform', selfLoops: true },
];

function absRowScale(csr: Csr, h: Float32Array, s: GatShape): Float64Array {
  // |out| ≤ max_j |h_j| per column; use the row's max as the error scale.
  const w = s.heads * s.f;
  const scale = new Float64Array(csr.nRows * w);
  for (let i = 0; i < csr.nRows; i++)
    for (let e = csr.rowPtr[i]; e < csr.rowPtr[i + 1]; e++)
      for (let c = 0; c < w; c++) scale[i * w + c] = Math.max(scale[i * w + c], Math.abs(h[csr.colIdx[e] * w + c]));
  return scale;
}

forEachBackend('gat', (b) => {
  for (const variant of b.kind === 'webgpu' ? GAT_VARIANTS : (['cpu'] as const))
  for (const c of cases) {
    test(`${variant}: forward and backward match the reference: n ${c.n}, nnz ${c.nnz}, ${c.heads} heads × ${c.f}, ${c.pattern}${c.selfLoops ? ', self-loops' : ''}`, async (ctx) => {
      const engine = b.engine(ctx);
      const seed = testSeed();
      const rng = new Rng(seed);
      const s: GatShape = { heads: c.heads, f: c.f, slope: 0.2, variant: variant === 'cpu' ? undefined : variant };
      const w = c.heads * c.f;
      const raw = randomCsr(rng, c.n, c.n, c.nnz, c.pattern);
      const csr = c.selfLoops ? withSelfLoops(raw) : raw;
      const h = randomF32(rng, c.n * w);
      const el = randomF32(rng, c.n * c.heads, -2, 2);
      const er = randomF32(rng, c.n * c.heads, -2, 2);
      const dOut = randomF32(rng, c.n * w);
      const ref = gatForwardReference(csr, h, el, er, s);
      const g = prepareGatGraph(engine, raw, { selfLoops: c.selfLoops });
      const [H, EL, ER, DO] = [h, el, er, dOut].map((x) => engine.array(x));
      await poisonPool(engine, [c.n * w, c.n * c.heads * 2]);
      const fwd = gatForward(engine, g, H, EL, ER, s);
      expectAllClose(await engine.read(fwd.out), ref.out, { scale: absRowScale(csr, h, s), context: `(seed ${seed})` });
      await poisonPool(engine, [c.n * w, c.n * c.heads, c.n * c.heads]);
      const bwd = gatBackward(engine, g, H, EL, ER, fwd, DO, s);
      const want = gatBackwardReference(csr, h, el, er, dOut, s);
      const [dH, dEl, dEr] = await engine.readMany([bwd.dH, bwd.dEl, bwd.dEr]);
      // Scales: the sums of absolute terms bound fp32 error; use a loose per-array scale.
      const scaleOf = uniformScale;
      expectAllClose(dH, want.dH, { scale: scaleOf(want.dH), context: `dH (seed ${seed})` });
      expectAllClose(dEl, want.dEl, { scale: scaleOf(want.dEl), context: `dEl (seed ${seed})` });
      expectAllClose(dEr, want.dEr, { scale: scaleOf(want.dEr), context: `dEr (seed ${seed})` });
    });
  }
});

test('the reference backward agrees with finite differences (float64)', () => {
  const rng = new Rng(testSeed());
  const s: GatShape = { heads: 2, f: 3, slope: 0.2 };
  const n = 6;
  const w = s.heads * s.f;
  const csr = withSelfLoops(randomCsr(rng, n, n, 14, 'uniform'));
  const h = Array.from({ length: n * w }, () => rng.uniform(-1, 1));
  const el = Array.from({ length: n * s.heads }, () => rng.uniform(-1, 1));
  const er = Array.from({ length: n * s.heads }, () => rng.uniform(-1, 1));
  const dOut = Array.from({ length: n * w }, () => rng.uniform(-1, 1));
  // loss = Σ dOut ∘ out, evaluated in float64.
  const loss = (hh: number[], ll: number[], rr: number[]) => {
    let total = 0;
    for (let i = 0; i < n; i++)
      for (let k = 0; k < s.heads; k++) {
        const z: number[] = [];
        const js: number[] = [];
        for (let e = csr.rowPtr[i]; e < csr.rowPtr[i + 1]; e++) {
          js.push(csr.colIdx[e]);
          const v = ll[i * s.heads + k] + rr[csr.colIdx[e] * s.heads + k];
          z.push(v > 0 ? v : v * s.slope);
        }
        const m = Math.max(...z);
        const ex = z.map((v) => Math.exp(v - m));
        const sum = ex.reduce((a, x) => a + x, 0);
        for (let f = 0; f < s.f; f++) {
          let o = 0;
          js.forEach((j, q) => (o += (ex[q] / sum) * hh[j * w + k * s.f + f]));
          total += dOut[i * w + k * s.f + f] * o;
        }
      }
    return total;
  };
  const g = gatBackwardReference(csr, h, el, er, dOut, s);
  const eps = 1e-6;
  const check = (arr: number[], grad: Float64Array, name: string) => {
    for (let q = 0; q < arr.length; q++) {
      const keep = arr[q];
      arr[q] = keep + eps;
      const up = loss(h, el, er);
      arr[q] = keep - eps;
      const down = loss(h, el, er);
      arr[q] = keep;
      const fd = (up - down) / (2 * eps);
      expect(Math.abs(fd - grad[q]), `${name}[${q}]: fd ${fd} vs ${grad[q]}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
    }
  };
  check(h, g.dH, 'dH');
  check(el, g.dEl, 'dEl');
  check(er, g.dEr, 'dEr');
});
