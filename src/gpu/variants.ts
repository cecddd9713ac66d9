/**
 * Kernel variants per adapter. A software adapter (lavapipe) and a discrete GPU want
 * different kernel shapes, so each kernel family offers a few variants and one is chosen
 * per adapter and shape: pinned by GNNRL_KERNEL_VARIANT (`spmm=cache_vec4,gat=...`), else
 * the result of a short autotune cached on disk by adapter and driver, else a default by
 * adapter kind. The autotune is async and explicit (`autotune()`), run by the models
 * before training; kernels themselves only look the choice up, synchronously.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { GnnrlError } from '../errors.js';
import type { AdapterSummary } from './adapter.js';

export interface VariantChoice {
  variant: string;
  source: 'pinned' | 'tuned' | 'default';
}

const memory = new Map<string, string>();
let diskLoaded = false;

function cacheFile(): string {
  const dir = process.env.GNNRL_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gnnrl');
  return join(dir, 'autotune.json');
}

function adapterKey(a: AdapterSummary): string {
  return `${a.vendor}|${a.architecture}|${a.device}|${a.description}`;
}

function loadDisk(): void {
  if (diskLoaded) return;
  diskLoaded = true;
  try {
    const data = JSON.parse(readFileSync(cacheFile(), 'utf8')) as Record<string, string>;
    for (const [k, v] of Object.entries(data)) if (!memory.has(k)) memory.set(k, v);
  } catch {
    // No cache yet, or an unreadable one: tuning results are only an optimisation.
  }
}

function saveDisk(): void {
  const file = cacheFile();
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    // Synchronous (kernels look choices up synchronously), and fsynced before the rename
    // like every file gnnrl writes (data/io/atomic.ts is the async twin, a layer above).
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(Object.fromEntries(memory), null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch {
    // A read-only home is not an error: the choice still holds for this process.
  }
}

/** The pinned variant of `family` from GNNRL_KERNEL_VARIANT, if any. */
export function pinnedVariant(family: string): string | undefined {
  const spec = process.env.GNNRL_KERNEL_VARIANT;
  if (!spec) return undefined;
  for (const part of spec.split(',')) {
    const [f, v] = part.split('=').map((s) => s.trim());
    if (f === family && v) return v;
  }
  return undefined;
}

/**
 * The variant to run for `family` at shape class `shapeKey` among `allowed`, by
 * precedence pinned > tuned > `fallback`.
 */
export function chooseVariant(adapter: AdapterSummary, family: string, shapeKey: string, allowed: readonly string[], fallback: string): VariantChoice {
  const pinned = pinnedVariant(family);
  if (pinned) {
    if (!allowed.includes(pinned)) {
      throw new GnnrlError('input', `GNNRL_KERNEL_VARIANT: ${family}=${pinned} is not one of ${allowed.join(', ')} for this shape (${shapeKey})`, { arg: 'GNNRL_KERNEL_VARIANT' });
    }
    return { variant: pinned, source: 'pinned' };
  }
  if (process.env.GNNRL_AUTOTUNE !== '0') {
    loadDisk();
    const tuned = memory.get(`${adapterKey(adapter)}#${family}#${shapeKey}`);
    if (tuned && allowed.includes(tuned)) return { variant: tuned, source: 'tuned' };
  }
  return { variant: fallback, source: 'default' };
}

/**
 * Times each candidate (`run` must do the work and wait for it) and records the fastest
 * median for this adapter and shape class, in memory and on disk.
 */
export async function autotune(
  adapter: AdapterSummary,
  family: string,
  shapeKey: string,
  candidates: readonly string[],
  run: (variant: string) => Promise<void>,
  repeats = 3,
): Promise<{ variant: string; medians: Record<string, number> }> {
  const medians: Record<string, number> = {};
  for (const v of candidates) {
    await run(v); // compile and warm up outside the timing
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      await run(v);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    medians[v] = times[times.length >> 1];
  }
  const best = candidates.reduce((a, b) => (medians[b] < medians[a] ? b : a));
  loadDisk();
  memory.set(`${adapterKey(adapter)}#${family}#${shapeKey}`, best);
  saveDisk();
  return { variant: best, medians };
}

/** Forgets tuned choices in memory (tests). */
export function clearTunedVariants(): void {
  memory.clear();
  diskLoaded = true;
}
