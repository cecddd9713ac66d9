/**
 * Profile of LightGCN training steps on WebGPU (issue #17): per kernel, how many
 * dispatches and how much GPU time (timestamp queries), how many submits and readbacks,
 * and how much of the wall time the GPU accounts for, over `--steps` steps after one
 * warm-up step. Same model and graph as bench/suites/lightgcn.ts (gsyn: 100,000 users ×
 * 50,000 items, 2M interactions, 3 layers, d = 64, batch 2,048; `--quick` a tenth).
 *
 *   node --import tsx bench/profile-lightgcn.ts [--quick] [--steps 3]
 */
import { cpus } from 'node:os';
import { Engine } from '../src/engine.js';
import { fromExternal } from '../src/data/interactions.js';
import { InteractionGraph } from '../src/graph/interaction-graph.js';
import { powerLawInteractions } from '../src/graph/powerlaw.js';
import { LightGCN } from '../src/models/encoders/lightgcn.js';

const BATCH = 2048;

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const si = process.argv.indexOf('--steps');
  const steps = si >= 0 ? Number(process.argv[si + 1]) : 3;
  const size = quick ? { nUsers: 10_000, nItems: 5_000, nnz: 200_000 } : { nUsers: 100_000, nItems: 50_000, nnz: 2_000_000 };
  const coo = powerLawInteractions({ ...size, seed: 42 });
  const train = fromExternal({ user: coo.users, item: coo.items, rating: coo.ratings, ts: coo.ts });
  const graph = InteractionGraph.fromInteractions({ users: train.user, items: train.item, nUsers: train.nUsers, nItems: train.nItems });
  const engine = await Engine.create({ backend: 'webgpu', timing: true, quiet: true });
  const gpu = engine.gpu;
  const model = new LightGCN(engine, graph, { dim: 64, layers: 3, batchSize: BATCH, seed: 7, syncEvery: 1 });
  const run = async (n: number) => {
    const stop = new AbortController();
    await model.fit(train, { epochs: 1, signal: stop.signal, onProgress: (p) => p.done >= n * BATCH && stop.abort() });
  };
  await run(1); // warm-up: pipelines compiled, adjacency uploaded
  await gpu.takeTimings();
  const submits0 = gpu.submitCount;
  const t0 = performance.now();
  await run(steps);
  const wall = performance.now() - t0;
  const timings = await gpu.takeTimings();
  const submits = gpu.submitCount - submits0;
  const byKernel = new Map<string, { n: number; ms: number }>();
  for (const t of timings) {
    const k = byKernel.get(t.kernel) ?? { n: 0, ms: 0 };
    k.n++;
    k.ms += t.ms;
    byKernel.set(t.kernel, k);
  }
  const gpuMs = timings.reduce((s, t) => s + t.ms, 0);
  console.log(`LightGCN ${steps} steps (a fit stopped after them, set-up and final inference included), ${train.user.length} interactions, adapter ${engine.adapter?.description}, cpu ${cpus()[0]?.model} × ${cpus().length}`);
  console.log(`wall ${wall.toFixed(0)} ms; GPU (timestamp) ${gpuMs.toFixed(0)} ms = ${((100 * gpuMs) / wall).toFixed(0)}% of wall; ${timings.length} dispatches, ${submits} submits`);
  console.log('kernel                          dispatches    GPU ms   share');
  for (const [k, v] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`${k.padEnd(32)}${String(v.n).padStart(10)}${v.ms.toFixed(1).padStart(10)}${((100 * v.ms) / gpuMs).toFixed(1).padStart(7)}%`);
  }
  model.dispose();
  graph.releaseDevice(engine);
  await engine.dispose();
}

main();
