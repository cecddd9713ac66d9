import { describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadSnapshot } from '../../src/serve/snapshot.js';

const root = resolve(__dirname, '../..');

// A child that writes ever newer 48 MB snapshots to one path, printing each version once
// its rename is done; the test kills it with SIGKILL in the middle of a later write.
const WRITER = `
import { saveSnapshot } from ${JSON.stringify(join(root, 'src/serve/snapshot.ts'))};
const path = process.argv[2];
const weights = new Float32Array(12 << 20);
for (let v = 1; ; v++) {
  weights.fill(v);
  await saveSnapshot(path, { kind: 'svd', config: {}, meta: {}, ids: null, weights: { w: weights }, modelVersion: v });
  process.stdout.write('wrote ' + v + '\\n');
}
`;

describe('snapshot writes survive kill -9', () => {
  test('a process killed while writing leaves the previous snapshot loadable and whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-crash-'));
    try {
      const script = join(dir, 'writer.mts');
      writeFileSync(script, WRITER);
      const path = join(dir, 'model.gnnrl');
      const child = spawn(process.execPath, ['--import', 'tsx', script, path], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      let last = 0;
      let sawTemp = false;
      const killedAfter = await new Promise<number>((res, rej) => {
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (d: string) => {
          for (const m of d.matchAll(/wrote (\d+)/g)) last = Number(m[1]);
          // After the second complete write, kill as soon as the third's temporary file
          // exists: between its open and its rename, i.e. in the middle of writing.
          if (last === 2) {
            const poll = setInterval(() => {
              if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) {
                clearInterval(poll);
                sawTemp = true;
                child.kill('SIGKILL');
              }
            }, 1);
          }
        });
        child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? res(last) : rej(new Error(`writer exited without being killed (last version ${last})`))));
      });
      expect(killedAfter).toBeGreaterThanOrEqual(2);
      expect(sawTemp).toBe(true);
      const snap = await loadSnapshot(path);
      // Whole: the version the child last reported, or the one it was renaming as it died.
      expect(snap.modelVersion).toBeGreaterThanOrEqual(killedAfter);
      const w = snap.weights.w as Float32Array;
      expect(w.length).toBe(12 << 20);
      expect(w[0]).toBe(snap.modelVersion);
      expect(w[w.length - 1]).toBe(snap.modelVersion);
      // What the kill leaves behind is at most a temporary file beside it, never under the target's name.
      for (const f of readdirSync(dir)) expect(['writer.mts', 'model.gnnrl'].includes(f) || /^\.model\.gnnrl\..*\.tmp$/.test(f), f).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
