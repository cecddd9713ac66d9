/**
 * Item-item co-occurrence graph for the KNN baselines: row a holds the topN items that
 * share the most users with a (by count, or binary cosine c / sqrt(deg a * deg b)),
 * ranked by score then lower item id, stored with columns ascending. Mirrors
 * native/cooc_core.cc exactly.
 */
import { resolveImpl } from '../native.js';
import { MAX_INDEX, choiceOpt, csrArg, intArg, optionsObject, threadsOpt } from './args.js';
import type { ImplOption } from './build.js';
import { transposeTs } from './build-ts.js';
import type { Csr } from './types.js';

export type CoocMeasure = 'count' | 'cosine';

export interface CoocOptions extends ImplOption {
  topN: number;
  measure?: CoocMeasure;
  threads?: number;
}

export function cooccurrence(userItem: Csr, opts: CoocOptions): Csr {
  const addon = resolveImpl(opts?.impl);
  if (addon) return addon.cooccurrence(userItem, opts);
  const o = optionsObject(opts);
  const topN = intArg(o.topN, 'topN', 1, MAX_INDEX);
  const measure = choiceOpt(o, 'measure', ['count', 'cosine'] as const, 'count');
  const ui = csrArg(userItem, 'userItem');
  threadsOpt(o);
  return cooccurrenceTs(ui, transposeTs(ui), topN, measure);
}

function cooccurrenceTs(ui: Csr, iu: Csr, topN: number, measure: CoocMeasure): Csr {
  const nI = iu.nRows;
  const cnt = new Int32Array(nI);
  const touched = new Int32Array(nI);
  const rowPtr = new Int32Array(nI + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let a = 0; a < nI; a++) {
    let nt = 0;
    for (let j = iu.rowPtr[a]; j < iu.rowPtr[a + 1]; j++) {
      const u = iu.colIdx[j];
      for (let x = ui.rowPtr[u]; x < ui.rowPtr[u + 1]; x++) {
        const b = ui.colIdx[x];
        if (b === a) continue;
        if (cnt[b]++ === 0) touched[nt++] = b;
      }
    }
    const da = iu.rowPtr[a + 1] - iu.rowPtr[a];
    const cand: { s: number; b: number }[] = new Array(nt);
    for (let t = 0; t < nt; t++) {
      const b = touched[t];
      const c = cnt[b];
      const s = measure === 'cosine' ? c / Math.sqrt(da * (iu.rowPtr[b + 1] - iu.rowPtr[b])) : c;
      cand[t] = { s, b };
      cnt[b] = 0;
    }
    cand.sort((x, y) => (x.s !== y.s ? y.s - x.s : x.b - y.b));
    const keep = cand.slice(0, Math.min(topN, nt)).sort((x, y) => x.b - y.b);
    for (const c of keep) {
      cols.push(c.b);
      vals.push(c.s);
    }
    rowPtr[a + 1] = cols.length;
  }
  return { nRows: nI, nCols: nI, rowPtr, colIdx: Int32Array.from(cols), values: Float32Array.from(vals) };
}
