/**
 * CSV parsing throughput: `loadCsv` (streamed, typed columns, id maps, errors with line
 * numbers) against the naive baseline everybody writes first: readFileSync, split on
 * '\n' and ',', Number() per field, ids through a Map. Both produce dense user/item
 * indices and rating/ts columns for the same 10M-row file (1M under --quick), written
 * once to the temp folder by the project's own writer.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCsv, syntheticWorld, writeCsv } from '../../src/data/index.js';
import type { Suite } from '../harness.js';

function naiveSplit(file: string) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const n = lines.length - 1;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const rating = new Float32Array(n);
  const ts = new Float64Array(n);
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  let k = 0;
  for (let l = 1; l < lines.length; l++) {
    if (lines[l] === '') continue;
    const f = lines[l].split(',');
    let u = users.get(f[0]);
    if (u === undefined) users.set(f[0], (u = users.size));
    let i = items.get(f[1]);
    if (i === undefined) items.set(f[1], (i = items.size));
    user[k] = u;
    item[k] = i;
    rating[k] = Number(f[2]);
    ts[k] = Number(f[3]);
    k++;
  }
  return { user, item, rating, ts, rows: k };
}

export const suite: Suite = {
  name: 'parse',
  baseline: 'naive-split',
  async run(ctx) {
    const rows = ctx.quick ? 1_000_000 : 10_000_000;
    const file = join(tmpdir(), `gnnrl-bench-parse-${rows}.csv`);
    if (!existsSync(file)) {
      const t = performance.now();
      const world = syntheticWorld({ preset: ctx.quick ? 'medium' : 'large', seed: 1 });
      await writeCsv(file, world.interactions, { columns: { user: 'userId', item: 'movieId', rating: 'rating', ts: 'timestamp' } });
      ctx.log(`parse: wrote ${file} (${world.interactions.user.length} rows) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const bytes = statSync(file).size;
    const columns = { user: 'userId', item: 'movieId', rating: 'rating', ts: 'timestamp' };
    const probe = await loadCsv(file, { columns });
    const n = probe.user.length;
    const check = naiveSplit(file);
    if (check.rows !== n || check.user[n - 1] !== probe.user[n - 1] || check.ts[n - 1] !== probe.ts![n - 1]) {
      throw new Error('parse bench: naive and gnnrl parses disagree');
    }
    const caseName = `csv ${(n / 1e6).toFixed(1)}M rows, ${(bytes / 2 ** 20).toFixed(0)} MiB`;
    const opts = { bytes, maxTime: ctx.quick ? 2 : 20, minSamples: ctx.quick ? 3 : 5 };
    const ours = await ctx.measure('parse', caseName, 'gnnrl', () => loadCsv(file, { columns }), opts);
    ctx.log(`parse: gnnrl loadCsv ${(n / (ours.median_ms / 1000) / 1e6).toFixed(2)} M rows/s`);
    const naive = await ctx.measure('parse', caseName, 'naive-split', () => naiveSplit(file), opts);
    ctx.log(`parse: naive-split ${(n / (naive.median_ms / 1000) / 1e6).toFixed(2)} M rows/s`);
  },
};
