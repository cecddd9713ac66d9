/**
 * `--state` beyond a single GNN: pretrained vectors (.npy with an ids file, JSONL) lifted
 * to users by the mean of their log items, tables joined side by side, the registry
 * building agents on them with a pooled history, and the coded errors a user meets
 * (missing ids, wrong row count, a malformed spec).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { writeNpy } from '../../src/data/vectors.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { createAgent, type AgentContext } from '../../src/rl/registry.js';
import { concatTables, parseStateSpec, tablesFromVectors } from '../../src/rl/state/state-spec.js';
import { randomTables } from '../../src/rl/state/window-state.js';
import { trainAgent } from '../../src/rl/train-loop.js';
import { parseRlArgs } from '../../src/cli/rl-config.js';
import type { RecommenderModel } from '../../src/models/types.js';

let engine: Engine;
let dir: string;
const world = syntheticWorld({ nUsers: 30, nItems: 45, dim: 8, meanEvents: 6, seed: 9 });
const log = world.interactions;
const D = 5;
/** Item i's vector: (i, i + 0.5, …) / 10, so means are checkable by hand. */
const itemVec = (i: number, c: number) => (i + c * 0.5) / 10;

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-state-spec-'));
});
afterAll(async () => {
  await engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** JSONL of every item's vector in reverse id order (so matching by id, not by row, is what passes). */
function writeJsonl(name: string, skip: number[] = []): string {
  const lines: string[] = [];
  for (let i = log.nItems - 1; i >= 0; i--) {
    if (skip.includes(i)) continue;
    lines.push(JSON.stringify({ id: log.itemIds.ids()[i], vector: Array.from({ length: D }, (_, c) => itemVec(i, c)) }));
  }
  const file = join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const codeOf = async (p: Promise<unknown>): Promise<GnnrlError> => {
  try {
    await p;
  } catch (e) {
    return e as GnnrlError;
  }
  throw new Error('expected a rejection');
};

describe('state specs', () => {
  test('parse: encoders, random, vectors files and joined parts; malformed specs are coded input errors', () => {
    expect(parseStateSpec('lightgcn')).toEqual([{ kind: 'encoder', name: 'lightgcn' }]);
    expect(parseStateSpec('lightgcn+vectors:/a/b.npy')).toEqual([{ kind: 'encoder', name: 'lightgcn' }, { kind: 'vectors', items: '/a/b.npy', users: null }]);
    expect(parseStateSpec('vectors:items=i.jsonl,users=u.jsonl+random')).toEqual([{ kind: 'vectors', items: 'i.jsonl', users: 'u.jsonl' }, { kind: 'random' }]);
    for (const bad of ['', 'vectors:', 'Light GCN', 'vectors:items=', 'gnn/x']) {
      let e: unknown;
      try {
        parseStateSpec(bad, '--state');
      } catch (err) {
        e = err;
      }
      expect(e, bad).toBeInstanceOf(GnnrlError);
      expect((e as GnnrlError).details.arg).toBe('--state');
    }
  });

  test('gnnrl rl --state: encoder names are canonicalised, file paths kept as written, bad parts exit as usage errors', () => {
    const cfg = (v: string) => {
      const r = parseRlArgs(['--state', v]);
      if (r.help) throw new Error('help');
      return r.config.state;
    };
    expect(cfg('LightGCN+vectors:Data/LLM.npy')).toBe('lightgcn+vectors:Data/LLM.npy');
    expect(cfg('vectors:items=I.jsonl,users=U.jsonl')).toBe('vectors:items=I.jsonl,users=U.jsonl');
    expect(cfg('graphsage')).toBe('sage');
    expect(() => cfg('svd')).toThrow(/not a graph encoder/);
    expect(() => cfg('lightgcn+vectors:')).toThrow(/vectors: expected a file/);
  });

  test('JSONL vectors are matched by id; users get the mean of their log items', async () => {
    const t = await tablesFromVectors(log, { items: writeJsonl('items.jsonl'), users: null });
    expect([t.dim, t.nUsers, t.nItems]).toEqual([D, log.nUsers, log.nItems]);
    for (const i of [0, 7, log.nItems - 1]) for (let c = 0; c < D; c++) expect(t.items[i * D + c]).toBeCloseTo(itemVec(i, c), 6);
    const u = log.user[0];
    const mine = Array.from(log.item).filter((_, e) => log.user[e] === u);
    for (let c = 0; c < D; c++) expect(t.users[u * D + c]).toBeCloseTo(mine.reduce((a, i) => a + itemVec(i, c), 0) / mine.length, 5);
  });

  test('an .npy with <file>.ids beside it is matched by id; without ids its rows must number the items', async () => {
    const order = Array.from({ length: log.nItems }, (_, r) => log.nItems - 1 - r);
    const v = new Float32Array(log.nItems * D);
    order.forEach((i, r) => {
      for (let c = 0; c < D; c++) v[r * D + c] = itemVec(i, c);
    });
    const file = join(dir, 'items.npy');
    await writeNpy(file, v, log.nItems, D);
    writeFileSync(`${file}.ids`, order.map((i) => String(log.itemIds.ids()[i])).join('\n') + '\n');
    const t = await tablesFromVectors(log, { items: file, users: null });
    for (let c = 0; c < D; c++) expect(t.items[3 * D + c]).toBeCloseTo(itemVec(3, c), 6);
    const short = join(dir, 'short.npy');
    await writeNpy(short, v.subarray(0, 10 * D), 10, D);
    const e = await codeOf(tablesFromVectors(log, { items: short, users: null }));
    expect(e).toBeInstanceOf(GnnrlError);
    expect(e.code).toBe('input');
    expect(e.message).toContain('short.npy');
  });

  test('an item the vector file lacks is a coded input error naming the file and the id', async () => {
    const missing = log.itemIds.ids()[11];
    const e = await codeOf(tablesFromVectors(log, { items: writeJsonl('gappy.jsonl', [11]), users: null }));
    expect(e).toBeInstanceOf(GnnrlError);
    expect(e.code).toBe('input');
    expect(e.message).toContain('gappy.jsonl');
    expect(e.message).toContain(JSON.stringify(String(missing)));
  });

  test('joined tables put each part at unit RMS side by side', () => {
    const a = randomTables(3, 4, 2, 1);
    const b = { ...randomTables(3, 4, 3, 2), items: randomTables(3, 4, 3, 2).items.map((x) => 100 * x) };
    const j = concatTables([a, b]);
    expect(j.dim).toBe(5);
    const rms = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
    const cols = (lo: number, hi: number) => Array.from(j.items).filter((_, k) => k % 5 >= lo && k % 5 < hi);
    expect(rms(cols(0, 2))).toBeCloseTo(1, 5);
    expect(rms(cols(2, 5))).toBeCloseTo(1, 5);
    expect(() => concatTables([a, randomTables(3, 5, 2, 1)])).toThrow(/covers 3 users × 5 items/);
  });

  test('the registry builds DQN on random + pretrained vectors with a mean-pooled window, and it trains and saves its pool', async () => {
    const env = new Simulator(world, { batch: 8, horizon: 5 });
    const ctx: AgentContext = {
      engine,
      env,
      log,
      model: async (): Promise<RecommenderModel> => {
        throw new Error('no GNN in this state');
      },
      state: `random+vectors:${writeJsonl('dqn.jsonl')}`,
      options: { pool: 'mean', learningStarts: 16, batchSize: 16, hidden: [8] },
      seed: 4,
      steps: 30,
    };
    const { agent, updatesPerStep } = await createAgent('dqn', ctx);
    try {
      await trainAgent(env, agent, { steps: 30, seed: 1, updatesPerStep });
      const st = await agent.state();
      expect(st.config.pool).toBe('mean');
      expect(String(st.config.state)).toMatch(/^random\+vectors:.*dqn\.jsonl$/);
    } finally {
      agent.dispose();
    }
    const bad = await codeOf(createAgent('dqn', { ...ctx, options: { pool: 'max' } }));
    expect(bad.message).toMatch(/dqn\.pool: expected 'window' or 'mean' or 'attention'/);
  });
});
