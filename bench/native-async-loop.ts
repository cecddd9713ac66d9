/**
 * Event-loop responsiveness during a long native top-K, sync against async.
 *
 *   node --import tsx bench/native-async-loop.ts [--batch 1024] [--items 50000] [--dim 64] [--k 10] [--trials 5] [--threads n]
 *
 * A 1 ms setInterval stamps every turn of the loop; the longest gap between two stamps
 * while the call runs is how long a service's other requests would have waited. Each
 * trial runs the sync call (kernels.topk, JS thread) and then the queued async one
 * (nativeAsyncKernels().topk, a libuv worker) on the same data, after one warm-up
 * of each. Prints medians with the CPU, thread count and load named.
 */
import { cpus, loadavg } from 'node:os';
import { nativeAsyncKernels, nativeKernels } from '../src/native.js';
import { Rng } from '../src/util/rng.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const B = arg('batch', 1024);
const I = arg('items', 50_000);
const D = arg('dim', 64);
const K = arg('k', 10);
const TRIALS = arg('trials', 5);
const THREADS = arg('threads', 0); // 0: the pool's default (the machine's cores)

const rng = new Rng(7);
const fill = (n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const args = { queries: fill(B * D), batch: B, dim: D, items: fill(I * D), nItems: I, bias: fill(I), k: K };
const idx = new Int32Array(B * K);
const sc = new Float32Array(B * K);
const k = nativeKernels();
const q = nativeAsyncKernels();
if (!q) throw new Error('the addon has no async kernels: rebuild it with npm run build:native');
if (THREADS > 0) k.setThreads(THREADS);

interface Trial {
  wallMs: number;
  maxGapMs: number;
  ticks: number;
}

async function measure(call: () => unknown): Promise<Trial> {
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 1);
  // Let the interval start ticking before the call.
  await new Promise((r) => setTimeout(r, 20));
  maxGap = 0;
  ticks = 0;
  last = performance.now();
  const t0 = performance.now();
  await call();
  const wallMs = performance.now() - t0;
  // The gap that ends when the call returns (sync: the whole call) is counted too.
  maxGap = Math.max(maxGap, performance.now() - last);
  clearInterval(timer);
  return { wallMs, maxGapMs: maxGap, ticks };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const modes = {
  sync: () => k.topk(args, idx, sc),
  async: () => q.topk(args, idx, sc),
};
const results: Record<string, Trial[]> = { sync: [], async: [] };
for (const f of Object.values(modes)) await measure(f); // warm-up
for (let t = 0; t < TRIALS; t++) for (const [name, f] of Object.entries(modes)) results[name].push(await measure(f));

console.log(`top-K ${B} × ${I.toLocaleString('en')} × ${D}, k ${K}: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, pool ${k.threads()} threads, ${k.simd()}, load ${loadavg()[0].toFixed(2)}, node ${process.version}, ${TRIALS} trials (medians)`);
console.log('mode   call ms   max loop gap ms   1 ms timer turns');
for (const [name, rs] of Object.entries(results)) {
  console.log(
    `${name.padEnd(6)} ${median(rs.map((r) => r.wallMs)).toFixed(0).padStart(7)}   ${median(rs.map((r) => r.maxGapMs)).toFixed(1).padStart(15)}   ${String(median(rs.map((r) => r.ticks))).padStart(16)}`,
  );
}
console.log(`all trials: ${JSON.stringify(results)}`);
