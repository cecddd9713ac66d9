import { expect, test } from 'vitest';
import type { Engine } from '../../../src/engine.js';
import { GAT } from '../../../src/models/encoders/gat.js';
import { InteractionGraph } from '../../../src/graph/interaction-graph.js';
import { Rng } from '../../../src/util/rng.js';
import { forEachBackend } from '../../util/backends.js';
import { log } from '../../eval/logs.js';
import { heldOutMetrics, meanLoss, plantedWorld, checkMseAndFeatureInput, type PlantedWorld } from './sage-gat-world.js';

async function finalEmbeddings(engine: Engine, model: GAT): Promise<{ users: Float32Array; items: Float32Array }> {
  const f = await model.factors();
  const [users, items] = (await engine.readMany([f.users as never, f.items as never])) as Float32Array[];
  return { users, items };
}

/** 20 users × 30 items with random events; user 19 and items 25..29 have none. */
function smallLog(seed: number) {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let u = 0; u < 19; u++) {
    const items = new Set<number>();
    const k = 1 + rng.int(5);
    while (items.size < k) items.add(rng.int(25));
    for (const i of items) rows.push([u, i]);
  }
  return log(20, 30, rows);
}

forEachBackend('GAT encoder', (b) => {
  let world: PlantedWorld | null = null;

  test('full-graph training: beats popularity on recall@20 and ndcg@20, and the loss falls over the first epochs', async (ctx) => {
    const engine = b.engine(ctx);
    const w = (world ??= await plantedWorld());
    const model = new GAT(engine, w.graph, { dim: 32, lr: 0.01, batchSize: 512, seed: 1 });
    try {
      const fit = await model.fit(w.train, { epochs: 10 });
      const m = await heldOutMetrics(w, model, engine);
      // Measured after 10 epochs (cpu and webgpu alike, one output head): popularity
      // recall 0.181, ndcg 0.109; GAT recall 0.532, ndcg 0.345 (0.492 / 0.314 with four
      // output heads). The bar: 1.5× popularity on both (observed ≥ 2.9×).
      const context = `model ${JSON.stringify(m)} vs popularity ${JSON.stringify(w.popularity)}`;
      expect(m['recall@20'], context).toBeGreaterThan(1.5 * w.popularity['recall@20']);
      expect(m['ndcg@20'], context).toBeGreaterThan(1.5 * w.popularity['ndcg@20']);
      // Observed epoch losses, both backends: 0.65 0.45 0.39 | 0.36 0.33 0.30: the second
      // triple's mean is 0.66× the first's.
      const h = fit.history;
      expect(meanLoss(h, 3, 6), `losses ${h.map((r) => r.loss.toFixed(3)).join(' ')}`).toBeLessThan(0.8 * meanLoss(h, 0, 3));
    } finally {
      model.dispose();
    }
  });

  test('every node gets a finite embedding, nodes without edges included (their self-loop); state() round-trips through fromState()', async (ctx) => {
    const engine = b.engine(ctx);
    const x = smallLog(3);
    const graph = InteractionGraph.fromInteractions({ users: x.user, items: x.item, nUsers: x.nUsers, nItems: x.nItems }, { ids: 'dense' });
    const model = new GAT(engine, graph, { dim: 12, heads: 3, outputHeads: 2, lr: 0.01, batchSize: 16, seed: 2 });
    await model.fit(x, { epochs: 2 });
    await engine.sync();
    const live = engine.memoryStats().liveBytes;
    await model.fit(x, { epochs: 1 });
    await engine.sync();
    expect(engine.memoryStats().liveBytes, 'live bytes after more training').toBe(live);
    const again = GAT.fromState(engine, graph, await model.state());
    try {
      const f = await finalEmbeddings(engine, model);
      expect(f.users.length).toBe(20 * 12);
      expect(f.items.length).toBe(30 * 12);
      expect(f.users.every(Number.isFinite) && f.items.every(Number.isFinite)).toBe(true);
      for (const row of [f.users.subarray(19 * 12), f.items.subarray(25 * 12)]) expect(row.some((v) => v !== 0)).toBe(true);
      expect(again.heads).toBe(3);
      expect(again.outputHeads).toBe(2);
      const g = await finalEmbeddings(engine, again);
      expect(g.users).toEqual(f.users);
      expect(g.items).toEqual(f.items);
    } finally {
      model.dispose();
      again.dispose();
    }
    expect(() => new GAT(engine, graph, { dim: 10, heads: 4 })).toThrow(/dim \(10\) must be a multiple of heads \(4\)/);
    expect(() => new GAT(engine, graph, { layers: 0 })).toThrow(/layers/);
    expect(() => new GAT(engine, graph, { outputHeads: 0 })).toThrow(/GAT: outputHeads: expected a positive integer, got 0/);
  });
  test('the base options reach this encoder: rating regression (mse) and node-feature input train, loss falling', async (ctx) => {
    const engine = b.engine(ctx);
    await checkMseAndFeatureInput(engine, (graph, opts) => new GAT(engine, graph, opts));
  });
});
