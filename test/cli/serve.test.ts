import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { loadSnapshot } from '../../src/serve/snapshot.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'src', 'cli', 'main.ts');
let dir: string;
let ckpt: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-cli-'));
  const engine = await Engine.create({ backend: 'cpu', quiet: true });
  const x = syntheticWorld({ preset: 'tiny', seed: 4 }).interactions;
  const entry = getModel('svd');
  const m = await entry.create({ engine, train: x, options: { dim: 4, seed: 1 } });
  await m.fit(x, { epochs: 2 });
  ckpt = join(dir, 'svd.ckpt');
  await saveTrainedModel(ckpt, m, entry, x, { bestEpoch: 2, data: 'synthetic:tiny', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  m.dispose();
  engine.dispose();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gnnrl serve', () => {
  test('serves, reloads on SIGHUP, and on SIGTERM drains, writes the snapshot and exits 0', async () => {
    const snap = join(dir, 'exit.gnnrl');
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--model', ckpt, '--port', '0', '--backend', 'cpu', '--snapshot-on-exit', snap, '--online-options', '{"intervalMs":0}'], { cwd: root });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        out += d;
        const m = /listening on (http:\/\/[\d.]+:\d+) \(svd v1, \d+ users × \d+ items, factors, cpu\)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${out}${stderr}`)));
    });
    expect((await (await fetch(`${base}/health`)).json())).toEqual({ status: 'ok' });
    const r = (await (await fetch(`${base}/recommend?user=1&k=3`)).json()) as { items: (string | number)[] };
    expect(r.items).toHaveLength(3);
    expect((await fetch(`${base}/feedback`, { method: 'POST', body: JSON.stringify({ user: 'someone-new', item: r.items[0], rating: 5 }) })).status).toBe(202);
    child.kill('SIGHUP');
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (/reloaded .*svd\.ckpt \(v1\)/.test(stderr)) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    await fetch(`${base}/feedback`, { method: 'POST', body: JSON.stringify({ user: 'after-reload', item: r.items[1], click: true }) });
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/stopping: draining requests, then writing/);
    const s = await loadSnapshot(snap);
    expect(s.ids!.users).toContain('after-reload');
  }, 60_000);

  test('bad options exit 2 naming the flag', () => {
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', main, 'serve', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const none = run([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--model: required/);
    const missing = run(['--model', join(dir, 'nope.ckpt')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--model: file not found: .*nope\.ckpt/);
    const online = run(['--model', ckpt, '--online-options', '{"speed":1}']);
    expect(online.status).toBe(2);
    expect(online.stderr).toMatch(/--online-options: unknown key 'speed'/);
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: gnnrl serve --model FILE/);
    expect(existsSync(join(dir, 'nope.ckpt'))).toBe(false);
  }, 60_000);
});
