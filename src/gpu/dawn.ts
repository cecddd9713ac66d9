/**
 * Loads Dawn's Node bindings (the `webgpu` package) on first use, so that the CPU
 * backend works in processes where the binary is missing or cannot load.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';

export interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let cached: DawnModule | null | undefined;
let loadError: string | undefined;

/** Returns the `webgpu` module, or null with `dawnLoadError()` saying why. */
export async function loadDawn(): Promise<DawnModule | null> {
  if (cached !== undefined) return cached;
  // Vulkan loaders (Mesa's lavapipe among them) want a runtime dir; a missing one makes
  // them print warnings or fail, so give them the temp dir as a harmless default.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = tmpdir();
  try {
    const require = createRequire(import.meta.url);
    require.resolve('webgpu');
    cached = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    loadError = `the 'webgpu' package (Dawn's Node bindings) did not load: ${(err as Error).message}`;
    cached = null;
  }
  return cached;
}

export function dawnLoadError(): string | undefined {
  return loadError;
}

let gpuInstance: GPU | undefined;

/**
 * One GPU instance per process: Dawn's instance owns the Vulkan instance, and making
 * several of them in one process is wasteful and has been seen to misbehave.
 */
export async function gpuInstanceOrNull(): Promise<GPU | null> {
  if (gpuInstance) return gpuInstance;
  const dawn = await loadDawn();
  if (!dawn) return null;
  gpuInstance = dawn.create([]);
  return gpuInstance;
}

/** Whether Dawn's own log lines should reach stderr: GNNRL_DAWN_LOG=1 or GNNRL_DEBUG=1. */
export function dawnLogWanted(): boolean {
  return process.env.GNNRL_DAWN_LOG === '1' || process.env.GNNRL_DEBUG === '1';
}

/**
 * Runs `fn` with file descriptor 2 pointed at /dev/null, unless `dawnLogWanted()`.
 *
 * Dawn writes its notices with fprintf(stderr) from native code, past Node's streams; the
 * first `requestAdapter` of a process prints two of them on Vulkan ("maxDynamic…Buffers…
 * artificially reduced from 1000000 to 16"), on every run of every command. Node has no
 * dup2, so fd 2 is closed and reopened around the (synchronous) call: only where
 * reopening gives the same destination — a terminal or a pipe, on Linux or macOS — and
 * never for a regular file (its offset would no longer be shared with stdout) or a socket.
 */
export function withDawnLogHidden<T>(fn: () => T): T {
  if (dawnLogWanted() || (process.platform !== 'linux' && process.platform !== 'darwin')) return fn();
  let saved = -1;
  try {
    const st = fstatSync(2);
    if (!st.isCharacterDevice() && !st.isFIFO()) return fn();
    saved = openSync('/dev/fd/2', constants.O_WRONLY);
  } catch {
    if (saved >= 0) closeSync(saved);
    return fn();
  }
  let hidden = false;
  try {
    closeSync(2);
    // The lowest free descriptor is 2 again, unless another thread took it in between.
    const nul = openSync('/dev/null', constants.O_WRONLY);
    hidden = nul === 2;
    if (!hidden) closeSync(nul);
    return fn();
  } finally {
    if (hidden) {
      closeSync(2);
      const back = openSync(`/dev/fd/${saved}`, constants.O_WRONLY);
      if (back !== 2) closeSync(back);
    }
    closeSync(saved);
  }
}
