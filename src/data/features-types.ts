/** Node features as one dense row-major matrix, the form encoders take. */
export interface FeatureTable {
  nRows: number;
  dim: number;
  /** nRows × dim, row-major. */
  data: Float32Array;
  /** One name per column ("gender=F", "age", "genre=Comedy"). */
  names: string[];
}
