import { expect, test } from 'vitest';
import type { Engine } from '../../../src/engine.js';
import { GraphSAGE, type GraphSAGEOptions } from '../../../src/models/encoders/sage.js';
import { distinctSeeds, sampleBatch } from '../../../src/models/encoders/sage-batch.js';
import { InteractionGraph } from '../../../src/graph/interaction-graph.js';
import type { Csr } from '../../../src/graph/types.js';
import type { ModelState } from '../../../src/models/types.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { gather } from '../../../src/tensor/ops/gather.js';
import { noGrad } from '../../../src/tensor/autograd.js';
import { Rng } from '../../../src/util/rng.js';
import { forEachBackend } from '../../util/backends.js';
import { expectAllClose, uniformScale } from '../../util/close.js';
import { log } from '../../eval/logs.js';
import { heldOutMetrics, meanLoss, plantedWorld, checkMseAndFeatureInput, type PlantedWorld } from './sage-gat-world.js';

/** Exposes the two encoding paths for comparison. */
class ProbeSAGE extends GraphSAGE {
  sampledRows(ego: Tensor, nodes: Tensor): Tensor {
    return this.encodeNodes(ego, nodes);
  }
  fullRows(ego: Tensor): Tensor {
    return this.encode(ego);
  }
}

/** A log of 30 users × 40 items where users 25..29 and items 35..39 have no events (cold: no edges, never a seed or a neighbour). */
function logWithColdNodes(seed: number) {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let u = 0; u < 25; u++) {
    const items = new Set<number>();
    const k = 2 + rng.int(6);
    while (items.size < k) items.add(rng.int(35));
    for (const i of items) rows.push([u, i]);
  }
  return log(30, 40, rows);
}

function graphOf(x: ReturnType<typeof log>): InteractionGraph {
  return InteractionGraph.fromInteractions({ users: x.user, items: x.item, nUsers: x.nUsers, nItems: x.nItems }, { ids: 'dense' });
}

/** Float64 full-graph GraphSAGE from a state: every layer over all neighbours (A row-normalised). */
function fullGraphReference(state: ModelState, adj: Csr, layers: number, aggregator: 'mean' | 'max'): Float64Array {
  const a = state.arrays;
  const N = adj.nRows;
  let h = Float64Array.from(a['input.embedding']);
  let d = h.length / N;
  const mm = (x: Float64Array, w: ArrayLike<number>, rows: number, k: number, n: number) => {
    const out = new Float64Array(rows * n);
    for (let i = 0; i < rows; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) out[i * n + j] += x[i * k + p] * w[p * n + j];
    return out;
  };
  for (let l = 0; l < layers; l++) {
    const p = (name: string) => a[`encoder.convs.${l}.${name}`];
    const out = p('self.bias').length;
    let src = h;
    let w = d;
    if (aggregator === 'max') {
      w = p('pool.bias').length;
      src = mm(h, p('pool.weight'), N, d, w).map((v, k) => Math.max(0, v + p('pool.bias')[k % w]));
    }
    const agg = new Float64Array(N * w);
    for (let i = 0; i < N; i++) {
      for (let c = 0; c < w; c++) {
        let acc = aggregator === 'max' ? -Infinity : 0;
        for (let e = adj.rowPtr[i]; e < adj.rowPtr[i + 1]; e++) {
          const v = src[adj.colIdx[e] * w + c];
          acc = aggregator === 'max' ? Math.max(acc, v) : acc + adj.values[e] * v;
        }
        agg[i * w + c] = acc === -Infinity ? 0 : acc;
      }
    }
    const selfPart = mm(h, p('self.weight'), N, d, out);
    const neigh = mm(agg, p('neigh.weight'), N, w, out);
    h = selfPart.map((v, k) => {
      const z = v + neigh[k] + p('self.bias')[k % out];
      return l < layers - 1 ? Math.max(0, z) : z;
    });
    d = out;
  }
  return h;
}

async function finalEmbeddings(engine: Engine, model: GraphSAGE): Promise<{ users: Float32Array; items: Float32Array }> {
  const f = await model.factors();
  const [users, items] = (await engine.readMany([f.users as never, f.items as never])) as Float32Array[];
  return { users, items };
}

forEachBackend('GraphSAGE encoder', (b) => {
  let world: PlantedWorld | null = null;
  const planted = async () => (world ??= await plantedWorld());

  for (const aggregator of ['mean', 'max'] as const) {
    test(`${aggregator} aggregator, sampled training: beats popularity on recall@20 and ndcg@20, and the loss falls over the first epochs`, async (ctx) => {
      const engine = b.engine(ctx);
      const w = await planted();
      const model = new GraphSAGE(engine, w.graph, { aggregator, dim: 32, lr: 0.01, batchSize: 512, seed: 1 });
      try {
        const fit = await model.fit(w.train, { epochs: 10 });
        const m = await heldOutMetrics(w, model, engine);
        // Measured after 10 epochs (cpu / webgpu): popularity recall 0.181, ndcg 0.109;
        // mean: recall 0.520 / 0.519, ndcg 0.338 / 0.336; max: recall 0.477 / 0.469,
        // ndcg 0.321 / 0.315. The bar: 1.5× popularity on both (observed ≥ 2.6×).
        const context = `${aggregator}: model ${JSON.stringify(m)} vs popularity ${JSON.stringify(w.popularity)}`;
        expect(m['recall@20'], context).toBeGreaterThan(1.5 * w.popularity['recall@20']);
        expect(m['ndcg@20'], context).toBeGreaterThan(1.5 * w.popularity['ndcg@20']);
        // Observed epoch losses, both backends: mean 0.67 0.47 0.32 | 0.27 0.23 0.19, max
        // 0.65 0.55 0.44 | 0.37 0.31 0.28: the second triple's mean is 0.47× / 0.59× the first's.
        const h = fit.history;
        expect(meanLoss(h, 3, 6), `losses ${h.map((r) => r.loss.toFixed(3)).join(' ')}`).toBeLessThan(0.8 * meanLoss(h, 0, 3));
      } finally {
        model.dispose();
      }
    });
  }

  for (const aggregator of ['mean', 'max'] as const) {
    test(`${aggregator}: sampled training, then full-graph inference embeds every node, including cold nodes never sampled, as a float64 full-graph forward does`, async (ctx) => {
      const engine = b.engine(ctx);
      const x = logWithColdNodes(11);
      const graph = graphOf(x);
      // Tiny fan-outs: most neighbourhoods are subsampled during training.
      const model = new GraphSAGE(engine, graph, { aggregator, dim: 8, lr: 0.02, batchSize: 32, fanouts: [2, 2], seed: 5 });
      try {
        await model.fit(x, { epochs: 2 });
        const f = await finalEmbeddings(engine, model);
        expect(f.users.length).toBe(30 * 8);
        expect(f.items.length).toBe(40 * 8);
        const want = fullGraphReference(await model.state(), graph.adjacency({ norm: 'row' }), 2, aggregator);
        const got = new Float32Array(70 * 8);
        got.set(f.users);
        got.set(f.items, 30 * 8);
        expectAllClose(got, want, { scale: uniformScale(want), context: `(${aggregator})` });
        // Cold users and items: finite and not all zero (their self path carries their own embedding).
        for (const [rows, from, to] of [[f.users, 25, 30], [f.items, 35, 40]] as const) {
          for (let r = from; r < to; r++) {
            const row = rows.subarray(r * 8, (r + 1) * 8);
            expect(row.every(Number.isFinite)).toBe(true);
            expect(row.some((v) => v !== 0)).toBe(true);
          }
        }
      } finally {
        model.dispose();
      }
    });

    test(`${aggregator}: with fan-outs above every degree, the sampled path computes exactly the full-graph rows`, async (ctx) => {
      const engine = b.engine(ctx);
      const x = logWithColdNodes(12);
      const graph = graphOf(x);
      const model = new ProbeSAGE(engine, graph, { aggregator, dim: 8, batchSize: 64, fanouts: [1000, 1000], seed: 2 });
      try {
        await model.fit(x, { epochs: 1 });
        const state = await model.state();
        // Repeats and cold nodes on purpose: seeds are deduplicated, positions mapped back.
        const nodes = Int32Array.from([3, 30 + 4, 3, 0, 29, 69, 30 + 7, 12]);
        const [sampled, full] = await engine.scopeAsync(async () => {
          const ego = Tensor.fromArray(engine, state.arrays['input.embedding'] as Float32Array, [70, 8]);
          return noGrad(() => [model.sampledRows(ego, Tensor.fromArray(engine, nodes)), gather(model.fullRows(ego), nodes)]);
        });
        const [s, fl] = (await engine.readMany([sampled.data, full.data])) as Float32Array[];
        sampled.dispose();
        full.dispose();
        expectAllClose(s, fl, { scale: uniformScale(fl), context: `(${aggregator})` });
      } finally {
        model.dispose();
      }
    });
  }

  test('no device memory grows over further training; state() and fromState() give the same final embeddings; options are checked', async (ctx) => {
    const engine = b.engine(ctx);
    const x = logWithColdNodes(13);
    const graph = graphOf(x);
    const opts: GraphSAGEOptions = { aggregator: 'max', dim: 8, batchSize: 64, fanouts: [3, 2], seed: 4 };
    const model = new GraphSAGE(engine, graph, opts);
    await model.fit(x, { epochs: 1 });
    // Each step's sampled blocks are freed with the step: further training leaves live memory as it was.
    await engine.sync();
    const live = engine.memoryStats().liveBytes;
    await model.fit(x, { epochs: 2 });
    await engine.sync();
    expect(engine.memoryStats().liveBytes).toBe(live);
    const again = GraphSAGE.fromState(engine, graph, await model.state());
    try {
      expect(again.fanouts).toEqual([3, 2]);
      expect(again.aggregator).toBe('max');
      const [a, c] = [await finalEmbeddings(engine, model), await finalEmbeddings(engine, again)];
      expect(c.users).toEqual(a.users);
      expect(c.items).toEqual(a.items);
    } finally {
      model.dispose();
      again.dispose();
    }
    expect(() => new GraphSAGE(engine, graph, { layers: 2, fanouts: [5] })).toThrow(/fanouts: expected 2 positive integers/);
    expect(() => new GraphSAGE(engine, graph, { aggregator: 'sum' as never })).toThrow(/aggregator/);
  });

  test('sampleBatch: distinct seeds mapped back, blocks outermost hop first with destinations a prefix of sources, fan-outs respected', async (ctx) => {
    const engine = b.engine(ctx);
    const x = logWithColdNodes(14);
    const graph = graphOf(x);
    const adj = graph.adjacency({ norm: 'row' });
    const scratch = new Int32Array(70).fill(-1);
    const list = Int32Array.from([5, 30 + 2, 5, 30 + 9, 1, 30 + 2]);
    const { seeds, locals } = distinctSeeds([list], scratch);
    expect([...seeds]).toEqual([5, 32, 39, 1]);
    expect([...locals[0]].map((p) => seeds[p])).toEqual([...list]);
    expect(scratch.every((v) => v === -1)).toBe(true);
    await engine.scopeAsync(async () => {
      const batch = sampleBatch(engine, adj, [list], [3, 2], 9, scratch);
      try {
        const [n0, n1, n2] = batch.layerSizes;
        expect(n0).toBe(4);
        expect(batch.blocks.map((blk) => [blk.nDst, blk.nSrc])).toEqual([
          [n1, n2],
          [n0, n1],
        ]);
        expect(batch.inputNodes.size).toBe(n2);
        expect([...batch.inputNodes.hostIndices!.subarray(0, 4)]).toEqual([...seeds]);
        // The seeds' block: at most 3 neighbours each, weights 1/k.
        const [rowPtr, vals] = await Promise.all([engine.read(batch.blocks[1].a.rowPtr), engine.read(batch.blocks[1].a.values)]);
        for (let r = 0; r < n0; r++) {
          const k = rowPtr[r + 1] - rowPtr[r];
          expect(k).toBeLessThanOrEqual(3);
          for (let e = rowPtr[r]; e < rowPtr[r + 1]; e++) expect(vals[e]).toBeCloseTo(1 / k, 6);
        }
      } finally {
        batch.dispose();
      }
    });
  });
  test('the base options reach this encoder: rating regression (mse) and node-feature input train, loss falling', async (ctx) => {
    const engine = b.engine(ctx);
    await checkMseAndFeatureInput(engine, (graph, opts) => new GraphSAGE(engine, graph, { aggregator: 'max', ...opts }));
  });
});
