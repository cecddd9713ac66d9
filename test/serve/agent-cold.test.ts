/**
 * New users of a served DQN agent: users the GNN has no row for are served by the agent
 * from their window (a spare encoder row built from it), not by popularity.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld, type SyntheticWorld } from '../../src/data/synthetic.js';
import { fromExternal, type Interactions } from '../../src/data/interactions.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { DqnAgent } from '../../src/rl/agents/dqn.js';
import { tablesFromModel, WindowStateEncoder } from '../../src/rl/state/window-state.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/rng.js';
import { meanCI } from './mean-ci.js';

let engine: Engine;
let dir: string;
let world: SyntheticWorld;
let train: Interactions;
let agentFile: string;
let tunedFile: string;
/** Users left out of the GNN's training entirely. */
const coldUsers: number[] = [];

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-agent-cold-'));
  world = syntheticWorld({ nUsers: 400, nItems: 300, dim: 8, meanEvents: 25, clusters: 8, seed: 11 });
  const x = world.interactions;
  for (let u = 320; u < 400; u++) coldUsers.push(u);
  const keep: number[] = [];
  for (let j = 0; j < x.user.length; j++) if (x.user[j] < 320) keep.push(j);
  train = fromExternal({ user: keep.map((j) => `u${x.user[j]}`), item: keep.map((j) => `i${x.item[j]}`) });
  const entry = getModel('lightgcn');
  const model = await entry.create({ engine, train, graph: trainingGraph(train.user, train.item, train.nUsers, train.nItems), options: { dim: 16, seed: 3 } });
  await model.fit(train, { epochs: 30 });
  // The layout `gnnrl rl` writes: <out>/models/<state>.ckpt and <out>/<agent>/agent.ckpt.
  mkdirSync(join(dir, 'run', 'models'), { recursive: true });
  mkdirSync(join(dir, 'run', 'dqn'), { recursive: true });
  await saveTrainedModel(join(dir, 'run', 'models', 'lightgcn.ckpt'), model, entry, train, { bestEpoch: 30, data: 'synthetic', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  const encoder = new WindowStateEncoder(engine, await tablesFromModel(engine, model), 10);
  const agent = await DqnAgent.create({ engine, encoder, slots: 1, slateSize: 1 }, { seed: 5, hidden: [32] });
  agentFile = join(dir, 'run', 'dqn', 'agent.ckpt');
  await saveCheckpoint(agentFile, await agent.state(), { agent: 'dqn', state: 'lightgcn', gnnrl: 'test' });
  agent.dispose();
  encoder.dispose();
  // A fine-tuned twin: its tables (and the target's copy of them) are agent state.
  const tuned = new WindowStateEncoder(engine, await tablesFromModel(engine, model), 10, { fineTune: true });
  const tunedAgent = await DqnAgent.create({ engine, encoder: tuned, slots: 1, slateSize: 1 }, { seed: 5, hidden: [32] });
  mkdirSync(join(dir, 'run', 'dqn-tuned'), { recursive: true });
  tunedFile = join(dir, 'run', 'dqn-tuned', 'agent.ckpt');
  await saveCheckpoint(tunedFile, await tunedAgent.state(), { agent: 'dqn', state: 'lightgcn', gnnrl: 'test' });
  tunedAgent.dispose();
  tuned.dispose();
  model.dispose();
}, 240_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Items of `u` (world index) in the world's log. */
function logged(u: number): number[] {
  const x = world.interactions;
  const out: number[] = [];
  for (let j = 0; j < x.user.length; j++) if (x.user[j] === u) out.push(x.item[j]);
  return [...new Set(out)];
}


/** recall@20 of the recommender's answer minus popularity's, per cold user with 5 observed interactions. */
async function coldGains(rec: Recommender, servedByAgent: boolean): Promise<number[]> {
  const rng = new Rng(8);
  const diffs: number[] = [];
  for (const u of coldUsers) {
    const mine = logged(u).filter((i) => train.itemIds.has(`i${i}`));
    if (mine.length < 10) continue;
    for (let j = mine.length - 1; j > 0; j--) {
      const r = rng.int(j + 1);
      [mine[j], mine[r]] = [mine[r], mine[j]];
    }
    const id = `cold${u}`;
    expect((await rec.recommend(id, 5)).fallback).toBe('popularity');
    const first = mine.slice(0, 5);
    const held = new Set(mine.slice(5).map((i) => `i${i}`));
    rec.observe(first.map((i) => ({ user: id, item: `i${i}`, click: true })));
    await rec.flush();
    const got = await rec.recommend(id, 20);
    expect(got.fallback).toBe(servedByAgent ? undefined : 'popularity');
    const taken = new Set(first.map((i) => `i${i}`));
    const pop = await rec.recommend('nobody', 20 + 5);
    const popList = pop.items.filter((x) => !taken.has(String(x))).slice(0, 20);
    const hit = (items: (string | number)[]) => items.filter((x) => held.has(String(x))).length / held.size;
    diffs.push(hit(got.items) - hit(popList));
  }
  expect(diffs.length).toBeGreaterThan(15);
  return diffs;
}

describe('new users of a served DQN agent', () => {
  test('a cold user with 5 interactions is served by the agent and beats popularity; with the cold rows off (popularity) the same check fails', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 } });
    expect(rec.mode).toBe('agent');
    const ci = meanCI(await coldGains(rec, true));
    expect(ci.lo, `recall@20 gain over popularity ${ci.mean.toFixed(3)} [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}]`).toBeGreaterThan(0);
    // Their feedback is replay like anyone's, and a snapshot keeps them (ids, windows, rows).
    expect((rec.agent as DqnAgent).replaySize).toBeGreaterThan(0);
    const snap = join(dir, 'cold.gnnrl');
    await rec.snapshot(snap);
    const back = await Recommender.load(snap, { engine });
    for (const u of coldUsers.slice(0, 40)) {
      const id = `cold${u}`;
      if (rec.userIndex(id) < 0) continue;
      expect(await back.recommend(id, 10)).toEqual(await rec.recommend(id, 10));
    }
    await back.close();
    await rec.close();

    const off = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { coldUsers: 0 } });
    const ciOff = meanCI(await coldGains(off, false));
    expect(ciOff.lo).not.toBeGreaterThan(0);
    await off.close();
  }, 120_000);

  test('a fine-tuned agent with new users and items resumes from its snapshot bit for bit (its tables, the target\'s tables, cold rows and new items included)', async () => {
    const opts = { engine, online: { intervalMs: 0, maxBatch: 100_000 }, agent: { stateModel: join(dir, 'run', 'models', 'lightgcn.ckpt'), updatesPerBatch: 2, options: { learningStarts: 8, batchSize: 8, targetUpdate: 2 } } };
    const twin = await Recommender.load(tunedFile, opts);
    const feed = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 30 }, (_, j) => ({ user: j % 3 === 0 ? `new${j % 4}` : `u${rng.int(320)}`, item: j % 5 === 2 ? `fresh${j % 3}` : `i${rng.int(300)}`, click: rng.next() < 0.7 }));
    };
    twin.observe(feed(1));
    await twin.flush();
    expect((twin.agent as DqnAgent).updates).toBeGreaterThan(0);
    const snap = join(dir, 'tuned.gnnrl');
    await twin.snapshot(snap);
    const back = await Recommender.load(snap, { engine, online: opts.online });
    const hex = (x: Float32Array | Int32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex');
    const same = async () => {
      const [a, b] = [await (twin.agent as DqnAgent).state(), await (back.agent as DqnAgent).state()];
      expect(Object.keys(a.arrays)).toContain('targetEncoder.users');
      expect(Object.keys(b.arrays).sort()).toEqual(Object.keys(a.arrays).sort());
      for (const name of Object.keys(a.arrays)) expect(hex(b.arrays[name]), name).toBe(hex(a.arrays[name]));
    };
    // The target was synced (targetUpdate 2): its tables are the trained ones, and come back.
    await same();
    twin.observe(feed(2));
    back.observe(feed(2));
    await twin.flush();
    await back.flush();
    await same();
    expect(back.size).toEqual(twin.size);
    for (const id of ['new0', 'new1', 'u3']) expect(await back.recommend(id, 10)).toEqual(await twin.recommend(id, 10));
    await back.close();
    await twin.close();
  });

  test('a new item taken by the takers of an item lands beside it (its co-occurrence neighbours), far above chance', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 } });
    const takers = new Map<number, number[]>();
    for (let j = 0; j < train.user.length; j++) {
      let l = takers.get(train.item[j]);
      if (!l) takers.set(train.item[j], (l = []));
      l.push(train.user[j]);
    }
    const popular = [...takers.entries()].filter(([, l]) => l.length >= 20).map(([i]) => i).slice(0, 10);
    expect(popular.length).toBe(10);
    const overlaps: number[] = [];
    for (const x of popular) {
      const twin = `twin-of-${x}`;
      rec.observe(takers.get(x)!.slice(0, 10).map((u) => ({ user: train.userIds.id(u), item: twin, click: true })));
      await rec.flush();
      const near = new Set((await rec.similarItems(train.itemIds.id(x), 20)).items);
      const mine = (await rec.similarItems(twin, 21)).items.filter((i) => i !== train.itemIds.id(x)).slice(0, 20);
      overlaps.push(mine.filter((i) => near.has(i)).length);
    }
    // Chance: 20 of ~300 items, about 1.3 of 20 in common.
    const mean = overlaps.reduce((a, b) => a + b, 0) / overlaps.length;
    expect(mean, `overlaps ${overlaps.join(' ')}`).toBeGreaterThan(5);
    await rec.close();
  });

  test('past the spare rows, newcomers get popularity', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { coldUsers: 2 } });
    rec.observe(['a', 'b', 'c'].map((user) => ({ user, item: 'i1', click: true })));
    await rec.flush();
    expect((await rec.recommend('a', 5)).fallback).toBeUndefined();
    expect((await rec.recommend('b', 5)).fallback).toBeUndefined();
    expect((await rec.recommend('c', 5)).fallback).toBe('popularity');
    await expect(Recommender.load(agentFile, { engine, agent: { coldUsers: -1 } })).rejects.toThrow(/agent\.coldUsers: expected an integer >= 0, got -1/);
    // Items too: one spare row, so the second new item is shown by popularity only.
    const one = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { newItems: 1 } });
    one.observe(['n1', 'n2'].map((item) => ({ user: 'u1', item, click: true })));
    await one.flush();
    expect(one.size.items).toBe(train.nItems + 2);
    expect((await one.similarItems('n1', 3)).items).toHaveLength(3);
    expect((await one.similarItems('n2', 3)).items).toEqual([]);
    const sc = (await one.score('u1', ['n1', 'n2'])).scores;
    expect(Number.isFinite(sc[0])).toBe(true);
    expect(Number.isNaN(sc[1])).toBe(true);
    expect((await one.recommend('u1', 300, { exclude: 'none' })).items).not.toContain('n2');
    await one.close();
    await rec.close();
  });
});
