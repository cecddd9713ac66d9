/**
 * Batched Q-targets over the whole catalogue (B next states × I items × d): gnnrl's fused
 * tiled kernel against TF.js's WebGPU backend doing the same work (matMul, then max and
 * argMax per row; chunked by rows because B × I scores exceed the 128 MiB binding limit
 * of software adapters), and against the CPU backend at a smaller B (the CPU reference at
 * B = 4096 takes minutes per run). Also top-100 items per user for serving and slates:
 * gnnrl's chunked scoring + radix select against TF.js's matMul + topk.
 */
import { Engine } from '../../src/engine.js';
import { qTargets } from '../../src/kernels/qtarget.js';
import { topK } from '../../src/kernels/topk.js';
import { Rng } from '../../src/util/rng.js';
import { loadTfjsWebGpu } from '../tfjs.js';
import { engineBackends, type Suite } from '../harness.js';
import { runPeers } from '../peers.js';

function randomArray(rng: Rng, n: number, scale = 0.1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

export const suite: Suite = {
  name: 'qtarget',
  baseline: 'tfjs-webgpu',
  async run(ctx) {
    const nItems = ctx.quick ? 5_000 : 50_000;
    const d = 64;
    const rng = new Rng(3);
    const items = randomArray(rng, nItems * d);
    const itemsTarget = randomArray(rng, nItems * d);
    const sizes = ctx.quick ? [256] : [4096, 512];
    for (const batch of sizes) {
      const next = randomArray(rng, batch * d, 1);
      const reward = randomArray(rng, batch, 1);
      const done = new Float32Array(batch);
      const flops = 2 * batch * nItems * d;
      const bytes = (batch * d + 2 * nItems * d + 3 * batch) * 4;
      const caseName = `B=${batch} I=${nItems} d=${d}`;
      const native = engineBackends().includes('native') ? (['native'] as const) : [];
      const impls: ('webgpu' | 'cpu' | 'native' | 'tfjs-webgpu')[] = ctx.quick ? ['webgpu', 'tfjs-webgpu', 'cpu', ...native] : batch === 4096 ? ['webgpu', 'tfjs-webgpu', ...native] : ['webgpu', 'cpu', ...native];
      for (const impl of impls) {
        if (impl === 'tfjs-webgpu') {
          const tf = await loadTfjsWebGpu();
          const S = tf.tensor2d(next, [batch, d]);
          const E = tf.tensor2d(items, [nItems, d]);
          const ET = tf.tensor2d(itemsTarget, [nItems, d]);
          const R = tf.tensor1d(reward);
          const chunk = Math.max(1, Math.floor((64 << 20) / (nItems * 4)));
          await ctx.measure('qtarget', caseName, impl, async () => {
            const ys = tf.tidy(() => {
              const parts = [];
              for (let r0 = 0; r0 < batch; r0 += chunk) {
                const s = tf.slice(S, [r0, 0], [Math.min(chunk, batch - r0), d]);
                // Double DQN: argmax from the online table, value from the target table.
                const a = tf.argMax(tf.matMul(s, E, false, true), 1);
                const q = tf.sum(tf.mul(s, tf.gather(ET, a)), 1);
                parts.push(q);
              }
              return tf.add(R, tf.mul(tf.concat(parts), 0.9));
            });
            await ys.data();
            ys.dispose();
          }, { flops, bytes, minSamples: 3, maxTime: ctx.quick ? 1 : 20 });
          tf.dispose([S, E, ET, R]);
          continue;
        }
        const engine = await Engine.create({ backend: impl });
        const args = {
          next: engine.array(next),
          batch,
          dim: d,
          nItems,
          online: engine.array(items),
          target: engine.array(itemsTarget),
          reward: engine.array(reward),
          done: engine.array(done),
          gamma: 0.9,
          double: true,
        };
        await ctx.measure('qtarget', caseName, impl, async () => {
          const r = qTargets(engine, args);
          await engine.read(r.y);
          engine.free(r.y);
          engine.free(r.argmax);
        }, { flops, bytes, minSamples: impl === 'cpu' ? 2 : 3, maxTime: ctx.quick ? 1 : 20 });
        await engine.dispose();
      }
      runPeers(ctx, 'qtarget', caseName, 'qtarget', { next: { data: next, shape: [batch, d] }, online: { data: items, shape: [nItems, d] }, target: { data: itemsTarget, shape: [nItems, d] }, reward: { data: reward, shape: [batch] } }, { gamma: 0.9 });
    }
    await topKCases(ctx, items, nItems, d, rng);
  },
};

/** Top-100 recommendations for B users over the whole catalogue. */
async function topKCases(ctx: Parameters<Suite['run']>[0], items: Float32Array, nItems: number, d: number, rng: Rng): Promise<void> {
  const batch = ctx.quick ? 128 : 1024;
  const k = 100;
  const queries = randomArray(rng, batch * d, 1);
  const caseName = `top-${k} B=${batch} I=${nItems} d=${d}`;
  const flops = 2 * batch * nItems * d;
  const bytes = (batch * d + nItems * d + 2 * batch * k) * 4;
  const tf = await loadTfjsWebGpu();
  const Q = tf.tensor2d(queries, [batch, d]);
  const E = tf.tensor2d(items, [nItems, d]);
  const chunk = Math.max(1, Math.floor((64 << 20) / (nItems * 4)));
  await ctx.measure('qtarget', caseName, 'tfjs-webgpu', async () => {
    const parts = tf.tidy(() => {
      const out = [];
      for (let r0 = 0; r0 < batch; r0 += chunk) {
        const scores = tf.matMul(tf.slice(Q, [r0, 0], [Math.min(chunk, batch - r0), d]), E, false, true);
        out.push(tf.topk(scores, k).indices);
      }
      return tf.concat(out);
    });
    await parts.data();
    parts.dispose();
  }, { flops, bytes, minSamples: 3, maxTime: ctx.quick ? 1 : 10 });
  tf.dispose([Q, E]);
  for (const impl of engineBackends()) {
    const engine = await Engine.create({ backend: impl });
    const args = { queries: engine.array(queries), batch, dim: d, items: engine.array(items), nItems, k };
    await ctx.measure('qtarget', caseName, impl, async () => {
      const r = topK(engine, args);
      await engine.read(r.indices);
      engine.free(r.indices);
      engine.free(r.scores);
    }, { flops, bytes, minSamples: impl === 'cpu' ? 2 : 3, maxTime: ctx.quick ? 1 : 10 });
    await engine.dispose();
  }
  runPeers(ctx, 'qtarget', caseName, 'topk', { queries: { data: queries, shape: [batch, d] }, items: { data: items, shape: [nItems, d] } }, { k });
}
