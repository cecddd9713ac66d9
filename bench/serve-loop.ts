/**
 * Does a `recommend` wait behind training? A served model answers a stream of single-user
 * top-20 requests while feedback drives its online updates; this reports how long the
 * requests took and the longest stall of the event loop.
 *
 *   node --import tsx bench/serve-loop.ts [--backend native|cpu] [--seconds 4] [--cases agent-2000,agent-50000,factor-50000] [--repeats 1]
 *
 * Cases: a served DQN (d 64, a GNN-free SVD state of d 64, one hidden layer of 64) over
 * 2,000 and 50,000 items, and an SVD (d 64) over 50,000 items served from factor tables.
 * Requests: a 1 ms setTimeout chain issues one recommend per tick; a request's latency
 * runs from when its tick was DUE (the previous tick + 1 ms) to its answer, so a tick
 * delayed by a blocked event loop counts the delay (one request per tick, no catch-up:
 * an overloaded loop shows long latencies, not an unbounded backlog). Feedback: 64
 * events every 10 ms through `observe`; the agent runs `updatesPerBatch` 4 updates per
 * drain (replay warm from the start) and refreshes every row after them. The event loop
 * is probed by perf_hooks.monitorEventLoopDelay (resolution 1 ms) and by the longest gap
 * between two ticks of the request timer. Prints the CPU, backend, pool and load.
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../src/engine.js';
import type { BackendKind } from '../src/backend/arrays.js';
import { saveCheckpoint } from '../src/models/checkpoint.js';
import { servedSvd } from './served-svd.js';
import { tablesFromModel, WindowStateEncoder } from '../src/rl/state/window-state.js';
import { DqnAgent } from '../src/rl/agents/dqn.js';
import { Recommender } from '../src/serve/recommender.js';
import { nativeKernels } from '../src/native.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const BACKEND = arg('backend', process.env.GNNRL_BACKEND ?? 'native') as BackendKind;
const SECONDS = Number(arg('seconds', '4'));
const CASES = arg('cases', 'agent-2000,agent-50000,factor-50000').split(',');
const REPEATS = Number(arg('repeats', '1'));
const K = 20;

const q = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

interface Built {
  file: string;
  userIds: (string | number)[];
  itemIds: (string | number)[];
}

/** An SVD (d 64) over a synthetic world, and (agent) a DQN over its tables, written as gnnrl train / gnnrl rl would. */
async function build(engine: Engine, dir: string, nItems: number, agent: boolean): Promise<Built> {
  const run = join(dir, `${agent ? 'agent' : 'factor'}-${nItems}`);
  mkdirSync(join(run, 'models'), { recursive: true });
  const gnnFile = join(run, 'models', 'svd.ckpt');
  const { x, model } = await servedSvd(engine, nItems, gnnFile);
  const ids = { userIds: Array.from({ length: x.nUsers }, (_, u) => x.userIds.id(u)), itemIds: Array.from({ length: x.nItems }, (_, i) => x.itemIds.id(i)) };
  if (!agent) {
    model.dispose();
    return { file: gnnFile, ...ids };
  }
  const tables = await tablesFromModel(engine, model);
  const encoder = new WindowStateEncoder(engine, tables, 8);
  const dqn = await DqnAgent.create({ engine, encoder, slots: 1, slateSize: 1 }, { hidden: [64], seed: 1 });
  const file = join(run, 'dqn', 'agent.ckpt');
  await saveCheckpoint(file, await dqn.state(), { agent: 'dqn', display: dqn.name, env: 'bench', state: 'svd', steps: 0, seed: 1, gnnrl: 'bench' });
  dqn.dispose();
  encoder.dispose();
  model.dispose();
  return { file, ...ids };
}

interface Result {
  requests: number;
  p50: number;
  p99: number;
  max: number;
  loopMax: number;
  tickGapMax: number;
  updates: number;
  versions: number;
}

async function stream(rec: Recommender, b: Built, seconds: number): Promise<Result> {
  const rng = new Rng(5);
  const lat: number[] = [];
  const h = monitorEventLoopDelay({ resolution: 1 });
  let running = true;
  let tickGapMax = 0;
  const inflight = new Set<Promise<void>>();
  const updates0 = rec.agent?.updates ?? 0;
  const batches0 = rec.stats().batches;
  // Feedback: 64 events every 10 ms.
  const feed = setInterval(() => {
    const events = Array.from({ length: 64 }, () => ({ user: b.userIds[rng.int(b.userIds.length)], item: b.itemIds[rng.int(b.itemIds.length)], click: rng.next() < 0.7 }));
    try {
      rec.observe(events);
    } catch {
      /* queue full: skip a round */
    }
  }, 10);
  h.enable();
  await new Promise<void>((done) => {
    const t0 = performance.now();
    let last = t0;
    const tick = () => {
      const now = performance.now();
      const due = last + 1;
      tickGapMax = Math.max(tickGapMax, now - last);
      last = now;
      if (now - t0 > seconds * 1000) {
        running = false;
        done();
        return;
      }
      const user = b.userIds[rng.int(b.userIds.length)];
      const p = rec.recommend(user, K).then(() => {
        lat.push(performance.now() - due);
        inflight.delete(p);
      });
      inflight.add(p);
      setTimeout(tick, 1);
    };
    setTimeout(tick, 1);
  });
  clearInterval(feed);
  await Promise.all(inflight);
  h.disable();
  void running;
  await rec.flush();
  return {
    requests: lat.length,
    p50: q(lat, 0.5),
    p99: q(lat, 0.99),
    max: Math.max(...lat),
    loopMax: h.max / 1e6,
    tickGapMax,
    updates: (rec.agent?.updates ?? 0) - updates0,
    versions: rec.stats().batches - batches0,
  };
}

async function main(): Promise<void> {
  const engine = await Engine.create({ backend: BACKEND, quiet: true });
  const pool = engine.backend === 'native' ? `, pool ${nativeKernels().threads()} threads, ${nativeKernels().simd()}` : '';
  console.log(`serve-loop: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, backend ${engine.backend}${pool}, load ${loadavg()[0].toFixed(2)}, node ${process.version}, ${SECONDS} s per run, ${REPEATS} repeat(s)`);
  console.log('case            requests  p50 ms  p99 ms  max ms  loop max ms  tick gap max ms  updates  versions');
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-serve-loop-'));
  try {
    for (const c of CASES) {
      const [kind, n] = c.split('-');
      const b = await build(engine, dir, Number(n), kind === 'agent');
      for (let r = 0; r < REPEATS; r++) {
        const rec = await Recommender.load(b.file, {
          engine,
          online: { intervalMs: 5 },
          agent: { updatesPerBatch: 4, coldUsers: 0, newItems: 0, options: { learningStarts: 64, batchSize: 32 } },
        });
        // Warm replay (and the first refresh) before measuring.
        if (kind === 'agent') {
          rec.observe(Array.from({ length: 128 }, (_, j) => ({ user: b.userIds[j % b.userIds.length], item: b.itemIds[(7 * j) % b.itemIds.length], click: true })));
          await rec.flush();
        }
        const res = await stream(rec, b, SECONDS);
        const f = (x: number) => x.toFixed(2).padStart(7);
        console.log(`${c.padEnd(15)} ${String(res.requests).padStart(8)} ${f(res.p50)} ${f(res.p99)} ${f(res.max)} ${f(res.loopMax).padStart(12)} ${f(res.tickGapMax).padStart(16)} ${String(res.updates).padStart(8)} ${String(res.versions).padStart(9)}`);
        await rec.close();
      }
    }
  } finally {
    await engine.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
