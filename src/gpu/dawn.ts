/**
 * Loads Dawn's Node bindings (the `webgpu` package) on first use, so that the CPU
 * backend works in processes where the binary is missing or cannot load.
 */
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
