/**
 * A pool of storage buffers in size buckets. Creating GPU buffers is slow and training
 * loops allocate the same sizes every step, so freed buffers are kept and reused.
 *
 * A buffer given back is not reusable at once: commands already recorded in the
 * current (unsubmitted) encoder may still read it, and a `queue.writeBuffer` into a
 * reused buffer would run before those commands. So released buffers wait in
 * `pending` and join the free lists only when `onSubmit()` says the encoder that
 * might use them has been submitted (queue order then protects them).
 */

import { GnnrlError } from '../errors.js';
import { BufferUsage } from './flags.js';

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** Rounds a byte size up to its bucket: multiples of 16 below 4 KiB, then ~12% geometric steps. */
export function bucketSize(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 4096) return b;
  // 8 buckets per power of two: at most 12.5% waste, few distinct sizes.
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

export interface PoolStats {
  /** Bytes in buffers handed out and not yet released. */
  liveBytes: number;
  liveBuffers: number;
  /** Bytes kept for reuse (free lists plus buffers waiting for a submit). */
  pooledBytes: number;
  /** Buffers ever created by the pool. */
  created: number;
  /** Acquisitions served from the free lists. */
  reused: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly live = new Set<GPUBuffer>();
  private stats = { liveBytes: 0, pooledBytes: 0, created: 0, reused: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  acquire(bytes: number, label = 'gnnrl'): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferSize) {
      throw new GnnrlError('limit', `${label}: a buffer of ${bytes} bytes exceeds the device's maxBufferSize ${this.maxBufferSize}`);
    }
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.stats.reused++;
      this.stats.pooledBytes -= size;
    } else {
      buf = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
      this.stats.created++;
    }
    this.live.add(buf);
    this.stats.liveBytes += size;
    return buf;
  }

  /** Gives a buffer back; it becomes reusable after the next submit. */
  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return; // double release or foreign buffer: ignore
    this.stats.liveBytes -= buf.size;
    this.stats.pooledBytes += buf.size;
    this.pending.push(buf);
  }

  /** Called right after `queue.submit`: pending buffers become reusable. */
  onSubmit(): void {
    for (const buf of this.pending) {
      let list = this.free.get(buf.size);
      if (!list) this.free.set(buf.size, (list = []));
      list.push(buf);
    }
    this.pending = [];
  }

  /** Destroys the free lists (not live buffers), e.g. under memory pressure. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    for (const list of this.free.values()) for (const b of list) this.stats.pooledBytes -= b.size;
    this.free.clear();
  }

  getStats(): PoolStats {
    return { ...this.stats, liveBuffers: this.live.size };
  }

  destroyAll(): void {
    this.trim();
    for (const b of this.pending) b.destroy();
    for (const b of this.live) b.destroy();
    this.pending = [];
    this.live.clear();
    this.stats.liveBytes = 0;
    this.stats.pooledBytes = 0;
  }
}
