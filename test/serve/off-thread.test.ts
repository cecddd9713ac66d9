/**
 * Serving off the event loop on the native backend: a recommend is scored and selected
 * by the addon's async top-K on a libuv worker, so it is answered while a drain (an
 * agent's update, a refresh) is in flight, from one version, with that version's
 * scores. Skipped only when the addon does not load and GNNRL_REQUIRE_NATIVE is unset.
 *
 * Scores: the native path's are the kernel's f32 sums, so they are compared with the
 * same kernel run synchronously on the version's own arrays (bit for bit), and with the
 * host path (`filter: () => true` forces it) to 1e-4, same items.
 */
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { tablesFromModel, WindowStateEncoder } from '../../src/rl/state/window-state.js';
import { DqnAgent } from '../../src/rl/agents/dqn.js';
import { Recommender, type RecommendResponse } from '../../src/serve/recommender.js';
import { trainItems, type ServedVersion } from '../../src/serve/served-version.js';
import { nativeAsyncKernels, nativeKernels } from '../../src/native.js';

let engine: Engine | null = null;
let unavailable = '';
let dir: string;
let factorFile: string;
let agentFile: string;

beforeAll(async () => {
  try {
    engine = await Engine.create({ backend: 'native', quiet: true });
    if (!nativeAsyncKernels()) throw new Error('the addon has no async kernels');
  } catch (e) {
    if (process.env.GNNRL_REQUIRE_NATIVE === '1') throw e;
    unavailable = (e as Error).message;
    console.warn(`skipping native serving cases: ${unavailable}`);
    engine = null;
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-offthread-'));
  const world = syntheticWorld({ nUsers: 300, nItems: 700, dim: 8, meanEvents: 12, seed: 4 });
  const x = world.interactions;
  const entry = getModel('svd');
  const model = await entry.create({ engine, train: x, options: { dim: 16, seed: 1 } });
  await model.fit(x, { epochs: 1 });
  mkdirSync(join(dir, 'run', 'models'), { recursive: true });
  factorFile = join(dir, 'run', 'models', 'svd.ckpt');
  await saveTrainedModel(factorFile, model, entry, x, { bestEpoch: 1, data: 'synthetic', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  const encoder = new WindowStateEncoder(engine, await tablesFromModel(engine, model), 4);
  const dqn = await DqnAgent.create({ engine, encoder, slots: 1, slateSize: 1 }, { hidden: [16], seed: 1 });
  agentFile = join(dir, 'run', 'dqn', 'agent.ckpt');
  await saveCheckpoint(agentFile, await dqn.state(), { agent: 'dqn', state: 'svd', env: 'test', steps: 0, seed: 1 });
  dqn.dispose();
  encoder.dispose();
  model.dispose();
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function native(ctx: TestContext): Engine {
  if (!engine) ctx.skip(`native backend unavailable: ${unavailable}`);
  return engine!;
}

/** Version v's top-k for user u by the same kernel, run synchronously on v's own arrays. */
function reference(v: ServedVersion, u: number, k: number): { items: (string | number)[]; scores: number[] } {
  const { users: U, items: V } = v.factors!;
  const skip = new Set<number>([...v.unranked, ...trainItems(v.seen, u), ...(v.seen.added.get(u) ?? [])]);
  const colIdx = Int32Array.from([...skip].filter((i) => i < V.rows)).sort();
  const t = V.kernelArrays();
  const idx = new Int32Array(k);
  const sc = new Float32Array(k);
  nativeKernels().topk({ queries: Float32Array.from(U.row(u)), batch: 1, dim: V.dim, items: t.data, nItems: V.rows, ...(t.bias ? { bias: t.bias } : {}), ...(colIdx.length ? { excludeRowPtr: Int32Array.of(0, colIdx.length), excludeColIdx: colIdx } : {}), k }, idx, sc);
  const n = idx.findIndex((i) => i < 0);
  const m = n < 0 ? k : n;
  return { items: Array.from(idx.subarray(0, m), (i) => v.itemIds.id(i)), scores: Array.from(sc.subarray(0, m)) };
}

function expectNear(got: RecommendResponse, host: RecommendResponse): void {
  expect(got.items).toEqual(host.items);
  got.scores.forEach((s, j) => expect(Math.abs(s - host.scores[j])).toBeLessThan(1e-4));
}

describe('serving off the event loop [native]', () => {
  test('a factor model: the async top-K answers what the host path answers, with the kernel\'s own scores', async (ctx) => {
    const e = native(ctx);
    const rec = await Recommender.load(factorFile, { engine: e, online: { intervalMs: 0 } });
    const v = rec.currentVersion();
    for (const u of [0, 5, 42, 299]) {
      const id = v.userIds.id(u);
      const got = await rec.recommend(id, 20);
      expect(got.version).toBe(v.version);
      expect(got).toEqual({ ...reference(v, u, 20), version: v.version });
      expectNear(got, await rec.recommend(id, 20, { filter: () => true }));
    }
    // After fold-in (an overlay on the user table, appended items): still the version's own answer.
    rec.observe([{ user: v.userIds.id(5), item: v.itemIds.id(3), click: true }, { user: 'newcomer', item: v.itemIds.id(9), click: true }, { user: v.userIds.id(7), item: 'fresh', click: true }]);
    await rec.flush();
    const v2 = rec.currentVersion();
    for (const id of [v.userIds.id(5), 'newcomer', v.userIds.id(7)]) {
      const got = await rec.recommend(id, 10);
      expect(got).toEqual({ ...reference(v2, v2.userIds.get(id), 10), version: v2.version });
      expectNear(got, await rec.recommend(id, 10, { filter: () => true }));
    }
    await rec.close();
  });

  test('a served agent: a recommend issued while an update is in flight resolves before that update completes, from one version, with its scores', async (ctx) => {
    const e = native(ctx);
    const rec = await Recommender.load(agentFile, { engine: e, online: { intervalMs: 0 }, agent: { updatesPerBatch: 2, coldUsers: 0, newItems: 0, options: { learningStarts: 8, batchSize: 8 } } });
    const v0 = rec.currentVersion();
    rec.observe(Array.from({ length: 16 }, (_, j) => ({ user: v0.userIds.id(j), item: v0.itemIds.id(j + 1), click: true })));
    await rec.flush(); // replay is warm from here on
    const agent = rec.agent!;
    const updates0 = agent.updates;
    // A hook in the agent's update: the drain's first update waits on a gate the test opens.
    const realUpdate = agent.update.bind(agent);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let entered!: () => void;
    const inUpdate = new Promise<void>((r) => (entered = r));
    let completed = false;
    agent.update = async () => {
      entered();
      await gate;
      const r = await realUpdate();
      completed = true;
      return r;
    };
    const v = rec.currentVersion();
    rec.observe(Array.from({ length: 4 }, (_, j) => ({ user: v.userIds.id(j), item: v.itemIds.id(j + 40), click: true })));
    const drained = rec.flush();
    await inUpdate;
    // The drain is inside an update: requests are answered now, by the version before it.
    const users = [1, 2, 3, 250].map((u) => v.userIds.id(u));
    const during = await Promise.all(users.map((id) => rec.recommend(id, 12)));
    expect(completed).toBe(false);
    expect(agent.updates).toBe(updates0);
    const cur = rec.currentVersion();
    during.forEach((r, j) => {
      expect(r.version).toBe(cur.version);
      expect(r).toEqual({ ...reference(cur, cur.userIds.get(users[j]), 12), version: cur.version });
    });
    open();
    await drained;
    agent.update = realUpdate;
    expect(completed).toBe(true);
    expect(agent.updates).toBeGreaterThan(updates0);
    const after = rec.currentVersion();
    expect(after.version).toBeGreaterThan(cur.version);
    for (const id of users) {
      const r = await rec.recommend(id, 12);
      expect(r).toEqual({ ...reference(after, after.userIds.get(id), 12), version: after.version });
      expectNear(r, await rec.recommend(id, 12, { filter: () => true }));
    }
    await rec.close();
  });
});
