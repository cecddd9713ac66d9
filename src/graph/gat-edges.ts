/**
 * Host preparation of a graph for attention (kernels/gat.ts): GAT's self-loops, the
 * destination row of every edge, and the transpose that carries each entry's forward
 * edge id (for the backward pass over sources). graph/upload.ts puts them on an engine.
 */
import { GnnrlError } from '../errors.js';
import type { Csr } from './types.js';
import { bucketByColumn, rowOfEntries } from '../util/bucket.js';

/** Adds the missing diagonal entries of a square CSR (GAT's self-loops), keeping columns sorted. */
export function withSelfLoops(csr: Csr): Csr {
  if (csr.nRows !== csr.nCols) throw new GnnrlError('input', `selfLoops: the graph must be square, got ${csr.nRows}×${csr.nCols}`, { arg: 'selfLoops' });
  const rowPtr = new Int32Array(csr.nRows + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < csr.nRows; r++) {
    let placed = false;
    for (let e = csr.rowPtr[r]; e < csr.rowPtr[r + 1]; e++) {
      const c = csr.colIdx[e];
      if (!placed && c >= r) {
        if (c !== r) {
          cols.push(r);
          vals.push(1);
        }
        placed = true;
      }
      cols.push(c);
      vals.push(csr.values[e]);
    }
    if (!placed) {
      cols.push(r);
      vals.push(1);
    }
    rowPtr[r + 1] = cols.length;
  }
  return { nRows: csr.nRows, nCols: csr.nCols, rowPtr, colIdx: Int32Array.from(cols), values: Float32Array.from(vals) };
}

/** Transpose with the forward edge id of each entry (counting sort; stable, so sorted). */
function transposeWithEdges(csr: Csr): { rowPtr: Int32Array; dst: Int32Array; edge: Int32Array } {
  const { offsets: rowPtr, order: edge } = bucketByColumn(csr.colIdx, csr.nCols);
  const rowOf = rowOfEntries(csr.rowPtr, csr.nRows);
  const dst = new Int32Array(edge.length);
  for (let t = 0; t < edge.length; t++) dst[t] = rowOf[edge[t]];
  return { rowPtr, dst, edge };
}

/** The per-edge arrays of a GAT graph: destination row per edge and the transpose with edge ids. */
export interface GatEdgeArrays {
  edgeRow: Int32Array;
  tRowPtr: Int32Array;
  tDst: Int32Array;
  tEdge: Int32Array;
}

export function gatEdgeArrays(g: Csr): GatEdgeArrays {
  const nnz = g.colIdx.length;
  const edgeRow = new Int32Array(nnz);
  for (let r = 0; r < g.nRows; r++) edgeRow.fill(r, g.rowPtr[r], g.rowPtr[r + 1]);
  const t = transposeWithEdges(g);
  return { edgeRow, tRowPtr: t.rowPtr, tDst: t.dst, tEdge: t.edge };
}
