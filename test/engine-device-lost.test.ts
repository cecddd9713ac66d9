/**
 * Device loss (issue #12): the engine listens for the WebGPU device's `lost`, reports it
 * once (to `onDeviceLost`, else a process warning), refuses every later call with a 'gpu'
 * error saying what happened and what to do, disposes cleanly, and a new engine works.
 * The loss is provoked by destroying the device behind the engine's back, the one way
 * to lose a device on purpose; `dispose()` destroying it is not reported.
 */
import { expect, test } from 'vitest';
import { Engine, type DeviceLossReport } from '../src/engine.js';
import { GnnrlError } from '../src/errors.js';

/** WebGPU unless GNNRL_BACKEND forces another backend; a missing adapter skips visibly unless GNNRL_REQUIRE_GPU=1. */
async function webgpuEngine(onDeviceLost: (i: DeviceLossReport) => void): Promise<Engine | string> {
  const forced = process.env.GNNRL_BACKEND?.toLowerCase();
  if (forced && forced !== 'webgpu' && forced !== 'auto') return `GNNRL_BACKEND=${forced}`;
  try {
    return await Engine.create({ backend: 'webgpu', quiet: true, onDeviceLost });
  } catch (err) {
    if (process.env.GNNRL_REQUIRE_GPU === '1') throw err;
    return (err as Error).message;
  }
}

test('a lost device is reported once, refuses work, and a new engine runs', async (ctx) => {
  const seen: DeviceLossReport[] = [];
  const made = await webgpuEngine((i) => seen.push(i));
  if (typeof made === 'string') return ctx.skip(`no WebGPU engine: ${made}`);
  const engine = made;
  const a = engine.array(Float32Array.of(1, 2, 3));
  expect(Array.from(await engine.read(a))).toEqual([1, 2, 3]);
  expect(engine.lost).toBeNull();
  (engine.gpu as unknown as { device: GPUDevice }).device.destroy();
  for (let i = 0; i < 50 && !engine.lost; i++) await new Promise((r) => setTimeout(r, 10));
  expect(seen).toHaveLength(1);
  expect(engine.lost?.reason).toBe('destroyed');
  let err: unknown;
  try {
    engine.array(Float32Array.of(4));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GnnrlError);
  expect((err as GnnrlError).code).toBe('gpu');
  expect((err as GnnrlError).message).toMatch(/device was lost.*Engine\.create\(\)/);
  await engine.dispose();
  expect(seen).toHaveLength(1);

  const again = (await webgpuEngine((i) => seen.push(i))) as Engine;
  const b = again.array(Float32Array.of(5, 6));
  expect(Array.from(await again.read(b))).toEqual([5, 6]);
  await again.dispose();
  expect(seen).toHaveLength(1); // dispose() destroying the device is not a loss
});
