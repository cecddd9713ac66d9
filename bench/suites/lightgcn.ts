/**
 * One LightGCN training epoch (3 layers, d = 64, batch 2,048, BPR with uniform negatives)
 * on the synthetic power-law graph of 2,000,000 interactions (gsyn: 100,000 users ×
 * 50,000 items; a tenth under --quick), WebGPU against the CPU backend, through the
 * public API only (`LightGCN.fit`).
 *
 * Every step propagates over the whole graph (3 SpMMs forward, 3 backward), so on a
 * software adapter a full epoch of ~980 steps takes over an hour. The measured unit is
 * therefore a `fit` that stops after `STEPS` steps (an AbortSignal raised from the
 * progress callback), set-up and the final inference pass included; the epoch time is
 * projected from it as (steps per epoch / STEPS) × that median, which slightly
 * overstates it. The log prints the projection; NOTES.md records it.
 */
import { Engine } from '../../src/engine.js';
import { fromExternal } from '../../src/data/interactions.js';
import { InteractionGraph } from '../../src/graph/interaction-graph.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import { LightGCN } from '../../src/models/encoders/lightgcn.js';
import { engineBackends, type Suite } from '../harness.js';
import { runPeers } from '../peers.js';

const BATCH = 2048;

export const suite: Suite = {
  name: 'lightgcn',
  baseline: 'cpu',
  async run(ctx) {
    const size = ctx.quick ? { nUsers: 10_000, nItems: 5_000, nnz: 200_000 } : { nUsers: 100_000, nItems: 50_000, nnz: 2_000_000 };
    const steps = ctx.quick ? 2 : 4;
    const coo = powerLawInteractions({ ...size, seed: 42 });
    const train = fromExternal({ user: coo.users, item: coo.items, rating: coo.ratings, ts: coo.ts });
    const graph = InteractionGraph.fromInteractions({ users: train.user, items: train.item, nUsers: train.nUsers, nItems: train.nItems });
    const stepsPerEpoch = Math.ceil(train.user.length / BATCH);
    const adj = graph.adjacency();
    ctx.log(`graph: ${train.nUsers} users × ${train.nItems} items, ${train.user.length} interactions, adjacency ${adj.colIdx.length} entries; ${stepsPerEpoch} steps per epoch`);
    const caseName = `gsyn${ctx.quick ? '-quick' : ''} K3 d64 B${BATCH}: ${steps} steps`;
    for (const backend of engineBackends(['cpu', 'webgpu'])) {
      const engine = await Engine.create({ backend });
      const model = new LightGCN(engine, graph, { dim: 64, layers: 3, batchSize: BATCH, seed: 7, syncEvery: steps });
      const runSteps = async () => {
        const stop = new AbortController();
        await model.fit(train, {
          epochs: 1,
          signal: stop.signal,
          onProgress: (p) => {
            if (p.done >= steps * BATCH) stop.abort();
          },
        });
      };
      const row = await ctx.measure('lightgcn', caseName, backend, runSteps, { minSamples: 3, maxTime: ctx.quick ? 1 : 5 });
      const epochSeconds = ((row.median_ms / steps) * stepsPerEpoch) / 1000;
      ctx.log(`${backend}: ${(row.median_ms / steps).toFixed(0)} ms per step (set-up included) → projected epoch ${epochSeconds.toFixed(0)} s`);
      model.dispose();
      graph.releaseDevice(engine);
      await engine.dispose();
    }
    // torch's CPU LightGCN, the same steps on the same adjacency (its own batch draws).
    runPeers(
      ctx,
      'lightgcn',
      caseName,
      'lightgcn',
      { rowPtr: { data: adj.rowPtr, shape: [adj.nRows + 1] }, colIdx: { data: adj.colIdx, shape: [adj.colIdx.length] }, values: { data: adj.values, shape: [adj.colIdx.length] }, users: { data: train.user, shape: [train.user.length] }, items: { data: train.item, shape: [train.item.length] } },
      { nUsers: train.nUsers, nItems: train.nItems, dim: 64, layers: 3, batch: BATCH, steps },
    );
  },
};
