/**
 * Runs one suite against every backend: the CPU backend is the oracle, the WebGPU and
 * native backends must match it. WebGPU cases are skipped (visibly) only when no adapter
 * exists and GNNRL_REQUIRE_GPU is not set, native ones only when the addon does not load
 * and GNNRL_REQUIRE_NATIVE is not set; GNNRL_BACKEND=<kind> runs that backend alone.
 */
import { afterAll, beforeAll, describe, type TestContext } from 'vitest';
import { Engine } from '../../src/engine.js';
import type { BackendKind } from '../../src/backend/arrays.js';

export interface BackendHandle {
  kind: BackendKind;
  /** The engine for this backend; calls `ctx.skip()` when the backend is unavailable. */
  engine(ctx?: TestContext): Engine;
}

export function forEachBackend(title: string, body: (b: BackendHandle) => void): void {
  const forced = process.env.GNNRL_BACKEND?.toLowerCase();
  const kinds: BackendKind[] = forced === 'cpu' ? ['cpu'] : forced === 'webgpu' ? ['webgpu'] : forced === 'native' ? ['native'] : ['cpu', 'webgpu', 'native'];
  for (const kind of kinds) {
    describe(`${title} [${kind}]`, () => {
      let engine: Engine | null = null;
      let unavailable: string | null = null;
      beforeAll(async () => {
        try {
          engine = await Engine.create({ backend: kind, quiet: true });
        } catch (err) {
          // CI requires both: WebGPU (GNNRL_REQUIRE_GPU) and the addon (GNNRL_REQUIRE_NATIVE).
          if (kind === 'webgpu' && process.env.GNNRL_REQUIRE_GPU === '1') throw err;
          if (kind === 'native' && process.env.GNNRL_REQUIRE_NATIVE === '1') throw err;
          unavailable = (err as Error).message;
          console.warn(`skipping ${kind} cases: ${unavailable}`);
        }
      });
      afterAll(async () => {
        await engine?.dispose();
      });
      body({
        kind,
        engine(ctx?: TestContext): Engine {
          if (!engine) {
            if (ctx) ctx.skip(`${kind} backend unavailable: ${unavailable}`);
            throw new Error(`${kind} backend unavailable: ${unavailable}`);
          }
          return engine;
        },
      });
    });
  }
}

/** A fresh seed per run (printed on failure), or GNNRL_TEST_SEED to replay one. */
export function testSeed(): number {
  const env = process.env.GNNRL_TEST_SEED;
  return env ? Number(env) : (Date.now() ^ (process.pid << 8)) >>> 0;
}

/**
 * The engine for learning runs (many small steps: a software WebGPU adapter spends them on
 * dispatch overhead): native where the addon loads, else the CPU; GNNRL_BACKEND still
 * forces its choice. Kernels are compared across backends by forEachBackend suites.
 */
export async function learningEngine(): Promise<Engine> {
  try {
    return await Engine.create({ backend: 'native', quiet: true });
  } catch {
    return Engine.create({ backend: 'cpu', quiet: true });
  }
}
