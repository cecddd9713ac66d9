/**
 * Propensity logs: the softmax logging policy's propensities, the simulator-driven writer,
 * JSONL and CSV round trips, the loader's coded errors (file and line), and the behaviour
 * model that estimates propensities a log lacks.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { SoftmaxLoggingPolicy, popularityScorer, type ItemScorer } from '../../src/rl/policies/logging.js';
import { collectLog } from '../../src/rl/log/collect.js';
import { contextObservation, writeLog, type LoggedData } from '../../src/rl/log/format.js';
import { loadLog } from '../../src/rl/log/loader.js';
import { fitBehaviourModel } from '../../src/rl/log/behaviour.js';
import { historyExclusions, isExcluded } from '../../src/rl/state/exclusions.js';
import { PopularityPolicy } from '../../src/rl/policies/fixed.js';

const world = syntheticWorld({ preset: 'tiny', seed: 5 });
const dir = mkdtempSync(join(tmpdir(), 'gnnrl-log-'));

async function rejects(p: Promise<unknown>): Promise<GnnrlError> {
  try {
    await p;
  } catch (e) {
    return e as GnnrlError;
  }
  throw new Error('did not throw');
}

/** The world's true affinities p_u·q_i as a scorer: a logger that knows the users. */
function affinityScorer(): ItemScorer {
  const { nItems, dim, userFactors, itemFactors } = world;
  return {
    name: 'affinity',
    nItems,
    score: async (obs) => {
      const out = new Float32Array(obs.batch * nItems);
      for (let b = 0; b < obs.batch; b++) {
        const u = obs.user[b];
        for (let i = 0; i < nItems; i++) {
          let s = 0;
          for (let t = 0; t < dim; t++) s += userFactors[u * dim + t] * itemFactors[i * dim + t];
          out[b * nItems + i] = s;
        }
      }
      return out;
    },
  };
}

function expectSameLog(a: LoggedData, b: LoggedData): void {
  expect(b.n).toBe(a.n);
  expect(b.slateSize).toBe(a.slateSize);
  for (const k of ['user', 'step', 'slate', 'position', 'reward', 'propensity', 'time'] as const) expect(Array.from(b[k]), k).toEqual(Array.from(a[k]));
  expect(b.session && Array.from(b.session)).toEqual(a.session && Array.from(a.session));
  // Windows are right-aligned; the loaded H is the longest window in the file.
  for (let j = 0; j < a.n; j++) {
    const w = (l: LoggedData) => Array.from(l.history.subarray(j * l.historyLen, (j + 1) * l.historyLen)).filter((i) => i >= 0);
    expect(w(b)).toEqual(w(a));
  }
}

describe('softmax logging policy', () => {
  test('propensities are the probabilities of the sampled slates, outside the history, and sum to 1', async () => {
    const env = new Simulator(world, { batch: 8, slateSize: 3 });
    const obs = env.reset(4);
    const policy = new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 3, { temperature: 0.5, epsilon: 0.1, seed: 3 });
    const { actions, propensity } = await policy.actWithPropensity(obs);
    expect(Array.from(await policy.probabilities(obs, actions))).toEqual(Array.from(propensity));
    const rows = historyExclusions(obs);
    for (let b = 0; b < 8; b++) {
      expect(propensity[b]).toBeGreaterThan(0);
      expect(propensity[b]).toBeLessThanOrEqual(1);
      const slate = Array.from(actions.subarray(b * 3, b * 3 + 3));
      expect(new Set(slate).size).toBe(3);
      for (const i of slate) expect(isExcluded(rows, b, i)).toBe(false);
    }
    const single = new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 1, { temperature: 0.5, epsilon: 0.1 });
    const dist = await single.distribution(obs);
    for (let b = 0; b < 8; b++) {
      let s = 0;
      for (let i = 0; i < world.nItems; i++) {
        s += dist[b * world.nItems + i];
        if (isExcluded(rows, b, i)) expect(dist[b * world.nItems + i]).toBe(0);
      }
      expect(s).toBeCloseTo(1, 12);
    }
  });

  test('sampled frequencies follow the reported propensities', async () => {
    const env = new Simulator(world, { batch: 1 });
    const obs = env.reset(2);
    const policy = new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 1, { temperature: 0.3, epsilon: 0.05, seed: 9 });
    const dist = await policy.distribution(obs);
    const top = dist.indexOf(Math.max(...dist));
    const draws = 4000;
    let hits = 0;
    for (let r = 0; r < draws; r++) if ((await policy.act(obs))[0] === top) hits++;
    const p = dist[top];
    expect(Math.abs(hits / draws - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / draws));
  });

  test('bad options are coded input errors naming the option', () => {
    const s = popularityScorer(world.interactions);
    expect(() => new SoftmaxLoggingPolicy(s, 1, { temperature: 0 })).toThrow(/temperature: expected a finite number > 0, got 0/);
    expect(() => new SoftmaxLoggingPolicy(s, 1, { epsilon: 1.5 })).toThrow(/epsilon: expected a number in \[0, 1\]/);
    expect(() => new SoftmaxLoggingPolicy(s, 0)).toThrow(/slateSize/);
  });
});

describe('logs written by the simulator', () => {
  test('collectLog records every slot-step with the policy propensity and the targets’ true expected rewards', async () => {
    const env = new Simulator(world, { batch: 16 });
    const logger = new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 1, { seed: 1 });
    const target = new PopularityPolicy(world.interactions, 1);
    const { log, targetExpectedReward, loggerExpectedReward } = await collectLog(env, logger, { steps: 20, seed: 7, targets: [target] });
    expect(log.n).toBe(320);
    expect(log.historyLen).toBe(env.historyLen);
    expect(targetExpectedReward[0].length).toBe(320);
    // Replaying the logged contexts gives the logger's own propensities back (its first 16 states).
    const obs = contextObservation(log, 0, 16);
    expect(Array.from(await logger.probabilities(obs, log.slate.slice(0, 16)))).toEqual(Array.from(log.propensity.subarray(0, 16)));
    // The recorded truth is the simulator's expected reward in those states.
    const env2 = new Simulator(world, { batch: 16 });
    env2.reset(7);
    expect(Array.from(targetExpectedReward[0].subarray(0, 16))).toEqual(Array.from(env2.expectedReward(await target.act(env2.reset(7)))));
    // Sessions: the 16 slots' first episodes are 0…15; a slot's next episode gets the next id.
    expect(Array.from(log.session!.subarray(0, 16))).toEqual(Array.from({ length: 16 }, (_, b) => b));
    for (let j = 16; j < log.n; j++) {
      const prev = log.session![j - 16];
      expect(log.session![j]).toBe(log.step[j] === 0 ? log.session![j] : prev);
      if (log.step[j] > 0) expect(log.user[j]).toBe(log.user[j - 16]);
    }
    expect(new Set(log.session).size).toBeGreaterThan(16);
    for (let j = 0; j < log.n; j++) {
      expect(loggerExpectedReward![j]).toBeGreaterThan(0);
      expect(log.reward[j] === 0 ? log.position[j] : 0).toBe(log.reward[j] === 0 ? -1 : 0);
    }
  });

  test.each(['jsonl', 'csv'])('%s round trip, single items and slates', async (ext) => {
    for (const k of [1, 3]) {
      const env = new Simulator(world, { batch: 8, slateSize: k });
      const { log } = await collectLog(env, new SoftmaxLoggingPolicy(popularityScorer(world.interactions), k, { seed: 2 }), { steps: 6, seed: 3 });
      const path = join(dir, `round-${k}.${ext}`);
      await writeLog(path, log);
      const back = await loadLog(path, { nUsers: world.nUsers, nItems: world.nItems });
      expectSameLog(log, back);
      expect(back.propensitySource).toBe('logged');
    }
  });
});

describe('loader errors name the file and the line', () => {
  const good = '{"user":1,"step":0,"history":[3],"item":5,"position":0,"reward":1,"propensity":0.2,"time":0}';
  const cases: [string, string, RegExp, number][] = [
    ['missing propensity', `${good}\n{"user":2,"item":4,"reward":0}\n`, /missing-propensity\.jsonl:2: propensity: missing.*'estimate'/, 2],
    ['zero propensity', `${good}\n${good}\n{"user":2,"item":4,"reward":0,"propensity":0}\n`, /:3: propensity: expected a probability in \(0, 1\], got 0 \(a non-positive/, 3],
    ['negative propensity', `{"user":2,"item":4,"reward":0,"propensity":-0.1}\n`, /:1: propensity: expected a probability in \(0, 1\], got -0\.1/, 1],
    ['propensity above 1', `${good}\n{"user":2,"item":4,"reward":0,"propensity":1.5}\n`, /:2: propensity: .*got 1\.5/, 2],
    ['unknown item', `${good}\n{"user":2,"item":500,"reward":0,"propensity":0.5}\n`, /:2: item: unknown item 500: the catalogue has 120 items/, 2],
    ['unknown user', `{"user":60,"item":4,"reward":0,"propensity":0.5}\n`, /:1: user: unknown user 60/, 1],
    ['repeated slate item', `{"user":1,"slate":[4,2],"reward":0,"propensity":0.5}\n{"user":1,"slate":[4,4],"reward":0,"propensity":0.5}\n`, /:2: slate: item 4 appears twice/, 2],
    ['slate length', `{"user":1,"slate":[4,2],"reward":0,"propensity":0.5}\n{"user":1,"slate":[4],"reward":0,"propensity":0.5}\n`, /:2: slate: expected 2 items like line 1, got 1/, 2],
    ['bad json', `${good}\n{"user":1,\n`, /:2: not a JSON object/, 2],
    ['session on some lines only', `{"user":1,"session":3,"item":4,"reward":0,"propensity":0.5}\n{"user":1,"item":5,"reward":0,"propensity":0.5}\n`, /:2: session: expected a session id \(an integer >= 0\) as line 1 gives, got undefined/, 2],
    ['bad position', `{"user":1,"item":4,"position":3,"reward":1,"propensity":0.5}\n`, /:1: position: expected an integer in \[-1, 1\)/, 1],
  ];
  test.each(cases)('%s', async (name, text, re, line) => {
    const path = join(dir, `${name.replace(/ /g, '-')}.jsonl`);
    writeFileSync(path, text);
    const e = await rejects(loadLog(path, { nUsers: 60, nItems: 120 }));
    expect(e).toBeInstanceOf(GnnrlError);
    expect(e.code).toBe('format');
    expect(e.message).toMatch(re);
    expect(e.message).toContain(path);
    expect(e.details.file).toBe(path);
    expect(e.details.line).toBe(line);
  });

  test('an empty log, a CSV without its header, a CSV row of the wrong width, an unknown extension', async () => {
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    expect((await rejects(loadLog(write('empty.jsonl', '\n\n')))).message).toMatch(/empty\.jsonl: the log has no events/);
    expect((await rejects(loadLog(write('noheader.csv', '1,2,3\n')))).message).toMatch(/noheader\.csv:1: expected a header with user, reward and item or slate/);
    const wide = await rejects(loadLog(write('wide.csv', 'user,item,reward,propensity\n1,2,0,0.5\n1,2,0,0.5,9\n')));
    expect(wide.message).toMatch(/wide\.csv:3: expected 4 fields like the header, got 5/);
    expect(wide.details.line).toBe(3);
    const csvMissing = await rejects(loadLog(write('nopro.csv', 'user,item,reward,propensity\n1,2,0,0.5\n1,2,0,\n')));
    expect(csvMissing.message).toMatch(/nopro\.csv:3: propensity: missing/);
    expect((await rejects(loadLog(write('x.parquet', '')))).message).toMatch(/unknown log format '\.parquet'/);
    expect((await rejects(loadLog(join(dir, 'absent.jsonl')))).message).toMatch(/absent\.jsonl: cannot read the log \(ENOENT\)/);
  });
});

describe('behaviour model (propensity: estimate)', () => {
  test('recovers a popularity logger’s propensities from a log without them', async () => {
    const env = new Simulator(world, { batch: 32 });
    const logger = new SoftmaxLoggingPolicy(popularityScorer(world.interactions), 1, { temperature: 0.7, epsilon: 0, seed: 4 });
    const { log } = await collectLog(env, logger, { steps: 120, seed: 5 });
    // Written without propensities, as a log of unknown provenance would be.
    const path = join(dir, 'nopropensity.csv');
    writeFileSync(path, 'user,history,item,reward\n' + Array.from({ length: log.n }, (_, j) => `${log.user[j]},${Array.from(log.history.subarray(j * log.historyLen, (j + 1) * log.historyLen)).filter((i) => i >= 0).join(' ')},${log.slate[j]},${log.reward[j]}`).join('\n') + '\n');
    expect((await rejects(loadLog(path))).message).toMatch(/nopropensity\.csv:2: propensity: missing/);
    const est = await loadLog(path, { propensity: 'estimate', nItems: world.nItems });
    expect(est.propensitySource).toBe('estimated');
    const rel = Array.from(est.propensity, (p, j) => Math.abs(p / log.propensity[j] - 1)).sort((a, b) => a - b);
    expect(rel[Math.floor(rel.length / 2)]).toBeLessThan(0.15);
    // Uniform propensities would be far off: the check can fail.
    const uniform = Array.from(log.propensity, (p) => Math.abs(1 / (world.nItems - 10) / p - 1)).sort((a, b) => a - b);
    expect(uniform[Math.floor(uniform.length / 2)]).toBeGreaterThan(0.3);
  });

  test('with context scores it recovers the softmax weight 1/T of a personalised logger', async () => {
    const env = new Simulator(world, { batch: 32 });
    const scorer = affinityScorer();
    const logger = new SoftmaxLoggingPolicy(scorer, 1, { temperature: 0.5, epsilon: 0, seed: 6 });
    const { log } = await collectLog(env, logger, { steps: 80, seed: 8 });
    const scores = new Float32Array(log.n * world.nItems);
    for (let lo = 0; lo < log.n; lo += 256) scores.set(await scorer.score(contextObservation(log, lo, Math.min(log.n, lo + 256))), lo * world.nItems);
    const model = fitBehaviourModel(log, { nItems: world.nItems, scores });
    expect(model.beta).toBeGreaterThan(1.6);
    expect(model.beta).toBeLessThan(2.4);
    const withScores = model.propensities(log);
    const without = fitBehaviourModel(log, { nItems: world.nItems }).propensities(log);
    const err = (p: Float64Array) => Array.from(p, (x, j) => Math.abs(Math.log(x / log.propensity[j]))).reduce((a, b) => a + b, 0) / log.n;
    expect(err(withScores)).toBeLessThan(0.5 * err(without));
  });
});
