import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { rlCommand } from '../../src/cli/rl.js';
import type { DqnAgent } from '../../src/rl/agents/dqn.js';
import { Recommender } from '../../src/serve/recommender.js';
import { observationOf } from '../../src/serve/agent-source.js';
import { RecommendServer } from '../../src/serve/http.js';
import { decodeSnapshot, encodeSnapshot } from '../../src/serve/snapshot.js';

let engine: Engine;
let dir: string;
let agentFile: string;

const sink = () => ({ write: () => true }) as unknown as NodeJS.WritableStream;

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-agent-'));
  const out = join(dir, 'run');
  const code = await rlCommand(
    ['--env', 'sim:tiny', '--agent', 'dqn', '--steps', '150', '--episodes', '16', '--curve-points', '1', '--curve-episodes', '16', '--backend', 'cpu', '--quiet', '--agent-options', '{"dqn":{"learningStarts":256,"updatesPerStep":1}}', '--out', out],
    { stdout: sink(), stderr: sink() } as never,
  );
  expect(code).toBe(0);
  agentFile = join(out, 'dqn', 'agent.ckpt');
}, 240_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('serving a gnnrl rl DQN agent', () => {
  test('recommendations are the agent\'s own greedy ranking of each user\'s window', async () => {
    const rec = await Recommender.load(agentFile, { engine });
    expect(rec.mode).toBe('agent');
    const agent = (rec.agent as DqnAgent);
    const v = rec.currentVersion();
    const H = Number((await agent.state()).config.historyLen);
    for (const u of [0, 3, 17]) {
      const id = v.userIds.id(u);
      const got = await rec.recommend(id, 8, { exclude: 'none' });
      const windows = (rec as unknown as { served: { windows: Int32Array } }).served.windows;
      const obs = observationOf(Int32Array.of(u), windows.slice(u * H, u * H + H), H);
      const want = await agent.rank(obs, 8, { rowPtr: Int32Array.of(0, 0), colIdx: new Int32Array(0) });
      expect(got.items).toEqual(Array.from(want, (i) => v.itemIds.id(i)));
    }
    await rec.close();
  });

  test('feedback moves the user\'s window, becomes replay, and updates the network once replay is warm', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { updatesPerBatch: 2, options: { learningStarts: 8, batchSize: 8 } } });
    const agent = (rec.agent as DqnAgent);
    const v = rec.currentVersion();
    const user = v.userIds.id(2);
    const before = await rec.recommend(user, 5, { exclude: 'none' });
    const itemsBefore = v.factors!.items.dense();
    const replay0 = agent.replaySize;
    const taken = before.items[0];
    rec.observe({ user, item: taken, click: true });
    await rec.flush();
    expect(agent.replaySize).toBe(replay0 + 1);
    const windows = (rec as unknown as { served: { windows: Int32Array } }).served.windows;
    const H = windows.length / v.nUsers;
    expect(windows[2 * H + H - 1]).toBe(v.itemIds.get(taken));
    // Not warm yet (replay of 1 < 8): only that user's row changed, the item head did not.
    const v2 = rec.currentVersion();
    expect(Array.from(v2.factors!.items.dense())).toEqual(Array.from(itemsBefore));
    expect(v2.version).toBe(2);
    // Ten more events warm replay: the next drain runs updates and moves the item head.
    const u0 = agent.updates;
    rec.observe(Array.from({ length: 10 }, (_, j) => ({ user: v.userIds.id(j), item: v.itemIds.id(j + 1), click: j % 2 === 0 })));
    await rec.flush();
    expect(agent.updates).toBeGreaterThan(u0);
    expect(Array.from(rec.currentVersion().factors!.items.dense())).not.toEqual(Array.from(itemsBefore));
    // A user the GNN has no row for gets popularity until their first positive, then a cold row.
    expect((await rec.recommend('stranger', 3)).fallback).toBe('popularity');
    rec.observe({ user: 'stranger', item: v.itemIds.id(4), click: true });
    await rec.flush();
    expect((await rec.recommend('stranger', 3)).fallback).toBeUndefined();
    // An item first seen in feedback takes a spare Q-head row: it is scored, ranked and has neighbours.
    rec.observe([2, 5, 9].map((u) => ({ user: v.userIds.id(u), item: 'new-item', click: true })));
    await rec.flush();
    expect(rec.size.items).toBe(v.nItems + 1);
    expect(Number.isFinite((await rec.score(v.userIds.id(3), ['new-item'])).scores[0])).toBe(true);
    expect((await rec.recommend(v.userIds.id(3), 3, { filter: (i) => i === 'new-item' })).items).toEqual(['new-item']);
    expect((await rec.similarItems('new-item', 3)).items).toHaveLength(3);
    await rec.close();
    // With no spare rows, a new item counts for popularity only.
    const fixed = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { newItems: 0 } });
    fixed.observe({ user: v.userIds.id(2), item: 'new-item', click: true });
    await fixed.flush();
    expect(fixed.size.items).toBe(v.nItems);
    await fixed.close();
  });

  /** Feedback of known users and two newcomers, on known items and two new ones, the same for the same seed. */
  function events(seed: number, n: number, v: { userIds: { id(u: number): string | number }; itemIds: { id(i: number): string | number } }, nUsers: number, nItems: number) {
    const out: { user: string | number; item: string | number; click: boolean }[] = [];
    let x = seed;
    const next = (m: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % m);
    for (let j = 0; j < n; j++) {
      const user = j % 5 === 0 ? `newbie${j % 2}` : v.userIds.id(next(nUsers));
      out.push({ user, item: j % 7 === 3 ? `fresh${j % 2}` : v.itemIds.id(next(nItems)), click: next(3) > 0 });
    }
    return out;
  }

  const bits = (a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

  test.each([['uniform', false], ['prioritised', true]] as const)('a snapshot resumes the same agent (%s replay): the same answers, and after the same feedback the same weights, Adam state and replay as its un-snapshotted twin', async (_, prioritized) => {
    const online = { intervalMs: 0, maxBatch: 100_000 };
    const twin = await Recommender.load(agentFile, { engine, online, agent: { updatesPerBatch: 2, options: { learningStarts: 8, batchSize: 8, prioritized } } });
    const v = twin.currentVersion();
    twin.observe(events(1, 40, v, v.nUsers, v.nItems));
    await twin.flush();
    expect((twin.agent as DqnAgent).updates).toBeGreaterThan(0);
    const snap = join(dir, 'agent-rt.gnnrl');
    await twin.snapshot(snap);
    // No agent options: the snapshot carries them (and the GNN: no stateModel needed).
    const back = await Recommender.load(snap, { engine, online });
    expect(back.mode).toBe('agent');
    expect(back.version).toBe(twin.version);
    expect(back.size).toEqual(twin.size);
    expect((back.agent as DqnAgent).replaySize).toBe((twin.agent as DqnAgent).replaySize);
    expect((back.agent as DqnAgent).updates).toBe((twin.agent as DqnAgent).updates);
    const ids = ['newbie0', 'newbie1', v.userIds.id(0), v.userIds.id(7), v.userIds.id(v.nUsers - 1)];
    for (const id of ids) expect(await back.recommend(id, 10)).toEqual(await twin.recommend(id, 10));
    expect((await back.recommend('newbie0', 10)).fallback).toBeUndefined();
    expect(back.size.items).toBe(v.nItems + 2);
    expect((await back.similarItems('fresh1', 5)).items).toEqual((await twin.similarItems('fresh1', 5)).items);
    // The same further feedback: the same network, optimiser, replay and RNG, bit for bit.
    const more = events(2, 40, v, v.nUsers, v.nItems);
    twin.observe(more);
    back.observe(more);
    await twin.flush();
    await back.flush();
    const [a, b] = [await (twin.agent as DqnAgent).state(), await (back.agent as DqnAgent).state()];
    expect(Object.keys(b.arrays).sort()).toEqual(Object.keys(a.arrays).sort());
    for (const name of Object.keys(a.arrays)) expect(bits(b.arrays[name]), name).toBe(bits(a.arrays[name]));
    const [la, lb] = [await (twin.agent as DqnAgent).learnerState(), await (back.agent as DqnAgent).learnerState()];
    expect('priorities' in la.replay).toBe(prioritized);
    for (const part of ['optimizer', 'replay'] as const) {
      expect(Object.keys(lb[part]).sort()).toEqual(Object.keys(la[part]).sort());
      for (const name of Object.keys(la[part])) expect(bits(lb[part][name]), `${part}.${name}`).toBe(bits(la[part][name]));
    }
    expect(lb.rng).toEqual(la.rng);
    for (const id of ids) expect(await back.recommend(id, 10)).toEqual(await twin.recommend(id, 10));
    // A snapshot of the resumed agent holds what one of the twin holds.
    const [da, db] = [await twin.snapshotData(), await back.snapshotData()];
    expect(JSON.stringify(db.meta)).toBe(JSON.stringify(da.meta));
    expect(JSON.stringify(db.config)).toBe(JSON.stringify(da.config));
    expect(db.dataHash).toEqual(da.dataHash);
    expect(Object.keys(db.extras!).sort()).toEqual(Object.keys(da.extras!).sort());
    for (const name of Object.keys(da.extras!)) expect(bits(db.extras![name]), name).toBe(bits(da.extras![name]));
    expect(Buffer.from(encodeSnapshot({ ...db, created: 'x' })).equals(Buffer.from(encodeSnapshot({ ...da, created: 'x' })))).toBe(true);
    await back.close();
    await twin.close();
  });

  test('a flipped byte in the optimizer, replay or rng section of an agent snapshot is refused naming the section', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { updatesPerBatch: 1, options: { learningStarts: 4, batchSize: 4 } } });
    const v = rec.currentVersion();
    rec.observe(events(3, 12, v, v.nUsers, v.nItems));
    await rec.flush();
    const bytes = encodeSnapshot(await rec.snapshotData());
    await rec.close();
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const headerLen = dv.getUint32(12, true);
    const header = JSON.parse(Buffer.from(bytes.subarray(48, 48 + headerLen)).toString('utf8')) as { sections: { name: string; offset: number; length: number }[] };
    const start = (48 + headerLen + 7) & ~7;
    expect(header.sections.map((s) => s.name)).toEqual(['config', 'idmaps', 'weights', 'extras', 'optimizer', 'replay', 'rng']);
    for (const s of header.sections) {
      const bad = Uint8Array.from(bytes);
      bad[start + s.offset + Math.floor(s.length / 2)] ^= 0x40;
      expect(() => decodeSnapshot(bad, 'a.gnnrl'), s.name).toThrow(new RegExp(`snapshot a\\.gnnrl: section '${s.name}': corrupt: its SHA-256`));
      await expect(Recommender.fromBytes(bad, { engine }, 'a.gnnrl')).rejects.toThrow(new RegExp(`section '${s.name}'`));
    }
    // Sections that decode but do not fit the agent are named too.
    const data = decodeSnapshot(bytes);
    const short = { ...data, optimizer: { ...data.optimizer, 'm.0': new Float32Array(3) } };
    await expect(Recommender.fromBytes(encodeSnapshot(short), { engine }, 'b.gnnrl')).rejects.toThrow(/snapshot b\.gnnrl: section 'optimizer': 'm\.0': expected \d+ f32 values/);
    const { replay: _r, ...noReplay } = data;
    await expect(Recommender.fromBytes(encodeSnapshot({ ...noReplay }), { engine }, 'c.gnnrl')).rejects.toThrow(/snapshot c\.gnnrl: section 'replay': 'position'/);
    const { 'online.items': _i, ...noHead } = data.weights;
    await expect(Recommender.fromBytes(encodeSnapshot({ ...data, weights: noHead }), { engine }, 'd.gnnrl')).rejects.toThrow(/snapshot d\.gnnrl: section 'weights': load: state lacks 'items'/);
  });

  test('over HTTP too (the rl checkpoint and a snapshot of the served agent), and a missing GNN is named', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 } });
    rec.observe({ user: 'web-newcomer', item: rec.currentVersion().itemIds.id(3), click: true });
    await rec.flush();
    const snap = join(dir, 'agent-http.gnnrl');
    await rec.snapshot(snap);
    await rec.close();
    for (const file of [agentFile, snap]) {
      const server = await RecommendServer.open(file, { engine });
      const { port } = await server.listen(0);
      const r = (await (await fetch(`http://127.0.0.1:${port}/ready`)).json()) as { mode: string };
      expect(r.mode).toBe('agent');
      const got = (await (await fetch(`http://127.0.0.1:${port}/recommend?user=web-newcomer&k=3`)).json()) as { items: unknown[]; fallback?: string };
      expect(got.items).toHaveLength(3);
      expect(got.fallback).toBe(file === snap ? undefined : 'popularity');
      await server.close();
    }
    await expect(Recommender.load(agentFile, { engine, agent: { stateModel: join(dir, 'nope.ckpt') } })).rejects.toThrow(/needs the GNN its state was built from .* not found at .*nope\.ckpt/);
  });
});

describe('a served agent learning from feedback', () => {
  test('a request that arrives during a drain of updates is answered before the drain ends', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { updatesPerBatch: 12, options: { learningStarts: 8, batchSize: 32 } } });
    const v = rec.currentVersion();
    const user = v.userIds.id(1);
    rec.observe(Array.from({ length: 24 }, (_, j) => ({ user: v.userIds.id(j % 12), item: v.itemIds.id(j + 1), click: true })));
    await rec.flush(); // replay is warm from here on
    rec.observe(Array.from({ length: 6 }, (_, j) => ({ user: v.userIds.id(j), item: v.itemIds.id(j + 30), click: true })));
    let drained = false;
    let answeredDuring = false;
    const drain = rec.flush().then(() => {
      drained = true;
    });
    // A request arriving as I/O would: in a later turn of the event loop.
    const answered = new Promise<void>((resolve) =>
      setImmediate(async () => {
        await rec.recommend(user, 5);
        answeredDuring = !drained;
        resolve();
      }),
    );
    await Promise.all([drain, answered]);
    expect(answeredDuring).toBe(true);
    await rec.close();
  });
});
