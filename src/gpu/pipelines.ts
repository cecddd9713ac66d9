/**
 * Kernel programs and the cache of their compiled pipelines: one shader module per file
 * (or inline source), one pipeline per distinct (file, entry, override constants), each
 * compiled once per device. Compile errors are deferred with the kernel, file and line.
 */
import { GnnrlError } from '../errors.js';
import { shaderSource, formatCompileMessage } from './shader-source.js';
import type { DeferredErrors } from './deferred-errors.js';

/** What a kernel is: the pipeline cache key is derived from exactly these fields. */
export interface KernelProgram {
  /** Name shown in errors and timings, e.g. 'spmm'. */
  name: string;
  /** File under shaders/, e.g. 'spmm.wgsl'. */
  shader: string;
  /** Entry point; defaults to 'main'. */
  entry?: string;
  /** WGSL `override` constants (tile sizes, strategy); each distinct set is one pipeline. */
  constants?: Record<string, number>;
  /** Source to use instead of the file (tests, generated kernels). */
  source?: string;
}

function pipelineKey(p: KernelProgram): string {
  const consts = p.constants
    ? Object.keys(p.constants)
        .sort()
        .map((k) => `${k}=${p.constants![k]}`)
        .join(',')
    : '';
  return `${p.shader}#${p.entry ?? 'main'}[${consts}]${p.source ? `@${hashString(p.source)}` : ''}`;
}

function hashString(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: DeferredErrors,
  ) {}

  private module(p: KernelProgram): GPUShaderModule {
    const key = p.source ? `${p.shader}@${hashString(p.source)}` : p.shader;
    let mod = this.modules.get(key);
    if (mod) return mod;
    const source = p.source ?? shaderSource(p.shader);
    this.device.pushErrorScope('validation');
    mod = this.device.createShaderModule({ code: source, label: p.shader });
    const scope = this.device.popErrorScope();
    this.errors.track(
      Promise.all([mod.getCompilationInfo(), scope]).then(([info, err]) => {
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length > 0) {
          const text = errors.map((m) => formatCompileMessage(p.shader, source, m)).join('\n');
          this.errors.defer(new GnnrlError('shader', `WGSL compile error in kernel '${p.name}':\n${text}`, { kernel: p.name }));
        } else if (err) {
          this.errors.defer(new GnnrlError('shader', `shaders/${p.shader} was rejected: ${err.message}`, { kernel: p.name }));
        }
      }),
    );
    this.modules.set(key, mod);
    return mod;
  }

  /** The compiled pipeline for a program; compiled once per distinct description. */
  get(p: KernelProgram): GPUComputePipeline {
    const key = pipelineKey(p);
    let pipe = this.pipelines.get(key);
    if (pipe) return pipe;
    const module = this.module(p);
    this.device.pushErrorScope('validation');
    pipe = this.device.createComputePipeline({
      label: p.name,
      layout: 'auto',
      compute: { module, entryPoint: p.entry ?? 'main', constants: p.constants },
    });
    this.errors.track(
      this.device.popErrorScope().then((err) => {
        if (err) this.errors.defer(new GnnrlError('shader', `pipeline for kernel '${p.name}' (shaders/${p.shader}, entry '${p.entry ?? 'main'}') failed: ${err.message}`, { kernel: p.name }));
      }),
    );
    this.pipelines.set(key, pipe);
    return pipe;
  }

  get size(): number {
    return this.pipelines.size;
  }
}
