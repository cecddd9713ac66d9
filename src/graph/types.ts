/**
 * A compressed sparse row matrix: row r's entries are colIdx[rowPtr[r] .. rowPtr[r+1])
 * with values at the same positions. Columns are sorted within each row.
 * This is the one sparse layout the native builder produces, the TypeScript builder
 * mirrors, and the SpMM kernels consume.
 */
export interface Csr {
  nRows: number;
  nCols: number;
  /** Length nRows + 1, rowPtr[0] = 0, non-decreasing, rowPtr[nRows] = nnz. */
  rowPtr: Int32Array;
  /** Length nnz, each in [0, nCols). */
  colIdx: Int32Array;
  /** Length nnz. */
  values: Float32Array;
}
