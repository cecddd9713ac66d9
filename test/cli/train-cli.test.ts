import { beforeAll, describe, expect, test } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'dist', 'cli', 'main.js');

/** The sources the built train command comes from; dist is rebuilt when one is newer than its output. */
function stale(): boolean {
  const pairs: [string, string][] = [];
  for (const f of readdirSync(join(root, 'src', 'cli'))) if (f.endsWith('.ts')) pairs.push([join('src', 'cli', f), join('dist', 'cli', f.replace(/\.ts$/, '.js'))]);
  for (const f of ['registry', 'checkpoint']) pairs.push([join('src', 'models', `${f}.ts`), join('dist', 'models', `${f}.js`)]);
  return pairs.some(([src, out]) => !existsSync(join(root, out)) || statSync(join(root, src)).mtimeMs > statSync(join(root, out)).mtimeMs);
}

function gnnrl(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 90_000, cwd: root });
}

beforeAll(() => {
  // `npm install` builds dist/ (the prepare script); rebuild only if the train sources changed since.
  if (stale()) {
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8', timeout: 180_000 });
    if (!existsSync(bin)) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  }
});

describe('gnnrl train (built CLI)', () => {
  test('trains, prints the table on stdout and progress on stderr, exits 0', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gnnrl-cli-')), 'run');
    const r = gnnrl(['train', '--data', 'synthetic:tiny', '--model', 'popularity', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model +fit +epochs +P@10 +R@10 +NDCG@10/);
    expect(r.stdout).toMatch(/^Popularity +\S+ +1 +0\.\d{4}/m);
    expect(r.stderr).toMatch(/^loading synthetic:tiny$/m);
    expect(r.stderr).toMatch(/^Popularity {2}epoch 1\/1 /m);
    expect(r.stdout).not.toMatch(/loading/);
    for (const f of ['config.json', 'manifest.json', 'metrics.json', 'epochs.csv', 'curves.svg', join('popularity', 'best.ckpt')]) expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).command).toEqual(['gnnrl', 'train', '--data', 'synthetic:tiny', '--model', 'popularity', '--out', out]);
  });

  test('--json prints machine-readable results', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gnnrl-cli-')), 'run');
    const r = gnnrl(['train', '--data', 'synthetic:tiny', '--model', 'pop', '--out', out, '--json', '--quiet', '--backend', 'cpu']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout);
    expect(res.status).toBe('ok');
    expect(res.models[0]).toMatchObject({ name: 'popularity', status: 'ok' });
    expect(res.models[0].metrics['ndcg@20']).toBeGreaterThan(0);
  });

  test('a bad option exits 2 naming the flag; --help exits 0 listing the options', () => {
    const bad = gnnrl(['train', '--data', 'synthetic:tiny', '--epochs', 'ten']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^gnnrl train: --epochs: expected an integer >= 1, got 'ten'$/m);
    expect(bad.stdout).toBe('');
    const unknown = gnnrl(['train', '--epoch', '3']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown flag --epoch \(did you mean --epochs\?\)/);
    const missing = gnnrl(['train', '--data', 'ml-100k:/nonexistent/ml-100k']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--data: directory not found: \/nonexistent\/ml-100k/);
    const help = gnnrl(['train', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: gnnrl train \[options\]/);
    expect(help.stdout).toMatch(/--backend NAME +auto \| webgpu \| native \| cpu .*\(default: auto\)/);
    expect(gnnrl(['help']).stdout).toMatch(/^ {2}train \[options\]/m);
  });

  test('Ctrl-C stops at the next batch, writes what exists and exits 130', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gnnrl-cli-')), 'run');
    const child = spawn(process.execPath, [bin, 'train', '--data', 'synthetic:small', '--model', 'lightgcn,svd', '--epochs', '50', '--val', '0', '--backend', 'cpu', '--out', out], { cwd: root });
    let stderr = '';
    let sent = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      if (!sent && /^LightGCN {2}epoch {2}1\/50/m.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/stopping at the next batch/);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.models.lightgcn.status).toBe('interrupted');
    expect(metrics.models.lightgcn.history.length).toBeLessThan(50);
    expect(metrics.models.svd.status).toBe('skipped');
    expect(existsSync(join(out, 'lightgcn', 'best.ckpt'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).status).toBe('interrupted');
  });
});
