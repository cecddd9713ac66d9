/**
 * Graphs prepared for the kernels and put on an engine: the kernels (src/kernels/) take
 * these prepared arrays, and the preparation (degree layouts, GAT's edge lists) happens
 * here, in the graph layer.
 */
import type { Engine } from '../engine.js';
import type { Csr } from './types.js';
import { spmmNeedsSplit, uploadSpmmPlan, type PlannedCsr } from '../kernels/spmm.js';
import type { GatGraph } from '../kernels/gat.js';
import { spmmPlanArrays } from './layout.js';
import { gatEdgeArrays, withSelfLoops } from './gat-edges.js';

/**
 * Uploads a CSR for repeated SpMM: the arrays plus, on WebGPU, the segmented plan that
 * the tuned variants run over (built once; a graph is multiplied thousands of times).
 * Free it with kernels/spmm.ts's `releaseSpmmCsr`.
 */
export function uploadCsrForSpmm(engine: Engine, csr: Csr, opts: { maxSegment?: number } = {}): PlannedCsr {
  const base = engine.uploadCsr(csr);
  if (!engine.isGpu) return base;
  if (spmmNeedsSplit(engine, base, csr.nCols, 1)) return { ...base, host: csr };
  const maxSegment = opts.maxSegment ?? 256;
  return { ...base, plan: uploadSpmmPlan(engine, spmmPlanArrays(csr, maxSegment), maxSegment), host: csr };
}

/** A graph prepared once for the attention kernels (with GAT's self-loops on request). */
export function prepareGatGraph(engine: Engine, csr: Csr, opts: { selfLoops?: boolean } = {}): GatGraph {
  const g = opts.selfLoops ? withSelfLoops(csr) : csr;
  const e = gatEdgeArrays(g);
  return {
    nDst: g.nRows,
    nSrc: g.nCols,
    nnz: g.colIdx.length,
    rowPtr: engine.array(g.rowPtr),
    colIdx: engine.array(g.colIdx),
    edgeRow: engine.array(e.edgeRow),
    tRowPtr: engine.array(e.tRowPtr),
    tDst: engine.array(e.tDst),
    tEdge: engine.array(e.tEdge),
    host: g,
  };
}
