/**
 * The small buffers every batch needs and none keeps: uniform blocks (one per dispatch,
 * reusable once the batch that reads them is submitted) and MAP_READ staging buffers for
 * readbacks (reusable once unmapped), each pooled by size so a training step allocates
 * none after the first.
 */
import { BufferUsage } from './flags.js';

export class TransientBuffers {
  private readonly uniformFree = new Map<number, GPUBuffer[]>();
  private uniformPending: GPUBuffer[] = [];
  private readonly stagingFree = new Map<number, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice) {}

  /** A uniform buffer holding `data` (padded to 16 bytes), for a dispatch of the unsubmitted batch. */
  uniform(data: ArrayBufferView | ArrayBuffer): GPUBuffer {
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

  /** The batch that read the pending uniforms was submitted: later writes are ordered after it. */
  submitted(): void {
    for (const b of this.uniformPending) give(this.uniformFree, b);
    this.uniformPending = [];
  }

  /** A staging buffer of at least `bytes` (rounded up to 4) to copy into and map. */
  staging(bytes: number): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    return this.stagingFree.get(size)?.pop() ?? this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'gnnrl-staging' });
  }

  /** Returns an unmapped staging buffer for reuse. */
  returnStaging(buf: GPUBuffer): void {
    give(this.stagingFree, buf);
  }

  destroy(): void {
    for (const list of this.uniformFree.values()) for (const b of list) b.destroy();
    for (const b of this.uniformPending) b.destroy();
    for (const list of this.stagingFree.values()) for (const b of list) b.destroy();
  }
}

function give(free: Map<number, GPUBuffer[]>, b: GPUBuffer): void {
  let list = free.get(b.size);
  if (!list) free.set(b.size, (list = []));
  list.push(b);
}
