/**
 * `gnnrl ope`: a simulator log from a skewed (popularity softmax) logging policy, two
 * target policies whose true per-decision value lies inside the DR 95% interval, the run
 * folder, reproducibility, the same estimates from the written log file, estimated
 * propensities, and bad input (exit 2, the flag or file:line named, nothing written).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { saveCheckpoint } from '../../src/models/checkpoint.js';
import { loadLog } from '../../src/rl/log/loader.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { PopularityPolicy } from '../../src/rl/policies/fixed.js';
import { parseOpeArgs, type OpeConfig } from '../../src/cli/ope-config.js';
import { runOpeJob, type OpeResult } from '../../src/cli/ope-job.js';
import { opeCommand } from '../../src/cli/ope.js';
import { parseRlArgs } from '../../src/cli/rl-config.js';
import { runRlJob } from '../../src/cli/rl-job.js';

function configOf(argv: string[]): OpeConfig {
  const r = parseOpeArgs(argv);
  if (r.help) throw new Error('help');
  return r.config;
}

function sink() {
  const chunks: string[] = [];
  return { chunks, text: () => chunks.join(''), write: (s: string) => (chunks.push(s), true) };
}

const world = syntheticWorld({ preset: 'tiny', seed: 42 });
let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-ope-'));
});
afterAll(async () => {
  await engine.dispose();
});

const BASE = ['--backend', 'cpu', '--quiet', '--model-epochs', '10', '--episodes', '64', '--replicates', '400'];

describe('gnnrl ope on a simulator log', () => {
  let first: OpeResult;
  let out: string;
  beforeAll(async () => {
    out = join(dir, 'sim');
    first = await runOpeJob(configOf([...BASE, '--log', 'sim:tiny', '--policy', 'greedy:lightgcn,popularity', '--steps', '200', '--out', out]), { engine });
  }, 60_000);

  test('the true value of both target policies lies inside the DR 95% interval; IPS and SNIPS are reported beside it', () => {
    expect(first.log.events).toBe(200 * 64);
    expect(first.policies.map((p) => p.policy)).toEqual(['greedy:lightgcn', 'popularity']);
    for (const p of first.policies) {
      expect(p.estimates.map((e) => e.estimator)).toEqual(['ips', 'snips', 'dr']);
      const dr = p.estimates.find((e) => e.estimator === 'dr')!;
      expect(p.trueValue).not.toBeNull();
      expect(dr.ci95[0], `${p.policy}: DR [${dr.ci95}] vs true ${p.trueValue}`).toBeLessThanOrEqual(p.trueValue!);
      expect(dr.ci95[1]).toBeGreaterThanOrEqual(p.trueValue!);
      for (const e of p.estimates) {
        expect(e.ess).toBeGreaterThan(10);
        expect(e.ess).toBeLessThanOrEqual(e.n);
      }
      expect(p.matchRate).toBeGreaterThan(0);
      expect(p.onPolicy.episodes).toBe(64);
    }
    // The two targets differ by more than the intervals: the check tells them apart.
    const [g, pop] = first.policies;
    expect(Math.abs(g.trueValue! - pop.trueValue!)).toBeGreaterThan(0.05);
    // The logger is skewed: it favours the popular items, so popularity is the better covered target.
    expect(pop.estimates[0].ess).toBeGreaterThan(g.estimates[0].ess);
  });

  test('writes config, manifest, metrics and the log, and repeats exactly', async () => {
    for (const f of ['config.json', 'manifest.json', 'metrics.json', 'log.jsonl']) expect(existsSync(join(out, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.status).toBe('ok');
    expect(manifest.direct.model).toBe('lightgcn');
    expect(manifest.direct.link).toBe('logistic');
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(Object.keys(metrics.policies)).toEqual(['greedy:lightgcn', 'popularity']);
    expect(Object.keys(metrics.policies.popularity.estimates)).toEqual(['ips', 'snips', 'dr']);
    const log = await loadLog(join(out, 'log.jsonl'), { nUsers: 60, nItems: 120 });
    expect(log.n).toBe(first.log.events);
    const again = join(dir, 'sim-again');
    await runOpeJob({ ...first.config, out: again }, { engine });
    expect(readFileSync(join(again, 'metrics.json'), 'utf8')).toBe(readFileSync(join(out, 'metrics.json'), 'utf8'));
  }, 60_000);

  test('the written log, read back as a file, gives the same estimates (the targets re-act on its contexts)', async () => {
    const r = await runOpeJob(configOf([...BASE, '--log', join(out, 'log.jsonl'), '--policy', 'popularity,greedy:lightgcn', '--out', join(dir, 'file')]), { engine });
    const byName = new Map(first.policies.map((p) => [p.policy, p]));
    for (const p of r.policies) {
      expect(p.trueValue).toBeNull();
      const want = byName.get(p.policy)!;
      expect(p.matchRate).toBe(want.matchRate);
      for (const [j, e] of p.estimates.entries()) {
        expect(e.value).toBeCloseTo(want.estimates[j].value, 6);
        expect(e.ess).toBeCloseTo(want.estimates[j].ess, 6);
      }
    }
  }, 60_000);

  test('--propensity estimate fits a behaviour model and marks the log estimated', async () => {
    const r = await runOpeJob(configOf([...BASE, '--log', join(out, 'log.jsonl'), '--policy', 'popularity', '--propensity', 'estimate', '--direct', 'none', '--out', join(dir, 'est')]), { engine });
    expect(r.log.propensitySource).toBe('estimated');
    expect(r.policies[0].estimates.map((e) => e.estimator)).toEqual(['ips', 'snips']);
    const logged = first.policies[1].estimates[0].value;
    expect(Math.abs(r.policies[0].estimates[0].value - logged)).toBeLessThan(0.25 * logged);
  }, 60_000);
});

describe('--propensity estimate with --behaviour <model>', () => {
  test("a softmax over the model's scores recovers a personalised logger's weight 1/T and fits the log at least as well as intercepts alone", async () => {
    const common = [...BASE, '--log', 'sim:tiny', '--logger', 'lightgcn', '--temperature', '0.5', '--epsilon', '0.05', '--policy', 'popularity', '--steps', '60', '--propensity', 'estimate'];
    const withModel = await runOpeJob(configOf([...common, '--behaviour', 'lightgcn', '--out', join(dir, 'beh-model')]), { engine });
    const intercepts = await runOpeJob(configOf([...common, '--out', join(dir, 'beh-pop')]), { engine });
    const b = withModel.manifest.behaviour as { scores: string; beta: number; logLikelihood: number };
    const p = intercepts.manifest.behaviour as { scores: string; beta: number; logLikelihood: number };
    expect(b.scores).toBe('lightgcn');
    expect(b.beta).toBeGreaterThan(1.2);
    expect(b.beta).toBeLessThan(2.6);
    expect(p.beta).toBe(0);
    // Nested models: the fitted weight can only raise the likelihood (here the 10-epoch GNN's scores
    // span a narrow range, so by little).
    expect(b.logLikelihood).toBeGreaterThan(p.logLikelihood);
    // The written log keeps the logger's own propensities.
    const written = await loadLog(join(dir, 'beh-model', 'log.jsonl'));
    expect(written.propensitySource).toBe('logged');
    expect(withModel.log.propensitySource).toBe('estimated');
  }, 60_000);
});

describe('bandits through gnnrl rl, then as ope targets', () => {
  test('gnnrl rl --agent linucb,lints trains, evaluates, draws curves and writes checkpoints; gnnrl ope takes the LinUCB checkpoint', async () => {
    const rlOut = join(dir, 'rl');
    const parsed = parseRlArgs(['--env', 'sim:tiny', '--agent', 'linucb,lints,random', '--steps', '60', '--episodes', '64', '--curve-points', '2', '--curve-episodes', '64', '--backend', 'cpu', '--quiet', '--agent-options', '{"linucb":{"alpha":0.5},"lints":{"nu":0.3}}', '--out', rlOut]);
    if (parsed.help) throw new Error('help');
    const rl = await runRlJob(parsed.config, { engine, stderr: sink() });
    expect(rl.failed).toBe(false);
    for (const f of ['linucb/agent.ckpt', 'lints/agent.ckpt', 'rewards.svg']) expect(existsSync(join(rlOut, f)), f).toBe(true);
    const metrics = JSON.parse(readFileSync(join(rlOut, 'metrics.json'), 'utf8'));
    for (const name of ['linucb', 'lints']) {
      expect(metrics.agents[name].learns).toBe(true);
      expect(metrics.agents[name].train.steps).toBe(60);
      expect(metrics.agents[name].curve.map((p: { step: number }) => p.step)).toEqual([0, 30, 60]);
    }
    expect(metrics.comparisons.map((c: { agent: string }) => c.agent)).toEqual(['linucb', 'lints']);
    const r = await runOpeJob(configOf([...BASE, '--log', 'sim:tiny', '--policy', `${join(rlOut, 'linucb', 'agent.ckpt')},random`, '--steps', '40', '--out', join(dir, 'ope-linucb')]), { engine });
    expect(r.policies[0].display).toMatch(/LinUCB/);
    // Restored from its checkpoint (A and b; the GNN refitted with the same seed), LinUCB earns the
    // return gnnrl rl measured on the same evaluation episodes (seed + 2, 64 episodes).
    expect(r.policies[0].onPolicy.meanReturn).toBe(metrics.agents.linucb.meanReturn);
    expect(r.policies[0].trueValue).toBeGreaterThan(r.policies[1].trueValue!);
  }, 120_000);
});

describe('gnnrl ope prints', () => {
  test('the table (truth, each estimator with its interval, ESS, the on-policy run) and --help', async () => {
    const stdout = sink();
    const stderr = sink();
    const out = join(dir, 'printed');
    const code = await opeCommand([...BASE, '--steps', '20', '--policy', 'popularity,random', '--out', out], { stdout, stderr });
    expect(code, stderr.text()).toBe(0);
    const text = stdout.text();
    expect(text).toMatch(/^log: sim:tiny, 1280 events, slate 1, propensities logged/);
    for (const h of ['true V', 'IPS 95% CI', 'SNIPS 95% CI', 'DR 95% CI', 'ESS', 'match', 'on-policy return']) expect(text).toContain(h);
    expect(text).toMatch(/^Popularity\s+\d\.\d{4}\s+\d\.\d{4}\s+\[\d\.\d{4}, \d\.\d{4}\]/m);
    // A target that never shows a logged action: IPS 0, SNIPS undefined (NaN, null in metrics.json), a note.
    const pop = new PopularityPolicy(world.interactions, 1);
    const never = join(dir, 'never.jsonl');
    writeFileSync(never, [0, 1, 2].map((u) => JSON.stringify({ user: u, item: pop.ranking[world.nItems - 1], reward: u % 2, propensity: 0.01 })).join('\n') + '\n');
    const s2 = sink();
    expect(await opeCommand([...BASE, '--log', never, '--policy', 'popularity', '--out', join(dir, 'never')], { stdout: s2, stderr: sink() })).toBe(0);
    expect(s2.text()).toMatch(/note: Popularity never shows a logged action/);
    const m = JSON.parse(readFileSync(join(dir, 'never', 'metrics.json'), 'utf8'));
    expect(m.policies.popularity.estimates.ips.value).toBe(0);
    expect(m.policies.popularity.estimates.snips.value).toBeNull();
    expect(m.policies.popularity.matchRate).toBe(0);
    const help = sink();
    expect(await opeCommand(['--help'], { stdout: help, stderr: sink() })).toBe(0);
    expect(help.text()).toMatch(/usage: gnnrl ope --log/);
    for (const f of ['--log', '--policy', '--logger', '--temperature', '--epsilon', '--propensity', '--direct', '--replicates']) expect(help.text()).toContain(f);
  }, 60_000);
});

describe('gnnrl ope: bad input exits 2 and writes nothing', () => {
  async function run(argv: string[]): Promise<{ code: number; err: string; out: string }> {
    const stdout = sink();
    const stderr = sink();
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const code = await opeCommand([...argv, '--out', out, '--backend', 'cpu', '--model-epochs', '2'], { stdout, stderr });
    expect(existsSync(out), 'nothing written').toBe(false);
    return { code, err: stderr.text(), out };
  }

  test('flags, policies and logs', async () => {
    let r = await run(['--policy', 'dqn']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--policy: dqn learns, and by name it would be untrained; pass its checkpoint/);
    r = await run(['--policy', 'nope']);
    expect(r.err).toMatch(/unknown agent 'nope'/);
    r = await run(['--log', join(dir, 'absent.jsonl')]);
    expect(r.err).toMatch(/--log: file not found/);
    const noProp = join(dir, 'noprop.jsonl');
    writeFileSync(noProp, '{"user":1,"item":2,"reward":1,"propensity":0.5}\n{"user":1,"item":3,"reward":0}\n');
    r = await run(['--log', noProp, '--policy', 'popularity']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/noprop\.jsonl:2: propensity: missing/);
    const badId = join(dir, 'badid.csv');
    writeFileSync(badId, 'user,item,reward,propensity\n1,2,1,0.5\n1,120,0,0.5\n');
    r = await run(['--log', badId, '--policy', 'popularity']);
    expect(r.err).toMatch(/badid\.csv:3: item: unknown item 120: the catalogue has 120 items/);
    r = await run(['--log', badId, '--policy', 'oracle']);
    expect(r.err).toMatch(/--policy: oracle: the myopic oracle needs the simulator's hidden state/);
    r = await run(['--temperature', '0']);
    expect(r.err).toMatch(/--temperature/);
  });

  test('a policy checkpoint for another catalogue', async () => {
    const other = join(dir, 'other.ckpt');
    await saveCheckpoint(other, { kind: 'dqn', config: { nItems: 2000 }, arrays: {} }, { agent: 'dqn', env: 'sim:small', seed: 42, state: 'random' });
    let r = await run(['--policy', other]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/trained on sim:small, the log's world is sim:tiny: a checkpoint for another catalogue/);
    const wrongItems = join(dir, 'wrong-items.ckpt');
    await saveCheckpoint(wrongItems, { kind: 'dqn', config: { nItems: 999, hidden: [8] }, arrays: {} }, { agent: 'dqn', env: 'sim:tiny', seed: 42, state: 'random' });
    r = await run(['--policy', wrongItems]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the state is for 999 items, this environment has 120/);
  });
});
