/**
 * A served dueling DQN keeps spare Q-head rows for items that arrive later (bias INACTIVE,
 * −10⁴). Its dueling mean ē, b̄ must run over the real items only: otherwise every TD
 * target of online learning carries a constant offset of about −10⁴·spare/rows.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { tablesFromModel, WindowStateEncoder } from '../../src/rl/state/window-state.js';
import { DqnAgent } from '../../src/rl/agents/dqn.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Rng } from '../../src/util/rng.js';

let engine: Engine;
let dir: string;
let agentFile: string;
let reference: DqnAgent;
let referenceEncoder: WindowStateEncoder;
const H = 4;
const N_USERS = 60;
const N_ITEMS = 90;

/** Next states and rewards of B transitions over the trained users and items. */
function transitions(B: number, seed: number) {
  const rng = new Rng(seed);
  const nextUser = Int32Array.from({ length: B }, () => rng.int(N_USERS));
  const nextHistory = Int32Array.from({ length: B * H }, () => (rng.next() < 0.2 ? -1 : rng.int(N_ITEMS)));
  const reward = Float32Array.from({ length: B }, () => rng.next());
  const done = Uint8Array.from({ length: B }, (_, i) => (i % 5 === 0 ? 1 : 0));
  return { nextUser, nextHistory, reward, done };
}

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-dueling-'));
  mkdirSync(join(dir, 'run', 'models'), { recursive: true });
  const x = syntheticWorld({ nUsers: N_USERS, nItems: N_ITEMS, dim: 4, meanEvents: 8, seed: 3 }).interactions;
  const entry = getModel('svd');
  const model = await entry.create({ engine, train: x, options: { dim: 8, seed: 1 } });
  await model.fit(x, { epochs: 1 });
  await saveTrainedModel(join(dir, 'run', 'models', 'svd.ckpt'), model, entry, x, { bestEpoch: 1, data: 'synthetic', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  referenceEncoder = new WindowStateEncoder(engine, await tablesFromModel(engine, model), H);
  reference = await DqnAgent.create({ engine, encoder: referenceEncoder, slots: 1, slateSize: 1 }, { hidden: [16], seed: 2, dueling: true });
  // Move V and the item biases off their zero start, so the state term is far from 0.
  const state = await reference.state();
  const rng = new Rng(9);
  for (const [name, a] of Object.entries(state.arrays)) if (/\.(value\.|itemBias)/.test(name)) for (let j = 0; j < a.length; j++) a[j] = rng.normal();
  reference.load(state);
  agentFile = join(dir, 'run', 'dqn', 'agent.ckpt');
  await saveCheckpoint(agentFile, await reference.state(), { agent: 'dqn', display: reference.name, env: 'test', state: 'svd', steps: 0, seed: 1, gnnrl: 'test' });
  model.dispose();
}, 120_000);

afterAll(async () => {
  reference?.dispose();
  referenceEncoder?.dispose();
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('a served dueling DQN with spare item rows', () => {
  test('its TD targets are the unpadded agent\'s, before and after a snapshot round trip', async () => {
    const rec = await Recommender.load(agentFile, { engine, agent: { coldUsers: 5, newItems: 40 } });
    const served = (rec.agent as DqnAgent);
    expect(served.nItems).toBe(N_ITEMS + 40);
    expect(served.activeItems).toBe(N_ITEMS);
    const t = transitions(23, 4);
    const want = await reference.targetsFor(t);
    const got = await served.targetsFor(t);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    // The same head with every row in the mean (what serving did before) is far off.
    served.setActiveItems(N_ITEMS + 40);
    const padded = await served.targetsFor(t);
    expect(Math.max(...Array.from(padded, (y, i) => Math.abs(y - want[i])))).toBeGreaterThan(100);
    served.setActiveItems(N_ITEMS);

    const snap = join(dir, 'dueling.snap');
    await rec.snapshot(snap);
    await rec.close();
    const again = await Recommender.load(snap, { engine });
    expect((again.agent as DqnAgent).activeItems).toBe(N_ITEMS);
    const back = await (again.agent as DqnAgent).targetsFor(t);
    expect(Array.from(back)).toEqual(Array.from(got));
    await again.close();
  });

  test('a new item joins the mean when feedback gives it a row, and the count survives a snapshot', async () => {
    const rec = await Recommender.load(agentFile, { engine, online: { intervalMs: 0 }, agent: { coldUsers: 5, newItems: 40, updatesPerBatch: 0 } });
    const v = rec.currentVersion();
    rec.observe([
      { user: v.userIds.id(1), item: 'brand-new', click: true },
      { user: v.userIds.id(2), item: 'brand-new-2', click: true },
    ]);
    await rec.flush();
    expect((rec.agent as DqnAgent).activeItems).toBe(N_ITEMS + 2);
    const snap = join(dir, 'dueling-grown.snap');
    await rec.snapshot(snap);
    await rec.close();
    const again = await Recommender.load(snap, { engine });
    expect((again.agent as DqnAgent).activeItems).toBe(N_ITEMS + 2);
    await again.close();
  });

  test('setActiveItems refuses counts outside 1 … rows', async () => {
    expect(() => reference.setActiveItems(0)).toThrow(/activeItems/);
    expect(() => reference.setActiveItems(N_ITEMS + 1)).toThrow(/activeItems/);
  });
});
