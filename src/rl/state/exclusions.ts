/**
 * The items each observation's slot should not be shown again: its history window, as
 * the sorted-column CSR rows that `topK`, `qTargets` and `RecommenderModel.recommend`
 * take. Policies exclude what the user has just consumed (the simulator penalises
 * repeats; a log rarely repeats an item), and DQN's targets mask the same set.
 */
import type { Observation } from '../types.js';

export interface ExclusionRows {
  rowPtr: Int32Array;
  colIdx: Int32Array;
}

export function historyExclusions(obs: Observation): ExclusionRows {
  return windowExclusions(obs.historyItems, obs.batch, obs.historyLen);
}

/** The same rows from B × H windows stored elsewhere (a replay batch's `nextHistory`). */
export function windowExclusions(historyItems: Int32Array, B: number, H: number): ExclusionRows {
  const rowPtr = new Int32Array(B + 1);
  const colIdx = new Int32Array(B * H);
  let n = 0;
  const row: number[] = [];
  for (let b = 0; b < B; b++) {
    row.length = 0;
    for (let j = 0; j < H; j++) {
      const i = historyItems[b * H + j];
      if (i >= 0) row.push(i);
    }
    row.sort((x, y) => x - y);
    let last = -1;
    for (const i of row) {
      if (i === last) continue;
      colIdx[n++] = last = i;
    }
    rowPtr[b + 1] = n;
  }
  return { rowPtr, colIdx: colIdx.slice(0, n) };
}

/** True when item i is in row b of `rows` (binary search over the sorted columns). */
export function isExcluded(rows: ExclusionRows, b: number, i: number): boolean {
  let lo = rows.rowPtr[b];
  let hi = rows.rowPtr[b + 1];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const v = rows.colIdx[mid];
    if (v === i) return true;
    if (v < i) lo = mid + 1;
    else hi = mid;
  }
  return false;
}
