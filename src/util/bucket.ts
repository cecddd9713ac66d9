/**
 * The one counting sort of the code base: positions grouped by an integer key, stable.
 * Every CSR build, transpose and per-user grouping is this primitive plus what it does
 * with the order (merge duplicates, carry values, sort within a row), so it lives once,
 * in the lowest layer, and the callers say only what is theirs.
 */

/** `order[offsets[k] .. offsets[k + 1])` are the positions whose key is k, in input order. */
export interface Buckets {
  offsets: Int32Array;
  order: Int32Array;
}

/**
 * Groups positions by `keys[position]` ∈ [0, nKeys). `within` (default 0, 1, …, n − 1)
 * is the sequence of positions to place, so a second pass over the first pass's order
 * gives a sort by two keys (least significant first). O(n + nKeys).
 */
export function bucketByKey(keys: ArrayLike<number>, nKeys: number, within?: ArrayLike<number>): Buckets {
  const n = within ? within.length : keys.length;
  const offsets = new Int32Array(nKeys + 1);
  for (let j = 0; j < n; j++) offsets[keys[within ? within[j] : j] + 1]++;
  for (let k = 0; k < nKeys; k++) offsets[k + 1] += offsets[k];
  const fill = offsets.slice(0, nKeys);
  const order = new Int32Array(n);
  if (within) for (let j = 0; j < n; j++) order[fill[keys[within[j]]]++] = within[j];
  else for (let j = 0; j < n; j++) order[fill[keys[j]]++] = j;
  return { offsets, order };
}

/** Entries of a CSR matrix grouped by column (the transpose's layout): `order` holds entry ids. */
export function bucketByColumn(colIdx: Int32Array, nCols: number, nnz = colIdx.length): Buckets {
  return bucketByKey(nnz === colIdx.length ? colIdx : colIdx.subarray(0, nnz), nCols);
}

/** The row of every entry of a CSR matrix (the inverse of rowPtr). */
export function rowOfEntries(rowPtr: Int32Array, nRows: number): Int32Array {
  const out = new Int32Array(rowPtr[nRows]);
  for (let r = 0; r < nRows; r++) out.fill(r, rowPtr[r], rowPtr[r + 1]);
  return out;
}
