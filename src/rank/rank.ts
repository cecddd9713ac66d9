/**
 * Top-k over the whole catalogue for any model: from factor scores through the top-K
 * kernel (GPU or CPU backend, in bounded chunks of users), or from dense score rows on
 * the host. Every model's `recommend` and the ranking evaluation go through here, so
 * exclusion of seen items, tie order (lower index first) and the −1 padding are the
 * same everywhere.
 */
import { GnnrlError } from '../errors.js';
import type { DeviceArray } from '../backend/arrays.js';
import type { Engine } from '../engine.js';
import { PositiveIndex } from '../data/negatives.js';
import { topK, TOPK_MAX } from '../kernels/topk.js';
import { gatherKernel } from '../kernels/gather.js';
import { nativeKernels } from '../native.js';
import type { ExcludeRows, FactorScores, Recommendations, RecommendOptions } from './types.js';

/** Users per top-K launch: bounds the uploaded queries and exclusion rows. */
const USERS_PER_CHUNK = 2048;

function checkK(k: number, nItems: number): void {
  if (!Number.isInteger(k) || k < 1) throw new GnnrlError('input', `recommend: k: expected a positive integer, got ${k}`, { arg: 'k' });
  if (nItems < 1) throw new GnnrlError('state', 'recommend: the model has no items; call fit() first');
}

function checkUsers(users: Int32Array, nUsers: number): void {
  for (let j = 0; j < users.length; j++) {
    const u = users[j];
    if (!(u >= 0 && u < nUsers)) {
      throw new GnnrlError('input', `recommend: users[${j}]: expected a user index in [0, ${nUsers}), got ${u}`, { arg: 'users' });
    }
  }
}

function checkFactors(f: FactorScores, nUsers: number, nItems: number): void {
  const need = (len: number, want: number, name: string) => {
    if (len !== want) throw new GnnrlError('input', `recommendFromFactors: ${name}: expected ${want} elements, got ${len}`, { arg: name });
  };
  if (!Number.isInteger(f.dim) || f.dim < 0) throw new GnnrlError('input', `recommendFromFactors: dim: expected a non-negative integer, got ${f.dim}`, { arg: 'dim' });
  if (f.dim > 0) {
    need(f.users.length, nUsers * f.dim, 'users');
    need(f.items.length, nItems * f.dim, 'items');
  }
  if (f.itemBias) need(f.itemBias.length, nItems, 'itemBias');
}

/** Exclusion rows for `users` from a user → sorted items index (e.g. the training log's). */
export function exclusionRows(seen: PositiveIndex, users: Int32Array): ExcludeRows {
  const rowPtr = new Int32Array(users.length + 1);
  for (let j = 0; j < users.length; j++) rowPtr[j + 1] = rowPtr[j] + seen.count(users[j]);
  const colIdx = new Int32Array(rowPtr[users.length]);
  for (let j = 0; j < users.length; j++) {
    const u = users[j];
    colIdx.set(seen.items.subarray(seen.offsets[u], seen.offsets[u + 1]), rowPtr[j]);
  }
  return { rowPtr, colIdx };
}

/** The rows `recommend` should exclude, given the option and the model's training index. */
export function resolveExclusions(opts: RecommendOptions | undefined, seen: PositiveIndex | null, users: Int32Array): ExcludeRows | null {
  const ex = opts?.exclude ?? 'train';
  if (ex === 'none') return null;
  if (ex === 'train') return seen ? exclusionRows(seen, users) : null;
  if (ex.rowPtr.length !== users.length + 1) {
    throw new GnnrlError('input', `recommend: exclude.rowPtr: expected ${users.length + 1} entries (users + 1), got ${ex.rowPtr.length}`, { arg: 'exclude' });
  }
  return ex;
}

/** Rows [from, to) of exclusion rows, re-based to start at 0 (the column array is a view). */
export function sliceExclusions(ex: ExcludeRows, from: number, to: number): ExcludeRows {
  const base = ex.rowPtr[from];
  const rowPtr = new Int32Array(to - from + 1);
  for (let j = from; j <= to; j++) rowPtr[j - from] = ex.rowPtr[j] - base;
  return { rowPtr, colIdx: ex.colIdx.subarray(base, ex.rowPtr[to]) };
}

/**
 * Top-k by descending score with ties to the lower index over one dense row, skipping
 * excluded items: a bounded min-heap, O(n log k).
 */
export function selectTopK(
  scores: Float32Array,
  k: number,
  excluded: Uint8Array | null,
  outItems: Int32Array,
  outScores: Float32Array,
  outOffset: number,
): void {
  const heapI = new Int32Array(k);
  const heapS = new Float32Array(k);
  let size = 0;
  // "a ranks below b": lower score, or equal score and higher index.
  const below = (sa: number, ia: number, sb: number, ib: number) => sa < sb || (sa === sb && ia > ib);
  const swap = (a: number, b: number) => {
    const ts = heapS[a];
    const ti = heapI[a];
    heapS[a] = heapS[b];
    heapI[a] = heapI[b];
    heapS[b] = ts;
    heapI[b] = ti;
  };
  const siftDown = (pos: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= size) return;
      let m = l;
      if (l + 1 < size && below(heapS[l + 1], heapI[l + 1], heapS[l], heapI[l])) m = l + 1;
      if (!below(heapS[m], heapI[m], heapS[pos], heapI[pos])) return;
      swap(pos, m);
      pos = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    if (excluded && excluded[i]) continue;
    const s = scores[i];
    if (Number.isNaN(s)) continue;
    if (size < k) {
      let pos = size++;
      heapS[pos] = s;
      heapI[pos] = i;
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!below(heapS[pos], heapI[pos], heapS[parent], heapI[parent])) break;
        swap(pos, parent);
        pos = parent;
      }
    } else if (below(heapS[0], heapI[0], s, i)) {
      heapS[0] = s;
      heapI[0] = i;
      siftDown(0);
    }
  }
  // Pop the heap worst-first into the tail of the output.
  outItems.fill(-1, outOffset, outOffset + k);
  outScores.fill(-Infinity, outOffset, outOffset + k);
  for (let j = size - 1; j >= 0; j--) {
    outItems[outOffset + j] = heapI[0];
    outScores[outOffset + j] = heapS[0];
    size--;
    heapS[0] = heapS[size];
    heapI[0] = heapI[size];
    siftDown(0);
  }
}

/**
 * Calls `fn(r, mask)` for rows 0..nRows−1 with `mask` (nItems wide) marking row r's
 * excluded items, or null when nothing is excluded; marks are cleared after each row, so
 * one buffer serves every row.
 */
function forEachRowMasked(nRows: number, nItems: number, exclude: ExcludeRows | null, fn: (r: number, mask: Uint8Array | null) => void): void {
  const mask = exclude ? new Uint8Array(nItems) : null;
  const mark = (r: number, v: number) => {
    if (exclude && mask) for (let e = exclude.rowPtr[r]; e < exclude.rowPtr[r + 1]; e++) mask[exclude.colIdx[e]] = v;
  };
  for (let r = 0; r < nRows; r++) {
    mark(r, 1);
    fn(r, mask);
    mark(r, 0);
  }
}

/** Top-k from dense scores (users.length × nItems, row-major) on the host. */
export function recommendFromDense(scores: Float32Array, nRows: number, nItems: number, k: number, exclude: ExcludeRows | null): Recommendations {
  checkK(k, nItems);
  if (scores.length !== nRows * nItems) {
    throw new GnnrlError('input', `recommendFromDense: scores: expected ${nRows}×${nItems} = ${nRows * nItems} elements, got ${scores.length}`, { arg: 'scores' });
  }
  const items = new Int32Array(nRows * k);
  const out = new Float32Array(nRows * k);
  forEachRowMasked(nRows, nItems, exclude, (r, mask) => selectTopK(scores.subarray(r * nItems, (r + 1) * nItems), k, mask, items, out, r * k));
  return { items, scores: out, k };
}

function hostArray(a: Float32Array | DeviceArray<'f32'>): Float32Array | null {
  return a instanceof Float32Array ? a : null;
}

/**
 * Top-k from factor scores. On the native backend the addon's fused top-K reads the
 * factor tables in place. With a WebGPU engine the top-K kernel runs on it (host
 * factor arrays are uploaded once per call, device user rows gathered on the device);
 * without one, on the CPU backend, or for k > TOPK_MAX, scores are computed on the
 * host and selected with a heap.
 */
export async function recommendFromFactors(
  f: FactorScores,
  nUsers: number,
  nItems: number,
  users: Int32Array,
  k: number,
  exclude: ExcludeRows | null,
  engine?: Engine,
): Promise<Recommendations> {
  checkK(k, nItems);
  checkUsers(users, nUsers);
  checkFactors(f, nUsers, nItems);
  const b = users.length;
  // Bias-only scores (popularity, BaselineOnly) rank every user's items in one order:
  // sort once, then walk it per user past the excluded items. O(k + |excluded|) a user
  // instead of a pass over the catalogue, on any backend.
  if (f.dim === 0) {
    let bias: Float32Array;
    if (!f.itemBias) bias = new Float32Array(nItems);
    else if (f.itemBias instanceof Float32Array) bias = f.itemBias;
    else if (engine) bias = await engine.read(f.itemBias);
    else throw new GnnrlError('input', 'recommendFromFactors: device-resident factors need the engine they live on', { arg: 'engine' });
    return biasOnlyTopK(bias, users.length, k, exclude);
  }
  // The native backend's fused kernel reads host factor tables in place (no upload copy):
  // several times faster than the scalar host loop below on a large catalogue.
  if (engine?.backend === 'native' && k <= TOPK_MAX) {
    // Native "device" arrays are host memory: their data is read in place too.
    const inPlace = (a: Float32Array | DeviceArray<'f32'>): Float32Array => (a instanceof Float32Array ? a : ((a as { data: Float32Array }).data));
    return nativeFactorTopK(f.dim, inPlace(f.users), inPlace(f.items), f.itemBias ? inPlace(f.itemBias) : null, nItems, users, k, exclude);
  }
  // The CPU backend's top-K kernel is the float64 full-sort oracle: the host heap below
  // gives the same lists much faster, so only a GPU engine takes the kernel path.
  if (!engine || k > TOPK_MAX || !engine.isGpu) {
    const hu = hostArray(f.users);
    const hi = hostArray(f.items);
    const hb = f.itemBias ? hostArray(f.itemBias) : null;
    if (!hu || !hi || (f.itemBias && !hb)) {
      if (!engine) throw new GnnrlError('input', 'recommendFromFactors: device-resident factors need the engine they live on', { arg: 'engine' });
      const [u, it, bias] = await Promise.all([readF32(engine, f.users), readF32(engine, f.items), f.itemBias ? readF32(engine, f.itemBias) : null]);
      return recommendFromFactors({ dim: f.dim, users: u, items: it, itemBias: bias ?? undefined }, nUsers, nItems, users, k, exclude);
    }
    return hostFactorTopK(f.dim, hu, hi, hb, nItems, users, k, exclude);
  }
  const dim = Math.max(1, f.dim);
  const owned: DeviceArray[] = [];
  const upload = (a: Float32Array | DeviceArray<'f32'>): DeviceArray<'f32'> => {
    if (!(a instanceof Float32Array)) return a;
    const d = engine.array(a);
    owned.push(d);
    return d;
  };
  // Bias-only models (dim 0) rank by the bias alone: one zero factor column.
  const itemTable = f.dim === 0 ? upload(new Float32Array(nItems)) : upload(f.items);
  const bias = f.itemBias ? upload(f.itemBias) : undefined;
  const items = new Int32Array(b * k);
  const scores = new Float32Array(b * k);
  try {
    for (let r0 = 0; r0 < b; r0 += USERS_PER_CHUNK) {
      const r1 = Math.min(b, r0 + USERS_PER_CHUNK);
      const rows = r1 - r0;
      const chunkOwned: DeviceArray[] = [];
      const put = <T extends Float32Array | Int32Array>(x: T) => {
        const d = engine.array(x);
        chunkOwned.push(d);
        return d;
      };
      // The chunk's query rows: copied on the host from host factors, gathered on the
      // device from device factors (the user table never comes back to the host).
      let q: DeviceArray<'f32'>;
      if (f.dim === 0) q = put(new Float32Array(rows)) as DeviceArray<'f32'>;
      else if (f.users instanceof Float32Array) {
        q = put(queryRows(f.users, users, r0, r1, dim)) as DeviceArray<'f32'>;
      } else {
        q = engine.empty('f32', rows * dim);
        chunkOwned.push(q);
        gatherKernel(engine, f.users, nUsers, put(users.slice(r0, r1)) as DeviceArray<'i32'>, dim, q);
      }
      const ex = exclude ? sliceExclusions(exclude, r0, r1) : null;
      try {
        const res = topK(engine, {
          queries: q,
          batch: rows,
          dim,
          items: itemTable,
          nItems,
          bias,
          exclude: ex ? { rowPtr: put(ex.rowPtr) as DeviceArray<'i32'>, colIdx: put(ex.colIdx.length ? ex.colIdx : new Int32Array(1)) as DeviceArray<'i32'> } : undefined,
          k,
        });
        chunkOwned.push(res.indices, res.scores);
        const [ri, rs] = await Promise.all([engine.read(res.indices), engine.read(res.scores)]);
        items.set(ri, r0 * k);
        scores.set(rs, r0 * k);
      } finally {
        for (const d of chunkOwned) engine.free(d);
      }
    }
  } finally {
    for (const d of owned) engine.free(d);
  }
  return { items, scores, k };
}

async function readF32(engine: Engine, a: Float32Array | DeviceArray<'f32'>): Promise<Float32Array> {
  return a instanceof Float32Array ? a : engine.read(a);
}

/** Top-k when every row ranks by the same item scores, minus its own excluded items. */
function biasOnlyTopK(bias: Float32Array, rows: number, k: number, exclude: ExcludeRows | null): Recommendations {
  const n = bias.length;
  // Descending score, ties to the lower index; NaN scores are never returned (as in selectTopK).
  const order = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !Number.isNaN(bias[i]));
  order.sort((x, y) => bias[y] - bias[x] || x - y);
  const items = new Int32Array(rows * k).fill(-1);
  const scores = new Float32Array(rows * k).fill(-Infinity);
  forEachRowMasked(rows, n, exclude, (r, mask) => {
    let j = 0;
    for (let t = 0; t < order.length && j < k; t++) {
      const i = order[t];
      if (mask && mask[i]) continue;
      items[r * k + j] = i;
      scores[r * k + j] = bias[i];
      j++;
    }
  });
  return { items, scores, k };
}

/** The factor rows of users[r0..r1), packed: one launch's queries. */
function queryRows(table: Float32Array, users: Int32Array, r0: number, r1: number, dim: number): Float32Array {
  const q = new Float32Array((r1 - r0) * dim);
  for (let j = 0; j < r1 - r0; j++) q.set(table.subarray(users[r0 + j] * dim, (users[r0 + j] + 1) * dim), j * dim);
  return q;
}

/** The addon's top-K over host tables, in chunks of users (bounded query copies). */
function nativeFactorTopK(
  dim: number,
  u: Float32Array,
  it: Float32Array,
  bias: Float32Array | null,
  nItems: number,
  users: Int32Array,
  k: number,
  exclude: ExcludeRows | null,
): Recommendations {
  const b = users.length;
  const items = new Int32Array(b * k);
  const scores = new Float32Array(b * k);
  const kernels = nativeKernels();
  for (let r0 = 0; r0 < b; r0 += USERS_PER_CHUNK) {
    const r1 = Math.min(b, r0 + USERS_PER_CHUNK);
    const rows = r1 - r0;
    const q = queryRows(u, users, r0, r1, dim);
    const ex = exclude ? sliceExclusions(exclude, r0, r1) : null;
    kernels.topk(
      {
        queries: q,
        batch: rows,
        dim,
        items: it,
        nItems,
        bias: bias ?? undefined,
        excludeRowPtr: ex?.rowPtr,
        excludeColIdx: ex ? (ex.colIdx.length ? ex.colIdx : new Int32Array(1)) : undefined,
        k,
      },
      items.subarray(r0 * k, r1 * k),
      scores.subarray(r0 * k, r1 * k),
    );
  }
  return { items, scores, k };
}

function hostFactorTopK(
  dim: number,
  u: Float32Array,
  it: Float32Array,
  bias: Float32Array | null,
  nItems: number,
  users: Int32Array,
  k: number,
  exclude: ExcludeRows | null,
): Recommendations {
  const b = users.length;
  const row = new Float32Array(nItems);
  const items = new Int32Array(b * k);
  const scores = new Float32Array(b * k);
  forEachRowMasked(b, nItems, exclude, (r, mask) => {
    const uo = users[r] * dim;
    for (let i = 0; i < nItems; i++) {
      let s = bias ? bias[i] : 0;
      const io = i * dim;
      for (let c = 0; c < dim; c++) s += u[uo + c] * it[io + c];
      row[i] = s;
    }
    selectTopK(row, k, mask, items, scores, r * k);
  });
  return { items, scores, k };
}
