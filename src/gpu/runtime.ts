/**
 * The WebGPU runtime: one device, a pipeline cache keyed by kernel description, a
 * buffer pool, batched command recording, uploads and batched readbacks, error scopes
 * that name the kernel, and optional timestamp timing.
 *
 * Dispatches are recorded into one command encoder and submitted together (at
 * `flush()`, at a readback, or every `maxDispatchesPerSubmit`), so a training step is
 * one submit. Nothing here knows what a tensor, a user or an item is.
 */
import { GnnrlError } from '../errors.js';
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { BufferUsage, MapMode } from './flags.js';
import { shaderSource, formatCompileMessage } from './shader-source.js';
import type { AdapterSummary } from './adapter.js';

/** What a kernel is: the pipeline cache key is derived from exactly these fields. */
export interface KernelProgram {
  /** Name shown in errors and timings, e.g. 'spmm'. */
  name: string;
  /** File under shaders/, e.g. 'spmm.wgsl'. */
  shader: string;
  /** Entry point; defaults to 'main'. */
  entry?: string;
  /** WGSL `override` constants (tile sizes, strategy); each distinct set is one pipeline. */
  constants?: Record<string, number>;
  /** Source to use instead of the file (tests, generated kernels). */
  source?: string;
}

/** A range of a buffer to bind: offsets must be multiples of 256 (minStorageBufferOffsetAlignment). */
export interface BufferRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

export interface DispatchArgs {
  /**
   * Storage buffers in binding order (@group(0) @binding(0..n-1)), whole or as a range;
   * `null` leaves a binding out, for entry points of a shared module that do not use it.
   */
  buffers: (GPUBuffer | BufferRange | null)[];
  /** Uniform block bound after the buffers; u32/i32/f32 words packed by the caller. */
  uniforms?: ArrayBuffer | ArrayBufferView;
  /** Workgroup counts; use `grid()` to fold large 1-D counts into 2-D. */
  workgroups: [number, number?, number?];
}

export interface KernelTiming {
  kernel: string;
  ms: number;
}

export interface RuntimeOptions {
  /** One submit and one error scope per dispatch, so a validation error names its kernel. */
  debug?: boolean;
  /**
   * Caps the storage-binding size below the adapter's limit: to test the splitting paths
   * with small inputs, or to behave like a smaller GPU.
   */
  maxBindingBytes?: number;
  /** Record timestamp queries around each dispatch (needs the 'timestamp-query' feature). */
  timing?: boolean;
  maxDispatchesPerSubmit?: number;
}

function pipelineKey(p: KernelProgram): string {
  const consts = p.constants
    ? Object.keys(p.constants)
        .sort()
        .map((k) => `${k}=${p.constants![k]}`)
        .join(',')
    : '';
  return `${p.shader}#${p.entry ?? 'main'}[${consts}]${p.source ? `@${hashString(p.source)}` : ''}`;
}

function hashString(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}

const MAX_TIMESTAMP_PAIRS = 512;

// ------------------------------------------------------------------ cheap waits

/*
 * While any Dawn promise is pending, dawn.node keeps a setImmediate callback queued that
 * polls the instance (ProcessEvents) and queues itself again, so a process that simply
 * awaits the GPU spins the event loop and holds one core at 100% — a core that a software
 * adapter (lavapipe) would compute with. Every wait of the runtime goes through `waitFor`
 * instead: one poller for the whole process that naps between those polls (Atomics.wait,
 * 0.05 ms doubling to 1 ms while the wait lasts) and yields to the event loop after every
 * nap, so Dawn's poll runs, and a service's timers and I/O still run within about a
 * millisecond.
 */
const NAP_FIRST_MS = 0.05;
const NAP_MAX_MS = 1;
const napCell = new Int32Array(new SharedArrayBuffer(4));
let waiters = 0;
let polling = false;
let napMs = NAP_FIRST_MS;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function poll(): Promise<void> {
  polling = true;
  try {
    await nextTurn(); // work that is already done resolves on the first poll, without a nap
    while (waiters > 0) {
      Atomics.wait(napCell, 0, 0, napMs);
      napMs = Math.min(NAP_MAX_MS, napMs * 2);
      await nextTurn();
    }
  } finally {
    polling = false;
  }
}

/** Awaits `p` (a Dawn promise, or one derived from them) without spinning a core. */
export async function waitFor<T>(p: Promise<T>): Promise<T> {
  waiters++;
  napMs = NAP_FIRST_MS;
  if (!polling) void poll();
  try {
    return await p;
  } finally {
    waiters--;
  }
}

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxWorkgroupsPerDim: number; maxWorkgroupStorage: number };
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private encoder: GPUCommandEncoder | null = null;
  private batchKernels: string[] = [];
  private readonly uniformFree = new Map<number, GPUBuffer[]>();
  private uniformPending: GPUBuffer[] = [];
  private readonly stagingFree = new Map<number, GPUBuffer[]>();
  /** Errors that surfaced asynchronously (compile info, error scopes); thrown at the next sync point. */
  private deferred: GnnrlError | null = null;
  private readonly inflightChecks = new Set<Promise<void>>();
  private disposed = false;
  private querySet: GPUQuerySet | null = null;
  private queryKernels: string[] = [];
  private timings: KernelTiming[] = [];
  private readonly maxPerSubmit: number;
  private submits = 0;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    readonly options: RuntimeOptions = {},
  ) {
    const l = device.limits;
    this.limits = {
      maxStorageBufferBindingSize: Math.min(l.maxStorageBufferBindingSize, options.maxBindingBytes ?? Infinity),
      maxBufferSize: l.maxBufferSize,
      maxWorkgroupsPerDim: l.maxComputeWorkgroupsPerDimension,
      maxWorkgroupStorage: l.maxComputeWorkgroupStorageSize,
    };
    this.pool = new BufferPool(device, l.maxBufferSize);
    // Errors outside any scope (bind groups in non-debug mode) would otherwise only be
    // printed by Dawn; keep them to throw at the next sync point.
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.defer(new GnnrlError('gpu', `uncaptured WebGPU error: ${e.message}`));
    });
    const perSubmit = options.maxDispatchesPerSubmit ?? 64;
    if (!Number.isInteger(perSubmit) || perSubmit < 1) {
      throw new GnnrlError('input', `maxDispatchesPerSubmit: expected a positive integer, got ${perSubmit}`, { arg: 'maxDispatchesPerSubmit' });
    }
    this.maxPerSubmit = perSubmit;
    if (options.timing && !device.features.has('timestamp-query')) {
      throw new GnnrlError('gpu', `timing was requested but the adapter '${adapter.description || adapter.device}' lacks the 'timestamp-query' feature`);
    }
  }

  get submitCount(): number {
    return this.submits;
  }

  // ---------------------------------------------------------------- pipelines

  private module(p: KernelProgram): GPUShaderModule {
    const key = p.source ? `${p.shader}@${hashString(p.source)}` : p.shader;
    let mod = this.modules.get(key);
    if (mod) return mod;
    const source = p.source ?? shaderSource(p.shader);
    this.device.pushErrorScope('validation');
    mod = this.device.createShaderModule({ code: source, label: p.shader });
    const scope = this.device.popErrorScope();
    this.track(
      Promise.all([mod.getCompilationInfo(), scope]).then(([info, err]) => {
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length > 0) {
          const text = errors.map((m) => formatCompileMessage(p.shader, source, m)).join('\n');
          this.defer(new GnnrlError('shader', `WGSL compile error in kernel '${p.name}':\n${text}`, { kernel: p.name }));
        } else if (err) {
          this.defer(new GnnrlError('shader', `shaders/${p.shader} was rejected: ${err.message}`, { kernel: p.name }));
        }
      }),
    );
    this.modules.set(key, mod);
    return mod;
  }

  /** The compiled pipeline for a program; compiled once per distinct description. */
  pipeline(p: KernelProgram): GPUComputePipeline {
    const key = pipelineKey(p);
    let pipe = this.pipelines.get(key);
    if (pipe) return pipe;
    const module = this.module(p);
    this.device.pushErrorScope('validation');
    pipe = this.device.createComputePipeline({
      label: p.name,
      layout: 'auto',
      compute: { module, entryPoint: p.entry ?? 'main', constants: p.constants },
    });
    this.track(
      this.device.popErrorScope().then((err) => {
        if (err) this.defer(new GnnrlError('shader', `pipeline for kernel '${p.name}' (shaders/${p.shader}, entry '${p.entry ?? 'main'}') failed: ${err.message}`, { kernel: p.name }));
      }),
    );
    this.pipelines.set(key, pipe);
    return pipe;
  }

  /**
   * Compiles a program now and throws its compile errors (with shader file and line).
   * Kernels compile lazily on first dispatch otherwise, reporting errors at the next sync.
   */
  async compile(p: KernelProgram): Promise<void> {
    this.pipeline(p);
    await this.settle();
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  // ---------------------------------------------------------------- memory

  /**
   * A storage buffer of at least `bytes` from the pool. Buffers may be larger than one
   * binding (up to maxBufferSize); a kernel binding more than maxStorageBufferBindingSize
   * of one gets a limit error at dispatch unless it binds ranges (see SpMM's split path).
   */
  alloc(bytes: number, label?: string): GPUBuffer {
    this.assertAlive();
    if (bytes > this.limits.maxBufferSize) {
      throw new GnnrlError(
        'limit',
        `a buffer of ${bytes} bytes exceeds this adapter's maxBufferSize of ${this.limits.maxBufferSize} bytes` +
          (label ? ` (for ${label})` : '') +
          '; split the data or use a smaller batch',
      );
    }
    return this.pool.acquire(bytes, label);
  }

  release(buf: GPUBuffer): void {
    if (!this.disposed) this.pool.release(buf);
  }

  /** Copies a typed array into a new pooled buffer. */
  upload(data: ArrayBufferView, label?: string): GPUBuffer {
    const buf = this.alloc(Math.max(4, data.byteLength), label);
    this.write(buf, data);
    return buf;
  }

  /** Writes `data` at byte `offset` of `buf` (ordered before the next submit's commands). */
  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.assertAlive();
    if (data.byteLength === 0) return;
    if (data.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      data = padded;
    }
    // Commands recorded but not submitted must see the old contents: submit them first.
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buf, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Records a buffer-to-buffer copy in the current batch. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.currentEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.batchKernels.push('copy');
  }

  /** Fills `bytes` of `buf` from `offset` with zero. */
  clear(buf: GPUBuffer, offset = 0, bytes?: number): void {
    this.currentEncoder().clearBuffer(buf, offset, bytes);
    this.batchKernels.push('clear');
  }

  // ---------------------------------------------------------------- dispatch

  private currentEncoder(): GPUCommandEncoder {
    this.assertAlive();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'gnnrl-batch' });
    return this.encoder;
  }

  private uniformBuffer(data: ArrayBufferView | ArrayBuffer): GPUBuffer {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    let buf = this.uniformFree.get(size)?.pop();
    if (!buf) buf = this.device.createBuffer({ size, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: 'gnnrl-uniforms' });
    // Safe without flushing: this buffer is not referenced by any unsubmitted command.
    const padded = bytes.byteLength === size ? bytes : (() => {
      const p = new Uint8Array(size);
      p.set(bytes);
      return p;
    })();
    this.device.queue.writeBuffer(buf, 0, padded.buffer, padded.byteOffset, size);
    this.uniformPending.push(buf);
    return buf;
  }

  /** Records one compute dispatch. */
  dispatch(program: KernelProgram, args: DispatchArgs): void {
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.limits.maxWorkgroupsPerDim;
    if (x > max || y > max || z > max) {
      throw new GnnrlError('limit', `kernel '${program.name}': dispatch of ${x}×${y}×${z} workgroups exceeds maxComputeWorkgroupsPerDimension ${max}`, { kernel: program.name });
    }
    const pipe = this.pipeline(program);
    const entries: GPUBindGroupEntry[] = [];
    const maxBind = this.limits.maxStorageBufferBindingSize;
    args.buffers.forEach((b, binding) => {
      if (!b) return;
      const range = 'buffer' in b ? b : null;
      const size = range ? range.size : (b as GPUBuffer).size;
      if (size > maxBind) {
        throw new GnnrlError(
          'limit',
          `kernel '${program.name}': binding ${binding} is ${size} bytes, over this adapter's maxStorageBufferBindingSize of ${maxBind} bytes; ` +
            'this kernel does not split its inputs: use a smaller batch or split the tensor by rows',
          { kernel: program.name },
        );
      }
      entries.push({ binding, resource: range ? { buffer: range.buffer, offset: range.offset, size: range.size } : { buffer: b as GPUBuffer } });
    });
    if (args.uniforms) entries.push({ binding: args.buffers.length, resource: { buffer: this.uniformBuffer(args.uniforms) } });
    if (this.options.debug) this.device.pushErrorScope('validation');
    const bindGroup = this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries, label: program.name });
    const enc = this.currentEncoder();
    const desc: GPUComputePassDescriptor = { label: program.name };
    if (this.options.timing) desc.timestampWrites = this.nextTimestampPair(program.name);
    const pass = enc.beginComputePass(desc);
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.batchKernels.push(program.name);
    if (this.options.debug) {
      this.flush();
      const name = program.name;
      this.track(
        this.device.popErrorScope().then((err) => {
          if (err) this.defer(new GnnrlError('gpu', `kernel '${name}' failed validation: ${err.message}`, { kernel: name }));
        }),
      );
    } else if (this.batchKernels.length >= this.maxPerSubmit) {
      this.flush();
    }
  }

  /**
   * Folds a 1-D workgroup count into (x, y) under the per-dimension limit. Shaders
   * recover the linear index as `wid.x + wid.y * num_workgroups.x` and bound-check it.
   */
  grid(nWorkgroups: number): [number, number] {
    const max = this.limits.maxWorkgroupsPerDim;
    if (nWorkgroups <= max) return [Math.max(0, nWorkgroups), 1];
    const y = Math.ceil(nWorkgroups / max);
    return [Math.ceil(nWorkgroups / y), y];
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.encoder;
    this.encoder = null;
    if (this.querySet && this.queryKernels.length > 0) this.resolveTimestamps(enc);
    const kernels = this.batchKernels;
    this.batchKernels = [];
    this.device.pushErrorScope('validation');
    this.device.queue.submit([enc.finish()]);
    this.submits++;
    this.track(
      this.device.popErrorScope().then((err) => {
        if (err) {
          const names = [...new Set(kernels)];
          const msg =
            names.length === 1
              ? `kernel '${names[0]}' failed validation: ${err.message}`
              : `a batch of ${kernels.length} commands (${names.join(', ')}) failed validation: ${err.message}. Set GNNRL_DEBUG=1 to name the kernel.`;
          this.defer(new GnnrlError('gpu', msg, { kernel: names.length === 1 ? names[0] : undefined, cause: err }));
        }
      }),
    );
    this.pool.onSubmit();
    for (const b of this.uniformPending) {
      let list = this.uniformFree.get(b.size);
      if (!list) this.uniformFree.set(b.size, (list = []));
      list.push(b);
    }
    this.uniformPending = [];
  }

  // ---------------------------------------------------------------- readback

  /**
   * Reads several buffer ranges back in one submit and one wait. Each request gives
   * the byte length to read; results are fresh ArrayBuffers in request order.
   */
  async readMany(requests: { buffer: GPUBuffer; bytes: number; offset?: number }[]): Promise<ArrayBuffer[]> {
    this.assertAlive();
    const enc = this.currentEncoder();
    const staging = requests.map((r) => {
      const size = Math.max(4, Math.ceil(r.bytes / 4) * 4);
      const s = this.stagingFree.get(size)?.pop() ?? this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'gnnrl-staging' });
      if (r.bytes > 0) enc.copyBufferToBuffer(r.buffer, r.offset ?? 0, s, 0, size);
      return s;
    });
    this.batchKernels.push('readback');
    this.flush();
    await waitFor(Promise.all(staging.map((s) => s.mapAsync(MapMode.READ))));
    const out = staging.map((s, i) => {
      const copy = s.getMappedRange().slice(0, requests[i].bytes);
      s.unmap();
      let list = this.stagingFree.get(s.size);
      if (!list) this.stagingFree.set(s.size, (list = []));
      list.push(s);
      return copy;
    });
    await this.settle();
    return out;
  }

  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    return (await this.readMany([{ buffer, bytes, offset }]))[0];
  }

  /** Submits pending work, waits for the queue, and throws any deferred error. */
  async sync(): Promise<void> {
    this.flush();
    await waitFor(this.device.queue.onSubmittedWorkDone());
    await this.settle();
  }

  // ---------------------------------------------------------------- timing

  private nextTimestampPair(kernel: string): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet) this.querySet = this.device.createQuerySet({ type: 'timestamp', count: MAX_TIMESTAMP_PAIRS * 2 });
    if (this.queryKernels.length >= MAX_TIMESTAMP_PAIRS) this.flush();
    const i = this.queryKernels.length;
    this.queryKernels.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  private resolveTimestamps(enc: GPUCommandEncoder): void {
    const n = this.queryKernels.length;
    const kernels = this.queryKernels;
    this.queryKernels = [];
    const resolveBuf = this.device.createBuffer({ size: n * 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const readBuf = this.device.createBuffer({ size: n * 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    enc.resolveQuerySet(this.querySet!, 0, n * 2, resolveBuf, 0);
    enc.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, n * 16);
    // Mapping is requested after this encoder is submitted (flush continues synchronously).
    queueMicrotask(() => {
      this.track(
        readBuf.mapAsync(MapMode.READ).then(() => {
          const ts = new BigUint64Array(readBuf.getMappedRange());
          for (let i = 0; i < n; i++) this.timings.push({ kernel: kernels[i], ms: Number(ts[2 * i + 1] - ts[2 * i]) / 1e6 });
          readBuf.unmap();
          readBuf.destroy();
          resolveBuf.destroy();
        }),
      );
    });
  }

  /** Per-dispatch GPU times recorded since the last call (needs `timing: true`). */
  async takeTimings(): Promise<KernelTiming[]> {
    await this.sync();
    await nextTurn();
    await this.settle();
    const t = this.timings;
    this.timings = [];
    return t;
  }

  // ---------------------------------------------------------------- errors and teardown

  private track(p: Promise<void>): void {
    const guarded = p.catch((err) => this.defer(err instanceof GnnrlError ? err : new GnnrlError('gpu', String(err?.message ?? err), { cause: err })));
    this.inflightChecks.add(guarded);
    void guarded.finally(() => this.inflightChecks.delete(guarded));
  }

  /**
   * Keeps the most telling error: a WGSL compile message (with file and line) beats the
   * follow-on "invalid due to a previous error" reports that Dawn raises for the
   * pipelines and passes built on the broken module.
   */
  private defer(err: GnnrlError): void {
    const rank = (e: GnnrlError) => (/invalid due to a previous error/.test(e.message) ? 0 : e.code === 'shader' && /compile error/.test(e.message) ? 2 : 1);
    if (!this.deferred || rank(err) > rank(this.deferred)) this.deferred = err;
  }

  /** Waits for pending validation checks and throws the first error they found. */
  async settle(): Promise<void> {
    while (this.inflightChecks.size > 0) await waitFor(Promise.all([...this.inflightChecks]));
    this.throwDeferred();
  }

  throwDeferred(): void {
    if (this.deferred) {
      const e = this.deferred;
      this.deferred = null;
      throw e;
    }
  }

  poolStats(): PoolStats {
    return this.pool.getStats();
  }

  private assertAlive(): void {
    if (this.disposed) throw new GnnrlError('state', 'the WebGPU runtime was disposed; create a new Engine');
  }

  /** Drains the queue, frees every buffer and destroys the device so the process can exit. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    try {
      this.flush();
      await waitFor(this.device.queue.onSubmittedWorkDone());
      await waitFor(Promise.allSettled([...this.inflightChecks]));
    } finally {
      this.disposed = true;
      this.pool.destroyAll();
      for (const list of this.uniformFree.values()) for (const b of list) b.destroy();
      for (const list of this.stagingFree.values()) for (const b of list) b.destroy();
      this.querySet?.destroy();
      this.device.destroy();
    }
  }
}
