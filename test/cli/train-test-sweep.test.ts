/**
 * `gnnrl train --test` (a predefined train/test pair) and `--sweep` (one model option over
 * several values), in-process on the CPU backend with small files the test writes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { UsageError } from '../../src/cli/args.js';
import { parseSweepSpec, parseTrainArgs, type TrainConfig } from '../../src/cli/config.js';
import { runTrainJob } from '../../src/cli/train-job.js';
import { runTrainSweep, sweepCsv, sweepDirName, sweepSvg, type SweepRow } from '../../src/cli/train-sweep.js';
import { curvesSvg, metricsJson, type ModelResult } from '../../src/cli/train-output.js';
import { alignToTrain } from '../../src/data/align.js';
import { writeSyntheticMovieLens } from '../../src/data/synthetic-movielens.js';
import { loadCsv } from '../../src/data/csv.js';
import { Rng } from '../../src/util/rng.js';
import { parseXml } from './train-helpers.js';

function configOf(argv: string[]): TrainConfig {
  const r = parseTrainArgs(argv);
  if (r.help) throw new Error('help');
  return r.config;
}

const quiet = { write: () => true };
let engine: Engine;
let dir: string;
let trainCsv: string;
let testCsv: string;

/** A rating log with a planted user × item structure; the test file also names 3 users and 2 items train lacks. */
function writePair(): void {
  const rng = new Rng(11);
  const train = ['user,item,rating,ts'];
  const testRows = ['user,item,rating,ts'];
  for (let u = 0; u < 40; u++) {
    for (let j = 0; j < 14; j++) {
      const i = rng.int(30);
      const r = 1 + ((u % 5) + (i % 5)) % 5;
      (j < 11 ? train : testRows).push(`u${u},i${i},${r},${1000 + j}`);
    }
  }
  for (let u = 0; u < 3; u++) testRows.push(`new${u},i1,3,2000`);
  testRows.push('u1,newitem,4,2000', 'u2,newitem2,2,2000');
  trainCsv = join(dir, 'train.csv');
  testCsv = join(dir, 'test.csv');
  writeFileSync(trainCsv, train.join('\n') + '\n');
  writeFileSync(testCsv, testRows.join('\n') + '\n');
}

beforeAll(async () => {
  engine = await Engine.create({ backend: 'cpu', quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-train-pair-'));
  writePair();
});
afterAll(async () => {
  await engine.dispose();
});

describe('alignToTrain', () => {
  test('maps the test part into the training id space and counts what it drops', async () => {
    const cols = { columns: { user: 'user', item: 'item', rating: 'rating', ts: 'ts' } };
    const train = await loadCsv(trainCsv, cols);
    const test = await loadCsv(testCsv, cols);
    const a = alignToTrain(train, test);
    expect(a.read).toBe(test.user.length);
    expect(a.unknownUsers).toBe(3);
    expect(a.unknownItems).toBe(2);
    expect(a.dropped).toBe(5);
    expect(a.test.user.length).toBe(test.user.length - 5);
    expect(a.test.userIds).toBe(train.userIds);
    // Every kept event names the same external user and item as in the file.
    const wanted = new Set<string>();
    for (let e = 0; e < test.user.length; e++) wanted.add(`${test.userIds.id(test.user[e])}|${test.itemIds.id(test.item[e])}|${test.rating![e]}`);
    for (let e = 0; e < a.test.user.length; e++) {
      expect(wanted.has(`${train.userIds.id(a.test.user[e])}|${train.itemIds.id(a.test.item[e])}|${a.test.rating![e]}`)).toBe(true);
    }
  });

  test('a rated training part and an unrated test part is a coded error', async () => {
    const train = await loadCsv(trainCsv, { columns: { user: 'user', item: 'item', rating: 'rating' } });
    const test = await loadCsv(testCsv, { columns: { user: 'user', item: 'item' } });
    expect(() => alignToTrain(train, test, '--test')).toThrow(/--test: the training data has ratings but the test data has none/);
  });
});

describe('gnnrl train --test', () => {
  test('trains on --data, evaluates on the predefined part, and says what it dropped', async () => {
    const out = join(dir, 'pair');
    const lines: string[] = [];
    const config = configOf(['--data', `csv:${trainCsv}`, '--test', `csv:${testCsv}`, '--map', 'user=user,item=item,rating=rating,ts=ts', '--model', 'baseline-only', '--val', '0', '--out', out]);
    const r = await runTrainJob(config, { engine, stderr: { write: (s: string) => (lines.push(s), true) } });
    expect(r.models[0].status).toBe('ok');
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.split.spec).toBe(`predefined: csv:${testCsv}`);
    expect(manifest.split.test).toBe(40 * 3);
    expect(manifest.test).toMatchObject({ dropped: 5, unknownUsers: 3, unknownItems: 2 });
    expect(lines.join('')).toMatch(/dropped 5 that name 3 users and 2 items --data lacks/);
    expect(r.models[0].metrics.rmse).toBeGreaterThan(0);
  });

  test('bad --test values are usage errors naming --test', () => {
    expect(() => configOf(['--data', `csv:${trainCsv}`, '--test', 'synthetic:tiny', '--map', 'user=user,item=item'])).toThrow(/--test: a predefined test part is a file or folder/);
    expect(() => configOf(['--data', `csv:${trainCsv}`, '--test', `tsv:${testCsv}`, '--map', 'user=user,item=item'])).toThrow(/--test: is read like --data, so it must be csv data too/);
    const missing = configOf(['--data', `csv:${trainCsv}`, '--test', `csv:${join(dir, 'nope.csv')}`, '--map', 'user=user,item=item']);
    return expect(runTrainJob(missing, { engine, stderr: quiet })).rejects.toThrow(UsageError);
  });
});

describe('gnnrl train --sweep', () => {
  test('parses MODEL.KEY=values and refuses malformed ones', () => {
    expect(parseSweepSpec('SVD.factors=2, 8,16', '--sweep')).toEqual({ model: 'svd', key: 'factors', values: [2, 8, 16] });
    expect(parseSweepSpec('svd.biased=true,false', '--sweep').values).toEqual([true, false]);
    expect(() => parseSweepSpec('svd=1,2', '--sweep')).toThrow(/expected MODEL.KEY=V1,V2/);
    expect(() => parseSweepSpec('svd.factors=4', '--sweep')).toThrow(/at least two values/);
    expect(() => parseSweepSpec('svd.factors=4,4', '--sweep')).toThrow(/repeated value/);
    expect(() => parseSweepSpec('nosuch.x=1,2', '--sweep')).toThrow(UsageError);
    // The sweep trains its model alone.
    expect(configOf(['--sweep', 'svd.factors=2,4']).model).toEqual(['svd']);
    expect(() => configOf(['--sweep', 'svd.factors=2,4', '--model', 'svd,nmf'])).toThrow(/--sweep: sweeps svd alone/);
  });

  test('one run folder and one row per value; the metric moves with the option; the plot has one point per value', async () => {
    const out = join(dir, 'sweep');
    const config = configOf(['--data', `csv:${trainCsv}`, '--map', 'user=user,item=item,rating=rating,ts=ts', '--sweep', 'svd.epochs=1,30', '--val', '0', '--out', out, '--quiet']);
    const r = await runTrainSweep(config, { engine, stderr: quiet });
    expect(r.rows.map((x) => x.value)).toEqual([1, 30]);
    for (const row of r.rows) {
      expect(row.result.status).toBe('ok');
      expect(existsSync(join(out, sweepDirName('epochs', row.value), 'metrics.json'))).toBe(true);
    }
    // 30 epochs of SGD fit the planted ratings better than one: the sweep is not running one config twice.
    expect(r.rows[1].result.metrics.rmse).toBeLessThan(r.rows[0].result.metrics.rmse);
    const csv = readFileSync(join(out, 'sweep.csv'), 'utf8').trim().split('\n');
    expect(csv[0].split(',').slice(0, 4)).toEqual(['epochs', 'status', 'fit_seconds', 'best_epoch']);
    expect(csv).toHaveLength(3);
    const rmseCol = csv[0].split(',').indexOf('rmse');
    expect(Number(csv[1].split(',')[rmseCol])).toBeCloseTo(r.rows[0].result.metrics.rmse, 6);
    const svg = readFileSync(join(out, 'sweep.svg'), 'utf8');
    expect(() => parseXml(svg)).not.toThrow();
    expect(svg).toMatch(/test rmse/);
    const json = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
    expect(json.rows.map((x: { dir: string }) => x.dir)).toEqual(['epochs=1', 'epochs=30']);
  });
});

describe("a model's own per-epoch series (FitResult.curves)", () => {
  const result = (aveReward: number[], rmse: number): ModelResult => ({
    name: 'svd', display: 'SVD', kind: 'baseline', status: 'ok', fitSeconds: 1, evalSeconds: 0, monitor: null, bestEpoch: aveReward.length, stoppedEarly: false,
    history: aveReward.map((v, i) => ({ epoch: i + 1, loss: 1 - v, seconds: 0.1, samplesPerSecond: 10 })),
    metrics: { rmse }, curves: { Ave_Reward: aveReward },
  });

  test('curves.svg gets a panel per series and metrics.json keeps them', () => {
    const svg = curvesSvg([result([0.5, 0.6, 0.7], 1)], 'run');
    expect(() => parseXml(svg)).not.toThrow();
    expect(svg).toMatch(/Ave_Reward per epoch/);
    expect(JSON.parse(metricsJson([10], [result([0.5, 0.6], 1)])).models.svd.curves).toEqual({ Ave_Reward: [0.5, 0.6] });
  });

  test('a sweep plots the series per value and its mean over the epochs against the value', () => {
    const config = configOf(['--sweep', 'svd.factors=2,4']);
    const spec = parseSweepSpec(config.sweep, '--sweep');
    const rows: SweepRow[] = [
      { value: 2, dir: 'factors=2', result: result([0.2, 0.4], 1.1) },
      { value: 4, dir: 'factors=4', result: result([0.6, 0.8], 0.9) },
    ];
    const csv = sweepCsv(config, spec, rows).trim().split('\n');
    const col = csv[0].split(',').indexOf('mean_Ave_Reward');
    expect(col).toBeGreaterThan(0);
    expect(Number(csv[1].split(',')[col])).toBeCloseTo(0.3, 6);
    expect(Number(csv[2].split(',')[col])).toBeCloseTo(0.7, 6);
    const svg = sweepSvg(config, spec, rows);
    expect(() => parseXml(svg)).not.toThrow();
    expect(svg).toMatch(/Ave_Reward per epoch, by factors/);
    expect(svg).toMatch(/mean Ave_Reward over the epochs/);
    expect(svg).toMatch(/factors=4/);
  });
});

describe("gnnrl train on a generated MovieLens folder: the seed's Table 2 shape", () => {
  test('DDPG-LA reports its [0, 1]-scale errors beside the 1–5 ones, labelled; the baselines only 1–5', async () => {
    const ml = join(dir, 'generated-ml');
    await writeSyntheticMovieLens(ml, { preset: 'tiny', drift: 1, seed: 4 });
    const out = join(dir, 'table2');
    const small = { epochs: 1, hidden: 8, attention: 8, maxHistory: 10, actorHidden: [16], criticHidden: [16, 16] };
    const config = configOf(['--data', `ml-100k:${ml}`, '--split', 'user-time:0.8', '--model', 'ddpg-la,baseline-only', '--val', '0', '--k', '10', '--out', out, '--model-options', JSON.stringify({ 'ddpg-la': small })]);
    const r = await runTrainJob(config, { engine, stderr: quiet });
    const [la, base] = r.models;
    expect(la.status).toBe('ok');
    expect(la.metrics['rmse[0,1]']).toBeCloseTo(la.metrics.rmse / 4, 6);
    expect(la.metrics['mae[0,1]']).toBeCloseTo(la.metrics.mae / 4, 6);
    expect(base.metrics.rmse).toBeGreaterThan(0);
    expect(base.metrics['rmse[0,1]']).toBeUndefined();
    expect(la.curves?.Ave_Reward).toHaveLength(1);
  }, 60_000);
});

