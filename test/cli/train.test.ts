import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { writeMovieLens } from '../../src/data/writers.js';
import { UsageError } from '../../src/cli/args.js';
import { parseTrainArgs, type TrainConfig } from '../../src/cli/config.js';
import { runTrainJob, type TrainResult } from '../../src/cli/train-job.js';
import { interactionsSha256 } from '../../src/cli/data-spec.js';
import { epochsCsvHeader, resultsTable, validationNames } from '../../src/cli/train-output.js';
import { loadCheckpoint } from '../../src/models/checkpoint.js';
import { restoreModel } from '../../src/models/registry.js';
import type { Recommendations } from '../../src/models/types.js';
import { all, expectFiniteCoordinates, parseXml } from './train-helpers.js';

/** A config as the command line would resolve it. */
function configOf(argv: string[]): TrainConfig {
  const r = parseTrainArgs(argv);
  if (r.help) throw new Error('help');
  return r.config;
}

/** A progress stream that keeps what it is given. */
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

const MODELS = ['popularity', 'baseline-only', 'lightgcn'];
let engine: Engine;
let dir: string;

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-train-'));
});
afterAll(async () => {
  await engine.dispose();
});

describe('runTrainJob on synthetic:tiny (CPU)', () => {
  let result: TrainResult;
  let out: string;
  const recs = new Map<string, Recommendations>();
  const users = Int32Array.from({ length: 60 }, (_, u) => u);
  const stderr = sink();

  beforeAll(async () => {
    out = join(dir, 'run');
    const config = configOf(['--data', 'synthetic:tiny', '--model', MODELS.join(','), '--epochs', '2', '--backend', 'cpu', '--out', out, '--ci', '--seed', '7']);
    result = await runTrainJob(config, {
      engine,
      stderr,
      argv: ['--data', 'synthetic:tiny'],
      onModelTrained: async (model, r) => {
        recs.set(r.name, await model.recommend(users, 10));
      },
    });
  });

  test('every model trains, evaluates and is checkpointed', () => {
    expect(result.interrupted).toBe(false);
    expect(result.failed).toBe(false);
    expect(result.models.map((m) => [m.name, m.status])).toEqual(MODELS.map((n) => [n, 'ok']));
    expect(result.models.find((m) => m.name === 'lightgcn')!.history).toHaveLength(2);
    expect(stderr.text()).toMatch(/^LightGCN {2}epoch 2\/2 {2}loss \d\.\d{4} .* ex\/s .* val recall@20 [\d.]+ ndcg@20 [\d.]+/m);
    // Not a TTY: no carriage-return redraws.
    expect(stderr.text()).not.toContain('\r');
  });

  test('writes config, manifest, metrics, epochs.csv, curves.svg and one checkpoint per model', () => {
    const files = readdirSync(out).sort();
    expect(files).toEqual(['baseline-only', 'config.json', 'curves.svg', 'epochs.csv', 'lightgcn', 'manifest.json', 'metrics.json', 'popularity']);
    for (const m of MODELS) expect(readdirSync(join(out, m))).toEqual(['best.ckpt']);

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toEqual(result.config);
    expect(config.model).toEqual(MODELS);

    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.config).toEqual(config);
    expect(manifest.seed).toBe(7);
    expect(manifest.gnnrl).toMatch(/^\d+\.\d+\.\d+/);
    expect(manifest.node).toBe(process.version);
    expect(manifest.backend.name).toBe('cpu');
    expect(manifest.backend.adapter).toBeNull();
    expect(manifest.data.spec).toBe('synthetic:tiny');
    expect(manifest.data.synthetic).toMatchObject({ preset: 'tiny', seed: 7, nUsers: 60, nItems: 120 });
    expect(manifest.data.files).toEqual([]);
    // The log's own fingerprint: regenerating the world from the seed gives the same events.
    expect(manifest.data.sha256).toBe(interactionsSha256(syntheticWorld({ preset: 'tiny', seed: 7 }).interactions));
    expect(manifest.data.sha256).not.toBe(interactionsSha256(syntheticWorld({ preset: 'tiny', seed: 8 }).interactions));
    expect(manifest.data.events).toBe(manifest.split.train + manifest.split.validation + manifest.split.test);
    expect(manifest.split.validation).toBeGreaterThan(0);
    expect(Date.parse(manifest.finished)).toBeGreaterThanOrEqual(Date.parse(manifest.started));
    expect(manifest.status).toBe('ok');
    expect(manifest.command).toEqual(['gnnrl', 'train', '--data', 'synthetic:tiny']);
    expect(JSON.stringify(manifest)).not.toMatch(/"git|commit"/);

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.k).toEqual([10, 20]);
    expect(Object.keys(metrics.models)).toEqual(MODELS);
    for (const name of MODELS) {
      const m = metrics.models[name];
      expect(m.status).toBe('ok');
      for (const key of ['precision@10', 'recall@10', 'ndcg@10', 'hr@10', 'mrr@10', 'map@10', 'ndcg@20', 'coverage@20']) expect(typeof m.metrics[key], `${name} ${key}`).toBe('number');
      expect(m.ci['ndcg@20']).toHaveLength(2);
      expect(m.history.length).toBeGreaterThan(0);
      expect(m.checkpoint).toBe(join(name, 'best.ckpt'));
    }
    expect(typeof metrics.models['baseline-only'].metrics.rmse).toBe('number');
    expect(metrics.models.popularity.metrics.rmse).toBeUndefined();
    // Popularity has no training loss: NaN is written as null.
    expect(metrics.models.popularity.history[0].loss).toBeNull();

    const csv = readFileSync(join(out, 'epochs.csv'), 'utf8').trimEnd().split('\n');
    const header = csv[0].split(',');
    expect(header).toEqual(epochsCsvHeader(validationNames(result.models)));
    expect(header.slice(0, 5)).toEqual(['model', 'epoch', 'loss', 'seconds', 'samples_per_second']);
    expect(header).toEqual(expect.arrayContaining(['val_rmse', 'val_ndcg@20', 'val_recall@20']));
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(result.models.reduce((n, m) => n + m.history.length, 0));
    expect(rows.every((r) => r.length === header.length)).toBe(true);
    expect(rows.filter((r) => r[0] === 'lightgcn').map((r) => r[1])).toEqual(['1', '2']);
    const ndcg = header.indexOf('val_ndcg@20');
    expect(rows.every((r) => Number.isFinite(Number(r[ndcg])))).toBe(true);

    const svg = readFileSync(join(out, 'curves.svg'), 'utf8');
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    const series = all(root, 'polyline').map((p) => p.attrs['data-series']);
    expect(series).toEqual(expect.arrayContaining(['LightGCN', 'BaselineOnly (als)', 'Popularity']));
    expectFiniteCoordinates(svg, root);
  });

  test('each checkpoint reloads through the registry and recommends the same items', async () => {
    for (const name of MODELS) {
      const ck = await loadCheckpoint(join(out, name, 'best.ckpt'));
      expect(ck.state.kind).toBe(name);
      expect(ck.meta).toMatchObject({ model: name, data: 'synthetic:tiny', split: 'user-time:0.8', seed: 7 });
      expect((ck.meta.ids as { users: unknown[] }).users).toHaveLength(60);
      const model = await restoreModel(ck, engine);
      const again = await model.recommend(users, 10);
      const before = recs.get(name)!;
      expect(Array.from(again.items), name).toEqual(Array.from(before.items));
      for (let j = 0; j < before.scores.length; j++) expect(again.scores[j]).toBeCloseTo(before.scores[j], 5);
      model.dispose();
    }
  });

  test('the table has a row per model and a column per metric, blank where not applicable', () => {
    const table = resultsTable(result.models, [10, 20]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^model +fit +epochs +RMSE +MAE +P@10 +R@10 +NDCG@10 +HR@10 +MRR@10 +MAP@10 +P@20 .* Cov@20$/);
    const pop = lines.find((l) => l.startsWith('Popularity'))!;
    const base = lines.find((l) => l.startsWith('BaselineOnly'))!;
    expect(lines.some((l) => l.startsWith('LightGCN'))).toBe(true);
    // RMSE/MAE blank for the ranking-only model: it has two fewer numbers.
    const numbers = (l: string) => l.match(/\d\.\d{4}/g)!.length;
    expect(numbers(base) - numbers(pop)).toBe(2);
    expect(pop).toMatch(/±/); // --ci
  });
});

describe('runTrainJob: stops, failures and usage errors', () => {
  test('Ctrl-C during a fit: the model stops at the next batch, is checkpointed, later models are skipped, files are written', async () => {
    const out = join(dir, 'abort');
    const ctl = new AbortController();
    // Abort as LightGCN finishes its first epoch.
    const stderr = sink((s) => {
      if (/^LightGCN {2}epoch 1\//.test(s)) ctl.abort();
    });
    const config = configOf(['--data', 'synthetic:tiny', '--model', 'popularity,lightgcn,baseline-only', '--epochs', '5', '--val', '0', '--out', out]);
    const r = await runTrainJob(config, { engine, stderr, signal: ctl.signal });
    expect(r.interrupted).toBe(true);
    expect(r.models.map((m) => [m.name, m.status])).toEqual([
      ['popularity', 'ok'],
      ['lightgcn', 'interrupted'],
      ['baseline-only', 'skipped'],
    ]);
    const lightgcn = r.models[1];
    expect(lightgcn.history.length).toBeLessThan(5);
    expect(existsSync(join(out, 'lightgcn', 'best.ckpt'))).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.models.lightgcn.status).toBe('interrupted');
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).status).toBe('interrupted');
    parseXml(readFileSync(join(out, 'curves.svg'), 'utf8'));
  });

  test('csv input with a column map; the manifest fingerprints the file', async () => {
    const file = join(dir, 'log.csv');
    const lines = ['uid,iid,stars,when'];
    for (let u = 0; u < 30; u++) for (let j = 0; j < 8; j++) lines.push(`u${u},i${(u * 7 + j * 3) % 40},${1 + ((u + j) % 5)},${1000 + j}`);
    writeFileSync(file, lines.join('\n') + '\n');
    const out = join(dir, 'csv');
    const config = configOf(['--data', `csv:${file}`, '--map', 'user=uid,item=iid,rating=stars,ts=when', '--model', 'popularity,baseline-only', '--out', out, '--quiet']);
    const stderr = sink();
    const r = await runTrainJob(config, { engine, stderr });
    expect(stderr.text()).toBe('');
    expect(r.models.every((m) => m.status === 'ok')).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.data.files).toEqual([{ path: file, bytes: readFileSync(file).length, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') }]);
    expect(manifest.data).toMatchObject({ events: 240, users: 30, ratings: true, timestamps: true });
  });

  test('MovieLens folders: ml-100k and ml-1m layouts, fingerprinting the files read', async () => {
    const world = syntheticWorld({ preset: 'tiny', seed: 11 });
    for (const format of ['100k', '1m'] as const) {
      const ml = join(dir, `ml-${format}`);
      await writeMovieLens(ml, world.interactions, { format });
      const out = join(dir, `ml-out-${format}`);
      const r = await runTrainJob(configOf(['--data', `ml-${format}:${ml}`, '--model', 'popularity,baseline-only', '--out', out, '--quiet']), { engine, stderr: sink() });
      expect(r.models.map((m) => m.status)).toEqual(['ok', 'ok']);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
      const ratings = format === '100k' ? 'u.data' : 'ratings.dat';
      expect(manifest.data.files.map((f: { path: string }) => f.path)).toContain(join(ml, ratings));
      expect(manifest.data.events).toBe(world.interactions.user.length);
    }
  });

  test('--features: MovieLens side files become node features of the encoders (saved in the checkpoint); other data is a usage error', async () => {
    const world = syntheticWorld({ preset: 'tiny', seed: 12 });
    const x = world.interactions;
    const nU = x.nUsers;
    const nI = x.nItems;
    const ml = join(dir, 'ml-features');
    await writeMovieLens(ml, x, {
      format: '100k',
      users: {
        age: Float32Array.from({ length: nU }, (_, u) => 18 + (u % 50)),
        gender: Int32Array.from({ length: nU }, (_, u) => u % 2),
        genderVocab: ['F', 'M'],
        occupation: Int32Array.from({ length: nU }, (_, u) => u % 3),
        occupationVocab: ['artist', 'doctor', 'writer'],
        zip: Array.from({ length: nU }, () => '00000'),
      },
      items: {
        title: Array.from({ length: nI }, (_, i) => `Item ${i} (1995)`),
        year: Float32Array.from({ length: nI }, (_, i) => 1990 + (i % 10)),
        genreOffsets: Int32Array.from({ length: nI + 1 }, (_, i) => i),
        genres: Int32Array.from({ length: nI }, (_, i) => i % 4),
        genreVocab: ['Action', 'Comedy', 'Drama', 'Horror'],
      },
    });
    const out = join(dir, 'ml-features-out');
    const r = await runTrainJob(configOf(['--data', `ml-100k:${ml}`, '--features', '--model', 'lightgcn', '--epochs', '2', '--out', out, '--quiet']), { engine, stderr: sink() });
    expect(r.models.map((m) => m.status)).toEqual(['ok']);
    const ckpt = await loadCheckpoint(join(out, 'lightgcn', 'best.ckpt'));
    expect(ckpt.state.config.input).toBe('both');
    expect(ckpt.state.arrays['features.user']?.length).toBeGreaterThan(0);
    expect(ckpt.state.arrays['features.item']?.length).toBeGreaterThan(0);
    const synth = configOf(['--data', 'synthetic:tiny', '--features', '--model', 'lightgcn', '--out', join(dir, 'nofeat'), '--quiet']);
    await expect(runTrainJob(synth, { engine, stderr: sink() })).rejects.toThrow(/^--features: node features come from MovieLens side files/);
  });

  test('rating models on implicit data: skipped beside ranking models, a usage error alone', async () => {
    const file = join(dir, 'implicit.tsv');
    const lines: string[] = [];
    for (let u = 0; u < 20; u++) for (let j = 0; j < 6; j++) lines.push(`${u}\t${(u + j * 5) % 30}`);
    writeFileSync(file, lines.join('\n') + '\n');
    const base = ['--data', `tsv:${file}`, '--map', 'user=0,item=1', '--quiet'];
    const r = await runTrainJob(configOf([...base, '--model', 'baseline-only,popularity', '--out', join(dir, 'implicit')]), { engine, stderr: sink() });
    expect(r.models.map((m) => [m.name, m.status])).toEqual([
      ['baseline-only', 'skipped'],
      ['popularity', 'ok'],
    ]);
    expect(r.models[0].note).toMatch(/needs explicit ratings/);
    await expect(runTrainJob(configOf([...base, '--model', 'baseline-only', '--out', join(dir, 'implicit2')]), { engine, stderr: sink() })).rejects.toThrow(
      /^--model: baseline-only need explicit ratings/,
    );
  });

  test('a missing data file or a split the data cannot do is a usage error naming the flag', async () => {
    const missing = configOf(['--data', `csv:${join(dir, 'nope.csv')}`, '--map', 'user=a,item=b', '--out', join(dir, 'x')]);
    const err = await runTrainJob(missing, { engine, stderr: sink() }).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/^--data: file not found: .*nope\.csv$/);
    const file = join(dir, 'nots.csv');
    writeFileSync(file, 'a,b\n1,2\n1,3\n2,2\n2,4\n');
    const noTs = configOf(['--data', `csv:${file}`, '--map', 'user=a,item=b', '--split', 'time:0.5', '--model', 'popularity', '--out', join(dir, 'y'), '--quiet']);
    await expect(runTrainJob(noTs, { engine, stderr: sink() })).rejects.toThrow(/^--split: time:0.5 needs timestamps/);
  });
});
