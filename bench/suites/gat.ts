/**
 * Graph attention on the synthetic power-law graph (gsyn: 150,000 nodes, the symmetric
 * bipartite adjacency's 3.2 million entries plus self-loops), 4 heads × 16 = 64 columns.
 * gnnrl's one-pass online-softmax kernel against TF.js's WebGPU backend doing the same
 * (gather el/er per edge, LeakyReLU, a per-head max, exp, segment sum, gather and weight
 * the neighbour rows, segment sum; in edge chunks because the gathered rows exceed the
 * 128 MiB binding limit) and the CPU backend.
 */
import { Engine } from '../../src/engine.js';
import { gatForward, tuneGat } from '../../src/kernels/gat.js';
import { prepareGatGraph } from '../../src/graph/upload.js';
import { withSelfLoops } from '../../src/graph/gat-edges.js';
import { gsynAdjacency, rowOfEntries } from '../gsyn.js';
import { Rng } from '../../src/util/rng.js';
import { loadTfjsWebGpu } from '../tfjs.js';
import { engineBackends } from '../harness.js';
import type { Suite } from '../harness.js';

export const suite: Suite = {
  name: 'gat',
  baseline: 'tfjs-webgpu',
  async run(ctx) {
    const heads = 4;
    const f = 16;
    const w = heads * f;
    const csr = withSelfLoops(gsynAdjacency(ctx.quick));
    const n = csr.nRows;
    const nnz = csr.colIdx.length;
    ctx.log(`graph: ${n} nodes, ${nnz} edges with self-loops, ${heads} heads × ${f}`);
    const rng = new Rng(5);
    const h = Float32Array.from({ length: n * w }, () => rng.uniform(-1, 1));
    const el = Float32Array.from({ length: n * heads }, () => rng.uniform(-1, 1));
    const er = Float32Array.from({ length: n * heads }, () => rng.uniform(-1, 1));
    const s = { heads, f, slope: 0.2 };
    // Per edge and head: score, exp, and F multiply-adds.
    const flops = nnz * heads * (2 * f + 6);
    const bytes = nnz * 4 + (n + 1) * 4 + (2 * n * w + 2 * n * heads) * 4;
    const caseName = `gsyn${ctx.quick ? '-quick' : ''} ${heads}x${f}`;
    for (const backend of engineBackends()) {
      const engine = await Engine.create({ backend });
      const g = prepareGatGraph(engine, csr);
      const [H, EL, ER] = [h, el, er].map((x) => engine.array(x));
      const tuned = await tuneGat(engine, g, H, EL, ER, s);
      if (tuned) ctx.log(`autotune: ${tuned.variant} (${Object.entries(tuned.medians).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')})`);
      await ctx.measure('gat', caseName, backend, async () => {
        const r = gatForward(engine, g, H, EL, ER, s);
        await engine.sync();
        engine.free(r.out);
        engine.free(r.rowStat);
      }, { flops, bytes, minSamples: backend === 'cpu' ? 2 : 3, maxTime: ctx.quick ? 1 : 10 });
      await engine.dispose();
    }
    const tf = await loadTfjsWebGpu();
    const rowOfEdge = rowOfEntries(csr);
    const chunk = Math.floor((32 << 20) / (w * 4));
    const H = tf.tensor2d(h, [n, w]);
    const EL = tf.tensor2d(el, [n, heads]);
    const ER = tf.tensor2d(er, [n, heads]);
    const pieces: { rows: import('@tensorflow/tfjs-core').Tensor1D; cols: import('@tensorflow/tfjs-core').Tensor1D }[] = [];
    for (let e0 = 0; e0 < nnz; e0 += chunk) {
      const e1 = Math.min(nnz, e0 + chunk);
      pieces.push({ rows: tf.tensor1d(rowOfEdge.subarray(e0, e1), 'int32'), cols: tf.tensor1d(csr.colIdx.subarray(e0, e1), 'int32') });
    }
    await ctx.measure('gat', caseName, 'tfjs-webgpu', async () => {
      const out = tf.tidy(() => {
        const scores = pieces.map((p) => tf.leakyRelu(tf.add(tf.gather(EL, p.rows), tf.gather(ER, p.cols)), 0.2));
        // TF.js has no segment max; a per-head global max keeps exp() in range instead.
        const headMax = scores.map((sc) => tf.max(sc, 0)).reduce((a, b) => tf.maximum(a, b));
        const ex = scores.map((sc) => tf.exp(tf.sub(sc, headMax)));
        const denom = ex.map((x, i) => tf.unsortedSegmentSum(x, pieces[i].rows, n)).reduce((a, b) => tf.add(a, b));
        const num = ex
          .map((x, i) => {
            const hj = tf.reshape(tf.gather(H, pieces[i].cols), [-1, heads, f]);
            return tf.unsortedSegmentSum(tf.reshape(tf.mul(hj, tf.expandDims(x, 2)), [-1, w]), pieces[i].rows, n);
          })
          .reduce((a, b) => tf.add(a, b));
        return tf.div(tf.reshape(num, [n, heads, f]), tf.expandDims(denom, 2));
      });
      await out.data();
      out.dispose();
    }, { flops, bytes, minSamples: 3, maxTime: ctx.quick ? 1 : 10 });
  },
};
