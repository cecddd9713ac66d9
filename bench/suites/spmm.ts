/**
 * SpMM Y = Â·X on the synthetic power-law bipartite graph (issue 2's gsyn: 100,000 users ×
 * 50,000 items × 2,000,000 interactions; Â is the symmetric-normalised adjacency over
 * 150,000 nodes, two entries per distinct user-item pair, about 3.2 million), d = 64:
 * the WebGPU kernel (the variant this adapter's autotune picks) against the CPU backend
 * and TF.js's WebGPU backend doing the same aggregation (gather the neighbour rows, scale
 * by the edge values, unsortedSegmentSum by row; in edge chunks, since the gathered
 * rows exceed the 128 MiB binding limit).
 */
import { Engine } from '../../src/engine.js';
import { spmm, tuneSpmm } from '../../src/kernels/spmm.js';
import { uploadCsrForSpmm } from '../../src/graph/upload.js';
import { gsynAdjacency, rowOfEntries } from '../gsyn.js';
import { Rng } from '../../src/util/rng.js';
import { loadTfjsWebGpu } from '../tfjs.js';
import { engineBackends, type Suite } from '../harness.js';
import { runPeers } from '../peers.js';

export const suite: Suite = {
  name: 'spmm',
  baseline: 'cpu',
  async run(ctx) {
    const d = 64;
    const adj = gsynAdjacency(ctx.quick);
    const n = adj.nRows;
    const nnz = adj.colIdx.length;
    ctx.log(`graph: ${n} nodes, ${nnz} non-zeros, d = ${d}`);
    const rng = new Rng(7);
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
    const flops = 2 * nnz * d;
    // The least traffic any SpMM needs: the CSR once, X once, Y once.
    const bytes = nnz * 8 + (n + 1) * 4 + 2 * n * d * 4;
    const caseName = `gsyn${ctx.quick ? '-quick' : ''} d=${d}`;
    for (const backend of engineBackends()) {
      const engine = await Engine.create({ backend });
      const A = uploadCsrForSpmm(engine, adj);
      const X = engine.array(x);
      const Y = engine.empty('f32', n * d);
      const tuned = await tuneSpmm(engine, A, d);
      if (tuned) ctx.log(`autotune: ${tuned.variant} (${Object.entries(tuned.medians).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')})`);
      await ctx.measure('spmm', caseName, backend, async () => {
        spmm(engine, A, X, d, Y);
        await engine.sync();
      }, { flops, bytes, maxTime: ctx.quick ? 1 : 8 });
      await engine.dispose();
    }
    runPeers(ctx, 'spmm', caseName, 'spmm', { rowPtr: { data: adj.rowPtr, shape: [n + 1] }, colIdx: { data: adj.colIdx, shape: [nnz] }, values: { data: adj.values, shape: [nnz] }, x: { data: x, shape: [n, d] } }, { nRows: n, nCols: adj.nCols });
    const tf = await loadTfjsWebGpu();
    const rowOfEdge = rowOfEntries(adj);
    const chunk = Math.floor((64 << 20) / (d * 4));
    const X = tf.tensor2d(x, [n, d]);
    const pieces: { cols: import('@tensorflow/tfjs-core').Tensor1D; vals: import('@tensorflow/tfjs-core').Tensor2D; rows: import('@tensorflow/tfjs-core').Tensor1D }[] = [];
    for (let e0 = 0; e0 < nnz; e0 += chunk) {
      const e1 = Math.min(nnz, e0 + chunk);
      pieces.push({
        cols: tf.tensor1d(adj.colIdx.subarray(e0, e1), 'int32'),
        vals: tf.tensor2d(adj.values.subarray(e0, e1), [e1 - e0, 1]),
        rows: tf.tensor1d(rowOfEdge.subarray(e0, e1), 'int32'),
      });
    }
    await ctx.measure('spmm', caseName, 'tfjs-webgpu', async () => {
      const y = tf.tidy(() => pieces.map((p) => tf.unsortedSegmentSum(tf.mul(tf.gather(X, p.cols), p.vals), p.rows, n)).reduce((a, b) => tf.add(a, b)));
      await y.data();
      y.dispose();
    }, { flops, bytes, minSamples: 3, maxTime: ctx.quick ? 1 : 8 });
  },
};
