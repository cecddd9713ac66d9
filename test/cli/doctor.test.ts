import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { accessSync, constants } from 'node:fs';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function doctor(args: string[], env: Record<string, string | undefined> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', main, 'doctor', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
}

// Points the Vulkan loader at no driver: the machine then has no WebGPU adapter.
const NO_ADAPTER = { VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json', GNNRL_BACKEND: undefined };

describe('gnnrl doctor', () => {
  test('reports node, backend, adapter, limits and the native addon as JSON', () => {
    const r = doctor(['--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.node).toBe(process.version);
    expect(report.kernels.map((k: { name: string }) => k.name)).toContain('spmm');
    expect(typeof report.native.loaded).toBe('boolean');
    if (!report.native.loaded) expect(report.native.fix).toMatch(/npm run build:native/);
    if (process.env.GNNRL_REQUIRE_GPU === '1') {
      expect(report.backend).toBe('webgpu');
      expect(report.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
      expect(report.reason).toMatch(/webgpu on /);
    }
  });

  test('names the adapter in the text report', () => {
    const r = doctor([]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend +(webgpu|native|cpu): /m);
    if (process.env.GNNRL_REQUIRE_GPU === '1') expect(r.stdout).toMatch(/^adapter +\S+/m);
  });

  test('falls back to the CPU and says how to get an adapter when there is none (and no native addon)', () => {
    const r = doctor([], { ...NO_ADAPTER, GNNRL_REQUIRE_GPU: undefined, GNNRL_NATIVE: '0' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend +cpu: cpu backend: no WebGPU adapter/m);
    expect(r.stdout).toMatch(/install-software-gpu\.sh/);
  });

  test('picks the native backend when there is no adapter but the addon, and names its ops', () => {
    const r = doctor(['--json'], { ...NO_ADAPTER, GNNRL_REQUIRE_GPU: undefined });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    if (!report.native.loaded) return; // covered by the CPU fallback case above
    expect(report.backend).toBe('native');
    expect(report.reason).toMatch(/^native backend chosen by auto: no WebGPU adapter/);
    expect(report.nativeBackend.available).toBe(true);
    expect(report.nativeOps).toContain('matmul');
    expect(doctor([], { ...NO_ADAPTER, GNNRL_REQUIRE_GPU: undefined }).stdout).toMatch(/^native ops +.*matmul.* run C\+\+ kernels on the native backend/m);
  });

  test('exits non-zero under GNNRL_REQUIRE_GPU=1 when there is no adapter', () => {
    const r = doctor([], { ...NO_ADAPTER, GNNRL_REQUIRE_GPU: '1' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/WebGPU backend required \(GNNRL_REQUIRE_GPU=1\) but unavailable/);
  });
});

describe('the gnnrl bin', () => {
  test('is built, executable, and runs as `npx gnnrl` would run it', () => {
    const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
    // `npm install` / `npm ci` build dist/ (the prepare script) and mark the bin executable.
    accessSync(bin, constants.X_OK);
    const r = spawnSync(bin, ['help'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/usage: gnnrl <command>/);
  });
});
