/**
 * The fitted simulator on a generated log: calibration reproduces the log's item
 * popularity ranking (click shares of simulated sessions shown the whole catalogue,
 * Spearman against the log's counts) and the target CTR of a fresh session shown one
 * item drawn by the log's popularity (within ±0.02), and its click temperature follows the
 * generating world's; k-means groups; coded errors.
 */
import { describe, expect, test } from 'vitest';
import { GnnrlError } from '../../src/errors.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { calibrate, calibrationOptions, fittedFromWorld, fittedSimulator, itemClusters, type FittedTables } from '../../src/rl/env/fitted.js';
import { Rng } from '../../src/util/rng.js';

const world = syntheticWorld({ nUsers: 300, nItems: 240, dim: 8, meanEvents: 30, seed: 5 });
const log = world.interactions;
const tables: FittedTables = { dim: world.dim, users: world.userFactors, items: world.itemFactors, source: 'true' };
const counts = new Float64Array(log.nItems);
for (const i of log.item) counts[i]++;

function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  for (let j = 0; j < idx.length; ) {
    let k = j;
    while (k + 1 < idx.length && x[idx[k + 1]] === x[idx[j]]) k++;
    for (let m = j; m <= k; m++) r[idx[m]] = (j + k) / 2;
    j = k + 1;
  }
  return r;
}
function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n;
  const mb = rb.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) (sab += (ra[i] - ma) * (rb[i] - mb)), (saa += (ra[i] - ma) ** 2), (sbb += (rb[i] - mb) ** 2);
  return sab / Math.sqrt(saa * sbb);
}

describe('fitted simulator calibration (generated log)', () => {
  const { sim, world: fitted, calibration } = fittedSimulator(log, tables, { batch: 512 }, { ctr: 0.25, seed: 2 });

  test('a fresh session shown one item drawn by the log\'s popularity clicks at the target CTR (±0.02)', () => {
    expect(calibration.fittedCtr).toBeCloseTo(0.25, 6);
    const rng = new Rng(9);
    const cdf = new Float64Array(log.nItems);
    let acc = 0;
    for (let i = 0; i < log.nItems; i++) cdf[i] = acc += counts[i] / log.item.length;
    let clicks = 0;
    let shown = 0;
    for (let rep = 0; rep < 40; rep++) {
      const obs = sim.reset(100 + rep);
      const slate = new Int32Array(obs.batch);
      for (let b = 0; b < obs.batch; b++) {
        const u = rng.next();
        let i = 0;
        while (cdf[i] < u && i < log.nItems - 1) i++;
        slate[b] = i;
      }
      const r = sim.step(slate);
      for (let b = 0; b < obs.batch; b++) clicks += r.click[b];
      shown += obs.batch;
    }
    expect(Math.abs(clicks / shown - 0.25)).toBeLessThan(0.02);
  });

  test('sessions shown the whole catalogue click items in the log\'s popularity order (Spearman ≥ 0.8)', () => {
    const all = fittedFromWorld(fitted, calibration, { batch: 256, slateSize: log.nItems });
    const clicked = new Float64Array(log.nItems);
    const rng = new Rng(4);
    for (let rep = 0; rep < 60; rep++) {
      all.reset(rep);
      const slate = new Int32Array(256 * log.nItems);
      for (let b = 0; b < 256; b++) {
        const perm = Int32Array.from({ length: log.nItems }, (_, i) => i);
        rng.shuffle(perm);
        slate.set(perm, b * log.nItems);
      }
      const r = all.step(slate);
      for (let b = 0; b < 256; b++) if (r.choice[b] >= 0) clicked[slate[b * log.nItems + r.choice[b]]]++;
    }
    const rho = spearman(clicked, counts);
    expect(rho, `Spearman ${rho.toFixed(3)}`).toBeGreaterThanOrEqual(0.8);
    // Uncalibrated popularity (uniform) would not reproduce it: the check can fail.
    const flat = { ...calibration, popularity: new Float64Array(log.nItems).fill(1 / log.nItems) };
    const plain = fittedFromWorld({ ...fitted, popularity: flat.popularity }, flat, { batch: 256, slateSize: log.nItems });
    const clicked2 = new Float64Array(log.nItems);
    for (let rep = 0; rep < 60; rep++) {
      plain.reset(rep);
      const slate = new Int32Array(256 * log.nItems);
      for (let b = 0; b < 256; b++) for (let i = 0; i < log.nItems; i++) slate[b * log.nItems + i] = i;
      const r = plain.step(slate);
      for (let b = 0; b < 256; b++) if (r.choice[b] >= 0) clicked2[r.choice[b]]++;
    }
    expect(spearman(clicked2, counts)).toBeLessThan(rho - 0.1);
  });

  test('the fitted click temperature follows the generating world\'s: a sharper world gives a smaller τ', () => {
    // Not equal to τ_world / sd(a): the generator never repeats an item for a user and
    // drifts interests, both of which flatten the observed choices (a documented bias).
    const fitTau = (temperature: number) => {
      const w = syntheticWorld({ nUsers: 300, nItems: 240, dim: 8, meanEvents: 10, drift: 0, temperature, seed: 6 });
      return calibrate(w.interactions, { dim: w.dim, users: w.userFactors, items: w.itemFactors, source: 'true' }).temperature;
    };
    const sharp = fitTau(0.25);
    const flat = fitTau(1);
    expect(sharp, `τ ${sharp.toFixed(3)} (world 0.25) vs ${flat.toFixed(3)} (world 1)`).toBeLessThan(flat / 2);
    expect(calibration.users).toBe(world.nUsers);
  });

  test('fatigue groups are k-means clusters: dense indices, seeded, and the simulator uses them', () => {
    const g1 = itemClusters(world.itemFactors, world.dim, 16, 3);
    const g2 = itemClusters(world.itemFactors, world.dim, 16, 3);
    expect(Array.from(g1)).toEqual(Array.from(g2));
    expect(new Set(g1).size).toBe(Math.max(...g1) + 1);
    expect(fitted.itemGroup.length).toBe(log.nItems);
    expect(sim.config.clickbaitShare).toBe(0);
    expect(sim.config.temperature).toBe(calibration.temperature);
  });

  test('bad calibration options are coded errors naming the option', () => {
    const e = (() => {
      try {
        calibrationOptions({ ctr: 1.2 });
      } catch (x) {
        return x as GnnrlError;
      }
      return null;
    })();
    expect(e?.code).toBe('input');
    expect(e?.message).toMatch(/env-options\.ctr: expected a number in \(0, 1\), got 1\.2/);
    expect(() => calibrate(log, { ...tables, users: new Float32Array(3) })).toThrow(/tables/);
  });
});
