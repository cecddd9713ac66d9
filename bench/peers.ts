/**
 * `--peers`: numpy, scipy and torch (Debian's python3-numpy, python3-scipy, python3-torch,
 * when installed; never a dependency of the library) run a suite's operation on the very
 * arrays the suite generated, in the same bench session: the arrays go to a temporary
 * folder as raw files, bench/peers.py times each peer (warm-up excluded, medians), and
 * the rows join the report with impl 'numpy', 'scipy' or 'torch'. The table then gives
 * every gnnrl row its ratio to the best peer of its case.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SuiteContext } from './harness.js';

export const PEER_IMPLS = ['numpy', 'scipy', 'torch'] as const;

/** Whether this bench run was asked for peers (`npm run bench -- --peers`). */
export function peersWanted(): boolean {
  return process.env.GNNRL_BENCH_PEERS === '1';
}

/**
 * The interpreter: GNNRL_PEERS_PYTHON, else the system's /usr/bin/python3 (where Debian's
 * python3-numpy, -scipy and -torch live; a pyenv or venv python3 first on PATH lacks
 * them), else python3 on PATH.
 */
export function peerPython(): string {
  return process.env.GNNRL_PEERS_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

export type PeerOp = 'spmm' | 'matmul' | 'qtarget' | 'topk' | 'lightgcn';

/**
 * Times the peers on `op` over `arrays` (row-major; `shapes` gives each one's shape) and
 * records their rows under `suite` / `caseName`. Missing Python modules are skipped with a
 * logged line.
 */
export function runPeers(
  ctx: SuiteContext,
  suite: string,
  caseName: string,
  op: PeerOp,
  arrays: Record<string, { data: Float32Array | Int32Array; shape: number[] }>,
  params: Record<string, number> = {},
): void {
  if (!peersWanted()) return;
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-peers-'));
  try {
    const spec = {
      dir,
      op,
      params,
      minSamples: ctx.quick ? 3 : 5,
      maxSeconds: ctx.quick ? 1 : 10,
      arrays: {} as Record<string, { file: string; dtype: string; shape: number[] }>,
    };
    for (const [name, a] of Object.entries(arrays)) {
      const file = `${name}.bin`;
      writeFileSync(join(dir, file), new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
      spec.arrays[name] = { file, dtype: a.data instanceof Int32Array ? '<i4' : '<f4', shape: a.shape };
    }
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const script = join(dirname(fileURLToPath(import.meta.url)), 'peers.py');
    const r = spawnSync(peerPython(), [script, join(dir, 'spec.json')], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.error) {
      ctx.log(`peers: ${peerPython()} did not run (${r.error.message}); skipped`);
      return;
    }
    for (const line of (r.stderr ?? '').split('\n').filter(Boolean)) ctx.log(line);
    if (r.status !== 0) {
      ctx.log(`peers: ${op} failed (exit ${r.status}); no peer rows for ${caseName}`);
      return;
    }
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as { impl: string; median_ms: number; min_ms: number; max_ms: number; samples: number; version: string };
      ctx.log(`peer ${row.impl} ${row.version}`);
      ctx.record({ suite, case: caseName, impl: row.impl, median_ms: row.median_ms, min_ms: row.min_ms, max_ms: row.max_ms, samples: row.samples });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
