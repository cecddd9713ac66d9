/**
 * Dense matmul on the shapes recommenders have: scoring a batch of 4096 users against
 * 50,000 items (4096×64 · 64×50,000), projecting 50,000 embeddings (50,000×64 · 64×64),
 * and a weight gradient reduced over the batch (4096×64ᵀ · 4096×64, the split-K path).
 * The 4096×50,000 output is 819 MB, over the 128 MiB storage-binding limit of most
 * adapters, so that case runs in row chunks, each its own output buffer.
 */
import { Engine } from '../../src/engine.js';
import { matmulKernel, type MatmulShape } from '../../src/kernels/matmul.js';
import type { DeviceArray } from '../../src/backend/arrays.js';
import { engineBackends, type Suite } from '../harness.js';
import { runPeers } from '../peers.js';

function pattern(n: number, salt: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (((i + salt) * 2654435761) >>> 0) / 4294967296 - 0.5;
  return a;
}

interface Case {
  name: string;
  shape: MatmulShape;
  /** Rows of the output per chunk (M when unchunked). */
  chunkRows: number;
}

export const suite: Suite = {
  name: 'matmul',
  baseline: 'cpu',
  async run(ctx) {
    const items = ctx.quick ? 5_000 : 50_000;
    const batch = ctx.quick ? 1024 : 4096;
    const cases: Case[] = [
      // Chunked only when the output would not fit one binding (the full size; not --quick).
      { name: `${batch}×64·64×${items}`, shape: { M: batch, K: 64, N: items }, chunkRows: batch * items * 4 > 128 * 2 ** 20 ? 512 : batch },
      { name: `${items}×64·64×64`, shape: { M: items, K: 64, N: 64 }, chunkRows: items },
      { name: `64×${batch}ᵀ·${batch}×64 (split-K)`, shape: { M: 64, K: batch, N: 64, transA: true }, chunkRows: 64 },
    ];
    for (const c of cases) {
      const { M, K, N } = c.shape;
      const chunks = Math.ceil(M / c.chunkRows);
      const name = chunks > 1 ? `${c.name} in ${chunks} row chunks of ${c.chunkRows} (output ${((M * N * 4) / 1e6).toFixed(0)} MB > 128 MiB binding)` : c.name;
      const flops = 2 * M * N * K;
      const bytes = 4 * (M * K + K * N + M * N);
      const heavy = flops > 5e9;
      for (const backend of engineBackends()) {
        const engine = await Engine.create({ backend, quiet: true });
        const b = engine.array(pattern(K * N, 2));
        // Row chunks of A (M×K) map to row chunks of C; transA cases are never chunked.
        const parts: { a: DeviceArray<'f32'>; c: DeviceArray<'f32'>; rows: number }[] = [];
        for (let r0 = 0; r0 < M; r0 += c.chunkRows) {
          const rows = Math.min(c.chunkRows, M - r0);
          parts.push({ a: engine.array(pattern(rows * K, r0)), c: engine.empty('f32', rows * N), rows });
        }
        await ctx.measure(
          'matmul',
          name,
          backend,
          async () => {
            for (const p of parts) matmulKernel(engine, p.a, b, { ...c.shape, M: p.rows }, p.c);
            await engine.sync();
          },
          { flops, bytes, ...(heavy ? { minSamples: 1, maxTime: 1 } : { maxTime: ctx.quick ? 1 : 4 }) },
        );
        await engine.dispose();
      }
      // The same A as the chunks above (each chunk's pattern is salted by its first row).
      const a = new Float32Array(M * K);
      for (let r0 = 0; r0 < M; r0 += c.chunkRows) a.set(pattern(Math.min(c.chunkRows, M - r0) * K, r0), r0 * K);
      runPeers(ctx, 'matmul', name, 'matmul', { a: { data: a, shape: c.shape.transA ? [K, M] : [M, K] }, b: { data: pattern(K * N, 2), shape: [K, N] } }, { transA: c.shape.transA ? 1 : 0 });
    }
  },
};
