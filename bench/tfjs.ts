/**
 * TF.js's WebGPU backend on the same Dawn adapter: the closest thing a Node user has to
 * gnnrl's kernels today, used by the benchmarks as the baseline to beat. It registers only
 * if `navigator.gpu` exists when it is imported, so the globals are installed here, in the
 * benchmark process only (never in the engine).
 */
export type Tf = typeof import('@tensorflow/tfjs-core');

let loaded: Promise<Tf> | null = null;

export function loadTfjsWebGpu(): Promise<Tf> {
  loaded ??= (async () => {
    const dawn = (await import('webgpu')) as unknown as { create(f: string[]): GPU; globals: Record<string, unknown> };
    Object.assign(globalThis, dawn.globals);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]), userAgent: 'node' }, configurable: true });
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend');
    await tf.ready();
    return tf;
  })();
  return loaded;
}
