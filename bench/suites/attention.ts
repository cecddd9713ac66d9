/**
 * Sequence self-attention for short-term interest: B = 4096 users × L = 32 recent items,
 * d = 64, causal, T-self-attention pooling. gnnrl's fused kernel against TF.js's WebGPU
 * backend (batched matMul, softmax with a causal mask, matMul, weighted sum) and the CPU
 * backend (at B = 512: the float64 reference is slow).
 */
import { Engine } from '../../src/engine.js';
import { recencyWeights, seqAttention } from '../../src/kernels/seq-attention.js';
import { Rng } from '../../src/util/rng.js';
import { loadTfjsWebGpu } from '../tfjs.js';
import { engineBackends, type Suite } from '../harness.js';

export const suite: Suite = {
  name: 'attention',
  baseline: 'tfjs-webgpu',
  async run(ctx) {
    const L = 32;
    const d = 64;
    const rng = new Rng(11);
    for (const B of ctx.quick ? [256] : [4096, 512]) {
      const n = B * L * d;
      const q = Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
      const k = Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
      const v = Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
      const shape = { batch: B, len: L, d, dv: d, causal: true, weights: recencyWeights(L) };
      // QKᵀ and P·V over the causal half, plus softmax and pooling.
      const flops = 2 * 2 * B * ((L * (L + 1)) / 2) * d;
      const bytes = 3 * n * 4 + B * d * 4;
      const caseName = `B=${B} L=${L} d=${d} causal pooled`;
      const native = engineBackends().includes('native') ? (['native'] as const) : [];
      const impls: ('webgpu' | 'cpu' | 'native' | 'tfjs-webgpu')[] = ctx.quick ? ['webgpu', 'tfjs-webgpu', 'cpu', ...native] : B === 4096 ? ['webgpu', 'tfjs-webgpu', ...native] : ['webgpu', 'cpu', ...native];
      for (const impl of impls) {
        if (impl === 'tfjs-webgpu') {
          const tf = await loadTfjsWebGpu();
          const Q = tf.tensor3d(q, [B, L, d]);
          const K = tf.tensor3d(k, [B, L, d]);
          const V = tf.tensor3d(v, [B, L, d]);
          const mask = tf.tensor2d(Float32Array.from({ length: L * L }, (_, i) => (i % L <= Math.floor(i / L) ? 0 : -1e9)), [L, L]);
          const w = tf.tensor3d(shape.weights, [1, L, 1]);
          await ctx.measure('attention', caseName, impl, async () => {
            const pooled = tf.tidy(() => {
              const s = tf.add(tf.mul(tf.matMul(Q, K, false, true), 1 / Math.sqrt(d)), mask);
              const z = tf.matMul(tf.softmax(s), V);
              return tf.sum(tf.mul(z, w), 1);
            });
            await pooled.data();
            pooled.dispose();
          }, { flops, bytes, minSamples: 3, maxTime: ctx.quick ? 1 : 10 });
          tf.dispose([Q, K, V, mask, w]);
          continue;
        }
        const engine = await Engine.create({ backend: impl });
        const [Q, K, V] = [q, k, v].map((x) => engine.array(x));
        await ctx.measure('attention', caseName, impl, async () => {
          const r = seqAttention(engine, shape, Q, K, V);
          await engine.read(r.pooled!);
          engine.free(r.z);
          engine.free(r.pooled!);
          engine.free(r.rowStat);
        }, { flops, bytes, minSamples: impl === 'cpu' ? 2 : 3, maxTime: ctx.quick ? 1 : 10 });
        await engine.dispose();
      }
    }
  },
};
