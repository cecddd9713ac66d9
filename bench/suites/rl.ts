/**
 * The RL layer's speed:
 * - the simulator: one batched step of 1,024 sessions on sim:small (2,000 items, d 8,
 *   slate 1), against its choice model alone in the same process (the analytic choice
 *   probabilities of the same slates: utilities and softmax, no draws, no state change),
 *   so the row says what the dynamics (draws, satisfaction, fatigue, drift, history,
 *   episode resets) cost on top;
 * - DQN: one `update()` (sample 512 transitions, Double-DQN targets through `qTargets`
 *   over the whole catalogue, TD loss, backward, Adam, target sync) over 2,000 and 50,000
 *   items at d 64, on each backend, the CPU backend being the baseline.
 * - REINFORCE (top-K corrected, β learned): one update from a logged minibatch of 512
 *   events over 2,000 and 50,000 items at d 64 (catalogue softmax and its normaliser in
 *   row chunks, the behaviour head's softmax too, backward, Adam), per backend.
 * Slot-steps/s and updates/s are 1000 / median ms (× 1,024 for the simulator).
 */
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { Simulator } from '../../src/rl/env/simulator.js';
import { DqnAgent } from '../../src/rl/agents/dqn.js';
import { createReinforceAgent, trainReinforceFromLog } from '../../src/rl/agents/reinforce.js';
import type { LoggedData } from '../../src/rl/log/format.js';
import { WindowStateEncoder, randomTables } from '../../src/rl/state/window-state.js';
import { Rng } from '../../src/util/rng.js';
import { engineBackends, type Suite, type SuiteContext } from '../harness.js';

const SESSIONS = 1024;

function randomActions(rng: Rng, n: number, nItems: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(nItems));
}

async function simulatorCases(ctx: SuiteContext): Promise<void> {
  const world = syntheticWorld({ preset: 'small', seed: 1 });
  const sim = new Simulator(world, { batch: SESSIONS });
  sim.reset(1);
  const rng = new Rng(2);
  const actions = randomActions(rng, SESSIONS, world.nItems);
  const caseName = `sim:small step, ${SESSIONS} sessions, slate 1`;
  await ctx.measure('rl', caseName, 'choice-model', () => sim.choiceProbabilities(actions), { maxTime: ctx.quick ? 1 : 3 });
  await ctx.measure('rl', caseName, 'step', () => sim.step(actions), { maxTime: ctx.quick ? 1 : 3 });
}

async function dqnCase(ctx: SuiteContext, backend: 'cpu' | 'webgpu' | 'native', nItems: number): Promise<void> {
  const batchSize = ctx.quick ? 128 : 512;
  const world = syntheticWorld({ nUsers: SESSIONS, nItems, dim: 8, meanEvents: 5, seed: 3 });
  const sim = new Simulator(world, { batch: SESSIONS });
  const engine = await Engine.create({ backend, quiet: true });
  const encoder = new WindowStateEncoder(engine, randomTables(world.nUsers, nItems, 64, 4), sim.historyLen);
  const agent = await DqnAgent.create(
    { engine, encoder, slots: SESSIONS, slateSize: 1 },
    { batchSize, learningStarts: batchSize, capacity: 4 * SESSIONS, hidden: [64], nStep: 1, double: true, targetUpdate: 100, seed: 5 },
  );
  try {
    // Fill the replay with one batched step of random slates (1,024 transitions).
    const rng = new Rng(6);
    let obs = sim.reset(7);
    for (let s = 0; s < 2; s++) {
      const actions = randomActions(rng, SESSIONS, nItems);
      const r = sim.step(actions);
      agent.observe({ obs, actions, slateSize: 1, result: r });
      obs = r.next;
    }
    await ctx.measure('rl', `DQN update B=${batchSize} I=${nItems} d=64`, backend, async () => {
      const rep = await agent.update();
      if (!rep) throw new Error('bench rl: DQN did not update (replay not filled)');
    }, { minSamples: backend === 'cpu' && nItems > 10_000 ? 2 : 3, maxTime: ctx.quick ? 1 : 8 });
  } finally {
    agent.dispose();
    encoder.dispose();
    await engine.dispose();
  }
}

/** A seeded single-item propensity log of `n` events over `nItems` items (uniform logger). */
function randomLog(rng: Rng, n: number, nUsers: number, nItems: number, H: number): LoggedData {
  const history = Int32Array.from({ length: n * H }, () => rng.int(nItems));
  return {
    n,
    slateSize: 1,
    historyLen: H,
    user: Int32Array.from({ length: n }, () => rng.int(nUsers)),
    session: null,
    step: new Int32Array(n),
    history,
    slate: Int32Array.from({ length: n }, () => rng.int(nItems)),
    position: new Int32Array(n),
    reward: Float32Array.from({ length: n }, () => (rng.next() < 0.2 ? 1 : 0)),
    propensity: new Float64Array(n).fill(1 / nItems),
    positionPropensity: null,
    time: new Float64Array(n),
    propensitySource: 'logged',
  };
}

async function reinforceCase(ctx: SuiteContext, backend: 'cpu' | 'webgpu' | 'native', nItems: number): Promise<void> {
  const batch = ctx.quick ? 128 : 512;
  const nUsers = 1000;
  const H = 10;
  const engine = await Engine.create({ backend, quiet: true });
  const encoder = new WindowStateEncoder(engine, randomTables(nUsers, nItems, 64, 4), H);
  const agent = await createReinforceAgent({ engine, encoder, slots: 64, slateSize: 1, nItems }, { batchSize: batch, hidden: [64], topK: true, behaviour: 'learned', seed: 5 });
  const log = randomLog(new Rng(8), batch, nUsers, nItems, H);
  try {
    await ctx.measure('rl', `REINFORCE top-K update B=${batch} I=${nItems} d=64`, backend, async () => {
      const r = await trainReinforceFromLog(agent, log, { epochs: 1 });
      if (r.updates !== 1) throw new Error(`bench rl: expected one REINFORCE update, got ${r.updates}`);
    }, { minSamples: backend === 'cpu' && nItems > 10_000 ? 2 : 3, maxTime: ctx.quick ? 1 : 8 });
  } finally {
    agent.dispose();
    encoder.dispose();
    await engine.dispose();
  }
}

export const suite: Suite = {
  name: 'rl',
  // The simulator's rows compare with its choice model; DQN's with the CPU backend.
  baseline: 'choice-model',
  async run(ctx) {
    await simulatorCases(ctx);
    for (const nItems of ctx.quick ? [2_000] : [2_000, 50_000]) {
      for (const backend of engineBackends(['cpu', 'webgpu'])) await dqnCase(ctx, backend, nItems);
    }
    for (const nItems of ctx.quick ? [2_000] : [2_000, 50_000]) {
      for (const backend of engineBackends(['cpu', 'webgpu'])) await reinforceCase(ctx, backend, nItems);
    }
  },
};
