/**
 * The README's off-policy evaluation example, run as written: its code block is extracted,
 * pointed at this checkout and a temporary folder, and run in a child process. The log is
 * written and read back, the true value lies inside DR's interval, and LinUCB beats random.
 */
import { expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test("the README's off-policy example runs: estimates with intervals beside the truth, LinUCB ahead of random", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```ts\n(import \{ Engine, syntheticWorld, Simulator, SoftmaxLoggingPolicy[\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has the off-policy example block').toBeTruthy();
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-readme-ope-'));
  const script = join(dir, 'example.mts');
  writeFileSync(script, block!.replace("from 'gnnrl'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`).replaceAll("'log.jsonl'", JSON.stringify(join(dir, 'log.jsonl'))));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000, cwd: root, env: { ...process.env, GNNRL_BACKEND: 'cpu', GNNRL_REQUIRE_GPU: '' } });
  expect(r.status, r.stderr).toBe(0);
  expect(existsSync(join(dir, 'log.jsonl'))).toBe(true);
  const est = new Map([...r.stdout.matchAll(/^(IPS|SNIPS|DR): ([\d.]+) \[([\d.]+), ([\d.]+)\] ESS (\d+)$/gm)].map((m) => [m[1], { value: Number(m[2]), lo: Number(m[3]), hi: Number(m[4]), ess: Number(m[5]) }]));
  expect([...est.keys()], r.stdout).toEqual(['IPS', 'SNIPS', 'DR']);
  const truth = Number(/^true: ([\d.]+)$/m.exec(r.stdout)?.[1]);
  const dr = est.get('DR')!;
  expect(dr.lo).toBeLessThanOrEqual(truth);
  expect(dr.hi).toBeGreaterThanOrEqual(truth);
  for (const e of est.values()) {
    expect(e.lo).toBeLessThanOrEqual(e.value);
    expect(e.hi).toBeGreaterThanOrEqual(e.value);
    expect(e.ess).toBeGreaterThan(10);
  }
  const ret = (name: string) => Number(new RegExp(`^${name}[^:]*: return ([\\d.]+)`, 'm').exec(r.stdout)?.[1]);
  expect(ret('LinUCB'), r.stdout).toBeGreaterThan(ret('Random'));
}, 150_000);
