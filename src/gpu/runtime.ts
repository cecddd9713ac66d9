/**
 * The WebGPU runtime: one device, batched command recording, uploads and batched
 * readbacks, over the parts in their own files: the pipeline cache (pipelines.ts), the
 * buffer pool (buffer-pool.ts), uniform and staging buffers (transient-buffers.ts),
 * deferred errors that name the kernel (deferred-errors.ts), timestamp timing
 * (timestamps.ts) and the cheap waits (waits.ts).
 *
 * Dispatches are recorded into one command encoder and submitted together (at
 * `flush()`, at a readback, or every `maxDispatchesPerSubmit`), so a training step is
 * one submit. Nothing here knows what a tensor, a user or an item is.
 */
import { GnnrlError } from '../errors.js';
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { MapMode } from './flags.js';
import type { AdapterSummary } from './adapter.js';
import { DeferredErrors } from './deferred-errors.js';
import { PipelineCache, type KernelProgram } from './pipelines.js';
import { DispatchTimer, type KernelTiming } from './timestamps.js';
import { TransientBuffers } from './transient-buffers.js';
import { nextTurn, waitFor } from './waits.js';

export type { KernelProgram } from './pipelines.js';
export type { KernelTiming } from './timestamps.js';
export { waitFor } from './waits.js';

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

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxWorkgroupsPerDim: number; maxWorkgroupStorage: number };
  private encoder: GPUCommandEncoder | null = null;
  private batchKernels: string[] = [];
  /** Errors that surfaced asynchronously (compile info, error scopes); thrown at the next sync point. */
  private readonly errors = new DeferredErrors();
  private readonly pipelines: PipelineCache;
  private readonly transient: TransientBuffers;
  private readonly timer: DispatchTimer;
  private disposed = false;
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
    this.pipelines = new PipelineCache(device, this.errors);
    this.transient = new TransientBuffers(device);
    this.timer = new DispatchTimer(device, this.errors);
    // Errors outside any scope (bind groups in non-debug mode) would otherwise only be
    // printed by Dawn; keep them to throw at the next sync point.
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.errors.defer(new GnnrlError('gpu', `uncaptured WebGPU error: ${e.message}`));
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

  /** The compiled pipeline for a program; compiled once per distinct description. */
  pipeline(p: KernelProgram): GPUComputePipeline {
    return this.pipelines.get(p);
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
    if (args.uniforms) entries.push({ binding: args.buffers.length, resource: { buffer: this.transient.uniform(args.uniforms) } });
    if (this.options.debug) this.device.pushErrorScope('validation');
    const bindGroup = this.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries, label: program.name });
    const desc: GPUComputePassDescriptor = { label: program.name };
    if (this.options.timing) {
      // A full query set is resolved by a submit first, before this pass's encoder is taken.
      if (this.timer.full) this.flush();
      desc.timestampWrites = this.timer.nextPair(program.name);
    }
    const enc = this.currentEncoder();
    const pass = enc.beginComputePass(desc);
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.batchKernels.push(program.name);
    if (this.options.debug) {
      this.flush();
      const name = program.name;
      this.errors.track(
        this.device.popErrorScope().then((err) => {
          if (err) this.errors.defer(new GnnrlError('gpu', `kernel '${name}' failed validation: ${err.message}`, { kernel: name }));
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
    if (this.timer.pending) this.timer.resolve(enc);
    const kernels = this.batchKernels;
    this.batchKernels = [];
    this.device.pushErrorScope('validation');
    this.device.queue.submit([enc.finish()]);
    this.submits++;
    this.errors.track(
      this.device.popErrorScope().then((err) => {
        if (err) {
          const names = [...new Set(kernels)];
          const msg =
            names.length === 1
              ? `kernel '${names[0]}' failed validation: ${err.message}`
              : `a batch of ${kernels.length} commands (${names.join(', ')}) failed validation: ${err.message}. Set GNNRL_DEBUG=1 to name the kernel.`;
          this.errors.defer(new GnnrlError('gpu', msg, { kernel: names.length === 1 ? names[0] : undefined, cause: err }));
        }
      }),
    );
    this.pool.onSubmit();
    this.transient.submitted();
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
      const s = this.transient.staging(r.bytes);
      if (r.bytes > 0) enc.copyBufferToBuffer(r.buffer, r.offset ?? 0, s, 0, s.size);
      return s;
    });
    this.batchKernels.push('readback');
    this.flush();
    await waitFor(Promise.all(staging.map((s) => s.mapAsync(MapMode.READ))));
    const out = staging.map((s, i) => {
      const copy = s.getMappedRange().slice(0, requests[i].bytes);
      s.unmap();
      this.transient.returnStaging(s);
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

  /** Per-dispatch GPU times recorded since the last call (needs `timing: true`). */
  async takeTimings(): Promise<KernelTiming[]> {
    await this.sync();
    await nextTurn();
    await this.settle();
    return this.timer.take();
  }

  // ---------------------------------------------------------------- errors and teardown

  /** Waits for pending validation checks and throws the first error they found. */
  async settle(): Promise<void> {
    await this.errors.settle();
  }

  throwDeferred(): void {
    this.errors.throwDeferred();
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
      await this.errors.drain();
    } finally {
      this.disposed = true;
      this.pool.destroyAll();
      this.transient.destroy();
      this.timer.destroy();
      this.device.destroy();
    }
  }
}
