/**
^ * `gnnrl rl --env replay:<data> | fitted:<data>`: small runs on the CPU backend over a
 * CSV log this test writes and over a synthetic spec (the run folder, the manifest's
^ * environment facts, the calibration, the greedy policies' ranking metrics), the agents each environment refuses, and a
 * checkpoint whose users and items are not the environment's (exit 2 naming the file,
 * nothing written).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { parseRlArgs, type RlConfig } from '../../src/cli/rl-config.js';
import { runRlJob } from '../../src/cli/rl-job.js';
import { rlCommand } from '../../src/cli/rl.js';

function configOf(argv: string[]): RlConfig {
  const r = parseRlArgs(argv);
  if (r.help) throw new Error('help');
  return r.config;
}
const sink = () => {
  const chunks: string[] = [];
  return { text: () => chunks.join(''), write: (s: string) => (chunks.push(s), true) };
};

let engine: Engine;
let dir: string;
let csv: string;
beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-rl-env-'));
  // A CSV log from a small synthetic world, with external ids and out-of-order rows.
  const x = syntheticWorld({ preset: 'tiny', seed: 9 }).interactions;
  const lines = ['uid,iid,stars,when'];
  for (let j = x.user.length - 1; j >= 0; j--) lines.push(`u${x.user[j]},i${x.item[j]},${x.rating![j]},${x.ts![j]}`);
  csv = join(dir, 'log.csv');
  writeFileSync(csv, lines.join('\n') + '\n');
});
afterAll(async () => {
  await engine.dispose();
});

const FAST = ['--steps', '60', '--episodes', '64', '--curve-points', '0', '--backend', 'cpu', '--quiet', '--model-options', '{"lightgcn":{"epochs":3,"dim":16}}'];

describe('gnnrl rl on data environments', () => {
  test('replay:csv walks the test part; metrics and manifest describe it', async () => {
    const out = join(dir, 'replay');
    const r = await runRlJob(configOf(['--env', `replay:csv:${csv}`, '--env-options', JSON.stringify({ map: 'user=uid,item=iid,rating=stars,ts=when', unknown: 'zero' }), '--agent', 'dqn,popularity,greedy:lightgcn', '--agent-options', '{"dqn":{"learningStarts":64,"updatesPerStep":1}}', ...FAST, '--out', out]), { engine, stderr: sink() });
    expect(r.failed, JSON.stringify(r.agents.map((a) => a.error))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.env.split).toBe('user-time:0.8');
    expect(manifest.env.trainEvents + manifest.env.testEvents).toBe(readFileSync(csv, 'utf8').trim().split('\n').length - 1);
    expect(manifest.env.options.unknown).toBe('zero');
    expect(manifest.env.ratingRange[0]).toBeGreaterThanOrEqual(1);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    for (const name of ['dqn', 'popularity', 'greedy:lightgcn']) {
      const m = metrics.agents[name];
      expect(m.status).toBe('ok');
      expect(m.meanReturn).toBeGreaterThanOrEqual(0);
      // A replayed session is at most the user's held-out events.
      expect(m.meanSessionLength).toBeLessThanOrEqual(manifest.env.testEvents);
      // The greedy policy's ranking metrics on the test split, through eval/.
      for (const k of ['ndcg@10', 'recall@20', 'hr@10', 'coverage@20']) {
        expect(m.ranking[k], `${name} ${k}`).toBeGreaterThanOrEqual(0);
        expect(m.ranking[k]).toBeLessThanOrEqual(1);
      }
      expect(m.ranking.users).toBeGreaterThan(0);
    }
    expect(existsSync(join(out, 'dqn', 'agent.ckpt'))).toBe(true);
  }, 60_000);

  test('fitted:synthetic:tiny calibrates a simulator through LightGCN; tabular agents and the oracle run on it', async () => {
    const out = join(dir, 'fitted');
    const r = await runRlJob(configOf(['--env', 'fitted:synthetic:tiny', '--env-options', '{"ctr":0.3}', '--agent', 'qlearning,random,oracle', ...FAST, '--out', out]), { engine, stderr: sink() });
    expect(r.failed).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.env.encoder).toBe('lightgcn');
    expect(manifest.env.calibration.fittedCtr).toBeCloseTo(0.3, 6);
    expect(manifest.env.options.temperature).toBe(manifest.env.calibration.temperature);
    expect(manifest.env.options.clickbaitShare).toBe(0);
    expect(manifest.models.map((m: { name: string }) => m.name)).toEqual(['lightgcn']);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.agents.qlearning.status).toBe('ok');
    expect(typeof metrics.agents.qlearning.ranking['ndcg@10']).toBe('number');
    // The oracle needs the simulator's hidden state: no ranking of a log for it.
    expect(metrics.agents.oracle.ranking).toBeUndefined();
    expect(metrics.agents.oracle.meanReturn).toBeGreaterThan(metrics.agents.random.meanReturn);
  }, 60_000);

  test('a checkpoint whose items do not match the environment is refused naming the file; nothing written', async () => {
    const world = syntheticWorld({ preset: 'tiny', nUsers: 30, nItems: 50, seed: 3 });
    const x = world.interactions;
    const m = await getModel('lightgcn').create({ engine, train: x, graph: trainingGraph(x.user, x.item, x.nUsers, x.nItems), options: { dim: 8, seed: 1 } });
    await m.fit(x, { epochs: 1 });
    const path = join(dir, 'other.ckpt');
    await saveCheckpoint(path, await m.state(), { nUsers: x.nUsers, nItems: x.nItems }, { extras: { 'graph.user': x.user, 'graph.item': x.item } });
    m.dispose();
    for (const env of ['fitted:synthetic:tiny', 'replay:synthetic:tiny']) {
      const out = join(dir, `bad-${env.split(':')[0]}`);
      const stderr = sink();
      const code = await rlCommand(['--env', env, '--agent', 'greedy:lightgcn', '--model-options', JSON.stringify({ lightgcn: { checkpoint: path } }), '--backend', 'cpu', '--out', out], { stdout: sink(), stderr });
      expect(code).toBe(2);
      expect(stderr.text()).toMatch(new RegExp(`--model-options: lightgcn\\.checkpoint: checkpoint .*other\\.ckpt: the model has 30 users × 50 items, the environment ${env} 60 × 120`));
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);
});
