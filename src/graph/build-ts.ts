/**
 * The TypeScript twin of native/csr_core.cc: same contract (see the comment at the top
 * of native/csr_core.h), same checks and messages, bit-identical output. It is the
 * fallback when the addon is missing and the oracle the native tests compare against.
 *
 * Where the C++ code sorts each user's (item, edge) keys, this file does two stable
 * counting sorts (by item, then by user): a different route to the same total order
 * (user, item, input position), so duplicates are merged in the same order.
 */
import type {
  AdjacencyOptions,
  BuildOptions,
  BuiltGraph,
  CooInput,
  MergePolicy,
  Normalization,
} from '../native.js';
import {
  MAX_INDEX,
  boolOpt,
  choiceOpt,
  describe,
  inputError,
  intArg,
  limitError,
  objectArg,
  optionsObject,
  showValue,
  threadsOpt,
  typedArg,
} from './args.js';
import type { Csr } from './types.js';
import { bucketByColumn, bucketByKey, rowOfEntries } from '../util/bucket.js';

export const POLICIES: readonly MergePolicy[] = ['sum', 'mean', 'max', 'last', 'count'];
export const NORMS: readonly Normalization[] = ['none', 'sym', 'row', 'col'];

interface ResolvedAdjacency {
  norm: Normalization;
  selfLoops: boolean;
  weighted: boolean;
}

export function readAdjacencyOptions(o: Record<string, unknown>): ResolvedAdjacency {
  return {
    norm: choiceOpt(o, 'norm', NORMS, 'sym'),
    selfLoops: boolOpt(o, 'selfLoops', false),
    weighted: boolOpt(o, 'weighted', false),
  };
}

interface Coo {
  users: Int32Array;
  items: Int32Array;
  weights: Float32Array | undefined;
  ts: Float64Array | Int32Array | undefined;
  nUsers: number;
  nItems: number;
}

/** Bytes a build needs at most (the same formula as estimateBuildBytes in C++). */
export function estimateBuildBytes(n: number, nUsers: number, nItems: number, adjacency: boolean, selfLoops: boolean) {
  let bytes = 8 * n + 4 * (nUsers + 1) + 8 * n + 4 * (nItems + 1) + 8 * n + 4 * (nUsers + nItems);
  if (adjacency) {
    const nodes = nUsers + nItems;
    bytes += 4 * (nodes + 1) + 8 * (2 * n + (selfLoops ? nodes : 0)) + 8 * nodes;
  }
  return bytes;
}

const mib = (bytes: number) => String(Math.ceil(bytes / 1048576));

function readCoo(v: unknown): Coo {
  const o = objectArg(v, 'input');
  const nUsers = intArg(o.nUsers, 'nUsers', 0, MAX_INDEX);
  const nItems = intArg(o.nItems, 'nItems', 0, MAX_INDEX);
  const users = typedArg(o.users, 'users', Int32Array, false);
  const items = typedArg(o.items, 'items', Int32Array, false);
  if (items.length !== users.length) {
    throw inputError('items', `length ${users.length} (users.length), got ${items.length}`);
  }
  const weights = typedArg(o.weights, 'weights', Float32Array, true);
  if (weights && weights.length !== users.length) {
    throw inputError('weights', `length ${users.length} (users.length), got ${weights.length}`);
  }
  let ts: Float64Array | Int32Array | undefined;
  if (o.ts !== undefined && o.ts !== null) {
    if (!(o.ts instanceof Float64Array) && !(o.ts instanceof Int32Array)) {
      throw inputError('ts', `a Float64Array or an Int32Array, got ${describe(o.ts)}`);
    }
    ts = o.ts;
    if (ts.length !== users.length) throw inputError('ts', `length ${users.length} (users.length), got ${ts.length}`);
  }
  return { users, items, weights, ts, nUsers, nItems };
}

function validateCoo(c: Coo): void {
  if (c.nUsers + c.nItems > MAX_INDEX) {
    throw limitError(`nUsers + nItems: ${c.nUsers + c.nItems} nodes exceed the int32 index limit 2147483647`);
  }
  const { users, items, weights, nUsers, nItems } = c;
  const tsF = c.ts instanceof Float64Array ? c.ts : undefined;
  const n = users.length;
  for (let k = 0; k < n; k++) {
    const u = users[k];
    const i = items[k];
    if (u < 0 || u >= nUsers) throw inputError('users', `an id in [0, ${nUsers}), got ${u}`, k);
    if (i < 0 || i >= nItems) throw inputError('items', `an id in [0, ${nItems}), got ${i}`, k);
    if (weights !== undefined && !Number.isFinite(weights[k])) {
      throw inputError('weights', `a finite number, got ${weights[k]}`, k);
    }
    if (tsF !== undefined && !Number.isFinite(tsF[k])) throw inputError('ts', `a finite number, got ${tsF[k]}`, k);
  }
}

/** COO -> user-item CSR, transpose, degrees and optional adjacency, in TypeScript. */
export function buildGraphTs(input: CooInput, options?: BuildOptions): BuiltGraph {
  const o = optionsObject(options);
  const policy = choiceOpt(o, 'policy', POLICIES, 'sum');
  let adj: ResolvedAdjacency | undefined;
  const adjOpt = o.adjacency;
  if (adjOpt !== undefined && adjOpt !== false) {
    if (typeof adjOpt !== 'object' || adjOpt === null || Array.isArray(adjOpt)) {
      throw inputError('adjacency', `an object or false, got ${describe(adjOpt)}`);
    }
    adj = readAdjacencyOptions(adjOpt as Record<string, unknown>);
  }
  let memoryLimit = 0;
  if (o.memoryLimit !== undefined) {
    if (typeof o.memoryLimit !== 'number' || !(o.memoryLimit >= 0)) {
      throw inputError('memoryLimit', `a number of bytes >= 0, got ${showValue(o.memoryLimit)}`);
    }
    memoryLimit = o.memoryLimit;
  }
  const c = readCoo(input);
  threadsOpt(o);
  validateCoo(c);
  if (policy === 'last' && c.ts === undefined) {
    throw inputError('ts', "a Float64Array or an Int32Array (policy 'last' needs timestamps), got undefined");
  }
  const need = estimateBuildBytes(c.users.length, c.nUsers, c.nItems, adj !== undefined, adj?.selfLoops ?? false);
  if (memoryLimit > 0 && need > memoryLimit) {
    throw limitError(`cooToCsr: needs about ${mib(need)} MiB, over the memoryLimit of ${mib(memoryLimit)} MiB`);
  }
  try {
    const userItem = mergeToCsr(c, policy);
    const itemUser = transposeTs(userItem);
    const g: BuiltGraph = {
      userItem,
      itemUser,
      userDegree: rowLengths(userItem),
      itemDegree: rowLengths(itemUser),
    };
    if (adj) g.adjacency = bipartiteAdjacencyTs(userItem, itemUser, adj);
    return g;
  } catch (err) {
    if (err instanceof RangeError) {
      throw limitError(`cooToCsr: out of memory (the build needs about ${mib(need)} MiB)`);
    }
    throw err;
  }
}

function rowLengths(m: Csr): Int32Array {
  const d = new Int32Array(m.nRows);
  for (let r = 0; r < m.nRows; r++) d[r] = m.rowPtr[r + 1] - m.rowPtr[r];
  return d;
}

/** Stable counting sort of edges by (user, item, input position), then duplicate merge. */
function mergeToCsr(c: Coo, policy: MergePolicy): Csr {
  const { users, items, weights, ts, nUsers, nItems } = c;
  // Edges by item (stable), then stably by user: (user, item, k) ascending.
  const { offsets: rowStart, order } = bucketByKey(users, nUsers, bucketByKey(items, nItems).order);
  // Distinct (user, item) per row -> rowPtr.
  const rowPtr = new Int32Array(nUsers + 1);
  for (let u = 0; u < nUsers; u++) {
    let d = 0;
    for (let x = rowStart[u]; x < rowStart[u + 1]; x++) {
      if (x === rowStart[u] || items[order[x]] !== items[order[x - 1]]) d++;
    }
    rowPtr[u + 1] = rowPtr[u] + d;
  }
  const nnz = rowPtr[nUsers];
  const colIdx = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let out = 0;
  for (let u = 0; u < nUsers; u++) {
    const end = rowStart[u + 1];
    let x = rowStart[u];
    while (x < end) {
      const item = items[order[x]];
      const first = x;
      let acc = 0;
      let best = -1;
      let bestTs = 0;
      for (; x < end && items[order[x]] === item; x++) {
        const k = order[x];
        const w = weights !== undefined ? weights[k] : 1;
        switch (policy) {
          case 'sum':
          case 'mean':
            acc += w;
            break;
          case 'max':
            acc = x === first || w > acc ? w : acc;
            break;
          case 'count':
            acc += 1;
            break;
          case 'last': {
            const t = ts![k];
            if (best < 0 || t >= bestTs) {
              best = k;
              bestTs = t;
            }
            break;
          }
        }
      }
      let v = acc;
      if (policy === 'mean') v = acc / (x - first);
      if (policy === 'last') v = weights !== undefined ? weights[best] : 1;
      colIdx[out] = item;
      values[out] = v; // the one rounding to float32, as in C++
      out++;
    }
  }
  return { nRows: nUsers, nCols: nItems, rowPtr, colIdx, values };
}

/** Transpose by counting sort over columns; rows walked upward keep columns sorted. */
export function transposeTs(m: Csr): Csr {
  const { nRows, nCols, rowPtr, colIdx, values } = m;
  const nnz = rowPtr[nRows];
  // Entries by column, stable, so each new row's columns (the old rows) stay ascending.
  const { offsets: tPtr, order } = bucketByColumn(colIdx, nCols, nnz);
  const rowOf = rowOfEntries(rowPtr, nRows);
  const tCol = new Int32Array(nnz);
  const tVal = new Float32Array(nnz);
  for (let p = 0; p < nnz; p++) {
    const j = order[p];
    tCol[p] = rowOf[j];
    tVal[p] = values[j];
  }
  return { nRows: nCols, nCols: nRows, rowPtr: tPtr, colIdx: tCol, values: tVal };
}

/** Bipartite adjacency from userItem and its transpose; see native/csr_core.h. */
export function bipartiteAdjacencyTs(ui: Csr, iu: Csr, opt: ResolvedAdjacency | AdjacencyOptions): Csr {
  const norm = opt.norm ?? 'sym';
  const sl = opt.selfLoops ? 1 : 0;
  const weighted = opt.weighted ?? false;
  const nU = ui.nRows;
  const nI = ui.nCols;
  const N = nU + nI;
  const nnz = ui.rowPtr[nU];
  const total = 2 * nnz + (sl ? N : 0);
  if (N > MAX_INDEX) throw limitError(`nUsers + nItems: ${N} nodes exceed the int32 index limit 2147483647`);
  if (total > MAX_INDEX) throw limitError(`adjacency: ${total} entries exceed the int32 index limit 2147483647`);
  const rowPtr = new Int32Array(N + 1);
  for (let u = 0; u < nU; u++) rowPtr[u + 1] = rowPtr[u] + (ui.rowPtr[u + 1] - ui.rowPtr[u]) + sl;
  for (let i = 0; i < nI; i++) rowPtr[nU + i + 1] = rowPtr[nU + i] + (iu.rowPtr[i + 1] - iu.rowPtr[i]) + sl;
  const colIdx = new Int32Array(total);
  const values = new Float32Array(total);
  const deg = new Float64Array(N);
  for (let r = 0; r < N; r++) {
    let p = rowPtr[r];
    let d = 0;
    if (r < nU) {
      if (sl) {
        colIdx[p] = r;
        values[p++] = 1;
        d += 1;
      }
      for (let j = ui.rowPtr[r]; j < ui.rowPtr[r + 1]; j++) {
        const a = weighted ? ui.values[j] : 1;
        colIdx[p] = nU + ui.colIdx[j];
        values[p++] = a;
        d += a;
      }
    } else {
      const i = r - nU;
      for (let j = iu.rowPtr[i]; j < iu.rowPtr[i + 1]; j++) {
        const a = weighted ? iu.values[j] : 1;
        colIdx[p] = iu.colIdx[j];
        values[p++] = a;
        d += a;
      }
      if (sl) {
        colIdx[p] = r;
        values[p++] = 1;
        d += 1;
      }
    }
    deg[r] = weighted ? d : rowPtr[r + 1] - rowPtr[r];
  }
  if (norm !== 'none') {
    for (let r = 0; r < N; r++) {
      const dr = deg[r];
      for (let j = rowPtr[r]; j < rowPtr[r + 1]; j++) {
        const a = values[j];
        const dc = deg[colIdx[j]];
        let v: number;
        if (norm === 'sym') {
          const p = dr * dc;
          v = p > 0 ? a / Math.sqrt(p) : 0;
        } else if (norm === 'row') v = dr !== 0 ? a / dr : 0;
        else v = dc !== 0 ? a / dc : 0;
        values[j] = v;
      }
    }
  }
  return { nRows: N, nCols: N, rowPtr, colIdx, values };
}
