/**
 * Serving: top-20 recommendations from a trained SVD (d 64) over 2,000 and 50,000 items.
 * - In process: `Recommender.recommend` (host factor tables) against the model's own
 *   `recommend` for one user on the engine (the baseline), alone and with a background
 *   stream of `observe` feedback being folded in.
 * - Over HTTP on loopback with autocannon (10 connections, keep-alive): req/s and
 *   p50/p99/p99.9 latency, alone and with concurrent POST /feedback traffic.
 * - During a LightGCN training epoch on the same engine: how long a recommend waits.
 */
import { createRequire } from 'node:module';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { Recommender } from '../../src/serve/recommender.js';
import { RecommendServer } from '../../src/serve/http.js';
import { Rng } from '../../src/util/rng.js';
import type { Suite } from '../harness.js';
import { servedSvd } from '../served-svd.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface CannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number; p99_9?: number; p999?: number; max: number };
  non2xx: number;
  errors: number;
}
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

export const suite: Suite = {
  name: 'serve',
  baseline: 'model-recommend',
  async run(ctx) {
    const engine = await Engine.create({ quiet: true });
    ctx.log(`engine backend: ${engine.backend} (the model-recommend baseline runs there; the recommender scores on the host)`);
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-bench-serve-'));
    try {
      const sizes = ctx.quick ? [2000] : [2000, 50_000];
      for (const nItems of sizes) {
        const file = join(dir, `svd-${nItems}.ckpt`);
        const { x, model } = await servedSvd(engine, nItems, file);
        const rec = await Recommender.load(file, { engine, online: { intervalMs: 20 } });
        const caseName = `top-20 I=${x.nItems} d=64`;
        const rng = new Rng(2);
        const userIds = Array.from({ length: 256 }, () => x.userIds.id(rng.int(x.nUsers)));
        let q = 0;
        await ctx.measure('serve', caseName, 'model-recommend', async () => {
          await model.recommend(Int32Array.of(x.userIds.get(userIds[q++ & 255])), 20);
        });
        await ctx.measure('serve', caseName, 'recommender', async () => {
          await rec.recommend(userIds[q++ & 255], 20);
        });
        // Background feedback: 200 events every 20 ms (10k events/s) while measuring.
        let feeding = true;
        const feed = (async () => {
          while (feeding) {
            const events = Array.from({ length: 200 }, () => ({ user: userIds[rng.int(256)], item: x.itemIds.id(rng.int(x.nItems)), click: true }));
            try {
              rec.observe(events);
            } catch {
              /* queue full: skip a round */
            }
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        await ctx.measure('serve', caseName, 'recommender+observe', async () => {
          await rec.recommend(userIds[q++ & 255], 20);
        });
        feeding = false;
        await feed;
        await rec.flush();
        ctx.log(`${caseName}: ${rec.stats().eventsApplied} events folded in over ${rec.stats().batches} versions during the run`);

        // HTTP on loopback.
        const server = new RecommendServer(rec, { engine });
        const addr = await server.listen(0);
        const url = `http://127.0.0.1:${addr.port}`;
        const duration = ctx.quick ? 2 : 8;
        for (const withFeedback of [false, true]) {
          const requests = [
            ...userIds.slice(0, 64).map((u) => ({ method: 'GET', path: `/recommend?user=${encodeURIComponent(String(u))}&k=20` })),
            ...(withFeedback ? userIds.slice(0, 16).map((u) => ({ method: 'POST', path: '/feedback', body: JSON.stringify({ user: u, item: x.itemIds.id(rng.int(x.nItems)), click: true }) })) : []),
          ];
          const r = await autocannon({ url, connections: 10, pipelining: 1, duration, requests });
          const impl = withFeedback ? 'http+feedback' : 'http';
          const p999 = r.latency.p99_9 ?? r.latency.p999 ?? r.latency.max;
          ctx.log(`${caseName} ${impl}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, p99.9 ${p999} ms (${r.non2xx} non-2xx, ${r.errors} errors)`);
          for (const [name, v] of [['p50', r.latency.p50], ['p99', r.latency.p99], ['p99.9', p999]] as const) {
            ctx.record({ suite: 'serve', case: `${caseName} HTTP ${name}`, impl, median_ms: v, min_ms: v, max_ms: v, samples: 1, rps: Math.round(r.requests.average) });
          }
        }
        await server.close();
        model.dispose();
      }

      // A recommend while a LightGCN epoch runs on the same engine (event-loop wait).
      const world = syntheticWorld({ preset: 'small', seed: 3 });
      const x = world.interactions;
      const lg = getModel('lightgcn');
      const m = await lg.create({ engine, train: x, graph: trainingGraph(x.user, x.item, x.nUsers, x.nItems), options: { dim: 64, seed: 1 } });
      await m.fit(x, { epochs: 1 });
      const file = join(dir, 'lightgcn.ckpt');
      await saveTrainedModel(file, m, lg, x, { bestEpoch: 1, data: 'synthetic:small', split: 'none', val: 0, seed: 1, gnnrl: 'bench' });
      const rec = await Recommender.load(file, { engine });
      const users = Array.from({ length: 64 }, (_, j) => x.userIds.id(j));
      let j = 0;
      await ctx.measure('serve', `top-20 I=${x.nItems} (lightgcn)`, 'recommender', async () => void (await rec.recommend(users[j++ & 63], 20)));
      let training = true;
      const train = (async () => {
        while (training) await m.fit(x, { epochs: 1 });
      })();
      await ctx.measure('serve', `top-20 I=${x.nItems} (lightgcn)`, 'recommender+training', async () => void (await rec.recommend(users[j++ & 63], 20)));
      training = false;
      await train;
      await rec.close();
      m.dispose();
    } finally {
      engine.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
