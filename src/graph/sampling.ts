/**
 * Mini-batch neighbourhoods, deterministic for a seed and identical in C++
 * (native/sample_core.cc) and here. Every draw is hashU32(streamSeed, counter) from
 * src/util/rng.ts, so a result depends only on (graph, seeds, options).
 *
 * sampleNeighbors (GraphSAGE): layers[0] = seeds; for hop l with fan-out f, each node of
 * layers[l] keeps all neighbours when its degree d <= f, else f distinct ones chosen by
 * Floyd's algorithm (draw j: hashU32(hashU32(seed, l), p*f + j) mod (d - f + j + 1), p =
 * the node's position in layers[l]). layers[l + 1] = layers[l] followed by newly reached
 * nodes (row order, then neighbour order), so a block's destination nodes are a prefix of
 * its source nodes, as GraphSAGE's self term needs. blocks[l] is a Csr with rows =
 * positions in layers[l], columns = positions in layers[l + 1] (ascending), values 1/k.
 *
 * randomWalkNeighbors (PinSage): `walks` walks of `length` steps from each seed; visits
 * at steps divisible by `stride` (2 on a user-item bipartite graph keeps items only) are
 * counted; row s keeps the topK visited nodes (count desc, then id asc), columns sorted,
 * values = visit counts.
 */
import { GnnrlError } from '../errors.js';
import { resolveImpl, type SampledBlocks } from '../native.js';
import { hashU32 } from '../util/rng.js';
import { MAX_INDEX, csrArg, inputError, intArg, optionsObject, threadsOpt, typedArg } from './args.js';
import type { ImplOption } from './build.js';
import type { Csr } from './types.js';

export interface SampleOptions extends ImplOption {
  /** Default 1. */
  seed?: number;
}

function seedOpt(o: Record<string, unknown>): number {
  return o.seed === undefined ? 1 : intArg(o.seed, 'seed', 0, 4294967295);
}

export function sampleNeighbors(
  graph: Csr,
  seeds: Int32Array,
  fanouts: Int32Array | readonly number[],
  opts: SampleOptions = {},
): SampledBlocks {
  const fan = fanouts instanceof Int32Array ? fanouts : Int32Array.from(fanouts);
  const addon = resolveImpl(opts.impl);
  if (addon) return addon.sampleNeighbors(graph, seeds, fan, opts);
  const o = optionsObject(opts);
  const seed = seedOpt(o);
  const g = csrArg(graph, 'graph');
  const s = typedArg(seeds, 'seeds', Int32Array, false);
  const f = typedArg(fan, 'fanouts', Int32Array, false);
  return sampleTs(g, s, f, seed >>> 0);
}

function squareCheck(g: Csr): void {
  if (g.nCols !== g.nRows) {
    throw inputError('graph', `a square matrix (nRows == nCols), got ${g.nRows} x ${g.nCols}`);
  }
}

function sampleTs(g: Csr, seeds: Int32Array, fanouts: Int32Array, seed: number): SampledBlocks {
  const N = g.nRows;
  squareCheck(g);
  for (let l = 0; l < fanouts.length; l++) {
    if (fanouts[l] < 1) throw inputError('fanouts', `an integer >= 1, got ${fanouts[l]}`, l);
  }
  const local = new Int32Array(N).fill(-1);
  for (let p = 0; p < seeds.length; p++) {
    const v = seeds[p];
    if (v < 0 || v >= N) throw inputError('seeds', `a node id in [0, ${N}), got ${v}`, p);
    if (local[v] >= 0) throw inputError('seeds', `unique node ids, got ${v} again (first at ${local[v]})`, p);
    local[v] = p;
  }
  for (let p = 0; p < seeds.length; p++) local[seeds[p]] = -1;
  const layers: Int32Array[] = [seeds.slice()];
  const blocks: Csr[] = [];
  const chosen: number[] = [];
  for (let l = 0; l < fanouts.length; l++) {
    const rows = layers[l];
    const R = rows.length;
    const f = fanouts[l];
    const ls = hashU32(seed, l);
    const next: number[] = Array.from(rows);
    for (let p = 0; p < R; p++) local[rows[p]] = p;
    const rowPtr = new Int32Array(R + 1);
    const cols: number[] = [];
    const vals: number[] = [];
    for (let p = 0; p < R; p++) {
      const v = rows[p];
      const base = g.rowPtr[v];
      const d = g.rowPtr[v + 1] - base;
      chosen.length = 0;
      if (d <= f) {
        for (let q = 0; q < d; q++) chosen.push(q);
      } else {
        for (let j = 0; j < f; j++) {
          const m = d - f + j;
          // p*f + j taken mod 2^32, as the C++ uint32 counter
          const counter = (Math.imul(p, f) + j) >>> 0;
          const t = hashU32(ls, counter) % (m + 1);
          chosen.push(chosen.includes(t) ? m : t);
        }
      }
      chosen.sort((a, b) => a - b);
      const start = cols.length;
      for (const q of chosen) {
        const w = g.colIdx[base + q];
        if (local[w] < 0) {
          local[w] = next.length;
          next.push(w);
        }
        cols.push(local[w]);
      }
      const row = cols.slice(start).sort((a, b) => a - b);
      for (let k = 0; k < row.length; k++) cols[start + k] = row[k];
      const val = chosen.length === 0 ? 0 : 1 / chosen.length;
      for (let k = start; k < cols.length; k++) vals.push(val);
      if (cols.length > MAX_INDEX) throw new GnnrlError('limit', `sampleBlocks: a sampled block holds more than ${MAX_INDEX} entries (the int32 index limit); sample fewer seeds or neighbours per call`);
      rowPtr[p + 1] = cols.length;
    }
    for (const w of next) local[w] = -1;
    blocks.push({ nRows: R, nCols: next.length, rowPtr, colIdx: Int32Array.from(cols), values: Float32Array.from(vals) });
    layers.push(Int32Array.from(next));
  }
  return { layers, blocks };
}

export interface WalkOptions extends ImplOption {
  walks: number;
  length: number;
  topK: number;
  /** Count visits only at steps divisible by this (default 1). */
  stride?: number;
  seed?: number;
  threads?: number;
}

export function randomWalkNeighbors(graph: Csr, seeds: Int32Array, opts: WalkOptions): Csr {
  const addon = resolveImpl(opts?.impl);
  if (addon) return addon.randomWalk(graph, seeds, opts);
  const o = optionsObject(opts);
  const walks = intArg(o.walks, 'walks', 1, 1 << 20);
  const length = intArg(o.length, 'length', 1, 1 << 20);
  const stride = o.stride === undefined ? 1 : intArg(o.stride, 'stride', 1, 1 << 20);
  const topK = intArg(o.topK, 'topK', 1, MAX_INDEX);
  const seed = seedOpt(o) >>> 0;
  const g = csrArg(graph, 'graph');
  const s = typedArg(seeds, 'seeds', Int32Array, false);
  threadsOpt(o);
  return walkTs(g, s, walks, length, stride, topK, seed);
}

function walkTs(g: Csr, seeds: Int32Array, walks: number, length: number, stride: number, topK: number, seed: number): Csr {
  const N = g.nRows;
  squareCheck(g);
  for (let s = 0; s < seeds.length; s++) {
    if (seeds[s] < 0 || seeds[s] >= N) throw inputError('seeds', `a node id in [0, ${N}), got ${seeds[s]}`, s);
  }
  const ws = hashU32(seed, 0xffffffff);
  const visits = new Int32Array(N);
  const touched: number[] = [];
  const rowPtr = new Int32Array(seeds.length + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let s = 0; s < seeds.length; s++) {
    const v0 = seeds[s];
    touched.length = 0;
    for (let w = 0; w < walks; w++) {
      let cur = v0;
      // (s*walks + w)*length in uint32 arithmetic, as in C++
      const c0 = Math.imul((Math.imul(s, walks) + w) >>> 0, length) >>> 0;
      for (let step = 1; step <= length; step++) {
        const d = g.rowPtr[cur + 1] - g.rowPtr[cur];
        if (d === 0) break;
        const h = hashU32(ws, (c0 + step - 1) >>> 0);
        cur = g.colIdx[g.rowPtr[cur] + (h % d)];
        if (step % stride === 0 && cur !== v0) {
          if (visits[cur]++ === 0) touched.push(cur);
        }
      }
    }
    const cand = touched.map((x) => ({ c: visits[x], x }));
    for (const x of touched) visits[x] = 0;
    cand.sort((a, b) => (a.c !== b.c ? b.c - a.c : a.x - b.x));
    const keep = cand.slice(0, Math.min(topK, cand.length)).sort((a, b) => a.x - b.x);
    for (const k of keep) {
      cols.push(k.x);
      vals.push(k.c);
    }
    rowPtr[s + 1] = cols.length;
  }
  return { nRows: seeds.length, nCols: N, rowPtr, colIdx: Int32Array.from(cols), values: Float32Array.from(vals) };
}
