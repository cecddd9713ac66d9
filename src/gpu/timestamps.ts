/**
 * Timestamp-query timing of dispatches (`timing: true`): a begin/end pair per compute
 * pass in one query set, resolved into a buffer when the batch is submitted and read
 * back without blocking; `take()` returns the per-kernel GPU times gathered so far.
 */
import { BufferUsage, MapMode } from './flags.js';
import type { DeferredErrors } from './deferred-errors.js';

export interface KernelTiming {
  kernel: string;
  ms: number;
}

const MAX_TIMESTAMP_PAIRS = 512;

export class DispatchTimer {
  private querySet: GPUQuerySet | null = null;
  private queryKernels: string[] = [];
  private timings: KernelTiming[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: DeferredErrors,
  ) {}

  /** Whether the query set is full: the caller must submit (resolve) before the next pair. */
  get full(): boolean {
    return this.queryKernels.length >= MAX_TIMESTAMP_PAIRS;
  }

  /** Whether pairs wait to be resolved into the batch being submitted. */
  get pending(): boolean {
    return this.querySet !== null && this.queryKernels.length > 0;
  }

  /** The timestamp writes of the next pass, named `kernel` (the set must not be full). */
  nextPair(kernel: string): GPUComputePassTimestampWrites {
    if (!this.querySet) this.querySet = this.device.createQuerySet({ type: 'timestamp', count: MAX_TIMESTAMP_PAIRS * 2 });
    const i = this.queryKernels.length;
    this.queryKernels.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve of the pending pairs into `enc`, the batch about to be submitted. */
  resolve(enc: GPUCommandEncoder): void {
    const n = this.queryKernels.length;
    const kernels = this.queryKernels;
    this.queryKernels = [];
    const resolveBuf = this.device.createBuffer({ size: n * 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const readBuf = this.device.createBuffer({ size: n * 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    enc.resolveQuerySet(this.querySet!, 0, n * 2, resolveBuf, 0);
    enc.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, n * 16);
    // Mapping is requested after this encoder is submitted (the submit follows synchronously).
    queueMicrotask(() => {
      this.errors.track(
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

  /** The times gathered since the last call (the caller has synced and settled). */
  take(): KernelTiming[] {
    const t = this.timings;
    this.timings = [];
    return t;
  }

  destroy(): void {
    this.querySet?.destroy();
  }
}
