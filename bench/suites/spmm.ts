/**
 * SpMM Y = Â·X on the synthetic power-law bipartite graph (issue 2's gsyn: 100,000 users ×
 * 50,000 items × 2,000,000 interactions, symmetric-normalised, so Â has 4,000,000 entries
 * over 150,000 nodes), d = 64: the WebGPU kernel against the CPU backend.
 */
import { Engine } from '../../src/engine.js';
import { spmm } from '../../src/kernels/spmm.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import { symNormAdjacency } from '../../src/graph/build.js';
import { Rng } from '../../src/util/rng.js';
import type { Suite } from '../harness.js';

export const suite: Suite = {
  name: 'spmm',
  baseline: 'cpu',
  async run(ctx) {
    const size = ctx.quick ? { nUsers: 10_000, nItems: 5_000, nnz: 200_000 } : { nUsers: 100_000, nItems: 50_000, nnz: 2_000_000 };
    const d = 64;
    const coo = powerLawInteractions({ ...size, seed: 42 });
    const adj = symNormAdjacency(coo.users, coo.items, undefined, size.nUsers, size.nItems);
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
    for (const backend of ['webgpu', 'cpu'] as const) {
      const engine = await Engine.create({ backend });
      const A = engine.uploadCsr(adj);
      const X = engine.array(x);
      const Y = engine.empty('f32', n * d);
      await ctx.measure('spmm', caseName, backend, async () => {
        spmm(engine, A, X, d, Y);
        await engine.sync();
      }, { flops, bytes, maxTime: ctx.quick ? 1 : 8 });
      await engine.dispose();
    }
  },
};
