/**
 * The Engine: which backend runs the kernels, and the storage every layer above
 * allocates from. `Engine.create()` picks WebGPU when an adapter exists and falls
 * back to the CPU backend with one warning; `GNNRL_BACKEND` forces a backend and
 * `GNNRL_REQUIRE_GPU=1` turns a missing adapter into an error.
 */
import { GnnrlError } from './errors.js';
import { requestAdapter, summarizeAdapter, deviceDescriptor, type AdapterSummary } from './gpu/adapter.js';
import { GpuRuntime, type RuntimeOptions } from './gpu/runtime.js';
import type { PoolStats } from './gpu/buffer-pool.js';
import {
  allocTyped,
  dtypeOf,
  viewTyped,
  type BackendKind,
  type CpuArray,
  type Csr,
  type DType,
  type DeviceArray,
  type DeviceCsr,
  type GpuArray,
  type NumericArray,
  type TypedArrayFor,
} from './backend/arrays.js';

export type BackendChoice = 'auto' | BackendKind;

export interface EngineOptions {
  /** 'auto' (default): WebGPU if an adapter exists, else CPU. Overridden by GNNRL_BACKEND. */
  backend?: BackendChoice;
  /** Throw instead of falling back to the CPU. Also set by GNNRL_REQUIRE_GPU=1. */
  requireGpu?: boolean;
  /** One submit and error scope per dispatch, naming the failing kernel. Also GNNRL_DEBUG=1. */
  debug?: boolean;
  /** Timestamp-query timing of every dispatch (see `engine.gpu.takeTimings()`). */
  timing?: boolean;
  /** Suppress the CPU-fallback warning. */
  quiet?: boolean;
  /** Caps the storage-binding size (tests of the splitting paths; emulating a smaller GPU). */
  maxBindingBytes?: number;
  /**
   * Recorded dispatches after which the batch is submitted even without a readback
   * (default 64): fewer, larger submits against an earlier start of the device's work.
   */
  maxDispatchesPerSubmit?: number;
}

let warnedFallback = false;

/** Anything the engine's scopes can free: tensors, parameter sets, device graphs. */
export interface Disposable {
  dispose(): void;
}

function isDisposable(x: unknown): x is Disposable {
  return typeof x === 'object' && x !== null && typeof (x as Disposable).dispose === 'function';
}

/** Disposables reachable from a scope's return value (arrays and plain objects, recursively). */
function collectReturned(value: unknown, into: Set<Disposable>, seen = new Set<unknown>()): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (isDisposable(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectReturned(v, into, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectReturned(v, into, seen);
}

function envBackend(): BackendChoice | undefined {
  const v = process.env.GNNRL_BACKEND?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'auto' || v === 'webgpu' || v === 'cpu' || v === 'native') return v;
  throw new GnnrlError('input', `GNNRL_BACKEND: expected one of auto, webgpu, cpu, native; got '${process.env.GNNRL_BACKEND}'`, { arg: 'GNNRL_BACKEND' });
}

export class Engine {
  /** The backend kernels run on. */
  readonly backend: BackendKind;
  /** Why this backend was chosen, in words (for logs and `gnnrl doctor`). */
  readonly reason: string;
  /** The adapter, when the backend is WebGPU. */
  readonly adapter: AdapterSummary | null;
  private readonly runtime: GpuRuntime | null;
  private disposed = false;
  private cpuLiveBytes = 0;
  private readonly scopes: Set<Disposable>[] = [];

  private constructor(backend: BackendKind, reason: string, runtime: GpuRuntime | null) {
    this.backend = backend;
    this.reason = reason;
    this.runtime = runtime;
    this.adapter = runtime?.adapter ?? null;
  }

  static async create(options: EngineOptions = {}): Promise<Engine> {
    const forced = envBackend();
    const choice: BackendChoice = forced ?? options.backend ?? 'auto';
    const requireGpu = options.requireGpu ?? process.env.GNNRL_REQUIRE_GPU === '1';
    const debug = options.debug ?? process.env.GNNRL_DEBUG === '1';
    const via = forced ? 'GNNRL_BACKEND' : options.backend ? 'the backend option' : 'auto';

    if (choice === 'cpu') {
      // Code may ask for the CPU explicitly (tests compare backends); only the two
      // environment variables contradicting each other is an error.
      if (requireGpu && forced) throw new GnnrlError('gpu', 'GNNRL_REQUIRE_GPU=1 contradicts GNNRL_BACKEND=cpu; unset one of them');
      return new Engine('cpu', `cpu backend chosen by ${via}`, null);
    }
    if (choice === 'native') {
      throw new GnnrlError('input', `backend 'native' (C++ SIMD kernels in the addon) is planned but not built yet; use 'cpu' or 'webgpu'`, { arg: 'backend' });
    }
    const probe = await requestAdapter();
    if (!probe.adapter) {
      const why = probe.reason ?? 'no adapter';
      if (choice === 'webgpu' || requireGpu) {
        throw new GnnrlError('gpu', `WebGPU backend required (${requireGpu ? 'GNNRL_REQUIRE_GPU=1' : via}) but unavailable: ${why}`);
      }
      if (!warnedFallback && !options.quiet) {
        warnedFallback = true;
        process.emitWarning(`gnnrl: no WebGPU adapter, using the CPU backend (${why})`, { code: 'GNNRL_CPU_FALLBACK' });
      }
      return new Engine('cpu', `cpu backend: ${why}`, null);
    }
    const summary = summarizeAdapter(probe.adapter);
    let device: GPUDevice;
    try {
      device = await probe.adapter.requestDevice(deviceDescriptor(probe.adapter));
    } catch (err) {
      throw new GnnrlError('gpu', `requestDevice failed on adapter '${summary.description || summary.device}': ${(err as Error).message}`, { cause: err });
    }
    const runtimeOptions: RuntimeOptions = { debug, timing: options.timing, maxBindingBytes: options.maxBindingBytes, maxDispatchesPerSubmit: options.maxDispatchesPerSubmit };
    const runtime = new GpuRuntime(device, summary, runtimeOptions);
    const name = summary.description || summary.device || summary.vendor || 'unknown adapter';
    const kind = summary.software ? 'software adapter' : 'hardware adapter';
    return new Engine('webgpu', `webgpu on ${name} (${kind}) chosen by ${via}`, runtime);
  }

  /** The WebGPU runtime; throws on other backends. */
  get gpu(): GpuRuntime {
    if (!this.runtime) throw new GnnrlError('state', `engine.gpu is only available on the webgpu backend (this engine runs on ${this.backend})`);
    this.assertAlive();
    return this.runtime;
  }

  get isGpu(): boolean {
    return this.runtime !== null;
  }

  // ---------------------------------------------------------------- storage

  /** Copies a typed array to the backend. */
  array<T extends NumericArray>(data: T): DeviceArray<T extends Float32Array ? 'f32' : T extends Int32Array ? 'i32' : 'u32'> {
    this.assertAlive();
    const dtype = dtypeOf(data);
    if (this.runtime) {
      const buffer = this.runtime.upload(data, `${dtype}[${data.length}]`);
      return { backend: 'webgpu', dtype, length: data.length, buffer } as GpuArray as never;
    }
    this.cpuLiveBytes += data.byteLength;
    return { backend: this.backend as 'cpu', dtype, length: data.length, data: data.slice() } as CpuArray as never;
  }

  /** Uninitialised storage for `length` elements (contents are unspecified: write before reading). */
  empty<D extends DType>(dtype: D, length: number): DeviceArray<D> {
    this.assertAlive();
    if (!Number.isInteger(length) || length < 0) throw new GnnrlError('input', `length: expected a non-negative integer, got ${length}`, { arg: 'length' });
    if (this.runtime) {
      const buffer = this.runtime.alloc(Math.max(4, length * 4), `${dtype}[${length}]`);
      return { backend: 'webgpu', dtype, length, buffer };
    }
    this.cpuLiveBytes += length * 4;
    return { backend: this.backend as 'cpu', dtype, length, data: allocTyped(dtype, length) };
  }

  /** Overwrites storage with `data` (same length and dtype). */
  write<D extends DType>(arr: DeviceArray<D>, data: TypedArrayFor<D>, offsetElements = 0): void {
    this.assertAlive();
    if (dtypeOf(data) !== arr.dtype) throw new GnnrlError('input', `write: expected ${arr.dtype} data, got ${dtypeOf(data)}`, { arg: 'data' });
    if (offsetElements + data.length > arr.length) {
      throw new GnnrlError('input', `write: ${data.length} elements at offset ${offsetElements} overflow an array of ${arr.length}`, { arg: 'data' });
    }
    if (arr.backend === 'webgpu') this.gpu.write(arr.buffer, data, offsetElements * 4);
    else (arr.data as NumericArray).set(data, offsetElements);
  }

  /** Reads storage back as a fresh typed array. */
  async read<D extends DType>(arr: DeviceArray<D>): Promise<TypedArrayFor<D>> {
    return (await this.readMany([arr]))[0];
  }

  /** Reads several arrays with one submit and one wait. */
  async readMany<D extends DType>(arrs: DeviceArray<D>[]): Promise<TypedArrayFor<D>[]> {
    this.assertAlive();
    if (!this.runtime) return arrs.map((a) => (a as CpuArray<D>).data.slice() as TypedArrayFor<D>);
    const bufs = await this.runtime.readMany(arrs.map((a) => ({ buffer: (a as GpuArray<D>).buffer, bytes: a.length * 4 })));
    return bufs.map((b, i) => viewTyped(arrs[i].dtype, b, arrs[i].length));
  }

  /** Returns storage to the pool (GPU) or drops it (CPU). Safe to call twice. */
  free(arr: DeviceArray): void {
    if (arr.backend === 'webgpu') {
      this.runtime?.release(arr.buffer);
    } else if (!(arr as { freed?: boolean }).freed) {
      (arr as { freed?: boolean }).freed = true;
      this.cpuLiveBytes -= arr.length * 4;
    }
  }

  /** Uploads a CSR matrix once, for kernels that reuse it every step. */
  uploadCsr(csr: Csr): DeviceCsr {
    return {
      nRows: csr.nRows,
      nCols: csr.nCols,
      nnz: csr.colIdx.length,
      rowPtr: this.array(csr.rowPtr),
      colIdx: this.array(csr.colIdx),
      values: this.array(csr.values),
    };
  }

  freeCsr(csr: DeviceCsr): void {
    this.free(csr.rowPtr);
    this.free(csr.colIdx);
    this.free(csr.values);
  }

  /** Bytes held by live storage (pool buckets on WebGPU, typed arrays on the CPU). */
  memoryStats(): { liveBytes: number; pool?: PoolStats } {
    if (this.runtime) {
      const pool = this.runtime.poolStats();
      return { liveBytes: pool.liveBytes, pool };
    }
    return { liveBytes: this.cpuLiveBytes };
  }

  // ---------------------------------------------------------------- scopes

  /**
   * Registers an intermediate with the innermost open scope, which disposes it when the
   * scope ends unless it is returned or kept. Outside any scope this does nothing.
   */
  track<T extends Disposable>(x: T): T {
    this.scopes[this.scopes.length - 1]?.add(x);
    return x;
  }

  /** Exempts `x` from every open scope: the caller now owns it. */
  keep<T extends Disposable>(x: T): T {
    for (const s of this.scopes) s.delete(x);
    return x;
  }

  /**
   * Runs `fn` and disposes every tracked object created inside it, except those reachable
   * from its return value (which move to the enclosing scope). Like tf.tidy.
   */
  scope<T>(fn: () => T): T {
    this.scopes.push(new Set());
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.closeScope(undefined);
      throw err;
    }
    if (result instanceof Promise) {
      this.closeScope(undefined);
      throw new GnnrlError('input', 'engine.scope(fn): fn returned a Promise; use engine.scopeAsync for async work');
    }
    this.closeScope(result);
    return result;
  }

  /** `scope` for async functions; do not interleave two scopeAsync calls on one engine. */
  async scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
    this.scopes.push(new Set());
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      this.closeScope(undefined);
      throw err;
    }
    this.closeScope(result);
    return result;
  }

  private closeScope(result: unknown): void {
    const scope = this.scopes.pop()!;
    const returned = new Set<Disposable>();
    collectReturned(result, returned);
    const parent = this.scopes[this.scopes.length - 1];
    for (const x of scope) {
      if (returned.has(x)) parent?.add(x);
      else x.dispose();
    }
  }

  /** Submits recorded GPU work and waits for it; a no-op on the CPU. */
  async sync(): Promise<void> {
    if (this.runtime) await this.runtime.sync();
  }

  private assertAlive(): void {
    if (this.disposed) throw new GnnrlError('state', 'this Engine was disposed; create a new one with Engine.create()');
  }

  /** Drains the GPU queue and destroys the device so the process can exit by itself. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.runtime?.dispose();
  }
}
