import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { rlCommand } from '../../src/cli/rl.js';
import { Recommender } from '../../src/serve/recommender.js';
import { observationOf } from '../../src/serve/agent-source.js';
import { RecommendServer } from '../../src/serve/http.js';

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
    const agent = rec.agent!;
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
    const agent = rec.agent!;
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
    // A user the GNN has no row for gets popularity; unknown items are not added to the Q head.
    rec.observe({ user: 'stranger', item: 'new-item', click: true });
    await rec.flush();
    expect((await rec.recommend('stranger', 3)).fallback).toBe('popularity');
    expect(rec.size.items).toBe(v.nItems);
    // The snapshot reloads as a factor model answering the same.
    const snap = join(dir, 'agent.gnnrl');
    await rec.snapshot(snap);
    const back = await Recommender.load(snap, { engine });
    expect(back.mode).toBe('factors');
    expect(await back.recommend(user, 5)).toEqual(await rec.recommend(user, 5));
    await back.close();
    await rec.close();
  });

  test('over HTTP too, and a missing GNN is named', async () => {
    const server = await RecommendServer.open(agentFile, { engine });
    const { port } = await server.listen(0);
    const r = (await (await fetch(`http://127.0.0.1:${port}/ready`)).json()) as { mode: string };
    expect(r.mode).toBe('agent');
    await server.close();
    await expect(Recommender.load(agentFile, { engine, agent: { stateModel: join(dir, 'nope.ckpt') } })).rejects.toThrow(/needs the GNN its state was built from .* not found at .*nope\.ckpt/);
  });
});
