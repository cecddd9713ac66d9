/**
 * The Engine: which backend runs the kernels, and the storage every layer above
 * allocates from. `Engine.create()` picks WebGPU on a hardware adapter, the native
 * backend (C++ kernels in the addon) when the only adapter is a software one or there is
 * none, and the TypeScript CPU backend, with one warning, when neither is there (see
 * `chooseBackend`). `GNNRL_BACKEND` forces a backend and `GNNRL_REQUIRE_GPU=1` makes
 * `auto` mean WebGPU and a missing adapter an error (CI's GPU pass relies on it).
 */
import { GnnrlError } from './errors.js';
import { requestAdapter, summarizeAdapter, deviceDescriptor, type AdapterSummary } from './gpu/adapter.js';
import { GpuRuntime, type RuntimeOptions } from './gpu/runtime.js';
import type { PoolStats } from './gpu/buffer-pool.js';
import { join } from 'node:path';
import { loadNative, nativeKernels, nativeKernelsUnavailable, nativeLoadError, packageRoot } from './native.js';
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

/** Every value `--backend` and `EngineOptions.backend` accept, for parsers and messages. */
export const BACKEND_CHOICES = ['auto', 'webgpu', 'native', 'cpu'] as const satisfies readonly BackendChoice[];

export interface EngineOptions {
  /** 'auto' (default): see `chooseBackend`. Overridden by GNNRL_BACKEND. */
  backend?: BackendChoice;
  /**
   * Threads of the native backend's kernel pool (one pool per process, shared by every
   * native engine). Default: every hardware thread; GNNRL_THREADS overrides both.
   */
  threads?: number;
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
  /**
   * Called once when the WebGPU device is lost (driver reset, GPU removed, or destroyed
   * by someone else) — not when `dispose()` destroys it. The engine is unusable from then
   * on: every call throws a 'gpu' error saying so; create a new one with `Engine.create()`.
   * Default: a process warning (code GNNRL_DEVICE_LOST).
   */
  onDeviceLost?: (info: DeviceLossReport) => void;
}

let warnedFallback = false;

/** What `auto` sees of the machine: the adapter's kind and whether the native kernels load. */
export type AdapterKind = 'hardware' | 'software' | 'none';

export interface BackendInputs {
  choice: BackendChoice;
  /** Who asked: 'GNNRL_BACKEND', 'the backend option' or 'auto' (for the reason line). */
  via: string;
  /** The choice came from GNNRL_BACKEND. */
  forced: boolean;
  requireGpu: boolean;
  /** Only consulted for 'auto' and 'webgpu'. */
  adapter: AdapterKind;
  /** The adapter's name, or why there is none. */
  adapterText: string;
  /** Why the native kernels cannot run, or undefined when they can. */
  nativeMissing: string | undefined;
}

export interface BackendDecision {
  backend: BackendKind;
  reason: string;
  /** A warning to print once (the TypeScript fallback). */
  warning?: string;
}

/** Whether `chooseBackend` needs the adapter probed for this choice. */
export function needsAdapter(choice: BackendChoice): boolean {
  return choice === 'auto' || choice === 'webgpu';
}

/**
 * The backend decision, a pure function of what the machine offers (tested for every
 * combination). `auto`: WebGPU on a hardware adapter (or whenever GNNRL_REQUIRE_GPU=1);
 * native when the only adapter is a software one (a correctness device: lavapipe runs
 * the hot ops 10–30× slower than native code on the same CPU) or there is none; without
 * the native kernels, a software adapter is still used (it beats the TypeScript kernels
 * on the hot ops) and with no adapter either the CPU backend runs, with a warning.
 * Throws a GnnrlError where the request cannot be met.
 */
export function chooseBackend(x: BackendInputs): BackendDecision {
  const { choice, via } = x;
  if (choice === 'cpu' || choice === 'native') {
    // Code may ask for the CPU or native backend explicitly (tests compare backends);
    // only the two environment variables contradicting each other is an error.
    if (x.requireGpu && x.forced) throw new GnnrlError('gpu', `GNNRL_REQUIRE_GPU=1 contradicts GNNRL_BACKEND=${choice}; unset one of them`);
    if (choice === 'cpu') return { backend: 'cpu', reason: `cpu backend chosen by ${via}` };
    if (x.nativeMissing) throw new GnnrlError('native', `the native backend was asked for by ${via} but is unavailable: ${x.nativeMissing}`, { arg: via === 'GNNRL_BACKEND' ? 'GNNRL_BACKEND' : 'backend' });
    return { backend: 'native', reason: `native backend chosen by ${via}` };
  }
  const gpu = (kind: string) => ({ backend: 'webgpu' as const, reason: `webgpu on ${x.adapterText} (${kind}) chosen by ${via}` });
  if (x.adapter === 'none') {
    if (choice === 'webgpu' || x.requireGpu) {
      throw new GnnrlError('gpu', `WebGPU backend required (${x.requireGpu ? 'GNNRL_REQUIRE_GPU=1' : via}) but unavailable: ${x.adapterText}`);
    }
    if (!x.nativeMissing) return { backend: 'native', reason: `native backend chosen by auto: ${x.adapterText}` };
    return {
      backend: 'cpu',
      reason: `cpu backend: ${x.adapterText}; the native backend is unavailable (${x.nativeMissing.split('\n')[0]})`,
      warning: `gnnrl: no WebGPU adapter and no native addon, using the TypeScript CPU backend (${x.adapterText})`,
    };
  }
  if (x.adapter === 'hardware') return gpu('hardware adapter');
  // A software adapter.
  if (choice === 'webgpu') return gpu('software adapter');
  if (x.requireGpu) return { backend: 'webgpu', reason: `webgpu on ${x.adapterText} (software adapter) chosen by auto: GNNRL_REQUIRE_GPU=1 asks for WebGPU` };
  if (!x.nativeMissing) return { backend: 'native', reason: `native backend chosen by auto: the only WebGPU adapter, ${x.adapterText}, is a software one` };
  return { backend: 'webgpu', reason: `webgpu on ${x.adapterText} (software adapter) chosen by auto: the native backend is unavailable (${x.nativeMissing.split('\n')[0]})` };
}

/** GNNRL_THREADS, else the option, else undefined (the pool's default: every hardware thread). */
function threadCount(option: number | undefined): number | undefined {
  const env = process.env.GNNRL_THREADS?.trim();
  const [raw, name] = env ? [Number(env), 'GNNRL_THREADS'] : [option, 'threads'];
  if (raw === undefined) return undefined;
  if (!Number.isInteger(raw) || raw < 1 || raw > 256) {
    throw new GnnrlError('input', `${name}: expected an integer in [1, 256], got ${env ? `'${env}'` : String(raw)}`, { arg: name });
  }
  return raw;
}

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

/** Why the WebGPU device went away (`GPUDeviceLostInfo`'s fields). */
export interface DeviceLossReport {
  reason: string;
  message: string;
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
  private deviceLoss: DeviceLossReport | null = null;
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
    const threads = threadCount(options.threads);

    const probe = needsAdapter(choice) ? await requestAdapter() : { adapter: null, reason: undefined };
    const summary = probe.adapter ? summarizeAdapter(probe.adapter) : null;
    const decision = chooseBackend({
      choice,
      via,
      forced: !!forced,
      requireGpu,
      adapter: summary ? (summary.software ? 'software' : 'hardware') : 'none',
      adapterText: summary ? summary.description || summary.device || summary.vendor || 'unknown adapter' : (probe.reason ?? 'no adapter'),
      nativeMissing: choice === 'auto' || choice === 'native' ? nativeKernelsUnavailable() : 'not consulted',
    });
    if (decision.warning && !warnedFallback && !options.quiet) {
      warnedFallback = true;
      process.emitWarning(decision.warning, { code: 'GNNRL_CPU_FALLBACK' });
    }
    if (decision.backend === 'cpu') return new Engine('cpu', decision.reason, null);
    if (decision.backend === 'native') {
      const k = nativeKernels();
      if (threads !== undefined) k.setThreads(threads);
      return new Engine('native', `${decision.reason} (${k.threads()} threads, ${k.simd()})`, null);
    }
    let device: GPUDevice;
    try {
      device = await probe.adapter!.requestDevice(deviceDescriptor(probe.adapter!));
    } catch (err) {
      throw new GnnrlError('gpu', `requestDevice failed on adapter '${summary!.description || summary!.device}': ${(err as Error).message}`, { cause: err });
    }
    const runtimeOptions: RuntimeOptions = { debug, timing: options.timing, maxBindingBytes: options.maxBindingBytes, maxDispatchesPerSubmit: options.maxDispatchesPerSubmit };
    const engine = new Engine('webgpu', decision.reason, new GpuRuntime(device, summary!, runtimeOptions));
    // An attached lost promise costs nothing while pending (measured: no event-loop spinning).
    void device.lost.then((info) => engine.deviceLost({ reason: String(info.reason ?? 'unknown'), message: info.message ?? '' }, options.onDeviceLost));
    return engine;
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

  /** The device loss this engine suffered, or null (always null off WebGPU). */
  get lost(): DeviceLossReport | null {
    return this.deviceLoss;
  }

  private deviceLost(info: DeviceLossReport, handler: ((info: DeviceLossReport) => void) | undefined): void {
    if (this.disposed) return; // dispose() destroyed it: not a loss
    this.deviceLoss = info;
    if (handler) handler(info);
    else process.emitWarning(`gnnrl: the WebGPU device was lost (${info.reason}: ${info.message}); create a new Engine with Engine.create()`, { code: 'GNNRL_DEVICE_LOST' });
  }

  private assertAlive(): void {
    if (this.disposed) throw new GnnrlError('state', 'this Engine was disposed; create a new one with Engine.create()');
    if (this.deviceLoss) {
      const { reason, message } = this.deviceLoss;
      throw new GnnrlError('gpu', `the WebGPU device was lost (${reason}${message ? `: ${message}` : ''}); this Engine cannot run anything more: create a new one with Engine.create()`);
    }
  }

  /** Drains the GPU queue and destroys the device so the process can exit by itself. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.runtime?.dispose();
  }
}

/** What the native addon and its backend offer on this machine (for `gnnrl doctor` and logs). */
export interface NativeStatus {
  /** The addon loaded; `path` is the file, with its version. */
  loaded: boolean;
  path?: string;
  /** Why it did not load, and what to run. */
  error?: string;
  fix?: string;
  /** The native backend can run: its kernel pool's threads and the SIMD it was compiled for, or why not. */
  backend: { available: boolean; threads?: number; simd?: string; why?: string };
}

/** The native addon's status, without creating an engine. */
export function nativeStatus(): NativeStatus {
  const native = loadNative();
  const out: NativeStatus = native
    ? { loaded: true, path: join(packageRoot(), 'build', 'Release', 'gnnrl_native.node'), backend: { available: false } }
    : { loaded: false, error: nativeLoadError(), fix: 'npm run build:native (needs cmake >= 3.15 and a C++17 compiler)', backend: { available: false } };
  const version = (native as { version?: () => string } | null)?.version;
  if (out.path && typeof version === 'function') out.path += ` (addon ${version()})`;
  const why = nativeKernelsUnavailable();
  out.backend = why || !native?.kernels ? { available: false, why: why ?? 'native kernels unavailable' } : { available: true, threads: native.kernels.threads(), simd: native.kernels.simd() };
  return out;
}
