/**
 * Element-wise and row-softmax throughput on a 4096×50,000 score matrix (a batch of
 * users against a catalogue). 819 MB per operand is over the 128 MiB storage-binding
 * limit, so the matrix is held as row chunks of 512 (102 MB each, each its own buffer)
 * and every op runs chunk by chunk — the way the engine must process it too.
 */
import { Engine } from '../../src/engine.js';
import { binaryKernel, unaryKernel } from '../../src/kernels/elementwise.js';
import { softmaxKernel } from '../../src/kernels/softmax.js';
import type { DeviceArray } from '../../src/backend/arrays.js';
import type { Suite } from '../harness.js';

function pattern(n: number, salt: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (((i + salt) * 2654435761) >>> 0) / 4294967296 - 0.5;
  return a;
}

export const suite: Suite = {
  name: 'elementwise',
  baseline: 'cpu',
  async run(ctx) {
    const rows = ctx.quick ? 1024 : 4096;
    const cols = ctx.quick ? 5_000 : 50_000;
    // 512 rows × 50,000 = 102 MB per chunk; --quick sizes fit one binding and run unchunked.
    const chunkRows = rows * cols * 4 > 128 * 2 ** 20 ? 512 : rows;
    const chunks = Math.ceil(rows / chunkRows);
    const n = rows * cols;
    const shape = `${rows}×${cols}${chunks > 1 ? ` in ${chunks} row chunks of ${chunkRows}` : ''}`;
    for (const backend of ['webgpu', 'cpu'] as const) {
      const engine = await Engine.create({ backend, quiet: true });
      const parts: { x: DeviceArray<'f32'>; y: DeviceArray<'f32'>; r: number }[] = [];
      for (let r0 = 0; r0 < rows; r0 += chunkRows) {
        const r = Math.min(chunkRows, rows - r0);
        parts.push({ x: engine.array(pattern(r * cols, r0)), y: engine.empty('f32', r * cols), r });
      }
      const bias = engine.array(pattern(cols, 99));
      const opts = { maxTime: ctx.quick ? 1 : 3, minSamples: ctx.quick ? 3 : 5 };
      await ctx.measure('elementwise', `relu ${shape}`, backend, async () => {
        for (const p of parts) unaryKernel(engine, 'relu', p.x, p.y);
        await engine.sync();
      }, { ...opts, flops: n, bytes: 8 * n });
      await ctx.measure('elementwise', `sigmoid ${shape}`, backend, async () => {
        for (const p of parts) unaryKernel(engine, 'sigmoid', p.x, p.y);
        await engine.sync();
      }, { ...opts, flops: 4 * n, bytes: 8 * n });
      await ctx.measure('elementwise', `add row-vector ${shape}`, backend, async () => {
        for (const p of parts) binaryKernel(engine, 'lincomb', p.x, bias, p.y, { rows: p.r, cols, aRs: cols, aCs: 1, bRs: 0, bCs: 1 }, { alpha: 1, beta: 1 });
        await engine.sync();
      }, { ...opts, flops: n, bytes: 8 * n });
      await ctx.measure('elementwise', `softmax rows ${shape}`, backend, async () => {
        for (const p of parts) softmaxKernel(engine, p.x, p.r, cols, false, p.y);
        await engine.sync();
      }, { ...opts, flops: 5 * n, bytes: 8 * n });
      await engine.dispose();
    }
  },
};
