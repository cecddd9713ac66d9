/**
 * Loads the C++ addon (build/Release/gnnrl_native.node) once per process and hands it
 * the GnnrlError class, so native failures arrive as real GnnrlErrors with a `code`.
 * Every function here has a TypeScript twin in src/graph; callers pick with
 * `{ impl: 'auto' | 'native' | 'ts' }`. `GNNRL_NATIVE=0` turns the addon off.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GnnrlError } from './errors.js';
import type { Csr } from './backend/arrays.js';

export type MergePolicy = 'sum' | 'mean' | 'max' | 'last' | 'count';
export type Normalization = 'none' | 'sym' | 'row' | 'col';

export interface CooInput {
  users: Int32Array;
  items: Int32Array;
  /** One weight per interaction; absent = 1 each. */
  weights?: Float32Array;
  /** Timestamps, needed by the `last` policy. */
  ts?: Float64Array | Int32Array;
  nUsers: number;
  nItems: number;
}

export interface AdjacencyOptions {
  /** Default 'sym': D^-1/2 A D^-1/2. */
  norm?: Normalization;
  /** Adds a self-loop of value 1 on every node (counted in its degree). */
  selfLoops?: boolean;
  /** Entries carry merged weights (and degrees are weight sums) instead of 1. */
  weighted?: boolean;
}

export interface BuildOptions {
  policy?: MergePolicy;
  /** Worker threads; 0 or absent = automatic. The output never depends on it. */
  threads?: number;
  /** Also build the bipartite adjacency with these options. */
  adjacency?: AdjacencyOptions | false;
  /** Refuse (code 'limit') when the build's estimated bytes exceed this. */
  memoryLimit?: number;
}

export interface BuiltGraph {
  userItem: Csr;
  itemUser: Csr;
  userDegree: Int32Array;
  itemDegree: Int32Array;
  adjacency?: Csr;
}

export interface SampledBlocks {
  /** layers[0] = seeds; layers[l + 1] = layers[l] followed by the nodes first reached at hop l + 1. */
  layers: Int32Array[];
  /** blocks[l]: rows = layers[l] (local), cols = local indices into layers[l + 1], values 1/k. */
  blocks: Csr[];
}

export interface EncodedIds {
  dense: Int32Array;
  firstIndex: Int32Array;
}

/**
 * The native backend's kernels (native/napi_kernels.cc). They read and write the typed
 * arrays in place; the TypeScript kernels (src/kernels/) check shapes first, the addon
 * re-checks lengths and every index it follows.
 */
/** The graph and shape of a native GAT call. */
export interface NativeGatArgs {
  nDst: number;
  nSrc: number;
  heads: number;
  f: number;
  slope: number;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  h: Float32Array;
  el: Float32Array;
  er: Float32Array;
}

/** The shape and operands of a native sequence self-attention call. */
export interface NativeSeqAttentionArgs {
  batch: number;
  len: number;
  d: number;
  dv: number;
  causal?: boolean;
  lengths?: Int32Array;
  weights?: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

export interface NativeKernels {
  /** Threads of the kernels' pool (the caller's included). */
  threads(): number;
  /** Resizes the pool (1..256); returns the new size. Waits for a running kernel first, an async one included. */
  setThreads(n: number): number;
  /** The SIMD the kernels were compiled for, e.g. 'avx2+fma (8 lanes)'. */
  simd(): string;
  gemm(a: Float32Array, b: Float32Array, out: Float32Array, M: number, K: number, N: number, transA: boolean, transB: boolean): void;
  qtarget(
    args: {
      next: Float32Array;
      batch: number;
      dim: number;
      nItems: number;
      chooser: Float32Array;
      chooserBias?: Float32Array;
      /** Double DQN's value table; absent = plain DQN. */
      value?: Float32Array;
      valueBias?: Float32Array;
      reward: Float32Array;
      done: Float32Array;
      excludeRowPtr?: Int32Array;
      excludeColIdx?: Int32Array;
      gamma: number;
    },
    y: Float32Array,
    argmax: Int32Array,
  ): void;
  topk(
    args: { queries: Float32Array; batch: number; dim: number; items: Float32Array; nItems: number; bias?: Float32Array; excludeRowPtr?: Int32Array; excludeColIdx?: Int32Array; k: number },
    indices: Int32Array,
    scores: Float32Array,
  ): void;
  spmm(nRows: number, nCols: number, rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, x: Float32Array, d: number, out: Float32Array): void;
  /** Element-wise maps (op codes of kernels/elementwise.ts); absent in addons built before them. */
  unary?(op: number, x: Float32Array, out: Float32Array, alpha: number, beta: number, seed: number, threshold: number): void;
  gather?(table: Float32Array, tableRows: number, idx: Int32Array, cols: number, out: Float32Array): void;
  segmentSum?(ptr: Int32Array, pos: Int32Array, g: Float32Array, gRows: number, rows: number, cols: number, out: Float32Array): void;
  copy2d?(src: Float32Array, dst: Float32Array, rows: number, width: number, srcCols: number, srcOff: number, dstCols: number, dstOff: number): void;
  reduce?(op: number, x: Float32Array, rows: number, cols: number, axis: number, scale: number, out: Float32Array): void;
  adam?(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, clip: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, step: number): void;
  softmax?(x: Float32Array, rows: number, cols: number, log: boolean, out: Float32Array): void;
  softmaxBackward?(y: Float32Array, g: Float32Array, rows: number, cols: number, log: boolean, out: Float32Array): void;
  binary?(op: number, a: Float32Array, b: Float32Array, out: Float32Array, rows: number, cols: number, aRs: number, aCs: number, bRs: number, bCs: number, alpha: number, beta: number): void;
  /** Max aggregation over CSR rows (kern_graph.h): y and argmax written in place. */
  maxAggregate?(args: { nRows: number; nCols: number; rowPtr: Int32Array; colIdx: Int32Array; x: Float32Array; d: number }, y: Float32Array, argmax: Int32Array): void;
  maxAggregateBackward?(args: { nRows: number; nSrc: number; argmax: Int32Array; dy: Float32Array; d: number }, dx: Float32Array): void;
  /** Graph attention's sparse part and its backward (kern_graph.h). */
  gatForward?(args: NativeGatArgs, out: Float32Array, rowStat: Float32Array): void;
  gatBackward?(args: NativeGatArgs & { tRowPtr: Int32Array; tDst: Int32Array; tEdge: Int32Array; dOut: Float32Array }, dH: Float32Array, dEl: Float32Array, dEr: Float32Array): void;
  /** Sequence self-attention and its backward (kern_attention.h); `pooled` is written only with `weights`. */
  seqAttention?(args: NativeSeqAttentionArgs, z: Float32Array, pooled: Float32Array | null, rowStat: Float32Array): void;
  seqAttentionBackward?(args: NativeSeqAttentionArgs & { dOut: Float32Array }, dq: Float32Array, dk: Float32Array, dv: Float32Array): void;
  /**
   * Async twins of the four long calls (absent in addons built before them): the same
   * checks and the same kernel, run on a libuv worker thread; the Promise resolves once
   * the outputs are written and rejects with the error the sync call would throw. The
   * addon holds a reference to every array passed until the Promise settles, so they
   * survive GC even when the caller drops its own. Until it settles the caller must not
   * read or write the outputs, must not write the inputs, and must not detach, transfer
   * or resize any of the arrays (a detached or resized one is reported as a 'native'
   * rejection, after the fact). Prefer the queued versions of nativeAsyncKernels().
   */
  gemmAsync?(...args: Parameters<NativeKernels['gemm']>): Promise<void>;
  qtargetAsync?(...args: Parameters<NativeKernels['qtarget']>): Promise<void>;
  topkAsync?(...args: Parameters<NativeKernels['topk']>): Promise<void>;
  spmmAsync?(...args: Parameters<NativeKernels['spmm']>): Promise<void>;
  /** Adam's step on a worker (w, m, v written, g read); absent before it was added. */
  adamAsync?(...args: Parameters<NonNullable<NativeKernels['adam']>>): Promise<void>;
}

export interface NativeAsyncOptions {
  /**
   * Aborts the call: while it waits in the queue it rejects at once with
   * `signal.reason` and never starts; once the native work runs it cannot be stopped,
   * so the Promise rejects with `signal.reason` only when that work has finished (the
   * outputs are then written but the result is discarded).
   */
  signal?: AbortSignal;
}

/**
 * The queued async kernels: each call waits for the previous async kernel call to
 * settle, then runs the addon's *Async twin. The kernels' thread pool runs one job at a
 * time anyway, so queuing costs no throughput, and it keeps gnnrl to one of libuv's
 * worker threads (four by default) instead of blocking all of them behind the pool,
 * which would stall fs, dns and crypto calls in the same service. The rules of
 * NativeKernels' *Async functions apply: hands off the arrays until the Promise settles.
 * A sync kernel call made while an async one runs blocks the JS thread until that one
 * is done (they share the pool), so a service that wants its event loop free should
 * send every long call here.
 */
export interface NativeAsyncKernels {
  gemm(...args: [...Parameters<NativeKernels['gemm']>, opts?: NativeAsyncOptions]): Promise<void>;
  qtarget(...args: [...Parameters<NativeKernels['qtarget']>, opts?: NativeAsyncOptions]): Promise<void>;
  topk(...args: [...Parameters<NativeKernels['topk']>, opts?: NativeAsyncOptions]): Promise<void>;
  spmm(...args: [...Parameters<NativeKernels['spmm']>, opts?: NativeAsyncOptions]): Promise<void>;
  /** Null in an addon built before adamAsync (the other four are there). */
  adam: ((...args: [...Parameters<NonNullable<NativeKernels['adam']>>, opts?: NativeAsyncOptions]) => Promise<void>) | null;
}

/** The addon's exports, as native/addon.cc registers them. */
export interface NativeAddon {
  /** Absent in an addon built before the native backend existed. */
  kernels?: NativeKernels;
  init(errorClass: typeof GnnrlError): void;
  version(): string;
  hardwareThreads(): number;
  buildGraph(input: CooInput, opts?: BuildOptions): BuiltGraph;
  buildGraphAsync(input: CooInput, opts?: BuildOptions): Promise<BuiltGraph>;
  bipartiteAdjacency(userItem: Csr, opts?: AdjacencyOptions & { threads?: number }): Csr;
  transpose(csr: Csr, opts?: { threads?: number }): Csr;
  cooccurrence(userItem: Csr, opts: { topN: number; measure?: 'count' | 'cosine'; threads?: number }): Csr;
  sampleNeighbors(graph: Csr, seeds: Int32Array, fanouts: Int32Array, opts?: { seed?: number }): SampledBlocks;
  randomWalk(
    graph: Csr,
    seeds: Int32Array,
    opts: { walks: number; length: number; topK: number; stride?: number; seed?: number; threads?: number },
  ): Csr;
  encodeNumbers(ids: Float64Array): EncodedIds;
  encodeStrings(ids: readonly string[]): EncodedIds;
  /** ids.join('\0') and ids.length; null when an id contains '\0' (use encodeStrings). */
  encodeJoined(joined: string, n: number): EncodedIds | null;
}

export type Impl = 'auto' | 'native' | 'ts';

/** The package root: the nearest folder above this file holding package.json (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'CMakeLists.txt'))) return dir;
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), '..');
    dir = up;
  }
}

let loaded: NativeAddon | null | undefined;
let loadError: string | undefined;

/** The addon, or null when it is disabled or could not load (see nativeLoadError()). */
export function loadNative(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  if (process.env.GNNRL_NATIVE === '0') {
    loadError = 'the native addon is disabled by GNNRL_NATIVE=0';
    loaded = null;
    return loaded;
  }
  const root = packageRoot();
  const candidates = [join(root, 'build', 'Release', 'gnnrl_native.node'), join(root, 'build', 'Debug', 'gnnrl_native.node')];
  const causes: string[] = [];
  const require = createRequire(import.meta.url);
  for (const path of candidates) {
    if (!existsSync(path)) {
      causes.push(`  ${path}: not found`);
      continue;
    }
    try {
      const addon = require(path) as NativeAddon;
      addon.init(GnnrlError);
      loaded = addon;
      return addon;
    } catch (err) {
      causes.push(`  ${path}: ${(err as Error).message}`);
    }
  }
  loadError = [
    'gnnrl: the native addon could not be loaded; the TypeScript implementations will be used.',
    'Tried:',
    ...causes,
    'Fix: run `npm run build:native` in the package folder (it needs cmake >= 3.15 and g++ with C++17).',
  ].join('\n');
  loaded = null;
  return loaded;
}

/** Why loadNative() returned null: every path tried, every cause, and the fix. */
export function nativeLoadError(): string | undefined {
  loadNative();
  return loadError;
}

/**
 * Why the native backend cannot run here, or undefined when it can: the addon must load
 * and carry the kernels.
 */
export function nativeKernelsUnavailable(): string | undefined {
  const addon = loadNative();
  if (!addon) return nativeLoadError() ?? 'native addon unavailable';
  if (!addon.kernels) return 'the native addon was built before the native backend existed; rebuild it with `npm run build:native`';
  return undefined;
}

/** The native backend's kernels; a 'native' error saying why when they are unavailable. */
export function nativeKernels(): NativeKernels {
  const k = loadNative()?.kernels;
  if (!k) throw new GnnrlError('native', nativeKernelsUnavailable() ?? 'native kernels unavailable');
  return k;
}

/**
 * Resolves an `impl` option: 'native' demands the addon (a 'native' error with the load
 * message when it is missing), 'ts' never uses it, 'auto' uses it when it loaded.
 */
export function resolveImpl(impl: Impl | undefined): NativeAddon | null {
  const mode = impl ?? 'auto';
  if (mode === 'ts') return null;
  if (mode !== 'auto' && mode !== 'native') {
    throw new GnnrlError('input', `impl: expected one of auto, native, ts, got ${JSON.stringify(mode)}`, { arg: 'impl' });
  }
  const addon = loadNative();
  if (mode === 'native' && addon === null) throw new GnnrlError('native', nativeLoadError() ?? 'native addon unavailable');
  return addon;
}

let asyncTail: Promise<unknown> = Promise.resolve();

/**
 * Runs `start` (one native async call) after every earlier queued call settled; see
 * NativeAsyncKernels. A worker-thread error has no JS stack of its own, so a GnnrlError
 * gets the caller's.
 */
export function queueNativeAsync<T>(start: () => Promise<T>, opts: NativeAsyncOptions = {}): Promise<T> {
  const { signal } = opts;
  const site = new Error();
  return new Promise<T>((resolve, reject) => {
    let started = false;
    let settled = false;
    const onAbort = () => {
      if (started || settled) return; // running: rejected when the native work returns
      settled = true;
      reject(signal!.reason);
    };
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    const run = async () => {
      if (settled) return;
      started = true;
      try {
        const r = await start();
        if (signal?.aborted) reject(signal.reason);
        else resolve(r);
      } catch (err) {
        if (err instanceof GnnrlError && site.stack) err.stack = `${err.name}: ${err.message}\n${site.stack.split('\n').slice(1).join('\n')}`;
        reject(err);
      } finally {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
      }
    };
    // Only the settling is chained, never the arguments: a finished call's arrays are
    // not kept alive by the queue.
    asyncTail = asyncTail.then(run);
  });
}

let asyncKernels: NativeAsyncKernels | null | undefined;

/** The queued async kernels, or null when the addon is missing or predates them. */
export function nativeAsyncKernels(): NativeAsyncKernels | null {
  if (asyncKernels !== undefined) return asyncKernels;
  const k = loadNative()?.kernels;
  if (!k?.gemmAsync || !k.qtargetAsync || !k.topkAsync || !k.spmmAsync) return (asyncKernels = null);
  const { gemmAsync, qtargetAsync, topkAsync, spmmAsync } = k;
  asyncKernels = {
    gemm: (a, b, out, M, K, N, transA, transB, opts) => queueNativeAsync(() => gemmAsync(a, b, out, M, K, N, transA, transB), opts),
    qtarget: (args, y, argmax, opts) => queueNativeAsync(() => qtargetAsync(args, y, argmax), opts),
    topk: (args, indices, scores, opts) => queueNativeAsync(() => topkAsync(args, indices, scores), opts),
    spmm: (nRows, nCols, rowPtr, colIdx, values, x, d, out, opts) => queueNativeAsync(() => spmmAsync(nRows, nCols, rowPtr, colIdx, values, x, d, out), opts),
    adam: k.adamAsync ? (w, g, m, v, clip, lr, b1, b2, eps, wd, dec, step, opts) => queueNativeAsync(() => k.adamAsync!(w, g, m, v, clip, lr, b1, b2, eps, wd, dec, step), opts) : null,
  };
  return asyncKernels;
}
