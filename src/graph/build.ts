/**
 * Public graph-building API. Each function takes `impl: 'auto' | 'native' | 'ts'` (auto =
 * the C++ addon when it loaded, else the TypeScript twin); both give identical output
 * and identical errors.
 */
import { GnnrlError } from '../errors.js';
import { resolveImpl, type AdjacencyOptions, type BuildOptions, type BuiltGraph, type CooInput, type Impl } from '../native.js';
import { csrArg, optionsObject, threadsOpt } from './args.js';
import { bipartiteAdjacencyTs, buildGraphTs, readAdjacencyOptions, transposeTs } from './build-ts.js';
import type { Csr } from './types.js';

export interface ImplOption {
  impl?: Impl;
}

/**
 * COO interactions -> user-item CSR (duplicates merged by `policy`), its transpose, the
 * degrees and, with `adjacency`, the bipartite adjacency. Synchronous; see
 * buildGraphAsync for large inputs.
 */
export function buildGraph(input: CooInput, opts: BuildOptions & ImplOption = {}): BuiltGraph {
  const addon = resolveImpl(opts.impl);
  return addon ? addon.buildGraph(input, opts) : buildGraphTs(input, opts);
}

/**
 * The same build off the JS thread (native: a worker thread; the input arrays are copied
 * when the call starts, so the caller may change them right after). The TS fallback runs
 * on the JS thread after the current microtasks.
 */
export async function buildGraphAsync(input: CooInput, opts: BuildOptions & ImplOption = {}): Promise<BuiltGraph> {
  const addon = resolveImpl(opts.impl);
  if (addon) {
    // A worker-thread error has no JS stack of its own: give it the caller's.
    const site = new Error();
    try {
      return await addon.buildGraphAsync(input, opts);
    } catch (err) {
      if (err instanceof GnnrlError && site.stack) {
        err.stack = `${err.name}: ${err.message}\n${site.stack.split('\n').slice(1).join('\n')}`;
      }
      throw err;
    }
  }
  await Promise.resolve();
  return buildGraphTs(input, opts);
}

/**
 * Issue 2's contract: COO (users, items, weights?, nUsers, nItems) -> CSR of the symmetric
 * normalised bipartite adjacency over nUsers + nItems nodes (users first, item i at
 * nUsers + i): columns sorted per row, duplicates merged (weights summed), value
 * 1/sqrt(deg_u * deg_i) where a degree counts distinct neighbours (merged edges), not
 * weights. `weighted: true` uses merged weights for entries and weight sums for degrees.
 */
export function symNormAdjacency(
  users: Int32Array,
  items: Int32Array,
  weights: Float32Array | undefined,
  nUsers: number,
  nItems: number,
  opts: ImplOption & { threads?: number; selfLoops?: boolean; weighted?: boolean } = {},
): Csr {
  const g = buildGraph(
    { users, items, weights, nUsers, nItems },
    {
      impl: opts.impl,
      threads: opts.threads,
      policy: 'sum',
      adjacency: { norm: 'sym', selfLoops: opts.selfLoops ?? false, weighted: opts.weighted ?? false },
    },
  );
  return g.adjacency!;
}

/** Bipartite adjacency (normalised per `norm`) from an existing user-item CSR. */
export function bipartiteAdjacency(userItem: Csr, opts: AdjacencyOptions & ImplOption & { threads?: number } = {}): Csr {
  const addon = resolveImpl(opts.impl);
  if (addon) return addon.bipartiteAdjacency(userItem, opts);
  const o = optionsObject(opts);
  const ao = readAdjacencyOptions(o);
  const ui = csrArg(userItem, 'userItem');
  threadsOpt(o);
  return bipartiteAdjacencyTs(ui, transposeTs(ui), ao);
}

/** The transpose of a CSR (columns stay sorted). */
export function transposeCsr(csr: Csr, opts: ImplOption & { threads?: number } = {}): Csr {
  const addon = resolveImpl(opts.impl);
  if (addon) return addon.transpose(csr, opts);
  const o = optionsObject(opts);
  const m = csrArg(csr, 'csr');
  threadsOpt(o);
  return transposeTs(m);
}
