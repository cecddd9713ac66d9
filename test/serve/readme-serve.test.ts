/** The README's serving example, run as written on a checkpoint trained here. */
import { expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test("the README's serving example runs: recommends, folds in a new user, snapshots, answers over HTTP", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```ts\n(import \{ Engine, Recommender[\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has the serving example').toBeTruthy();
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-readme-serve-'));
  const engine = await Engine.create({ backend: 'cpu', quiet: true });
  const x = syntheticWorld({ nUsers: 300, nItems: 400, dim: 8, meanEvents: 15, seed: 9 }).interactions;
  const entry = getModel('lightgcn');
  const m = await entry.create({ engine, train: x, graph: trainingGraph(x.user, x.item, x.nUsers, x.nItems), options: { dim: 16, seed: 1 } });
  await m.fit(x, { epochs: 3 });
  const ckpt = join(dir, 'best.ckpt');
  await saveTrainedModel(ckpt, m, entry, x, { bestEpoch: 3, data: 'synthetic', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  m.dispose();
  engine.dispose();
  const script = join(dir, 'serve.mts');
  const snap = join(dir, 'model.gnnrl');
  writeFileSync(
    script,
    block!
      .replace("from 'gnnrl'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`)
      .replace("'run/lightgcn/best.ckpt'", JSON.stringify(ckpt))
      .replace("'model.gnnrl'", JSON.stringify(snap)),
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000, cwd: root, env: { ...process.env, GNNRL_BACKEND: 'cpu', GNNRL_REQUIRE_GPU: '' } });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^196: (\d+ ){9}\d+ \(v1\)$/m);
  expect(r.stdout).toMatch(/^like 242: (\d+ ){4}\d+$/m);
  expect(r.stdout).toMatch(/^new-user: (\d+ ){9}\d+ folded in, v2$/m);
  expect(r.stdout).toMatch(/^health: ok$/m);
  expect(existsSync(snap)).toBe(true);
}, 180_000);
