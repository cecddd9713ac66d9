import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine.js';
import { GnnrlError } from '../../src/errors.js';
import { bucketSize } from '../../src/gpu/buffer-pool.js';
import { spmm } from '../../src/kernels/spmm.js';
import { qTargets } from '../../src/kernels/qtarget.js';
import { waitFor } from '../../src/gpu/runtime.js';

const wantGpu = process.env.GNNRL_BACKEND?.toLowerCase() !== 'cpu';
const e2s = (e: Engine): string => `${e.adapter?.description ?? ''} ${e.adapter?.device ?? ''}`;

describe.runIf(wantGpu)('WebGPU runtime', () => {
  let engine: Engine | null = null;
  let skipReason = '';
  beforeAll(async () => {
    try {
      engine = await Engine.create({ backend: 'webgpu' });
    } catch (err) {
      if (process.env.GNNRL_REQUIRE_GPU === '1') throw err;
      skipReason = (err as Error).message;
    }
  });
  afterAll(async () => engine?.dispose());
  const need = (ctx: { skip(msg?: string): void }): Engine => {
    if (!engine) ctx.skip(`no WebGPU adapter: ${skipReason}`);
    return engine!;
  };

  test('reports a WGSL compile error with the shader file, line and column', async (ctx) => {
    const gpu = need(ctx).gpu;
    const source = 'override WG: u32 = 64;\n@compute @workgroup_size(WG)\nfn main() {\n  let x: f32 = undefined_thing;\n}\n';
    const err = await gpu.compile({ name: 'broken', shader: 'broken.wgsl', source }).catch((e) => e);
    expect(err).toBeInstanceOf(GnnrlError);
    expect(err.code).toBe('shader');
    expect(err.message).toMatch(/kernel 'broken'/);
    expect(err.message).toMatch(/shaders\/broken\.wgsl:4:\d+: error: .*undefined_thing/);
    expect(err.details.kernel).toBe('broken');
  });

  test('names the kernel when a dispatch fails validation in debug mode', async (ctx) => {
    need(ctx);
    const dbg = await Engine.create({ backend: 'webgpu', debug: true });
    try {
      const source = '@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(1) fn main() { y[0] = 1.0; }\n';
      // A uniform-only buffer bound where a storage buffer is expected: a validation error.
      const bad = dbg.gpu.device.createBuffer({ size: 16, usage: 0x0040 | 0x0008 });
      dbg.gpu.dispatch({ name: 'needs-storage', shader: 'inline.wgsl', source }, { buffers: [bad], workgroups: [1] });
      const err = await dbg.gpu.sync().catch((e) => e);
      expect(err).toBeInstanceOf(GnnrlError);
      expect(err.message).toMatch(/kernel 'needs-storage' failed validation/);
    } finally {
      await dbg.dispose();
    }
  });

  test('pool: a released buffer is reused only after the submit that may read it', (ctx) => {
    const gpu = need(ctx).gpu;
    gpu.flush();
    const a = gpu.alloc(1000);
    expect(a.size).toBe(bucketSize(1000));
    gpu.clear(a); // recorded, not yet submitted: `a` is in use by pending work
    gpu.release(a);
    const b = gpu.alloc(1000);
    expect(b).not.toBe(a);
    gpu.flush();
    const c = gpu.alloc(1000);
    expect(c).toBe(a);
    gpu.release(b);
    gpu.release(c);
  });

  test('bucket sizes waste at most 12.5% and are multiples of 16', () => {
    for (const n of [1, 15, 17, 4095, 4097, 65_537, 10_000_001]) {
      const b = bucketSize(n);
      expect(b % 16).toBe(0);
      expect(b).toBeGreaterThanOrEqual(n);
      if (n > 4096) expect(b / n).toBeLessThanOrEqual(1.125);
    }
  });

  test('readMany reads several arrays with one submit', async (ctx) => {
    const e = need(ctx);
    const xs = [new Float32Array([1, 2, 3]), new Float32Array([4]), new Float32Array(0)];
    const arrs = xs.map((x) => e.array(x));
    const before = e.gpu.submitCount;
    const got = await e.readMany(arrs);
    expect(e.gpu.submitCount - before).toBe(1);
    expect(got.map((g) => [...g])).toEqual(xs.map((x) => [...x]));
  });

  test('a buffer past maxBufferSize is refused, and binding past maxStorageBufferBindingSize names the kernel', async (ctx) => {
    const e = need(ctx);
    const max = e.gpu.limits.maxBufferSize;
    expect(() => e.empty('f32', Math.floor(max / 4) + 1)).toThrow(new RegExp(`exceeds this adapter's maxBufferSize of ${max} bytes`));
    const small = await Engine.create({ backend: 'webgpu', maxBindingBytes: 4096 });
    try {
      expect(small.gpu.limits.maxStorageBufferBindingSize).toBe(4096);
      const big = small.empty('f32', 2048); // 8 KiB: allocatable, not bindable whole
      const err = (() => {
        try {
          qTargets(small, { next: big, batch: 128, dim: 16, nItems: 1, online: small.empty('f32', 16), target: small.empty('f32', 16), reward: small.empty('f32', 128), done: small.empty('f32', 128), gamma: 0.5, double: false });
        } catch (x) {
          return x as GnnrlError;
        }
      })();
      expect(err?.code).toBe('limit');
      expect(err?.message).toMatch(/kernel 'qtarget\.tile_max': binding 0 is 8192 bytes, over this adapter's maxStorageBufferBindingSize of 4096 bytes/);
    } finally {
      await small.dispose();
    }
  });

  test('timestamp queries time each dispatch when the adapter has them', async (ctx) => {
    const e = need(ctx);
    if (!e.adapter!.features.includes('timestamp-query')) ctx.skip('adapter lacks timestamp-query');
    const timed = await Engine.create({ backend: 'webgpu', timing: true });
    try {
      const a = timed.uploadCsr({ nRows: 2, nCols: 2, rowPtr: new Int32Array([0, 1, 2]), colIdx: new Int32Array([1, 0]), values: new Float32Array([1, 1]) });
      spmm(timed, a, timed.array(new Float32Array(8)), 4);
      spmm(timed, a, timed.array(new Float32Array(8)), 4);
      const t = await timed.gpu.takeTimings();
      expect(t.map((x) => x.kernel)).toEqual(['spmm', 'spmm']);
      for (const x of t) expect(x.ms).toBeGreaterThanOrEqual(0);
    } finally {
      await timed.dispose();
    }
  });

  /** CPU time of this process's main thread in ms (Linux), or null elsewhere. */
  const mainThreadMs = (): number | null => {
    const stat = `/proc/self/task/${process.pid}/stat`;
    if (!existsSync(stat)) return null;
    const f = readFileSync(stat, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in clock ticks of 10 ms
  };

  test('waiting for long GPU work naps instead of spinning a core, and timers keep firing', async (ctx) => {
    const e = need(ctx);
    // A random graph large enough that one SpMM takes a while on a software adapter.
    const n = 40_000;
    const perRow = 16;
    const d = 64;
    const rowPtr = new Int32Array(n + 1);
    const colIdx = new Int32Array(n * perRow);
    for (let r = 0; r < n; r++) {
      rowPtr[r + 1] = (r + 1) * perRow;
      for (let k = 0; k < perRow; k++) colIdx[r * perRow + k] = (r * 7919 + k * 104_729) % n;
    }
    const a = e.uploadCsr({ nRows: n, nCols: n, rowPtr, colIdx, values: new Float32Array(n * perRow).fill(0.5) });
    const x = e.array(new Float32Array(n * d).fill(1));
    const y = e.empty('f32', n * d);
    spmm(e, a, x, d, y);
    await e.sync();
    const gaps: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 5);
    const cpu0 = mainThreadMs();
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) {
      spmm(e, a, x, d, y);
      await e.sync();
    }
    const wall = performance.now() - t0;
    const cpu = cpu0 === null ? null : mainThreadMs()! - cpu0;
    clearInterval(timer);
    expect((await e.read(y)).subarray(0, 4)).toEqual(new Float32Array([8, 8, 8, 8]));
    // Spinning on Dawn's poll holds the main thread busy for the whole wait; napping leaves it
    // mostly asleep (about 5% here). The bound leaves room for a loaded machine.
    if (cpu !== null && wall > 100) expect(cpu / wall).toBeLessThan(0.3);
    // Timers still fire during the wait: no gap near the length of the wait itself.
    expect(gaps.length).toBeGreaterThan(0);
    expect(Math.max(...gaps)).toBeLessThan(Math.max(100, wall / 8));
  });

  test('waitFor passes values and rejections through', async () => {
    await expect(waitFor(Promise.resolve(7))).resolves.toBe(7);
    await expect(waitFor(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const both = await Promise.all([waitFor(new Promise((r) => setTimeout(() => r('a'), 20))), waitFor(Promise.resolve('b'))]);
    expect(both).toEqual(['a', 'b']);
  });

  test("Dawn's start-up limit notices stay off stderr unless GNNRL_DAWN_LOG=1, and stderr still works after", (ctx) => {
    need(ctx);
    const adapterTs = fileURLToPath(new URL('../../src/gpu/adapter.ts', import.meta.url));
    const code = `import(${JSON.stringify(adapterTs)}).then(async (m) => { const p = await m.requestAdapter(); require('fs').writeSync(2, 'fd2-after\\n'); console.error('stream-after'); console.log(p.adapter ? 'adapter-ok' : 'no-adapter'); })`;
    // Through a shell pipe, as a terminal user's `gnnrl … | less` (Node's own spawn gives the
    // child a socket, which cannot be reopened and is left alone).
    const run = (env: Record<string, string | undefined>) =>
      spawnSync('sh', ['-c', '"$NODE" --import tsx -e "$CODE" 2>&1 | cat'], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, GNNRL_DEBUG: undefined, GNNRL_DAWN_LOG: undefined, NODE: process.execPath, CODE: code, ...env },
      });
    const quiet = run({});
    expect(quiet.status, quiet.stdout).toBe(0);
    expect(quiet.stdout).toMatch(/adapter-ok/);
    expect(quiet.stdout).not.toMatch(/artificially reduced/);
    expect(quiet.stdout).toMatch(/fd2-after/);
    expect(quiet.stdout).toMatch(/stream-after/);
    const loud = run({ GNNRL_DAWN_LOG: '1' });
    expect(loud.status, loud.stdout).toBe(0);
    expect(loud.stdout).toMatch(/fd2-after/);
    // Only Vulkan adapters with huge dynamic-buffer limits (lavapipe among them) print the notices.
    if (/llvmpipe|lavapipe/i.test(e2s(need(ctx)))) expect(loud.stdout).toMatch(/artificially reduced/);
  });

  test('a process that runs SpMM and disposes the engine exits by itself within a second', (ctx) => {
    need(ctx);
    const script = fileURLToPath(new URL('../fixtures/dispose-exit.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GNNRL_BACKEND: 'webgpu' } });
    expect(r.status, r.stderr).toBe(0);
    const disposedAt = Number(/disposed-at (\d+)/.exec(r.stdout)?.[1]);
    const exitedAt = Date.now();
    expect(r.stdout).toMatch(/spmm-ok/);
    // The parent learns of the exit a little after it happens; a hang would hit the 60 s timeout.
    expect(exitedAt - disposedAt).toBeLessThan(1000);
  });
});
