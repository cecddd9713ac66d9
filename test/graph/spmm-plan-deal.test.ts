/**
 * The SpMM plan's unit order (graph/layout.ts, `deal`): 'spread' holds the same units as
 * 'longest-first' (each writes its own row or slot, so results cannot change), keeps each
 * block of SPMM_DEAL_BLOCK units intact, and spreads the non-zeros so that the first half
 * of the units holds about half of them, where longest-first puts most of them there.
 */
import { expect, test } from 'vitest';
import { SPMM_DEAL_BLOCK, spmmPlanArrays } from '../../src/graph/layout.js';
import { Rng } from '../../src/util/rng.js';
import { randomCsr } from '../util/random-csr.js';
import { GnnrlError } from '../../src/errors.js';

const unitsOf = (u: Int32Array) => Array.from({ length: u.length / 4 }, (_, i) => Array.from(u.subarray(4 * i, 4 * i + 4)).join(','));
const nnzShare = (u: Int32Array) => {
  const n = u.length / 4;
  let first = 0;
  let all = 0;
  for (let i = 0; i < n; i++) {
    const len = u[4 * i + 2] - u[4 * i + 1];
    all += len;
    if (i < n / 2) first += len;
  }
  return first / all;
};

test('spread deals the same units in whole blocks and balances the halves', () => {
  // A power-law-ish matrix: a few long rows, many short ones.
  const rng = new Rng(9);
  const csr = randomCsr(rng, 3000, 4000, 60000, 'one-huge-row');
  const a = spmmPlanArrays(csr, 64, { deal: 'longest-first' });
  const b = spmmPlanArrays(csr, 64);
  expect(b.nSlots).toBe(a.nSlots);
  expect(Array.from(b.split)).toEqual(Array.from(a.split));
  expect(unitsOf(b.units).sort()).toEqual(unitsOf(a.units).sort());
  // The first blocks of 'spread' are blocks 0 and 2^(bits−1) of longest-first, whole.
  const ua = unitsOf(a.units);
  const ub = unitsOf(b.units);
  const B = Math.ceil(ua.length / SPMM_DEAL_BLOCK);
  const half = 1 << (Math.ceil(Math.log2(B)) - 1);
  expect(ub.slice(0, SPMM_DEAL_BLOCK)).toEqual(ua.slice(0, SPMM_DEAL_BLOCK));
  expect(ub.slice(SPMM_DEAL_BLOCK, 2 * SPMM_DEAL_BLOCK)).toEqual(ua.slice(half * SPMM_DEAL_BLOCK, (half + 1) * SPMM_DEAL_BLOCK));
  expect(nnzShare(a.units)).toBeGreaterThan(0.6);
  // Block granularity bounds the gap by the heaviest block minus the lightest (here < 7% of all).
  expect(Math.abs(nnzShare(b.units) - 0.5)).toBeLessThan(0.06);
  expect(() => spmmPlanArrays(csr, 64, { deal: 'random' as never })).toThrow(GnnrlError);
});
