/**
 * The async twins of the long native calls (gemmAsync, qtargetAsync, topkAsync,
 * spmmAsync; topKAsync / qTargetsAsync on the native backend): results identical bit for
 * bit to the sync calls on awkward shapes with poisoned outputs, the same errors (as
 * rejections), an event loop that keeps turning while one runs, many calls in flight at
 * once, and a call in flight while the caller drops every reference and GC runs, while
 * its signal aborts, while its engine is disposed, and while its worker thread is
 * terminated. No timings are asserted.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { nativeAsyncKernels, nativeKernels, packageRoot, type NativeAsyncKernels, type NativeKernels } from '../../src/native.js';
import { qTargets, qTargetsAsync } from '../../src/kernels/qtarget.js';
import { topK, topKAsync } from '../../src/kernels/topk.js';
import { Rng } from '../../src/util/rng.js';
import { Adam, ASYNC_MIN_SIZE } from '../../src/tensor/optim.js';
import { parameter } from '../../src/tensor/create.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { testSeed } from '../util/backends.js';
import { poisonF32 } from '../util/close.js';
import { randomCsr, randomExclusions, randomF32, type CsrPattern } from '../util/random-csr.js';
import { describeNative } from './native-env.js';

const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: Float32Array | Int32Array, b: Float32Array | Int32Array) => a.length === b.length && bytes(a).equals(bytes(b));
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * Starts `src` (which loads the addon from `workerData`, loops on an async call and posts
 * 'started') in a worker thread 8 times and terminates it mid-call each time; the
 * terminations land at different points: in the job, in its completion, in the next
 * call's set-up.
 */
async function terminateMidCall(src: string): Promise<void> {
  const addonPath = join(packageRoot(), 'build', 'Release', 'gnnrl_native.node');
  for (let round = 0; round < 8; round++) {
    const w = new Worker(src, { eval: true, workerData: addonPath });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 3 + 13 * round));
    await w.terminate();
  }
}

/** Catalogue-ranking data: B queries, I items, d dims, with bias and exclusions. */
function ranking(rng: Rng, batch: number, nItems: number, dim: number, k: number) {
  const ex = randomExclusions(rng, batch, nItems, { fullRow: Math.min(1, batch - 1), maxPerRow: 20 });
  return {
    queries: randomF32(rng, batch * dim),
    batch,
    dim,
    items: randomF32(rng, nItems * dim),
    nItems,
    bias: randomF32(rng, nItems),
    excludeRowPtr: ex.rowPtr,
    excludeColIdx: ex.colIdx,
    k,
  };
}

describeNative('native async kernels', () => {
  let k: NativeKernels;
  let q: NativeAsyncKernels;
  let engine: Engine;
  beforeAll(async () => {
    k = nativeKernels();
    q = nativeAsyncKernels()!;
    const forced = process.env.GNNRL_BACKEND;
    delete process.env.GNNRL_BACKEND;
    try {
      engine = await Engine.create({ backend: 'native', quiet: true });
    } finally {
      if (forced !== undefined) process.env.GNNRL_BACKEND = forced;
    }
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  test('the addon has the four async twins and the queued kernels load', () => {
    for (const f of ['gemmAsync', 'qtargetAsync', 'topkAsync', 'spmmAsync'] as const) expect(typeof k[f], f).toBe('function');
    expect(q).not.toBeNull();
  });

  const gemmShapes: [number, number, number][] = [
    [0, 3, 4],
    [4, 3, 0],
    [5, 0, 3],
    [1, 1, 1],
    [7, 13, 33],
    [37, 300, 65],
    [130, 257, 1030],
  ];
  for (const [M, K, N] of gemmShapes)
    test(`gemmAsync ${M}×${K}×${N}, every transpose, is the sync result bit for bit`, async () => {
      const rng = new Rng(testSeed());
      const a = randomF32(rng, M * K + 3); // longer operands, as the sync call allows
      const b = randomF32(rng, K * N);
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
        const sync = poisonF32(M * N);
        k.gemm(a, b, sync, M, K, N, tA, tB);
        const raw = poisonF32(M * N);
        await k.gemmAsync!(a, b, raw, M, K, N, tA, tB);
        const queued = poisonF32(M * N);
        await q.gemm(a, b, queued, M, K, N, tA, tB);
        expect(sameBits(raw, sync), `raw transA ${tA} transB ${tB}`).toBe(true);
        expect(sameBits(queued, sync), `queued transA ${tA} transB ${tB}`).toBe(true);
        if (M * K * N > 0) expect(sync.some(Number.isNaN)).toBe(false);
      }
    });

  const spmmCases: [number, number, number, number, CsrPattern][] = [
    [0, 5, 0, 3, 'uniform'],
    [9, 0, 0, 4, 'all-empty'],
    [300, 257, 4000, 1, 'empty-rows'],
    [513, 700, 9000, 33, 'one-huge-row'],
    [1000, 999, 20000, 64, 'uniform'],
    [77, 3000, 5000, 256, 'one-huge-row'],
  ];
  for (const [nRows, nCols, nnz, d, pattern] of spmmCases)
    test(`spmmAsync ${nRows}×${nCols}, nnz ${nnz}, d ${d}, ${pattern}, is the sync result bit for bit`, async () => {
      const rng = new Rng(testSeed());
      const a = randomCsr(rng, nRows, nCols, nnz, pattern);
      const x = randomF32(rng, nCols * d);
      const sync = poisonF32(nRows * d);
      k.spmm(nRows, nCols, a.rowPtr, a.colIdx, a.values, x, d, sync);
      const raw = poisonF32(nRows * d);
      await k.spmmAsync!(nRows, nCols, a.rowPtr, a.colIdx, a.values, x, d, raw);
      const queued = poisonF32(nRows * d);
      await q.spmm(nRows, nCols, a.rowPtr, a.colIdx, a.values, x, d, queued);
      expect(sameBits(raw, sync)).toBe(true);
      expect(sameBits(queued, sync)).toBe(true);
    });

  const scoreCases = [
    { batch: 0, nItems: 5, dim: 3, k: 2 },
    { batch: 1, nItems: 1, dim: 1, k: 1 },
    { batch: 13, nItems: 1037, dim: 33, k: 128 },
    { batch: 97, nItems: 2100, dim: 64, k: 7 },
    { batch: 7, nItems: 200, dim: 3, k: 100 }, // row 0 of the exclusions takes every item: fewer than k eligible
  ];
  for (const c of scoreCases) {
    test(`topkAsync B ${c.batch}, I ${c.nItems}, d ${c.dim}, k ${c.k}, bias, masked: the sync result bit for bit`, async () => {
      const args = ranking(new Rng(testSeed()), c.batch, c.nItems, c.dim, c.k);
      const run = async (f: (i: Int32Array, s: Float32Array) => unknown) => {
        const i = new Int32Array(c.batch * c.k).fill(-7);
        const s = poisonF32(c.batch * c.k);
        await f(i, s);
        return [i, s] as const;
      };
      const [si, ss] = await run((i, s) => k.topk(args, i, s));
      const [ri, rs] = await run((i, s) => k.topkAsync!(args, i, s));
      const [qi, qs] = await run((i, s) => q.topk(args, i, s));
      expect(sameBits(ri, si) && sameBits(rs, ss)).toBe(true);
      expect(sameBits(qi, si) && sameBits(qs, ss)).toBe(true);
      if (c.batch > 0) expect(si.includes(-7)).toBe(false);
    });

    for (const double of [false, true])
      test(`qtargetAsync B ${c.batch}, I ${c.nItems}, d ${c.dim}, ${double ? 'double' : 'plain'} DQN, masked: the sync result bit for bit`, async () => {
        const rng = new Rng(testSeed());
        const r = ranking(rng, c.batch, c.nItems, c.dim, 1);
        const args = {
          next: r.queries,
          batch: c.batch,
          dim: c.dim,
          nItems: c.nItems,
          chooser: r.items,
          chooserBias: r.bias,
          value: double ? randomF32(rng, c.nItems * c.dim) : undefined,
          valueBias: double ? randomF32(rng, c.nItems) : undefined,
          reward: randomF32(rng, c.batch, 0, 1),
          done: Float32Array.from({ length: c.batch }, (_, i) => (i % 5 === 0 ? 1 : 0)),
          excludeRowPtr: r.excludeRowPtr,
          excludeColIdx: r.excludeColIdx,
          gamma: 0.9,
        };
        const out = () => [poisonF32(c.batch), new Int32Array(c.batch).fill(-7)] as const;
        const [sy, sa] = out();
        k.qtarget(args, sy, sa);
        const [ry, ra] = out();
        await k.qtargetAsync!(args, ry, ra);
        const [qy, qa] = out();
        await q.qtarget(args, qy, qa);
        expect(sameBits(ry, sy) && sameBits(ra, sa)).toBe(true);
        expect(sameBits(qy, sy) && sameBits(qa, sa)).toBe(true);
        if (c.batch > 0) expect(sy.some(Number.isNaN)).toBe(false);
      });
  }

  test('topKAsync and qTargetsAsync on the native engine give topK and qTargets results', async () => {
    const rng = new Rng(testSeed());
    const r = ranking(rng, 33, 3001, 40, 10);
    const a = {
      queries: engine.array(r.queries),
      batch: 33,
      dim: 40,
      items: engine.array(r.items),
      nItems: 3001,
      bias: engine.array(r.bias),
      exclude: { rowPtr: engine.array(r.excludeRowPtr), colIdx: engine.array(r.excludeColIdx) },
      k: 10,
    };
    const sync = topK(engine, a);
    const got = await topKAsync(engine, a);
    expect(sameBits((await engine.read(got.indices)) as Int32Array, (await engine.read(sync.indices)) as Int32Array)).toBe(true);
    expect(sameBits((await engine.read(got.scores)) as Float32Array, (await engine.read(sync.scores)) as Float32Array)).toBe(true);

    for (const double of [false, true]) {
      const qa = {
        next: a.queries,
        batch: 33,
        dim: 40,
        nItems: 3001,
        online: a.items,
        target: engine.array(randomF32(rng, 3001 * 40)),
        onlineBias: a.bias,
        targetBias: engine.array(randomF32(rng, 3001)),
        reward: engine.array(randomF32(rng, 33)),
        done: engine.array(new Float32Array(33).fill(0)),
        exclude: a.exclude,
        gamma: 0.95,
        double,
      };
      const s = qTargets(engine, qa);
      const g = await qTargetsAsync(engine, qa);
      expect(sameBits((await engine.read(g.y)) as Float32Array, (await engine.read(s.y)) as Float32Array)).toBe(true);
      expect(sameBits((await engine.read(g.argmax)) as Int32Array, (await engine.read(s.argmax)) as Int32Array)).toBe(true);
    }
    // A bad argument: the wrapper's own message, as a rejection.
    await expect(topKAsync(engine, { ...a, k: 0 })).rejects.toThrow('topK: k: expected an integer in [1, 128], got 0');
  });

  test('adamAsync and Adam.stepAsync give the sync step bit for bit (AdamW, clipping, a parameter above and below the async size); a bad argument rejects', async () => {
    const rng = new Rng(testSeed());
    for (const n of [0, 1, 4099, ASYNC_MIN_SIZE + 17]) {
      const w = randomF32(rng, n);
      const g = randomF32(rng, n);
      const m = randomF32(rng, n).map(Math.abs);
      const v = randomF32(rng, n).map(Math.abs);
      const [w1, m1, v1] = [w.slice(), m.slice(), v.slice()];
      k.adam!(w1, g, m1, v1, 0.7, 1e-2, 0.9, 0.999, 1e-8, 0.01, true, 3);
      const [w2, m2, v2] = [w.slice(), m.slice(), v.slice()];
      await q.adam!(w2, g, m2, v2, 0.7, 1e-2, 0.9, 0.999, 1e-8, 0.01, true, 3);
      expect(sameBits(w1, w2) && sameBits(m1, m2) && sameBits(v1, v2), `adam n ${n}`).toBe(true);
    }
    await expect(q.adam!(new Float32Array(4), new Float32Array(3), new Float32Array(4), new Float32Array(4), 1, 1e-3, 0.9, 0.999, 1e-8, 0, false, 1)).rejects.toThrow(/g: expected 4 elements, got 3/);
    // The optimiser: a small and a large parameter, clipped, two steps each way.
    const run = async (useAsync: boolean) => {
      const data = new Rng(5);
      const small = parameter(Tensor.fromArray(engine, randomF32(data, 300), [300]));
      const large = parameter(Tensor.fromArray(engine, randomF32(data, ASYNC_MIN_SIZE + 5), [ASYNC_MIN_SIZE + 5]));
      const opt = new Adam([small, large], { lr: 1e-2, clipNorm: 0.5 });
      for (let s = 0; s < 2; s++) {
        for (const p of [small, large]) p.grad = Tensor.fromArray(engine, randomF32(data, p.size), [p.size]);
        if (useAsync) await opt.stepAsync();
        else opt.step();
        opt.zeroGrad();
      }
      const out = [(await small.read()) as Float32Array, (await large.read()) as Float32Array];
      opt.dispose();
      small.dispose();
      large.dispose();
      return out;
    };
    const [a, b] = [await run(false), await run(true)];
    expect(sameBits(a[0], b[0]) && sameBits(a[1], b[1])).toBe(true);
  });

  test('a bad argument rejects with the error the sync call throws (never a throw)', async () => {
    const args = ranking(new Rng(testSeed()), 4, 50, 8, 3);
    const cases: [string, () => unknown, () => Promise<void>][] = [
      ['short output', () => k.topk(args, new Int32Array(11), poisonF32(12)), () => k.topkAsync!(args, new Int32Array(11), poisonF32(12))],
      ['exclusion out of range', () => k.topk({ ...args, excludeColIdx: args.excludeColIdx.map(() => 50) }, new Int32Array(12), poisonF32(12)), () => k.topkAsync!({ ...args, excludeColIdx: args.excludeColIdx.map(() => 50) }, new Int32Array(12), poisonF32(12))],
      ['gemm shape', () => k.gemm(poisonF32(5), poisonF32(6), poisonF32(6), 2, 3, 2, false, false), () => k.gemmAsync!(poisonF32(5), poisonF32(6), poisonF32(6), 2, 3, 2, false, false)],
      ['spmm column', () => k.spmm(1, 2, new Int32Array([0, 1]), new Int32Array([2]), new Float32Array(1), poisonF32(2), 1, poisonF32(1)), () => k.spmmAsync!(1, 2, new Int32Array([0, 1]), new Int32Array([2]), new Float32Array(1), poisonF32(2), 1, poisonF32(1))],
      ['qtarget args', () => k.qtarget(null as never, poisonF32(1), new Int32Array(1)), () => k.qtargetAsync!(null as never, poisonF32(1), new Int32Array(1))],
    ];
    for (const [what, sync, async] of cases) {
      let thrown: unknown;
      try {
        sync();
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(GnnrlError);
      let p: Promise<void> | undefined;
      expect(() => (p = async()), what).not.toThrow();
      const rejected = await p!.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(rejected, what).toBeInstanceOf(GnnrlError);
      expect((rejected as GnnrlError).message, what).toBe((thrown as GnnrlError).message);
      expect((rejected as GnnrlError).code, what).toBe((thrown as GnnrlError).code);
    }
  });

  test('the event loop keeps turning during a long async top-K and GEMM (a sync call: zero turns by construction)', async () => {
    // 256 × 50,000 × 64 top-K and a 512 × 64 × 20,000 GEMM: tens of ms each here.
    const rng = new Rng(testSeed());
    const args = ranking(rng, 256, 50_000, 64, 20);
    const idx = new Int32Array(256 * 20);
    const sc = new Float32Array(256 * 20);
    const A = randomF32(rng, 512 * 64);
    const B = randomF32(rng, 64 * 20_000);
    const C = new Float32Array(512 * 20_000);
    const count = async (call: () => unknown) => {
      let ticks = 0;
      let stop = false;
      const tick = () => {
        ticks++;
        if (!stop) setImmediate(tick);
      };
      setImmediate(tick);
      const during = ticks;
      await call();
      const after = ticks - during;
      stop = true;
      await turn();
      return after;
    };
    const topSync = await count(() => k.topk(args, idx, sc));
    const topAsync = await count(() => q.topk(args, idx, sc));
    const gemmSync = await count(() => k.gemm(A, B, C, 512, 64, 20_000, false, false));
    const gemmAsync = await count(() => q.gemm(A, B, C, 512, 64, 20_000, false, false));
    // The sync call holds the JS thread: no setImmediate can run until it returns.
    expect(topSync).toBe(0);
    expect(gemmSync).toBe(0);
    expect(topAsync).toBeGreaterThan(0);
    expect(gemmAsync).toBeGreaterThan(0);
  });

  test('many concurrent async calls (queued and raw, mixed kernels) all give the sync results', async () => {
    const rng = new Rng(testSeed());
    const jobs: { run: () => Promise<void>; check: () => boolean }[] = [];
    for (let j = 0; j < 24; j++) {
      const kind = j % 3;
      const raw = j % 2 === 1; // raw calls all go to libuv at once and meet in the kernels' pool
      if (kind === 0) {
        const args = ranking(rng, 5 + j, 700 + 37 * j, 16 + j, 1 + (j % 9));
        const n = args.batch * args.k;
        const si = new Int32Array(n);
        const ss = new Float32Array(n);
        k.topk(args, si, ss);
        const gi = new Int32Array(n).fill(-7);
        const gs = poisonF32(n);
        jobs.push({ run: () => (raw ? k.topkAsync!(args, gi, gs) : q.topk(args, gi, gs)), check: () => sameBits(gi, si) && sameBits(gs, ss) });
      } else if (kind === 1) {
        const [M, K, N] = [3 + j, 17 + 2 * j, 40 + 11 * j];
        const A = randomF32(rng, M * K);
        const B = randomF32(rng, K * N);
        const want = poisonF32(M * N);
        k.gemm(A, B, want, M, K, N, j % 4 === 1, false);
        const got = poisonF32(M * N);
        jobs.push({ run: () => (raw ? k.gemmAsync!(A, B, got, M, K, N, j % 4 === 1, false) : q.gemm(A, B, got, M, K, N, j % 4 === 1, false)), check: () => sameBits(got, want) });
      } else {
        const d = 1 + (j % 7) * 9;
        const a = randomCsr(rng, 200 + j, 150, 2000, j % 4 === 2 ? 'one-huge-row' : 'empty-rows');
        const x = randomF32(rng, 150 * d);
        const want = poisonF32(a.nRows * d);
        k.spmm(a.nRows, 150, a.rowPtr, a.colIdx, a.values, x, d, want);
        const got = poisonF32(a.nRows * d);
        jobs.push({
          run: () => (raw ? k.spmmAsync!(a.nRows, 150, a.rowPtr, a.colIdx, a.values, x, d, got) : q.spmm(a.nRows, 150, a.rowPtr, a.colIdx, a.values, x, d, got)),
          check: () => sameBits(got, want),
        });
      }
    }
    await Promise.all(jobs.map((j) => j.run()));
    jobs.forEach((j, i) => expect(j.check(), `job ${i}`).toBe(true));
  });

  test('setThreads() while an async GEMM runs waits for it; the result is the sync one', async () => {
    const before = k.threads();
    const rng = new Rng(testSeed());
    const [M, K, N] = [300, 64, 20_000];
    const A = randomF32(rng, M * K);
    const B = randomF32(rng, K * N);
    const want = poisonF32(M * N);
    k.gemm(A, B, want, M, K, N, false, true);
    const got = poisonF32(M * N);
    const p = k.gemmAsync!(A, B, got, M, K, N, false, true);
    try {
      k.setThreads(before === 1 ? 2 : 1); // blocks this thread until the GEMM is done
      k.setThreads(before);
    } finally {
      await p;
    }
    expect(sameBits(got, want)).toBe(true);
  });

  test('a call in flight survives the caller dropping every reference and a forced GC, and lets go of its arrays after', async () => {
    // gc() without --expose-gc on the command line (vitest's config passes no flags):
    // the flag set at run time applies to contexts created after it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const weak: WeakRef<object>[] = [];
    const start = (raw: boolean) => {
      const args = ranking(new Rng(testSeed()), 128, 40_000, 64, 16);
      const idx = new Int32Array(128 * 16);
      const sc = new Float32Array(128 * 16);
      for (const o of [args.queries, args.items, args.bias, args.excludeRowPtr, args.excludeColIdx, idx, sc]) weak.push(new WeakRef(o));
      // Only the Promise leaves this function.
      return raw ? k.topkAsync!(args, idx, sc) : q.topk(args, idx, sc);
    };
    let settled = 0;
    const calls = [start(true), start(false), start(true)].map((p) => p.then(() => settled++));
    // While they run (they are queued one after another in the pool), collect again and
    // again: every pinned array must still be there.
    let rounds = 0;
    while (settled < calls.length) {
      gc();
      if (settled === 0) expect(weak.slice(0, 7).every((w) => w.deref() !== undefined)).toBe(true);
      rounds++;
      await turn();
    }
    await Promise.all(calls);
    expect(rounds).toBeGreaterThan(0);
    // Settled: the references are released, so the arrays can go (no leak).
    for (let i = 0; i < 10 && weak.some((w) => w.deref() !== undefined); i++) {
      await turn();
      gc();
    }
    expect(weak.filter((w) => w.deref() !== undefined).length).toBe(0);
  });

  test('an output detached mid-call is reported, not silently accepted', async () => {
    const args = ranking(new Rng(testSeed()), 64, 30_000, 64, 8);
    const idx = new Int32Array(64 * 8);
    const sc = new Float32Array(64 * 8);
    const p = k.topkAsync!(args, idx, sc);
    // Transferring moves the backing store (no copy, no free): `moved` keeps it alive
    // while the worker still writes it, so this misuse stays memory-safe here.
    const moved = structuredClone(sc.buffer, { transfer: [sc.buffer] });
    await expect(p).rejects.toMatchObject({ code: 'native', message: expect.stringContaining('topkAsync: an argument array was detached or resized') });
    expect(moved.byteLength).toBe(64 * 8 * 4);
  });

  test('abort: before the call, while queued (rejects at once, never runs) and while running (rejects when it returns)', async () => {
    const rng = new Rng(testSeed());
    const big = ranking(rng, 256, 50_000, 64, 8);
    const small = ranking(rng, 3, 100, 8, 2);
    const reason = new Error('stop');
    const pre = new AbortController();
    pre.abort(reason);
    const untouched = new Int32Array(6).fill(-7);
    await expect(q.topk(small, untouched, poisonF32(6), { signal: pre.signal })).rejects.toBe(reason);

    const order: string[] = [];
    const running = new AbortController();
    const queued = new AbortController();
    const first = q.topk(big, new Int32Array(256 * 8), new Float32Array(256 * 8), { signal: running.signal }).then(
      () => order.push('first resolved'),
      (e) => order.push(e === reason ? 'first aborted' : `first failed: ${e}`),
    );
    const second = q.topk(small, untouched, poisonF32(6), { signal: queued.signal }).then(
      () => order.push('second resolved'),
      (e) => order.push(e === reason ? 'second aborted' : `second failed: ${e}`),
    );
    await turn();
    running.abort(reason);
    queued.abort(reason);
    await Promise.all([first, second]);
    expect(order).toEqual(['second aborted', 'first aborted']);
    expect([...untouched]).toEqual([-7, -7, -7, -7, -7, -7]); // the queued call never ran

    // topKAsync frees its outputs and passes the reason on.
    const a = {
      queries: engine.array(small.queries),
      batch: 3,
      dim: 8,
      items: engine.array(small.items),
      nItems: 100,
      k: 2,
    };
    await expect(topKAsync(engine, a, { signal: pre.signal })).rejects.toBe(reason);
    // The queue still works after all that.
    const i2 = new Int32Array(6);
    await q.topk(small, i2, poisonF32(6));
    expect(i2.includes(-7)).toBe(false);
  });

  test('disposing the engine while topKAsync is in flight: the call still completes with the right result', async () => {
    const own = await Engine.create({ backend: 'native', quiet: true });
    const r = ranking(new Rng(testSeed()), 200, 30_000, 64, 5);
    const a = { queries: own.array(r.queries), batch: 200, dim: 64, items: own.array(r.items), nItems: 30_000, bias: own.array(r.bias), k: 5 };
    const si = new Int32Array(1000);
    const ss = new Float32Array(1000);
    k.topk({ ...r, excludeRowPtr: undefined, excludeColIdx: undefined }, si, ss);
    const p = topKAsync(own, a);
    await own.dispose();
    const got = await p;
    expect(sameBits((got.indices as { data: Int32Array }).data, si)).toBe(true);
  });

  test('terminating a worker thread while its async call runs neither crashes nor wedges the main thread', async () => {
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const k = require(workerData).kernels;
      const B = 512, I = 50000, d = 64, K = 10;
      const q = new Float32Array(B * d).fill(0.01), it = new Float32Array(I * d).fill(0.02);
      const go = () => k.topkAsync({ queries: q, batch: B, dim: d, items: it, nItems: I, k: K }, new Int32Array(B * K), new Float32Array(B * K)).then(go);
      go();
      parentPort.postMessage('started');`;
    await terminateMidCall(src);
    // The pool and the queue still serve the main thread.
    const args = ranking(new Rng(testSeed()), 9, 500, 12, 4);
    const si = new Int32Array(36);
    const ss = new Float32Array(36);
    k.topk(args, si, ss);
    const gi = new Int32Array(36);
    const gs = new Float32Array(36);
    await q.topk(args, gi, gs);
    expect(sameBits(gi, si) && sameBits(gs, ss)).toBe(true);
  });

  test('terminating a worker thread while its buildGraphAsync runs neither crashes nor wedges the main thread', async () => {
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData);
      const n = 2000000, users = new Int32Array(n), items = new Int32Array(n);
      for (let i = 0; i < n; i++) { users[i] = (i * 7919) % 50000; items[i] = (i * 104729) % 20000; }
      const go = () => addon.buildGraphAsync({ users, items, nUsers: 50000, nItems: 20000 }, {}).then(go);
      go();
      parentPort.postMessage('started');`;
    await terminateMidCall(src);
    // The addon still builds on the main thread.
    const addon = (await import('../../src/native.js')).loadNative()!;
    const g = await addon.buildGraphAsync({ users: Int32Array.of(0, 1, 1), items: Int32Array.of(1, 0, 1), nUsers: 2, nItems: 2 }, {});
    expect(g.userItem.rowPtr.length).toBe(3);
  });
});

