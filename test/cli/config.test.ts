import { describe, expect, test } from 'vitest';
import { UsageError, parseFlags } from '../../src/cli/args.js';
import { TRAIN_OPTIONS, defaultTrainConfig, parseTrainArgs, readConfigFile, trainHelp, type TrainConfig } from '../../src/cli/config.js';
import { DEFAULT_MODELS } from '../../src/models/registry.js';

/** parseTrainArgs with config files served from memory. */
function parse(argv: string[], files: Record<string, unknown> = {}): TrainConfig {
  const r = parseTrainArgs(argv, (p) => {
    if (!(p in files)) throw new Error(`ENOENT: no such file '${p}'`);
    const f = files[p];
    return typeof f === 'string' ? f : JSON.stringify(f);
  });
  if (r.help) throw new Error('unexpected help');
  return r.config;
}

function usageError(argv: string[], files: Record<string, unknown> = {}): UsageError {
  try {
    parse(argv, files);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('train options', () => {
  test('defaults', () => {
    const c = parse([]);
    expect(c).toEqual(defaultTrainConfig());
    expect(c.data).toBe('synthetic:small');
    expect(c.model).toEqual([...DEFAULT_MODELS]);
    expect(c.split).toBe('user-time:0.8');
    expect(c.k).toEqual([10, 20]);
    expect(c.out).toBe('run');
    expect(c.epochs).toBeNull();
  });

  test('every flag parses to its canonical value', () => {
    const c = parse([
      '--data', 'ml-100k:data/ml-100k',
      '--model', 'svd++,pop,SVD++,lightgcn',
      '--split', 'random:0.7',
      '--val=0.2',
      '--epochs', '7',
      '--patience', '0',
      '--monitor', 'ndcg@20',
      '--k', '20,5,20',
      '--dim', '32',
      '--lr', '0.01',
      '--batch-size=512',
      '--seed', '3',
      '--backend', 'CPU',
      '--out', 'x/y',
      '--ci',
      '--val-users', '0',
      '--features',
      '--model-options', '{"svd++":{"lr":0.007}}',
      '--quiet',
      '--json=false',
    ]);
    expect(c).toEqual({
      data: 'ml-100k:data/ml-100k',
      map: null,
      model: ['svdpp', 'popularity', 'lightgcn'],
      split: 'random:0.7',
      test: null,
      sweep: null,
      val: 0.2,
      epochs: 7,
      patience: 0,
      monitor: 'ndcg@20',
      k: [5, 20],
      dim: 32,
      lr: 0.01,
      batchSize: 512,
      seed: 3,
      backend: 'cpu',
      out: 'x/y',
      ci: true,
      valUsers: 0,
      features: true,
      modelOptions: { svdpp: { lr: 0.007 } },
      quiet: true,
      json: false,
    });
  });

  test("'all' expands to every model; data and split forms", () => {
    expect(parse(['--model', 'all']).model).toHaveLength(20);
    expect(parse(['--data', 'synthetic']).data).toBe('synthetic:small');
    expect(parse(['--data', 'synthetic:TINY']).data).toBe('synthetic:tiny');
    expect(parse(['--split', 'loo']).split).toBe('loo');
    expect(parse(['--split', 'user-time']).split).toBe('user-time:0.8');
    expect(parse(['--data', 'csv:a.csv', '--map', 'user=u,item=2,ts=when']).map).toBe('user=u,item=2,ts=when');
    expect(parse(['--epochs', 'auto']).epochs).toBeNull();
    expect(parse(['--backend', 'native']).backend).toBe('native');
  });

  test('the config file sets options and flags override it', () => {
    const files = { 'run.json': { epochs: 3, dim: 16, model: ['lightgcn', 'svd'], split: 'loo', ci: true, modelOptions: { lightgcn: { layers: 2 } } } };
    const c = parse(['--config', 'run.json', '--epochs', '9', '--ci=false'], files);
    expect(c.epochs).toBe(9);
    expect(c.ci).toBe(false);
    expect(c.dim).toBe(16);
    expect(c.model).toEqual(['lightgcn', 'svd']);
    expect(c.split).toBe('loo');
    expect(c.modelOptions).toEqual({ lightgcn: { layers: 2 } });
    // A comma string works in the file too.
    expect(parse(['--config', 'f.json'], { 'f.json': { model: 'svd,nmf', k: '5' } }).model).toEqual(['svd', 'nmf']);
  });

  test('the resolved config, written back as a file, resolves to itself', () => {
    const c = parse(['--data', 'csv:log.csv', '--map', 'user=a,item=b,rating=3', '--model', 'all', '--epochs', '4', '--lr', '0.05']);
    expect(parse(['--config', 'c.json'], { 'c.json': JSON.parse(JSON.stringify(c)) })).toEqual(c);
  });

  test('bad values name the flag and what was expected', () => {
    const cases: [string[], RegExp][] = [
      [['--epochs', '0'], /^--epochs: expected an integer >= 1, got '0'$/],
      [['--epochs', '2.5'], /^--epochs: expected an integer >= 1, got '2.5'$/],
      [['--epochs', '10x'], /^--epochs: expected an integer >= 1, got '10x'$/],
      [['--val', '1'], /^--val: expected a number in \[0, 1\), got '1'$/],
      [['--split', 'user-time:1.5'], /^--split: user-time ratio: expected a number in \(0, 1\), got '1.5'$/],
      [['--split', 'kfold'], /^--split: unknown split 'kfold'/],
      [['--backend', 'metal'], /^--backend: expected one of auto, webgpu, native, cpu, got 'metal'$/],
      [['--k', '10,,20'], /^--k: expected a non-empty comma-separated list/],
      [['--k', '0'], /^--k: expected an integer in \[1, 1000\], got '0'$/],
      [['--lr', '-1'], /^--lr: expected a number in \(0, 10\]/],
      [['--dim', 'big'], /^--dim: expected an integer in \[1, 4096\], got 'big'$/],
      [['--data', 'parquet:x'], /^--data: unknown data kind 'parquet'/],
      [['--data', 'synthetic:huge'], /^--data: synthetic preset: expected one of tiny, small, medium, large/],
      [['--model', 'svd,foo'], /^--model: unknown model 'foo'; valid models: popularity, baseline-only, knn-basic, knn-means, knn-baseline, svd, svdpp, nmf, ddpg-la, ddpg-rlstm, ddpg-lstm, ddpg-tsa, ddpg-sa, ddpg-rlstm-sa, ddpg-lstm-tsa, ddpg-lstm-sa, lightgcn, gcn, sage, gat/],
      [['--monitor', 'ndcg@10'], /^--monitor: expected one of rmse, mae, loss, recall@20, ndcg@20, got 'ndcg@10'$/],
      [['--model-options', '{bad'], /^--model-options: expected a JSON object/],
      [['--model-options', '{"gat":{}}', '--model', 'svd'], /^--model-options: options for 'gat', which is not among the models trained/],
      [['--ci=maybe'], /^--ci: expected true or false, got 'maybe'$/],
      [['--data', 'csv:x.csv'], /^--map: required with csv: data/],
      [['--map', 'user=a,item=b'], /^--map: only applies to csv:, tsv: and jsonl: data/],
      [['--data', 'csv:x.csv', '--map', 'user=a'], /^--map: expected at least user=… and item=…/],
      [['--data', 'jsonl:x.jsonl', '--map', 'user=0,item=b'], /^--map: user: JSONL fields are keys/],
      [['--data', 'csv:x.csv', '--map', 'user=a,item=b,score=c'], /^--map: unknown role 'score'/],
    ];
    for (const [argv, re] of cases) {
      const err = usageError(argv);
      expect(err.message, argv.join(' ')).toMatch(re);
    }
    expect(usageError(['--epochs', '0']).details.arg).toBe('--epochs');
  });

  test('bad values in the config file name the key and the file', () => {
    expect(usageError(['--config', 'r.json'], { 'r.json': { epochs: 'many' } }).message).toBe("'epochs' in r.json: expected an integer >= 1, got 'many'");
    expect(usageError(['--config', 'r.json'], { 'r.json': { k: [10, -1] } }).message).toMatch(/^'k' in r\.json: expected an integer in \[1, 1000\]/);
    expect(usageError(['--config', 'r.json'], { 'r.json': { ci: 'sometimes' } }).message).toMatch(/^'ci' in r\.json: expected true or false/);
    expect(usageError(['--config', 'r.json'], { 'r.json': '{"epochs": 3,' }).message).toMatch(/^--config: r\.json is not valid JSON/);
    expect(usageError(['--config', 'r.json'], { 'r.json': [1, 2] }).message).toMatch(/^--config: r\.json: expected a JSON object/);
    expect(usageError(['--config', 'nope.json']).message).toMatch(/^--config: cannot read nope\.json/);
  });

  test('unknown flags and keys are errors listing the valid ones', () => {
    const flag = usageError(['--epoch', '3']);
    expect(flag.message).toMatch(/^unknown flag --epoch \(did you mean --epochs\?\); valid flags: --data, --map, --model, /);
    for (const s of TRAIN_OPTIONS) expect(flag.message).toContain(`--${s.flag}`);
    const key = usageError(['--config', 'r.json'], { 'r.json': { batch_size: 3 } });
    expect(key.message).toMatch(/^unknown key 'batch_size' in r\.json \(did you mean 'batchSize'\?\); valid keys: 'data', /);
    expect(key.message).not.toContain("'config'"); // flag-only options are not keys
    expect(usageError(['--config', 'r.json'], { 'r.json': { help: true } }).message).toMatch(/unknown key 'help'/);
    expect(usageError(['svd']).message).toMatch(/^unexpected argument 'svd'/);
    expect(usageError(['--epochs']).message).toBe('--epochs: expected a value (N)');
    expect(usageError(['--epochs', '--dim', '3']).message).toBe('--epochs: expected a value (N)');
    expect(usageError(['--dim', '3', '--dim', '4']).message).toBe('--dim is given twice');
  });

  test('an embedding wider than the encoders\' kernels take is refused before anything is loaded, naming the flag', () => {
    expect(usageError(['--model', 'lightgcn,svd', '--dim', '512']).message).toBe('--dim: lightgcn takes at most 256 (the widest row the SpMM kernels take), got 512');
    expect(usageError(['--model', 'gcn', '--model-options', '{"gcn":{"dim":300}}']).message).toMatch(/^--model-options: gcn\.dim: gcn takes at most 256/);
    // Baselines have no such bound.
    expect(() => parseTrainArgs(['--model', 'svd', '--dim', '512'])).not.toThrow();
  });

  test('--help lists every option with its default', () => {
    expect(parseTrainArgs(['--help'])).toEqual({ help: true });
    expect(parseTrainArgs(['--epochs', '3', '-h'])).toEqual({ help: true });
    const help = trainHelp();
    for (const s of TRAIN_OPTIONS) expect(help).toMatch(new RegExp(`^  --${s.flag}\\b`, 'm'));
    expect(help).toMatch(/--data SPEC[\s\S]*\(default: synthetic:small\)/);
    expect(help).toMatch(/--model LIST +models to train, comma-separated, or 'all' \(default: popularity,baseline-only,svd,lightgcn\)/);
    expect(help).toMatch(/--seed N +.*\(default: 42\)/);
    expect(help).toMatch(/exit codes: 0 done, 1 failed while running, 2 bad options/);
  });

  test('readConfigFile and parseFlags on their own', () => {
    expect(readConfigFile('a.json', () => '{"dim": 8}')).toEqual({ dim: 8 });
    const flags = parseFlags(['--dim=8', '--ci'], TRAIN_OPTIONS);
    expect([...flags]).toEqual([
      ['dim', '8'],
      ['ci', true],
    ]);
  });
});
