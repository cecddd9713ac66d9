/**
 * `gnnrl doctor`: what this machine offers gnnrl, and what to do about what is missing.
 */
import { Engine, nativeStatus } from '../engine.js';
import { GnnrlError } from '../errors.js';
import { listKernels } from '../backend/kernel-table.js';
import { packageVersion } from './version.js';
import '../kernels/index.js';
import '../tensor/index.js'; // registers the tensor kernels (matmul, element-wise, …) too

export interface DoctorReport {
  gnnrl: string;
  node: string;
  platform: string;
  backend: string | null;
  reason: string;
  adapter: null | {
    description: string;
    vendor: string;
    architecture: string;
    device: string;
    software: boolean;
    limits: Record<string, number>;
    features: string[];
  };
  native: { loaded: boolean; path?: string; error?: string; fix?: string };
  /** The native backend: its kernel pool and SIMD, or why it cannot run. */
  nativeBackend: { available: boolean; threads?: number; simd?: string; why?: string };
  /** Ops with a C++ kernel on the native backend; every other op runs its TypeScript kernel there. */
  nativeOps: string[];
  kernels: { name: string; backends: string[] }[];
  ok: boolean;
}


export async function doctorReport(): Promise<DoctorReport> {
  const report: DoctorReport = {
    gnnrl: packageVersion(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    backend: null,
    reason: '',
    adapter: null,
    native: { loaded: false },
    kernels: listKernels(),
    nativeBackend: { available: false },
    nativeOps: [],
    ok: true,
  };
  report.nativeOps = report.kernels.filter((k) => k.backends.includes('native')).map((k) => k.name);
  try {
    const engine = await Engine.create({ quiet: true });
    report.backend = engine.backend;
    report.reason = engine.reason;
    if (engine.adapter) {
      const a = engine.adapter;
      report.adapter = {
        description: a.description,
        vendor: a.vendor,
        architecture: a.architecture,
        device: a.device,
        software: a.software,
        limits: a.limits,
        features: a.features,
      };
    }
    await engine.dispose();
  } catch (err) {
    report.ok = false;
    report.reason = err instanceof GnnrlError ? err.message : String(err);
  }
  const { backend, ...native } = nativeStatus();
  report.native = native;
  report.nativeBackend = backend;
  return report;
}

function mib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(0)} MiB` : `${n}`;
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(10)} ${v}`);
  row('gnnrl', r.gnnrl);
  row('node', `${r.node} (${r.platform})`);
  row('backend', r.backend ? `${r.backend}: ${r.reason}` : `none: ${r.reason}`);
  if (r.adapter) {
    const a = r.adapter;
    row('adapter', `${a.description || a.device || '(no description)'} — vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, ${a.software ? 'software (a correctness device, not a fast one)' : 'hardware'}`);
    // The summary holds exactly the limits gnnrl requests of the device.
    row('limits', Object.entries(a.limits).map(([k, v]) => `${k} ${mib(v)}`).join(', '));
    row('features', a.features.join(', ') || '(none)');
    row('subgroups', a.features.includes('subgroups') ? 'yes' : 'no (workgroup-memory fallbacks are used)');
    row('timing', a.features.includes('timestamp-query') ? 'timestamp-query available' : 'no timestamp-query: benchmarks use wall-clock time');
  } else if (r.backend === 'cpu') {
    row('adapter', 'none; on Debian/Ubuntu without a GPU driver run scripts/install-software-gpu.sh for Mesa lavapipe');
  }
  row('native', r.native.loaded ? `loaded from ${r.native.path}` : `not loaded: ${r.native.error ?? 'unknown'}\n${' '.repeat(11)}fix: ${r.native.fix}`);
  const nb = r.nativeBackend;
  row('pool', nb.available ? `native backend available: ${nb.threads} threads (GNNRL_THREADS to change), kernels compiled for ${nb.simd}` : `native backend unavailable: ${(nb.why ?? '').split('\n')[0]}`);
  row('native ops', `${r.nativeOps.join(', ') || '(none)'} run C++ kernels on the native backend; every other op falls back to its TypeScript kernel`);
  row('kernels', r.kernels.map((k) => `${k.name} [${k.backends.join(', ')}]`).join(', '));
  return lines.join('\n');
}
