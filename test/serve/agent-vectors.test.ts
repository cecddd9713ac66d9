/**
 * Serving a DQN whose state is not one registry model's vectors (pretrained vectors
 * joined with random tables): `gnnrl rl` saves the tables as a 'vectors' model
 * (models/state.ckpt) and the agent names it, so `Recommender.load(agent.ckpt)` rebuilds
 * the same state. The served ranking is checked against an agent rebuilt here
 * independently, from the vector file and the seed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { rlCommand } from '../../src/cli/rl.js';
import { loadEnvData } from '../../src/cli/rl-env.js';
import { loadCheckpoint } from '../../src/models/checkpoint.js';
import { getModel, modelNames, parseModelList } from '../../src/models/registry.js';
import { stateTablesOf } from '../../src/rl/registry.js';
import { WindowStateEncoder } from '../../src/rl/state/window-state.js';
import { DqnAgent } from '../../src/rl/agents/dqn.js';
import { Recommender } from '../../src/serve/recommender.js';
import { observationOf } from '../../src/serve/agent-source.js';
import type { Interactions } from '../../src/data/interactions.js';
import { Rng } from '../../src/util/rng.js';

let engine: Engine;
let dir: string;
let out: string;
let vectorFile: string;
let log: Interactions;
const SEED = 7;
const sink = () => ({ write: () => true }) as unknown as NodeJS.WritableStream;

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-vectors-'));
  log = (await loadEnvData('sim:tiny', {}, SEED)).log;
  // Seeded 6-d vectors for every item of the environment's log, by id.
  const rng = new Rng(3);
  vectorFile = join(dir, 'items.jsonl');
  writeFileSync(vectorFile, log.itemIds.ids().map((id) => JSON.stringify({ id, vector: Array.from({ length: 6 }, () => rng.normal()) })).join('\n') + '\n');
  out = join(dir, 'run');
  const code = await rlCommand(
    ['--env', 'sim:tiny', '--agent', 'dqn', '--state', `random+vectors:${vectorFile}`, '--seed', String(SEED), '--steps', '60', '--episodes', '8', '--curve-points', '1', '--curve-episodes', '8', '--backend', 'cpu', '--quiet', '--agent-options', '{"dqn":{"learningStarts":64,"updatesPerStep":1}}', '--out', out],
    { stdout: sink(), stderr: sink() } as never,
  );
  expect(code).toBe(0);
}, 240_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('serving a DQN on a state of pretrained vectors', () => {
  test('gnnrl rl saves the state tables as a vectors model and the agent checkpoint names them', async () => {
    expect(existsSync(join(out, 'models', 'state.ckpt'))).toBe(true);
    const agent = await loadCheckpoint(join(out, 'dqn', 'agent.ckpt'));
    expect(agent.meta.stateCheckpoint).toBe(join('models', 'state.ckpt'));
    const state = await loadCheckpoint(join(out, 'models', 'state.ckpt'));
    expect(state.state.kind).toBe('vectors');
    // Internal: restorable by name, never offered by listings or 'all'.
    expect(modelNames()).not.toContain('vectors');
    expect(parseModelList('all')).not.toContain('vectors');
    await expect(getModel('vectors').create({ engine, train: log, options: {} })).rejects.toThrow(/from code/);
  });

  test('the served ranking is that of an agent rebuilt from the vector file and the seed', async () => {
    const rec = await Recommender.load(join(out, 'dqn', 'agent.ckpt'), { engine });
    expect(rec.mode).toBe('agent');
    const ckpt = await loadCheckpoint(join(out, 'dqn', 'agent.ckpt'));
    const H = Number(ckpt.state.config.historyLen);
    const noModel = async () => {
      throw new Error('no registry model in this state');
    };
    const env = { nUsers: log.nUsers, nItems: log.nItems } as never;
    const tables = await stateTablesOf({ engine, env, log, model: noModel, state: `random+vectors:${vectorFile}`, seed: SEED }, env);
    const encoder = new WindowStateEncoder(engine, tables, H, { pool: (ckpt.state.config.pool as 'window') ?? 'window' });
    const twin = await DqnAgent.create({ engine, encoder, slots: 1, slateSize: 1 }, { hidden: ckpt.state.config.hidden as number[] });
    twin.load(ckpt.state);
    const v = rec.currentVersion();
    const windows = (rec as unknown as { served: { windows: Int32Array } }).served.windows;
    for (const u of [0, 5, 11]) {
      const got = await rec.recommend(v.userIds.id(u), 6, { exclude: 'none' });
      const obs = observationOf(Int32Array.of(u), windows.slice(u * H, u * H + H), H);
      const want = await twin.rank(obs, 6, { rowPtr: Int32Array.of(0, 0), colIdx: new Int32Array(0) });
      expect(got.items).toEqual(Array.from(want, (i) => v.itemIds.id(i)));
    }
    twin.dispose();
    encoder.dispose();
    // Feedback and a snapshot round trip work as for a GNN state.
    rec.observe({ user: v.userIds.id(1), item: v.itemIds.id(2), click: true });
    await rec.flush();
    const snap = join(dir, 'vectors.snap');
    await rec.snapshot(snap);
    const a = await rec.recommend(v.userIds.id(1), 5);
    await rec.close();
    const again = await Recommender.load(snap, { engine });
    expect((await again.recommend(v.userIds.id(1), 5)).items).toEqual(a.items);
    await again.close();
  });

  test('without the saved tables the error names the file serving looked for', async () => {
    rmSync(join(out, 'models', 'state.ckpt'));
    await expect(Recommender.load(join(out, 'dqn', 'agent.ckpt'), { engine })).rejects.toThrow(/state tables .*state\.ckpt/);
  });
});
