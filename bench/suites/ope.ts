/**
 * Off-policy evaluation's speed: logged events per second through the estimators, on
 * 100,000 events of a single-item log (host TypeScript over typed arrays; the estimators
 * have no device kernels, so there is one row per estimator, not per backend).
 * - `ips-point`: the IPS point estimate alone, the baseline (one pass over the events);
 * - `dr-point`: doubly robust's point estimate (the same pass plus the direct model's terms);
 * - `dr+bootstrap`: DR with its 95% bootstrap interval (1,000 replicates, 200 with --quick),
 *   as `estimateAll` and `gnnrl ope` compute it;
 * - `all+bootstrap`: IPS, SNIPS and DR together on one shared set of resamples.
 * Events/s are 100,000 × 1000 / median ms.
 */
import { doublyRobust, estimateAll, estimateValue, ips, snips, type OpeInput } from '../../src/eval/ope/estimators.js';
import { Rng } from '../../src/util/rng.js';
import type { Suite, SuiteContext } from '../harness.js';

const EVENTS = 100_000;

function syntheticLog(n: number): OpeInput {
  const rng = new Rng(1);
  const reward = new Float64Array(n);
  const propensity = new Float64Array(n);
  const target = new Float64Array(n);
  const directLogged = new Float64Array(n);
  const directTarget = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    propensity[i] = 0.001 + 0.2 * rng.next();
    target[i] = rng.next() < 0.1 ? 1 : 0;
    reward[i] = rng.next() < 0.2 ? 1 : 0;
    directLogged[i] = 0.2 + 0.05 * rng.normal();
    directTarget[i] = 0.25 + 0.05 * rng.normal();
  }
  return { reward, propensity, target, directLogged, directTarget };
}

async function cases(ctx: SuiteContext): Promise<void> {
  const input = syntheticLog(EVENTS);
  const replicates = ctx.quick ? 200 : 1000;
  const name = `OPE ${EVENTS.toLocaleString('en')} events`;
  const maxTime = ctx.quick ? 1 : 4;
  await ctx.measure('ope', name, 'ips-point', () => estimateValue(ips, input), { maxTime });
  await ctx.measure('ope', name, 'dr-point', () => estimateValue(doublyRobust, input), { maxTime });
  await ctx.measure('ope', name, `dr+bootstrap-${replicates}`, () => estimateAll([doublyRobust], input, { replicates }), { maxTime, minSamples: 3 });
  await ctx.measure('ope', name, `all+bootstrap-${replicates}`, () => estimateAll([ips, snips, doublyRobust], input, { replicates }), { maxTime, minSamples: 3 });
}

export const suite: Suite = {
  name: 'ope',
  baseline: 'ips-point',
  run: cases,
};
