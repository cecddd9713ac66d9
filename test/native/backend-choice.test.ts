/**
 * The `auto` backend decision under every combination of adapter kind, native addon and
 * GNNRL_REQUIRE_GPU (the pure chooseBackend), and the native backend end to end where the
 * addon is loaded.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { chooseBackend, Engine, type AdapterKind, type BackendInputs } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { listKernels } from '../../src/backend/kernel-table.js';
import { nativeKernels } from '../../src/native.js';
import '../../src/kernels/index.js';
import '../../src/tensor/index.js';
import { describeNative } from './native-env.js';

const base = (over: Partial<BackendInputs>): BackendInputs => ({
  choice: 'auto',
  via: 'auto',
  forced: false,
  requireGpu: false,
  adapter: 'none',
  adapterText: 'the adapter',
  nativeMissing: undefined,
  ...over,
});

function decide(over: Partial<BackendInputs>): string {
  try {
    return chooseBackend(base(over)).backend;
  } catch (err) {
    expect(err).toBeInstanceOf(GnnrlError);
    return `error:${(err as GnnrlError).code}`;
  }
}

describe('auto backend choice', () => {
  // adapter × addon present × GNNRL_REQUIRE_GPU → backend
  const table: [AdapterKind, boolean, boolean, string][] = [
    ['hardware', true, false, 'webgpu'],
    ['hardware', false, false, 'webgpu'],
    ['software', true, false, 'native'],
    ['software', false, false, 'webgpu'], // without the addon lavapipe still beats the TypeScript kernels
    ['none', true, false, 'native'],
    ['none', false, false, 'cpu'],
    // CI's GPU pass: GNNRL_REQUIRE_GPU=1 keeps every auto engine on WebGPU.
    ['hardware', true, true, 'webgpu'],
    ['software', true, true, 'webgpu'],
    ['software', false, true, 'webgpu'],
    ['none', true, true, 'error:gpu'],
    ['none', false, true, 'error:gpu'],
  ];
  for (const [adapter, addon, requireGpu, want] of table) {
    test(`${adapter} adapter, addon ${addon ? 'loaded' : 'missing'}${requireGpu ? ', GNNRL_REQUIRE_GPU=1' : ''} → ${want}`, () => {
      expect(decide({ adapter, nativeMissing: addon ? undefined : 'not built', requireGpu })).toBe(want);
    });
  }

  test('the reasons say what was seen', () => {
    expect(chooseBackend(base({ adapter: 'software', adapterText: 'llvmpipe' })).reason).toMatch(/native backend chosen by auto: the only WebGPU adapter, llvmpipe, is a software one/);
    expect(chooseBackend(base({ adapter: 'none', adapterText: 'no WebGPU adapter: none found' })).reason).toMatch(/native backend chosen by auto: no WebGPU adapter/);
    const cpu = chooseBackend(base({ adapter: 'none', adapterText: 'no WebGPU adapter', nativeMissing: 'addon not found\nmore' }));
    expect(cpu.reason).toMatch(/^cpu backend: no WebGPU adapter; the native backend is unavailable \(addon not found\)$/);
    expect(cpu.warning).toMatch(/TypeScript CPU backend/);
    expect(chooseBackend(base({ adapter: 'software', adapterText: 'llvmpipe', requireGpu: true })).reason).toMatch(/GNNRL_REQUIRE_GPU=1 asks for WebGPU/);
  });

  test('explicit choices: native needs the addon, webgpu an adapter, cpu nothing', () => {
    for (const adapter of ['hardware', 'software', 'none'] as const) {
      expect(decide({ choice: 'native', via: 'the backend option', adapter })).toBe('native');
      expect(decide({ choice: 'native', via: 'the backend option', adapter, nativeMissing: 'not built' })).toBe('error:native');
      expect(decide({ choice: 'cpu', via: 'the backend option', adapter, nativeMissing: 'not built' })).toBe('cpu');
      expect(decide({ choice: 'webgpu', via: 'the backend option', adapter })).toBe(adapter === 'none' ? 'error:gpu' : 'webgpu');
    }
    // Code may ask for native under GNNRL_REQUIRE_GPU=1 (tests compare backends); the two
    // environment variables contradicting each other is an error.
    expect(decide({ choice: 'native', via: 'the backend option', requireGpu: true })).toBe('native');
    expect(decide({ choice: 'native', via: 'GNNRL_BACKEND', forced: true, requireGpu: true })).toBe('error:gpu');
    const err = (() => {
      try {
        chooseBackend(base({ choice: 'native', via: 'GNNRL_BACKEND', forced: true, nativeMissing: 'build/Release/gnnrl_native.node: not found' }));
      } catch (e) {
        return e as GnnrlError;
      }
    })();
    expect(err?.message).toBe('the native backend was asked for by GNNRL_BACKEND but is unavailable: build/Release/gnnrl_native.node: not found');
    expect(err?.details.arg).toBe('GNNRL_BACKEND');
  });
});

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describeNative('the native backend', () => {
  test('Engine.create({ backend: native }) runs on typed arrays and says why it was chosen', async () => {
    delete process.env.GNNRL_BACKEND;
    const e = await Engine.create({ backend: 'native' });
    expect(e.backend).toBe('native');
    expect(e.isGpu).toBe(false);
    expect(e.reason).toMatch(/^native backend chosen by the backend option \(\d+ threads, .+\)$/);
    const a = e.array(new Float32Array([1, 2, 3]));
    expect(a.backend).toBe('native');
    const b = e.empty('i32', 2);
    e.write(b, new Int32Array([7, 8]));
    expect(await e.read(a)).toEqual(new Float32Array([1, 2, 3]));
    expect(await e.read(b)).toEqual(new Int32Array([7, 8]));
    expect(e.memoryStats().liveBytes).toBe(20);
    await e.dispose();
  });

  test('GNNRL_BACKEND=native forces it; GNNRL_THREADS sizes the pool and is checked', async () => {
    process.env.GNNRL_BACKEND = 'native';
    delete process.env.GNNRL_REQUIRE_GPU;
    const before = nativeKernels().threads();
    try {
      process.env.GNNRL_THREADS = '3';
      const e = await Engine.create({ backend: 'cpu', threads: 1 });
      expect(e.backend).toBe('native');
      expect(e.reason).toMatch(/chosen by GNNRL_BACKEND \(3 threads/);
      expect(nativeKernels().threads()).toBe(3);
      process.env.GNNRL_THREADS = 'many';
      await expect(Engine.create()).rejects.toThrow(/GNNRL_THREADS: expected an integer in \[1, 256\], got 'many'/);
      delete process.env.GNNRL_THREADS;
      await expect(Engine.create({ threads: 0 })).rejects.toThrow(/threads: expected an integer in \[1, 256\], got 0/);
    } finally {
      nativeKernels().setThreads(before);
    }
  });

  test('listKernels says which ops have a native kernel; the rest fall back to the CPU one', () => {
    const native = listKernels().filter((k) => k.backends.includes('native')).map((k) => k.name);
    expect(native.sort()).toEqual(['adam', 'binary', 'copy2d', 'gat.backward', 'gat.forward', 'gather', 'matmul', 'qtarget', 'reduce', 'reduce_into', 'segment_sum', 'seq_attention.backward', 'seq_attention.forward', 'softmax', 'softmax.backward', 'spmm', 'spmm_max.backward', 'spmm_max.forward', 'topk', 'unary']);
    expect(listKernels().find((k) => k.name === 'sgd')?.backends.sort()).toEqual(['cpu', 'webgpu']);
  });
});
