import { expect, test } from 'vitest';
import { InteractionGraph } from '../../src/graph/interaction-graph.js';
import { powerLawInteractions } from '../../src/graph/powerlaw.js';
import { spmm, spmmReference } from '../../src/kernels/spmm.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { expectAllClose } from '../util/close.js';
import { randomF32 } from '../util/random-csr.js';
import { Rng } from '../../src/util/rng.js';

forEachBackend('InteractionGraph on a device', (b) => {
  test('uploads each adjacency kind once per engine, multiplies correctly, and releases it', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const coo = powerLawInteractions({ nUsers: 300, nItems: 200, nnz: 3_000, seed });
    const g = InteractionGraph.fromInteractions({ users: coo.users, items: coo.items, nUsers: 300, nItems: 200 });
    const before = engine.memoryStats().liveBytes;
    const A = g.adjacencyOnDevice(engine);
    expect(g.adjacencyOnDevice(engine)).toBe(A);
    const rowNorm = g.adjacencyOnDevice(engine, { norm: 'row' });
    expect(rowNorm).not.toBe(A);
    expect(g.deviceMemoryBytes(engine)).toBeGreaterThan(0);
    expect(A.plan !== undefined).toBe(b.kind === 'webgpu');
    const d = 16;
    const x = randomF32(new Rng(seed), 500 * d);
    const y = spmm(engine, A, engine.array(x), d);
    expectAllClose(await engine.read(y), spmmReference(g.adjacency(), x, d), { scale: new Float64Array(500 * d).fill(1), context: `(seed ${seed})` });
    engine.free(y);
    g.releaseDevice(engine);
    expect(g.deviceMemoryBytes(engine)).toBe(0);
    // Everything uploaded above is back: only the x upload remains live.
    expect(engine.memoryStats().liveBytes - before).toBeLessThanOrEqual(b.kind === 'webgpu' ? 500 * d * 4 * 1.125 + 16 : 500 * d * 4);
  });
});
