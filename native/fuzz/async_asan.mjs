// The addon's async kernel calls (gemmAsync, qtargetAsync, topkAsync, spmmAsync) under
// AddressSanitizer + UBSan + LeakSanitizer: scripts/native-sanitize.sh builds the whole
// addon with the sanitizers and runs this with libasan preloaded and --expose-gc.
// Plain JS (no TypeScript loader, no vitest) so that nothing but node and the addon runs
// instrumented. Scenarios, each checked against the sync call where there is a result:
// many calls in flight at once; every reference dropped and GC forced while they run;
// an output detached mid-call (reported); bad arguments (rejections); a worker thread
// terminated while its call runs. Leaks: LeakSanitizer at exit (a KernelWorker or a
// reference never released would be reported). Exit status non-zero on any mismatch.
//
//   node --expose-gc native/fuzz/async_asan.mjs path/to/gnnrl_native.node [seed]
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const addonPath = process.argv[2];
let seed = Number(process.argv[3] ?? 1) >>> 0 || 1;
const require = createRequire(import.meta.url);
const addon = require(addonPath);
class GnnrlError extends Error {
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}
addon.init(GnnrlError);
const k = addon.kernels;
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};
const upto = (n) => Math.floor(rand() * n);
const floats = (n) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
const same = (a, b) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const turn = () => new Promise((r) => setImmediate(r));
let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures++;
    console.error(`async sanitize: FAILED: ${what}`);
  }
};

function exclusions(batch, nItems) {
  const rowPtr = new Int32Array(batch + 1);
  const cols = [];
  for (let b = 0; b < batch; b++) {
    const m = b === 0 ? nItems : upto(6);
    for (let j = 0; j < m; j++) cols.push(b === 0 ? j : upto(nItems));
    rowPtr[b + 1] = cols.length;
  }
  return { rowPtr, colIdx: Int32Array.from(cols) };
}

/** One random job of each kernel: its sync result, and a function starting the async call into fresh poisoned outputs. */
function randomJob(kind) {
  if (kind === 0) {
    const [M, K, N, tA, tB] = [upto(70), upto(90), upto(400), rand() < 0.5, rand() < 0.5];
    const A = floats(M * K), B = floats(K * N);
    const want = new Float32Array(M * N).fill(NaN);
    k.gemm(A, B, want, M, K, N, tA, tB);
    const got = new Float32Array(M * N).fill(NaN);
    return { name: `gemm ${M}x${K}x${N}`, start: () => k.gemmAsync(A, B, got, M, K, N, tA, tB), ok: () => same(got, want) };
  }
  const batch = upto(30), dim = 1 + upto(40), nItems = 1 + upto(3000);
  const ex = exclusions(batch, nItems);
  if (kind === 1) {
    const kk = 1 + upto(Math.min(nItems + 2, 128));
    const args = { queries: floats(batch * dim), batch, dim, items: floats(nItems * dim), nItems, bias: rand() < 0.5 ? floats(nItems) : undefined, excludeRowPtr: ex.rowPtr, excludeColIdx: ex.colIdx, k: kk };
    const wi = new Int32Array(batch * kk), ws = new Float32Array(batch * kk);
    k.topk(args, wi, ws);
    const gi = new Int32Array(batch * kk).fill(-7), gs = new Float32Array(batch * kk).fill(NaN);
    return { name: `topk ${batch}x${nItems}x${dim} k ${kk}`, start: () => k.topkAsync(args, gi, gs), ok: () => same(gi, wi) && same(gs, ws) };
  }
  if (kind === 2) {
    const args = {
      next: floats(batch * dim),
      batch,
      dim,
      nItems,
      chooser: floats(nItems * dim),
      chooserBias: floats(nItems),
      value: rand() < 0.5 ? floats(nItems * dim) : undefined,
      reward: floats(batch),
      done: floats(batch),
      excludeRowPtr: ex.rowPtr,
      excludeColIdx: ex.colIdx,
      gamma: 0.9,
    };
    const wy = new Float32Array(batch), wa = new Int32Array(batch);
    k.qtarget(args, wy, wa);
    const gy = new Float32Array(batch).fill(NaN), ga = new Int32Array(batch).fill(-7);
    return { name: `qtarget ${batch}x${nItems}x${dim}`, start: () => k.qtargetAsync(args, gy, ga), ok: () => same(gy, wy) && same(ga, wa) };
  }
  const nRows = upto(500), nCols = 1 + upto(300), d = 1 + upto(80);
  const rowPtr = new Int32Array(nRows + 1);
  const cols = [];
  for (let i = 0; i < nRows; i++) {
    const m = rand() < 0.02 ? 3000 : upto(10);
    for (let j = 0; j < m; j++) cols.push(upto(nCols));
    rowPtr[i + 1] = cols.length;
  }
  const colIdx = Int32Array.from(cols), values = floats(cols.length), X = floats(nCols * d);
  const want = new Float32Array(nRows * d).fill(NaN);
  k.spmm(nRows, nCols, rowPtr, colIdx, values, X, d, want);
  const got = new Float32Array(nRows * d).fill(NaN);
  return { name: `spmm ${nRows}x${nCols} d ${d}`, start: () => k.spmmAsync(nRows, nCols, rowPtr, colIdx, values, X, d, got), ok: () => same(got, want) };
}

// 1. Many calls in flight at once, all kernels mixed, with GC between turns.
for (let round = 0; round < 6; round++) {
  const jobs = Array.from({ length: 16 }, (_, i) => randomJob((i + round) % 4));
  const done = Promise.all(jobs.map((j) => j.start()));
  let settled = false;
  done.then(() => (settled = true), () => (settled = true));
  while (!settled) {
    globalThis.gc();
    await turn();
  }
  await done;
  jobs.forEach((j) => check(j.ok(), `concurrent ${j.name} differs from the sync result`));
}

// 2. Every reference dropped while the calls run; GC forced until they settle.
{
  const weak = [];
  const start = () => {
    const job = randomJob(1 + upto(3));
    weak.push(new WeakRef(job));
    return job.start();
  };
  let settled = 0;
  const ps = Array.from({ length: 12 }, start).map((p) => p.then(() => settled++));
  while (settled < ps.length) {
    globalThis.gc();
    await turn();
  }
  await Promise.all(ps);
}

// 3. An output detached mid-call: reported as a 'native' rejection (the clone keeps the memory alive).
{
  const args = { queries: floats(64 * 64), batch: 64, dim: 64, items: floats(20000 * 64), nItems: 20000, k: 8 };
  const sc = new Float32Array(64 * 8);
  const p = k.topkAsync(args, new Int32Array(64 * 8), sc);
  const moved = structuredClone(sc.buffer, { transfer: [sc.buffer] });
  const e = await p.then(() => null, (err) => err);
  check(e instanceof GnnrlError && e.code === 'native' && /detached or resized/.test(e.message), `a detached output was not reported (${e})`);
  check(moved.byteLength === 64 * 8 * 4, 'the transferred buffer');
}

// 4. Bad arguments: rejections with the sync call's message, never a throw.
for (const [what, sync, async] of [
  ['short out', () => k.gemm(new Float32Array(6), new Float32Array(6), new Float32Array(3), 2, 3, 2, false, false), () => k.gemmAsync(new Float32Array(6), new Float32Array(6), new Float32Array(3), 2, 3, 2, false, false)],
  ['bad column', () => k.spmm(1, 2, new Int32Array([0, 1]), new Int32Array([5]), new Float32Array(1), new Float32Array(2), 1, new Float32Array(1)), () => k.spmmAsync(1, 2, new Int32Array([0, 1]), new Int32Array([5]), new Float32Array(1), new Float32Array(2), 1, new Float32Array(1))],
]) {
  let thrown;
  try {
    sync();
  } catch (e) {
    thrown = e;
  }
  const rejected = await async().then(() => null, (e) => e);
  check(thrown instanceof GnnrlError && rejected instanceof GnnrlError && rejected.message === thrown.message, `${what}: ${rejected?.message} vs ${thrown?.message}`);
}

// 5. A worker thread terminated while its call runs (the call completes into an
// environment that is going away: nothing to settle, nothing to crash on).
{
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const a = require(workerData);
    const k = a.kernels;
    const B = 256, I = 30000, d = 64, K = 10;
    const q = new Float32Array(B * d).fill(0.01), it = new Float32Array(I * d).fill(0.02);
    const go = () => k.topkAsync({ queries: q, batch: B, dim: d, items: it, nItems: I, k: K }, new Int32Array(B * K), new Float32Array(B * K)).then(go);
    go(); go();
    parentPort.postMessage('started');`;
  for (let round = 0; round < 4; round++) {
    const w = new Worker(src, { eval: true, workerData: addonPath });
    await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 10 + 40 * round));
    await w.terminate();
  }
  const job = randomJob(1);
  await job.start();
  check(job.ok(), 'a call after the terminated workers');
}

globalThis.gc();
if (failures) {
  console.error(`async sanitize: ${failures} failure(s) (seed ${process.argv[3] ?? 1})`);
  process.exit(2);
}
console.log(`async sanitize: concurrent calls, GC in flight, detach, bad arguments and worker termination: no findings (seed ${process.argv[3] ?? 1})`);
