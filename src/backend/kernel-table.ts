/**
 * Kernels are looked up per backend, never hard-wired: each op registers one
 * implementation per backend it supports, and the `native` backend (C++ in the addon)
 * falls back to the CPU implementation for ops it does not cover, since both keep their
 * data in typed arrays.
 *
 * Naming, one rule for every kernel: `<op>` or `<op>.forward` / `<op>.backward`, the op
 * in snake_case (`matmul`, `spmm`, `segment_sum`, `softmax.backward`, `gat.forward`);
 * `defineKernel` refuses any other name. The TypeScript CPU reference of a kernel is the
 * function `<op>Reference` (camelCase) beside it in src/kernels/.
 */
import { GnnrlError } from '../errors.js';
import type { BackendKind } from './arrays.js';

/**
 * What the table needs of the engine a kernel is called with: which backend it runs on.
 * The engine (src/engine.ts, a layer above) satisfies it; implementations declare the
 * full `Engine` as their first parameter.
 */
export interface KernelHost {
  readonly backend: BackendKind;
}

// The first parameter is `any` so that implementations may take the full Engine type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyImpl = (engine: any, ...args: any[]) => any;

const KERNEL_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*(\.(forward|backward))?$/;

const table = new Map<string, Partial<Record<BackendKind, AnyImpl>>>();

const FALLBACK: Record<BackendKind, BackendKind[]> = {
  webgpu: ['webgpu'],
  cpu: ['cpu'],
  native: ['native', 'cpu'],
};

/** Finds `name`'s implementation for `backend`, following the fallback order. */
export function findKernel(name: string, backend: BackendKind): AnyImpl {
  const impls = table.get(name);
  if (!impls) throw new GnnrlError('state', `no kernel named '${name}' is registered`);
  for (const b of FALLBACK[backend]) {
    const f = impls[b];
    if (f) return f;
  }
  throw new GnnrlError('state', `kernel '${name}' has no implementation for the ${backend} backend (it has: ${Object.keys(impls).join(', ')})`);
}

/**
 * Declares an op with one implementation per backend and returns a function that
 * dispatches on the engine's backend: `spmm(engine, a, x, d)`.
 */
export function defineKernel<F extends AnyImpl>(name: string, impls: Partial<Record<BackendKind, F>>): F {
  if (!KERNEL_NAME.test(name)) throw new GnnrlError('input', `kernel name '${name}': expected <op> or <op>.forward / <op>.backward with the op in snake_case (see src/backend/kernel-table.ts)`, { arg: 'name' });
  if (table.has(name)) throw new GnnrlError('state', `kernel '${name}' is defined twice`);
  table.set(name, { ...impls });
  const dispatch = ((engine: KernelHost, ...args: unknown[]) => findKernel(name, engine.backend)(engine, ...args)) as F;
  Object.defineProperty(dispatch, 'name', { value: name });
  return dispatch;
}

/** Adds or replaces one backend's implementation of an existing op (e.g. a native kernel). */
export function registerKernelImpl(name: string, backend: BackendKind, impl: AnyImpl): void {
  const impls = table.get(name);
  if (!impls) throw new GnnrlError('state', `no kernel named '${name}' is registered`);
  impls[backend] = impl;
}

/** Every registered op and the backends that implement it (for `gnnrl doctor`). */
export function listKernels(): { name: string; backends: BackendKind[] }[] {
  return [...table.entries()].map(([name, impls]) => ({ name, backends: Object.keys(impls) as BackendKind[] })).sort((a, b) => a.name.localeCompare(b.name));
}
