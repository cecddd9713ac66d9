/**
 * Tensor: a shape and a dtype over storage on the engine's backend (a DeviceArray),
 * plus what autograd needs (requiresGrad, grad, the node that made it).
 *
 * This file holds the class itself, which the ops (ops/*.ts) and autograd.ts build on;
 * tensor.ts attaches the fluent op methods (`t.add(b)`, `t.reshape(s)`, `t.backward()`)
 * in one place, so that no op module and the class import each other.
 *
 * Lifetime: every tensor registers with the innermost `engine.scope`, which disposes
 * it unless it is returned or kept; parameters are kept. Views (reshape, detach) share
 * reference-counted storage, so a view returned from a scope outlives its source.
 */
import { GnnrlError } from '../errors.js';
import type { Engine, Disposable } from '../engine.js';
import { dtypeOf, type DType, type DeviceArray, type TypedArrayFor } from '../backend/arrays.js';
import { binaryKernel, unaryKernel } from '../kernels/elementwise.js';
import { constantOne } from './constants.js';
import { buf } from '../kernels/pack.js';
import { checkShape, fmtShape, sizeOf, view2d, type Shape } from './shape.js';

/** What an op records on its output for autograd (see autograd.ts). */
export interface GradNode {
  /** Op name, for error messages. */
  op: string;
  inputs: Tensor[];
  /** Gradients of the inputs given the output's gradient (null: no gradient flows). */
  backward(g: Tensor): (Tensor | null)[];
}

/** Reference-counted device storage shared by a tensor and its views. */
class Storage {
  refs = 1;
  constructor(readonly array: DeviceArray) {}
}

export class Tensor implements Disposable {
  readonly engine: Engine;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  /** Whether backward should compute a gradient for this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf (kept across scopes until zeroGrad). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when recorded for autograd. */
  node: GradNode | null = null;
  /** Name of the op that produced this tensor (for error messages), recorded or not. */
  op: string | null = null;
  /** Set on parameters: optimisers, `state()` and `dispose` treat them as owned model state. */
  isParameter = false;
  /**
   * Host copy of an index tensor created from host data, so gather's backward can build
   * its index → positions CSR without a readback.
   */
  hostIndices: Int32Array | null = null;
  private storage: Storage | null;
  /** Extra device arrays derived from this tensor (gather's CSR), freed with it. */
  private readonly derived = new Map<string, DeviceArray[]>();

  private constructor(engine: Engine, shape: Shape, dtype: DType, storage: Storage) {
    this.engine = engine;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this.storage = storage;
    engine.track(this);
  }

  /** Uninitialised storage for `shape`; a `limit` error names the shape when it cannot fit one binding. */
  static empty(engine: Engine, shape: Shape, dtype: DType = 'f32'): Tensor {
    checkShape(shape, 'tensor');
    const n = sizeOf(shape);
    if (engine.isGpu) {
      const limit = engine.gpu.limits.maxStorageBufferBindingSize;
      if (n * 4 > limit) {
        throw new GnnrlError(
          'limit',
          `a ${fmtShape(shape)} ${dtype} tensor needs ${n * 4} bytes, over this adapter's maxStorageBufferBindingSize of ${limit} bytes; split it (e.g. by rows) or use a smaller batch`,
          { arg: 'shape' },
        );
      }
    }
    return new Tensor(engine, shape, dtype, new Storage(engine.empty(dtype, n)));
  }

  /**
   * Adopts storage a kernel allocated (no copy): the tensor owns it from now on and frees
   * it on dispose. Its length must match the shape.
   */
  static fromDeviceArray(engine: Engine, array: DeviceArray, shape: Shape): Tensor {
    checkShape(shape, 'tensor');
    if (array.length !== sizeOf(shape)) {
      throw new GnnrlError('input', `tensor: shape ${fmtShape(shape)} holds ${sizeOf(shape)} elements but the array has ${array.length}`, { arg: 'shape' });
    }
    return new Tensor(engine, shape, array.dtype, new Storage(array));
  }

  /** Copies a typed array to the device. Int32 data also keeps a host copy (for gather). */
  static fromArray(engine: Engine, data: Float32Array | Int32Array | Uint32Array, shape: Shape = [data.length]): Tensor {
    checkShape(shape, 'tensor');
    if (sizeOf(shape) !== data.length) {
      throw new GnnrlError('input', `tensor: shape ${fmtShape(shape)} holds ${sizeOf(shape)} elements but the data has ${data.length}`, { arg: 'shape' });
    }
    const t = Tensor.empty(engine, shape, dtypeOf(data));
    engine.write(t.data, data as never);
    if (data instanceof Int32Array) t.hostIndices = data.slice();
    return t;
  }

  /** The storage; throws once disposed. */
  get data(): DeviceArray {
    if (!this.storage) {
      throw new GnnrlError(
        'state',
        `a ${fmtShape(this.shape)} ${this.dtype} tensor${this.op ? ` made by '${this.op}'` : ''} was used after dispose (an engine.scope freed it? return it from the scope or engine.keep it)`,
      );
    }
    return this.storage.array;
  }

  /** The storage as f32, or an input error naming `op`. */
  f32(op: string, arg = 'x'): DeviceArray<'f32'> {
    if (this.dtype !== 'f32') throw new GnnrlError('input', `${op}: ${arg} must be f32, got ${this.dtype} (${fmtShape(this.shape)})`, { arg });
    return this.data as DeviceArray<'f32'>;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** [rows, cols] of the matrix view every op uses. */
  get rows(): number {
    return view2d(this.shape)[0];
  }

  get cols(): number {
    return view2d(this.shape)[1];
  }

  /** Frees the storage (when no view shares it), derived arrays, and a parameter's gradient. */
  dispose(): void {
    const s = this.storage;
    if (!s) return;
    this.storage = null;
    if (--s.refs === 0) this.engine.free(s.array);
    for (const arrs of this.derived.values()) for (const a of arrs) this.engine.free(a);
    this.derived.clear();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    this.node = null;
  }

  /**
   * A view sharing this storage with another shape of the same size, not recorded for
   * autograd (`reshape`, which records it, is built on this).
   */
  viewAs(shape: Shape): Tensor {
    checkShape(shape, 'reshape');
    if (sizeOf(shape) !== this.size) throw new GnnrlError('input', `reshape: cannot view ${fmtShape(this.shape)} (${this.size} elements) as ${fmtShape(shape)}`, { arg: 'shape' });
    return this.view(shape);
  }

  /** A view sharing storage, cut off from autograd. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  private view(shape: Shape): Tensor {
    const s = this.storage;
    if (!s) void this.data; // throws the use-after-dispose error
    s!.refs++;
    const v = new Tensor(this.engine, shape, this.dtype, s!);
    v.hostIndices = this.hostIndices;
    return v;
  }

  /** A copy with fresh storage (not recorded). */
  clone(): Tensor {
    const out = Tensor.empty(this.engine, this.shape, this.dtype);
    if (this.engine.isGpu) {
      if (this.size > 0) this.engine.gpu.copy(buf(this.data), 0, buf(out.data), 0, this.size * 4);
    } else {
      (out.data as { data: TypedArrayFor<DType> }).data.set((this.data as { data: TypedArrayFor<DType> }).data);
    }
    out.hostIndices = this.hostIndices;
    return out;
  }

  /** this += g, in place (gradient accumulation; not recorded). */
  addInPlace(g: Tensor): void {
    if (g.size !== this.size) throw new GnnrlError('input', `addInPlace: ${fmtShape(g.shape)} into ${fmtShape(this.shape)}`, { arg: 'g' });
    unaryKernel(this.engine, 'axpy', g.f32('addInPlace', 'g'), this.f32('addInPlace'), { alpha: 1 });
  }

  /** Fills with `value` in place (not recorded). */
  fill(value: number): this {
    const out = this.f32('fill');
    if (out.backend !== 'webgpu') (out.data as Float32Array).fill(value);
    else if (value === 0) {
      if (this.size > 0) this.engine.gpu.clear(out.buffer, 0, this.size * 4);
    } else {
      // A storage buffer may not be bound for reading and writing in one dispatch, so
      // the (ignored) input is the engine's constant one rather than `this`.
      const one = constantOne(this.engine);
      binaryKernel(this.engine, 'rhs', one, one, out, { rows: 1, cols: this.size, aRs: 0, aCs: 0, bRs: 0, bCs: 0 }, { alpha: 0, beta: value });
    }
    return this;
  }

  onesLike(): Tensor {
    return Tensor.empty(this.engine, this.shape).fill(1);
  }

  zerosLike(): Tensor {
    return Tensor.empty(this.engine, this.shape).fill(0);
  }

  /** Device arrays cached on this tensor under `key`, freed with it. */
  derivedArrays(key: string, make: () => DeviceArray[]): DeviceArray[] {
    let arrs = this.derived.get(key);
    if (!arrs) this.derived.set(key, (arrs = make()));
    return arrs;
  }

  // ---------------------------------------------------------------- readback

  /** The values as a fresh typed array (one submit and wait). */
  async read(): Promise<TypedArrayFor<DType>> {
    return this.engine.read(this.data);
  }

  /** The single value of a one-element tensor: the explicit, async readback of a step. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new GnnrlError('input', `item: expected a one-element tensor, got ${fmtShape(this.shape)}`);
    return (await this.read())[0];
  }
}
