/**
 * The README's example, run as written: its code block is extracted, pointed at this
 * checkout instead of the installed package and at a MovieLens-format folder written from
 * the synthetic world, and run in a child process.
 */
import { expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syntheticWorld } from '../src/data/synthetic.js';
import { writeMovieLens } from '../src/data/writers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

test("the README's example runs: LightGCN's loss falls, both models are evaluated, a checkpoint is written", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```ts\n(import \{ Engine[\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has the example block').toBeTruthy();
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-readme-'));
  const world = syntheticWorld({ preset: 'tiny', seed: 5 });
  await writeMovieLens(join(dir, 'ml-100k'), world.interactions, { format: '100k' });
  const script = join(dir, 'example.mts');
  writeFileSync(
    script,
    block!
      .replace("from 'gnnrl'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`)
      .replace("'data/ml-100k'", JSON.stringify(join(dir, 'ml-100k')))
      .replace("'lightgcn.ckpt'", JSON.stringify(join(dir, 'lightgcn.ckpt'))),
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000, cwd: root });
  expect(r.status, r.stderr).toBe(0);
  const losses = [...r.stdout.matchAll(/epoch \d+: loss ([\d.]+)/g)].map((m) => Number(m[1]));
  expect(losses.length).toBe(10);
  expect(losses[9]).toBeLessThan(losses[0]);
  for (const name of ['LightGCN', 'SVD']) {
    const m = new RegExp(`${name}: recall@20 ([\\d.]+) ndcg@20 ([\\d.]+)`).exec(r.stdout);
    expect(m, `${name} line in:\n${r.stdout}`).toBeTruthy();
    expect(Number(m![1])).toBeGreaterThanOrEqual(0);
    expect(Number(m![1])).toBeLessThanOrEqual(1);
  }
  // Five recommended items, as the file's ids (the synthetic world's ids are numbers written as text).
  const recs = /user 0: \[([^\]]*)\]/.exec(r.stdout);
  expect(recs, r.stdout).toBeTruthy();
  expect(recs![1].split(',').length).toBe(5);
  expect(statSync(join(dir, 'lightgcn.ckpt')).size).toBeGreaterThan(0);
});
