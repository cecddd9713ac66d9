/**
 * `gnnrl rl`: the agent registry's names and option checks, the run folder of a small run
 * on sim:tiny (CPU), reproducibility of metrics.json, interruption, and bad input (exit 2,
 * a message naming the flag, nothing written to --out).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/models/checkpoint.js';
import { getModel, restoreModel, trainingGraph } from '../../src/models/registry.js';
import { checkAgentOptions, parseAgentList } from '../../src/rl/registry.js';
import { parseRlArgs, type RlConfig } from '../../src/cli/rl-config.js';
import { runRlJob, type RlResult } from '../../src/cli/rl-job.js';
import { rlCommand } from '../../src/cli/rl.js';
import { EPISODES_CSV_HEADER, RlProgress, TIMING_FIELDS } from '../../src/cli/rl-output.js';
import { all, expectFiniteCoordinates, parseXml } from './train-helpers.js';

function configOf(argv: string[]): RlConfig {
  const r = parseRlArgs(argv);
  if (r.help) throw new Error('help');
  return r.config;
}

function sink(onWrite?: (s: string) => void) {
  const chunks: string[] = [];
  return {
    chunks,
    text: () => chunks.join(''),
    write(s: string) {
      chunks.push(s);
      onWrite?.(s);
      return true;
    },
  };
}

/** metrics.json without the fields that measure time. */
function outcome(text: string): unknown {
  return JSON.parse(text, (k, v) => (TIMING_FIELDS.includes(k) ? undefined : v));
}

let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-rl-'));
});
afterAll(async () => {
  await engine.dispose();
});

describe('agent registry', () => {
  test('aliases resolve to canonical names, in order, without duplicates', () => {
    expect(parseAgentList('ddqn,pop,greedy:light-gcn,myopic,DQN,uniform,greedy,dqn')).toEqual(['double-dqn', 'popularity', 'greedy:lightgcn', 'oracle', 'dqn', 'random']);
    expect(parseAgentList(['greedy:svd', 'greedy:graphsage'])).toEqual(['greedy:svd', 'greedy:sage']);
  });

  test('unknown names and unavailable agents are coded input errors listing the valid names', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as GnnrlError;
      }
      throw new Error('did not throw');
    };
    const e = err(() => parseAgentList('dqn,foo'));
    expect(e).toBeInstanceOf(GnnrlError);
    expect(e.code).toBe('input');
    expect(e.details.arg).toBe('agent');
    expect(e.message).toMatch(/unknown agent 'foo'; valid agents: dqn, double-dqn, qlearning, sarsa, random, popularity, greedy:<model>, oracle/);
    expect(err(() => parseAgentList('greedy:nope')).message).toMatch(/unknown model 'nope'.*lightgcn/);
    expect(err(() => checkAgentOptions('sarsa', { alpha: 2 })).message).toMatch(/sarsa\.alpha: expected a number in \[0, 1\]/);
    expect(err(() => checkAgentOptions('dqn', { gama: 0.9 })).message).toMatch(/unknown option 'gama' for dqn; known: gamma, lr/);
    expect(err(() => checkAgentOptions('double-dqn', { gamma: -0.1 })).message).toMatch(/double-dqn\.gamma: expected a number in \[0, 1\], got -0\.1/);
    expect(err(() => checkAgentOptions('dqn', { epsilon: { kind: 'linear', start: 1, end: 0.1, stepz: 5 } })).message).toMatch(/dqn\.epsilon: .*stepz/);
    expect(err(() => checkAgentOptions('popularity', { k: 3 })).message).toMatch(/popularity takes no options/);
  });
});

const BASE = ['--env', 'sim:tiny', '--steps', '150', '--episodes', '64', '--curve-points', '2', '--curve-episodes', '64', '--backend', 'cpu', '--quiet', '--agent-options', '{"dqn":{"learningStarts":256,"updatesPerStep":1}}'];

describe('runRlJob on sim:tiny (CPU)', () => {
  let first: RlResult;
  let out: string;

  beforeAll(async () => {
    out = join(dir, 'run');
    first = await runRlJob(configOf([...BASE, '--agent', 'dqn,random,greedy:lightgcn,oracle', '--out', out]), { engine, stderr: sink() });
  }, 60_000);

  test('writes config, manifest, metrics, episodes, rewards curve and checkpoints', async () => {
    expect(first.interrupted).toBe(false);
    expect(first.failed).toBe(false);
    for (const f of ['config.json', 'manifest.json', 'metrics.json', 'episodes.csv', 'rewards.svg', 'dqn/agent.ckpt', 'models/lightgcn.ckpt']) expect(existsSync(join(out, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.status).toBe('ok');
    expect(manifest.agents.map((a: { name: string }) => a.name)).toEqual(['dqn', 'random', 'greedy:lightgcn', 'oracle']);

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(Object.keys(metrics.agents)).toEqual(['dqn', 'random', 'greedy:lightgcn', 'oracle']);
    for (const m of Object.values(metrics.agents) as Record<string, unknown>[]) {
      expect(m.status).toBe('ok');
      for (const k of ['meanReturn', 'meanDiscountedReturn', 'ctr', 'cvr', 'meanSessionLength', 'stepsPerSecond']) expect(typeof m[k], k).toBe('number');
      const ci = m.ci95 as [number, number];
      expect(ci[0]).toBeLessThanOrEqual(m.meanReturn as number);
      expect(ci[1]).toBeGreaterThanOrEqual(m.meanReturn as number);
      expect(m.episodes).toBe(64);
    }
    const dqn = metrics.agents.dqn;
    expect(dqn.learns).toBe(true);
    expect(dqn.train.steps).toBe(150);
    // Curve: step 0, 75, then the final evaluation at 150.
    expect(dqn.curve.map((p: { step: number }) => p.step)).toEqual([0, 75, 150]);
    expect(dqn.curve[2].meanReturn).toBe(dqn.meanReturn);
    expect(metrics.comparisons.map((c: { baseline: string }) => c.baseline)).toEqual(['random', 'greedy:lightgcn', 'oracle']);

    const csv = readFileSync(join(out, 'episodes.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(EPISODES_CSV_HEADER.join(','));
    expect(csv.length).toBe(1 + 4 * 64);
    const dqnRows = csv.filter((l) => l.startsWith('dqn,')).map((l) => Number(l.split(',')[4]));
    expect(dqnRows.reduce((a, x) => a + x, 0) / dqnRows.length).toBeCloseTo(dqn.meanReturn, 6);

    const svg = readFileSync(join(out, 'rewards.svg'), 'utf8');
    const root = parseXml(svg);
    expectFiniteCoordinates(svg, root);
    const series = all(root, 'polyline').map((p) => p.attrs['data-series']);
    expect(series).toEqual(expect.arrayContaining(['DQN (lightgcn state)', 'Random', 'Greedy LightGCN', 'Myopic oracle']));

    const ck = await loadCheckpoint(join(out, 'dqn', 'agent.ckpt'));
    expect(ck.state.kind).toBe('dqn');
    expect(ck.meta.steps).toBe(150);
    expect(Object.keys(ck.state.arrays).some((n) => n.startsWith('online.'))).toBe(true);
    const gnn = await restoreModel(await loadCheckpoint(join(out, 'models', 'lightgcn.ckpt')), engine);
    expect(gnn.nItems).toBe(120);
    gnn.dispose();
  });

  test('the same config and seed give the same metrics.json apart from timing', async () => {
    const out2 = join(dir, 'run2');
    await runRlJob(configOf([...BASE, '--agent', 'dqn,random,greedy:lightgcn,oracle', '--out', out2]), { engine, stderr: sink() });
    const a = readFileSync(join(out, 'metrics.json'), 'utf8');
    const b = readFileSync(join(out2, 'metrics.json'), 'utf8');
    expect(outcome(b)).toEqual(outcome(a));
    // The config it wrote repeats the run.
    expect(configOf(['--config', join(out, 'config.json'), '--out', out2])).toEqual({ ...first.config, out: out2 });
    // Another seed gives other episodes.
    const out3 = join(dir, 'run3');
    await runRlJob(configOf([...BASE.slice(0, -2), '--agent', 'random', '--seed', '7', '--out', out3]), { engine, stderr: sink() });
    const m3 = JSON.parse(readFileSync(join(out3, 'metrics.json'), 'utf8'));
    expect(m3.agents.random.meanReturn).not.toBe(JSON.parse(a).agents.random.meanReturn);
  }, 60_000);

  test('an interrupt stops training, checkpoints, skips the rest and says so', async () => {
    const out4 = join(dir, 'run4');
    const abort = new AbortController();
    const stderr = sink((s) => {
      if (/step +\d+\/150/.test(s)) abort.abort();
    });
    const cfg = configOf([...BASE.filter((x) => x !== '--quiet'), '--agent', 'dqn,random', '--out', out4]);
    const r = await runRlJob(cfg, { engine, stderr, signal: abort.signal });
    expect(r.interrupted).toBe(true);
    expect(r.agents.map((a) => a.status)).toEqual(['interrupted', 'skipped']);
    expect(r.agents[0].train!.steps).toBeLessThan(150);
    expect(existsSync(join(out4, 'dqn', 'agent.ckpt'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out4, 'manifest.json'), 'utf8')).status).toBe('interrupted');
    // Piped: one line per report, no carriage returns.
    expect(stderr.text()).not.toMatch(/\r/);
    expect(stderr.text()).toMatch(/^DQN \(lightgcn state\) {2}step {2}15\/150 {2}\S+ steps\/s {2}ε \d\.\d{3} {2}return /m);
  }, 60_000);
});

test('on a terminal the progress line is redrawn in place with a bar, steps/s, ε, return and ETA', () => {
  const out = sink();
  const p = new RlProgress({ ...out, isTTY: true, columns: 200 }, { redrawMs: 0 });
  p.start('DQN', 64);
  p.report({ step: 50, steps: 100, stepsPerSecond: 6400, recentReturn: 2.5, episodes: 10, update: { loss: 0.5, exploration: 0.3 } });
  expect(out.text()).toBe('\r\x1b[2KDQN  step  50/100 [=========>          ]  50%  6.4k steps/s  ε 0.300  return 2.500  loss 0.5000  ETA 0.50s');
  p.message('done');
  expect(out.text().endsWith('\r\x1b[2Kdone\n')).toBe(true);
});

describe('gnnrl rl: bad input exits 2 naming the flag and writes nothing', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown agent', ['--agent', 'dqn,foo'], /^gnnrl rl: --agent: unknown agent 'foo'; valid agents: dqn, double-dqn/m],
    ['tabular alpha outside [0, 1]', ['--agent', 'qlearning', '--agent-options', '{"qlearning":{"alpha":1.5}}'], /^gnnrl rl: --agent-options: qlearning\.alpha: expected a number in \[0, 1\]/m],
    ['unknown env', ['--env', 'gym:cartpole'], /^gnnrl rl: --env: unknown environment 'gym:cartpole'; expected sim:tiny/m],
    ['unknown world', ['--env', 'sim:huge'], /^gnnrl rl: --env: unknown simulator world 'huge'/m],
    ['fitted env without its data', ['--env', 'fitted:ml-100k:/nonexistent/ml-100k'], /^gnnrl rl: --env: directory not found: \/nonexistent\/ml-100k/m],
    ['replay env with a bad data spec', ['--env', 'replay:parquet:log.pq'], /^gnnrl rl: --env: replay:parquet:log\.pq: unknown data kind 'parquet'/m],
    ['replay env without a map for csv', ['--env', 'replay:csv:package.json'], /^gnnrl rl: --env-options: map: required with csv: data/m],
    ['unknown replay option', ['--env', 'replay:synthetic:tiny', '--env-options', '{"unknwn":"zero"}'], /^gnnrl rl: --env-options: unknown replay option 'unknwn'; known: batch, slateSize/m],
    ['bad unknown policy', ['--env', 'replay:synthetic:tiny', '--env-options', '{"unknown":"guess"}'], /^gnnrl rl: --env-options: .*unknown: expected 'zero' \| 'skip' \| 'model', got "guess"/m],
    ['tabular agent on replay', ['--env', 'replay:synthetic:tiny', '--agent', 'qlearning'], /^gnnrl rl: --agent: qlearning needs a simulator .*replay:synthetic:tiny is log replay/m],
    ['n-step DQN on replay with unknown: skip', ['--env', 'replay:synthetic:tiny', '--env-options', '{"unknown":"skip"}', '--agent', 'dqn'], /^gnnrl rl: --agent-options: dqn\.nStep: 3-step returns need every step judged/m],
    ['fitted ctr out of range', ['--env', 'fitted:synthetic:tiny', '--env-options', '{"ctr":2}'], /^gnnrl rl: --env-options: .*ctr: expected a number in \(0, 1\), got 2/m],
    ['bad JSON', ['--env-options', '{"horizon":'], /^gnnrl rl: --env-options: expected a JSON object like .*invalid JSON/m],
    ['unknown env option', ['--env-options', '{"fatigu":0.5}'], /^gnnrl rl: --env-options: unknown simulator option 'fatigu'/m],
    ['env option out of range', ['--env-options', '{"leave":1.5}'], /^gnnrl rl: --env-options: .*leave: expected in \[0, 1\)/m],
    ['unknown agent option', ['--agent-options', '{"dqn":{"gama":0.9}}'], /^gnnrl rl: --agent-options: unknown option 'gama' for dqn; known: gamma/m],
    ['gamma outside [0, 1]', ['--agent-options', '{"dqn":{"gamma":1.5}}'], /^gnnrl rl: --agent-options: dqn\.gamma: expected a number in \[0, 1\], got 1\.5$/m],
    ['capacity 0', ['--agent-options', '{"double-dqn":{"capacity":0}}'], /^gnnrl rl: --agent-options: double-dqn\.capacity: expected an integer >= 1, got 0$/m],
    ['options for an agent not run', ['--agent', 'random', '--agent-options', '{"dqn":{"lr":0.01}}'], /^gnnrl rl: --agent-options: options for 'dqn', which is not among the agents run/m],
    ['bad JSON in agent options', ['--agent-options', "{dqn:{}}"], /^gnnrl rl: --agent-options: expected a JSON object .*invalid JSON/m],
    ['missing checkpoint', ['--model-options', '{"lightgcn":{"checkpoint":"/nonexistent/x.ckpt"}}'], /^gnnrl rl: --model-options: lightgcn\.checkpoint: file not found: \/nonexistent\/x\.ckpt/m],
    ['bad steps', ['--steps', 'many'], /^gnnrl rl: --steps: expected an integer >= 0, got 'many'$/m],
    ['unknown flag', ['--agents', 'dqn'], /unknown flag --agents \(did you mean --agent\?\)/],
  ];
  test.each(cases)('%s', async (_name, argv, message) => {
    const out = join(dir, `bad-${_name.replace(/\W+/g, '-')}`);
    const stdout = sink();
    const stderr = sink();
    const code = await rlCommand([...argv, '--out', out, '--backend', 'cpu'], { stdout, stderr });
    expect(code, stderr.text()).toBe(2);
    expect(stderr.text()).toMatch(message);
    expect(stdout.text()).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  test('a checkpoint whose users and items are not the environment\'s is refused, naming the file', async () => {
    const world = syntheticWorld({ preset: 'tiny', nUsers: 30, nItems: 50, seed: 3 });
    const x = world.interactions;
    const entry = getModel('lightgcn');
    const m = await entry.create({ engine, train: x, graph: trainingGraph(x.user, x.item, x.nUsers, x.nItems), options: { dim: 8, seed: 1 } });
    await m.fit(x, { epochs: 1 });
    const path = join(dir, 'other.ckpt');
    await saveCheckpoint(path, await m.state(), { nUsers: x.nUsers, nItems: x.nItems }, { extras: { 'graph.user': x.user, 'graph.item': x.item } });
    m.dispose();
    const out = join(dir, 'bad-mismatch');
    const stderr = sink();
    const code = await rlCommand(['--env', 'sim:tiny', '--agent', 'greedy:lightgcn', '--model-options', JSON.stringify({ lightgcn: { checkpoint: path } }), '--backend', 'cpu', '--out', out], { stdout: sink(), stderr });
    expect(code).toBe(2);
    expect(stderr.text()).toMatch(new RegExp(`--model-options: lightgcn\\.checkpoint: checkpoint ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the model has 30 users × 50 items, the environment sim:tiny 60 × 120`));
    expect(existsSync(out)).toBe(false);
  });

  test('--help lists the options and agents', async () => {
    const stdout = sink();
    expect(await rlCommand(['--help'], { stdout, stderr: sink() })).toBe(0);
    expect(stdout.text()).toMatch(/^usage: gnnrl rl \[options\]/);
    expect(stdout.text()).toMatch(/--env SPEC +.*\(default: sim:tiny\)/);
    expect(stdout.text()).toMatch(/^ {2}sarsa {11}tabular SARSA/m);
  });
});
