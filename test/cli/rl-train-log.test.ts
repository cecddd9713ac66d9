/**
 * `gnnrl rl --train-log`: REINFORCE and its top-K corrected form learn from a propensity
 * log (written here by `gnnrl ope`'s simulator logging) instead of interacting, are then
 * evaluated in the simulator like every agent, and say in metrics.json what they learned
 * from. Bad uses are usage errors naming the flag.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { UsageError } from '../../src/cli/args.js';
import { parseOpeArgs } from '../../src/cli/ope-config.js';
import { runOpeJob } from '../../src/cli/ope-job.js';
import { parseRlArgs, type RlConfig } from '../../src/cli/rl-config.js';
import { runRlJob } from '../../src/cli/rl-job.js';

function rlConfig(argv: string[]): RlConfig {
  const r = parseRlArgs(argv);
  if (r.help) throw new Error('help');
  return r.config;
}

const quiet = { write: () => true };
let engine: Engine;
let dir: string;
let logFile: string;

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-rl-log-'));
  const ope = parseOpeArgs(['--log', 'sim:tiny', '--policy', 'random', '--steps', '60', '--backend', 'cpu', '--quiet', '--out', join(dir, 'ope')]);
  if (ope.help) throw new Error('help');
  await runOpeJob(ope.config, { engine });
  logFile = join(dir, 'ope', 'log.jsonl');
});
afterAll(async () => {
  await engine.dispose();
});

describe('gnnrl rl --train-log', () => {
  test('the policy-gradient agents learn from the log, are evaluated and checkpointed; others interact as before', async () => {
    const out = join(dir, 'rl');
    const config = rlConfig(['--env', 'sim:tiny', '--agent', 'reinforce,reinforce-topk,random', '--train-log', logFile, '--log-epochs', '2', '--episodes', '64', '--backend', 'cpu', '--quiet', '--out', out]);
    const r = await runRlJob(config, { engine, stderr: quiet });
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    const events = readFileSync(logFile, 'utf8').trim().split('\n').length;
    for (const name of ['reinforce', 'reinforce-topk']) {
      const a = r.agents.find((x) => x.name === name)!;
      expect(a.status, name).toBe('ok');
      expect(a.train?.fromLog).toMatchObject({ file: logFile, events, epochs: 2 });
      expect(a.train!.steps).toBeGreaterThan(0);
      expect(existsSync(join(out, name, 'agent.ckpt'))).toBe(true);
      expect(Number.isFinite(metrics.agents[name].meanReturn), name).toBe(true);
      expect(metrics.agents[name].train.fromLog.events, name).toBe(events);
    }
    // The corrected agent reweights the log: its importance weights are reported, the uncorrected one's are not.
    expect(r.agents.find((x) => x.name === 'reinforce-topk')!.train!.fromLog!.meanWeight).not.toBeNull();
    expect(r.agents.find((x) => x.name === 'reinforce')!.train!.fromLog!.meanWeight).toBeNull();
  });

  test('bad uses are usage errors naming --train-log', async () => {
    expect(() => rlConfig(['--agent', 'dqn,random', '--train-log', logFile])).toThrow(/--train-log: only reinforce and reinforce-topk learn from a log/);
    expect(() => rlConfig(['--agent', 'reinforce', '--train-log', join(dir, 'nope.jsonl')])).toThrow(UsageError);
    expect(() => rlConfig(['--agent', 'reinforce', '--train-log', join(dir, 'x.txt')])).toThrow(/expected a .jsonl or .csv propensity log/);
    // A log naming an item outside the environment's catalogue is refused with the line.
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"user":0,"item":99999,"reward":1,"propensity":0.5,"history":[],"step":0}\n');
    const config = rlConfig(['--env', 'sim:tiny', '--agent', 'reinforce', '--train-log', bad, '--episodes', '64', '--backend', 'cpu', '--quiet', '--out', join(dir, 'bad')]);
    const r = await runRlJob(config, { engine, stderr: quiet });
    expect(r.agents[0].status).toBe('failed');
    expect(r.agents[0].error).toMatch(/bad\.jsonl:1:.*item/);
  });
});
