/** A tiny random user-item graph for the LightGCN and GCN layer tests, with float64 helpers. */
import { InteractionGraph } from '../../src/graph/interaction-graph.js';
import type { Csr } from '../../src/graph/types.js';
import { Rng } from '../../src/util/rng.js';

/**
 * `nUsers` × `nItems` with 1–3 items per user (so degrees vary), plus one item nobody
 * chose: an isolated node must come out of Â·X as zeros, not NaN.
 */
export function tinyGraph(seed: number, nUsers = 5, nItems = 7): InteractionGraph {
  const rng = new Rng(seed);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const k = 1 + rng.int(3);
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(rng.int(nItems - 1));
    for (const i of chosen) {
      users.push(u);
      items.push(i);
    }
  }
  return InteractionGraph.fromInteractions({ users: Int32Array.from(users), items: Int32Array.from(items), nUsers, nItems });
}

/** y = A·x for CSR A and row-major x [nCols, d], in float64. */
export function spmm64(a: Csr, x: ArrayLike<number>, d: number): Float64Array {
  const y = new Float64Array(a.nRows * d);
  for (let r = 0; r < a.nRows; r++) {
    for (let e = a.rowPtr[r]; e < a.rowPtr[r + 1]; e++) {
      const v = a.values[e];
      const c = a.colIdx[e];
      for (let j = 0; j < d; j++) y[r * d + j] += v * x[c * d + j];
    }
  }
  return y;
}
