/**
 * The synthetic power-law graph the kernel suites share (issue 2's "gsyn": 100,000 users ×
 * 50,000 items × 2,000,000 interactions; a tenth of that under --quick): its
 * symmetric-normalised bipartite adjacency, and the row of every stored entry (what
 * TF.js's segment ops need).
 */
import { powerLawInteractions } from '../src/graph/powerlaw.js';
import { symNormAdjacency } from '../src/graph/build.js';
import type { Csr } from '../src/graph/types.js';

export function gsynAdjacency(quick: boolean): Csr {
  const size = quick ? { nUsers: 10_000, nItems: 5_000, nnz: 200_000 } : { nUsers: 100_000, nItems: 50_000, nnz: 2_000_000 };
  const coo = powerLawInteractions({ ...size, seed: 42 });
  return symNormAdjacency(coo.users, coo.items, undefined, size.nUsers, size.nItems);
}

export function rowOfEntries(csr: Csr): Int32Array {
  const rows = new Int32Array(csr.colIdx.length);
  for (let r = 0; r < csr.nRows; r++) rows.fill(r, csr.rowPtr[r], csr.rowPtr[r + 1]);
  return rows;
}
