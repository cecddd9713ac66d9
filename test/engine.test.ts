import { afterEach, describe, expect, test } from 'vitest';
import { Engine } from '../src/engine.js';
import { GnnrlError } from '../src/errors.js';
import { listKernels } from '../src/backend/kernel-table.js';
import '../src/kernels/spmm.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('Engine.create backend selection', () => {
  test('GNNRL_BACKEND=cpu forces the CPU backend and says why', async () => {
    process.env.GNNRL_BACKEND = 'cpu';
    delete process.env.GNNRL_REQUIRE_GPU;
    const e = await Engine.create({ backend: 'webgpu' });
    expect(e.backend).toBe('cpu');
    expect(e.reason).toMatch(/GNNRL_BACKEND/);
    await e.dispose();
  });

  test('an unknown GNNRL_BACKEND is an input error naming the variable', async () => {
    process.env.GNNRL_BACKEND = 'cuda';
    await expect(Engine.create()).rejects.toThrow(/GNNRL_BACKEND: expected one of auto, webgpu, cpu, native; got 'cuda'/);
  });

  test('GNNRL_REQUIRE_GPU=1 with the CPU forced is a gpu error', async () => {
    process.env.GNNRL_BACKEND = 'cpu';
    process.env.GNNRL_REQUIRE_GPU = '1';
    const err = await Engine.create().catch((x) => x);
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err.code).toBe('gpu');
  });

  test('the native backend runs where the addon loads, else is a native error saying why', async () => {
    delete process.env.GNNRL_BACKEND;
    const e = await Engine.create({ backend: 'native' }).catch((x) => x);
    if (e instanceof Engine) {
      expect(e.backend).toBe('native');
      await e.dispose();
    } else {
      expect(e).toBeInstanceOf(GnnrlError);
      expect(e.code).toBe('native');
      expect(e.message).toMatch(/native backend was asked for by the backend option but is unavailable/);
    }
  });

  test('a disposed engine refuses further work with a state error', async () => {
    const e = await Engine.create({ backend: 'cpu' });
    await e.dispose();
    expect(() => e.empty('f32', 4)).toThrow(/disposed/);
  });

  test('scope frees what it does not return, keeps what it returns', async () => {
    const e = await Engine.create({ backend: 'cpu' });
    const disposed: string[] = [];
    const mk = (name: string) => e.track({ name, dispose: () => disposed.push(name) });
    const kept = e.scope(() => {
      mk('a');
      const inner = e.scope(() => [mk('b'), mk('c')][1]);
      mk('d');
      return { result: inner };
    });
    expect(disposed.sort()).toEqual(['a', 'b', 'd']);
    expect(kept.result.name).toBe('c');
    expect(() => e.scope(() => Promise.resolve(1))).toThrow(/scopeAsync/);
  });

  test('kernels are registered per backend', () => {
    expect(listKernels().find((k) => k.name === 'spmm')?.backends.sort()).toEqual(['cpu', 'native', 'webgpu']);
  });
});

describe('kernel names', () => {
  test('every registered kernel follows the one rule, and defineKernel refuses others', async () => {
    await import('../src/kernels/index.js');
    await import('../src/tensor/index.js');
    const names = listKernels().map((k) => k.name);
    expect(names.length).toBeGreaterThan(20);
    for (const n of names) expect(n, n).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*(\.(forward|backward))?$/);
    const { defineKernel } = await import('../src/backend/kernel-table.js');
    for (const bad of ['tensor.adam', 'softmax_backward.x', 'Spmm', 'seq-attention']) {
      expect(() => defineKernel(bad, {}), bad).toThrow(/expected <op> or <op>\.forward/);
    }
  });
});
