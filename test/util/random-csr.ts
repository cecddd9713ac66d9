/** Random CSR matrices of the awkward shapes kernels must survive. */
import { Rng } from '../../src/util/rng.js';
import type { Csr } from '../../src/graph/types.js';

export type CsrPattern = 'uniform' | 'empty-rows' | 'one-huge-row' | 'all-empty';

/**
 * `nnz` entries over `nRows × nCols`: 'empty-rows' leaves about a third of rows empty,
 * 'one-huge-row' gives one row half of all entries, 'all-empty' has none.
 * Columns are distinct and sorted within a row, as the graph builder makes them; a row
 * asked for more entries than there are columns gets every column.
 */
export function randomCsr(rng: Rng, nRows: number, nCols: number, nnz: number, pattern: CsrPattern = 'uniform'): Csr {
  if (pattern === 'all-empty' || nRows === 0 || nCols === 0) nnz = 0;
  const counts = new Int32Array(nRows);
  const huge = rng.int(Math.max(1, nRows));
  let placed = 0;
  if (pattern === 'one-huge-row' && nRows > 0) {
    counts[huge] = Math.floor(nnz / 2);
    placed = counts[huge];
  }
  const emptyRow = (r: number) => pattern === 'empty-rows' && r % 3 === 1;
  const eligible = [...Array(nRows).keys()].filter((r) => !emptyRow(r));
  for (; placed < nnz && eligible.length > 0; placed++) counts[eligible[rng.int(eligible.length)]]++;
  for (let r = 0; r < nRows; r++) counts[r] = Math.min(counts[r], nCols); // columns are distinct
  const rowPtr = new Int32Array(nRows + 1);
  for (let r = 0; r < nRows; r++) rowPtr[r + 1] = rowPtr[r] + counts[r];
  const total = rowPtr[nRows];
  const colIdx = new Int32Array(total);
  const values = new Float32Array(total);
  for (let r = 0; r < nRows; r++) {
    const cols = uniqueSorted(rng, counts[r], nCols);
    for (let k = 0; k < cols.length; k++) {
      colIdx[rowPtr[r] + k] = cols[k];
      values[rowPtr[r] + k] = rng.uniform(-1, 1);
    }
  }
  return { nRows, nCols, rowPtr, colIdx, values };
}

/** `k` distinct values from [0, n), sorted (k capped at n). */
function uniqueSorted(rng: Rng, k: number, n: number): number[] {
  k = Math.min(k, n);
  if (k > n / 2) {
    const all = rng.shuffle([...Array(n).keys()]);
    return all.slice(0, k).sort((a, b) => a - b);
  }
  const seen = new Set<number>();
  while (seen.size < k) seen.add(rng.int(n));
  return [...seen].sort((a, b) => a - b);
}

export function randomF32(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

/**
 * Per-row sorted lists of excluded items (a CSR with `batch` rows), at most `maxPerRow`
 * each; row `fullRow` excludes every item (the all-masked case).
 */
export function randomExclusions(rng: Rng, batch: number, nItems: number, opts: { fullRow: number; maxPerRow: number }): { rowPtr: Int32Array; colIdx: Int32Array } {
  const rows: number[][] = [];
  for (let r = 0; r < batch; r++) {
    if (r === opts.fullRow) rows.push([...Array(nItems).keys()]);
    else rows.push(uniqueSorted(rng, rng.int(Math.min(nItems, opts.maxPerRow)), nItems));
  }
  const rowPtr = new Int32Array(batch + 1);
  rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i] + r.length));
  return { rowPtr, colIdx: Int32Array.from(rows.flat()) };
}
