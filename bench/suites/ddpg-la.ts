/**
 * DDPG-LA training throughput (records/s): one training round of the rating agent (state
 * = RLSTM long-term + T-self-attention short-term interest, DDPG actor and critic updates)
 * on the `medium` synthetic world written as a MovieLens folder (`gnnrl generate`), over
 * the first 96 users' records (about 4,500) so that a round fits a benchmark sample, on
 * each backend; the CPU backend is the baseline. records/s = records of the round /
 * median seconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { loadMovieLens } from '../../src/data/movielens.js';
import { writeSyntheticMovieLens } from '../../src/data/synthetic-movielens.js';
import { filterByMask, type Interactions } from '../../src/data/interactions.js';
import { DdpgLaModel } from '../../src/models/ddpg-la/model.js';
import { engineBackends, type Suite } from '../harness.js';

// A round is slow (about 120 records/s on native, 25 on the CPU backend, 2-core AMD EPYC): a
// few dozen users keep one sample under a minute on the fastest backend.
const USERS = 96;

export const suite: Suite = {
  name: 'ddpg-la',
  baseline: 'cpu',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-bench-ddpgla-'));
    try {
      await writeSyntheticMovieLens(dir, { preset: ctx.quick ? 'small' : 'medium', seed: 42 });
      const all = await loadMovieLens(dir, { features: true });
      const users = ctx.quick ? 24 : USERS;
      const mask = Uint8Array.from(all.user, (u) => (u < users ? 1 : 0));
      const train: Interactions = filterByMask(all, mask);
      const records = train.user.length;
      ctx.log(`${ctx.quick ? 'small' : 'medium'} world: ${all.user.length} ratings; the round covers users 0..${users - 1}: ${records} records`);
      for (const backend of engineBackends(['cpu', 'webgpu'])) {
        const engine = await Engine.create({ backend, quiet: true });
        try {
          await ctx.measure('ddpg-la', `one round, ${records} records (${users} users), default options`, backend, async () => {
            const model = new DdpgLaModel({ epochs: 1, seed: 1 }, { engine });
            try {
              await model.fit(train, { epochs: 1 });
            } finally {
              model.dispose();
            }
          }, { minSamples: 2, maxTime: ctx.quick ? 1 : 5 });
        } finally {
          await engine.dispose();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
