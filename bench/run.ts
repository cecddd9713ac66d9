/**
 * `npm run bench [-- --json out.json] [--quick] [--suite spmm,csr] [--impl native,cpu] [--peers] [--print saved.json]`
 *
 * `--peers` also times numpy, scipy and torch (Debian's python3-* packages, when installed)
 * on the same data in the same session (bench/peers.ts), and every row gets its ratio to
 * the best peer of its case.
 *
 * Runs every suite in bench/suites/ (or the named ones), each in a fresh child process so
 * JIT, memory and GPU device state cannot leak between suites, then prints one table of
 * medians with the machine and adapter named, each row's speed as a ratio against the
 * suite's baseline measured in the same process, and writes the JSON report.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureWithBenchmarkJs, type BenchRow, type Suite, type SuiteContext } from './harness.js';
import { PEER_IMPLS } from './peers.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Args {
  json?: string;
  quick: boolean;
  suites?: string[];
  child?: string;
  /** Print the table of a saved JSON report instead of measuring. */
  print?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = value();
    else if (a.startsWith('--json=')) args.json = a.slice(7);
    else if (a === '--quick') args.quick = true;
    else if (a === '--suite') args.suites = value().split(',');
    else if (a.startsWith('--suite=')) args.suites = a.slice(8).split(',');
    else if (a === '--child') args.child = value();
    else if (a === '--print') args.print = value();
    // Only these impls are measured (the suites' children inherit it through the environment):
    // e.g. the native rows and their baseline, without the minutes of slower backends.
    else if (a === '--peers') process.env.GNNRL_BENCH_PEERS = '1';
    else if (a === '--impl') process.env.GNNRL_BENCH_IMPLS = value();
    else if (a.startsWith('--impl=')) process.env.GNNRL_BENCH_IMPLS = a.slice(7);
    else throw new Error(`bench: unknown argument '${a}' (expected --json FILE, --quick, --suite a,b, --impl a,b, --peers, --print FILE)`);
  }
  return args;
}

function suiteFiles(): Map<string, string> {
  const dir = join(here, 'suites');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
  return new Map(files.map((f) => [basename(f, '.ts'), join(dir, f)]));
}

async function loadSuite(file: string): Promise<Suite> {
  const mod = (await import(file)) as { suite?: Suite };
  if (!mod.suite) throw new Error(`bench: ${file} does not export 'suite'`);
  return mod.suite;
}

/** Child mode: run one suite and write its rows to a JSON file. */
async function runChild(file: string, out: string, quick: boolean): Promise<void> {
  const suite = await loadSuite(file);
  const rows: BenchRow[] = [];
  const ctx: SuiteContext = {
    quick,
    async measure(suiteName, caseName, impl, fn, opts) {
      const only = process.env.GNNRL_BENCH_IMPLS?.split(',').map((x) => x.trim());
      if (only && !only.includes(impl)) return { suite: suiteName, case: caseName, impl, median_ms: NaN, min_ms: NaN, max_ms: NaN, samples: 0 };
      const row = await measureWithBenchmarkJs(suiteName, caseName, impl, fn, { ...opts, quick });
      rows.push(row);
      console.error(`  ${suiteName} | ${caseName} | ${impl}: median ${row.median_ms} ms (${row.samples} samples)`);
      return row;
    },
    record(row) {
      rows.push(row);
      console.error(`  ${row.suite} | ${row.case} | ${row.impl}: median ${row.median_ms} ms${row.rps ? `, ${row.rps} req/s` : ''}`);
    },
    log: (msg) => console.error(`  ${msg}`),
  };
  await suite.run(ctx);
  writeFileSync(out, JSON.stringify({ rows, baseline: suite.baseline ?? null }));
}

async function adapterName(): Promise<{ adapter: string; backend: string }> {
  const { Engine } = await import('../src/engine.js');
  try {
    const e = await Engine.create({ quiet: true });
    const a = e.adapter;
    const out = { adapter: a ? `${a.description || a.device}${a.software ? ' (software)' : ''}` : 'none', backend: e.backend };
    await e.dispose();
    return out;
  } catch (err) {
    return { adapter: `none (${(err as Error).message})`, backend: 'cpu' };
  }
}

type TableRow = BenchRow & { ratio?: string; peerRatio?: string };

function formatTable(rows: TableRow[]): string {
  const withPeers = rows.some((r) => r.peerRatio !== undefined);
  const cols: [string, (r: TableRow) => string][] = [
    ['suite', (r) => r.suite],
    ['case', (r) => r.case],
    ['impl', (r) => r.impl],
    ['median ms', (r) => r.median_ms.toFixed(3)],
    ['min ms', (r) => r.min_ms.toFixed(3)],
    ['max ms', (r) => r.max_ms.toFixed(3)],
    ['n', (r) => String(r.samples)],
    ['GFLOP/s', (r) => (r.gflops === undefined ? '' : r.gflops.toFixed(2))],
    ['GB/s', (r) => (r.gbps === undefined ? '' : r.gbps.toFixed(2))],
    ['vs baseline', (r) => r.ratio ?? ''],
    ...(withPeers ? ([['vs best peer', (r: TableRow) => r.peerRatio ?? '']] as [string, (r: TableRow) => string][]) : []),
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i >= 3 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ');
  return [line(cols.map(([h]) => h)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/**
 * Speed of each row relative to a baseline measured for the same case in the same
 * process: the suite's named baseline, else the CPU backend or the TypeScript builder
 * (a case too slow for one baseline is measured against another).
 */
function withRatios(rows: BenchRow[], baselines: Map<string, string | null>): TableRow[] {
  return withPeerRatios(rows).map((r) => {
    const prefs = [baselines.get(r.suite), 'cpu', 'ts'].filter((x): x is string => !!x);
    const sameCase = rows.filter((x) => x.suite === r.suite && x.case === r.case);
    const base = prefs.find((p) => sameCase.some((x) => x.impl === p));
    const b = sameCase.find((x) => x.impl === base);
    if (!b) return r;
    if (b.impl === r.impl) return { ...r, ratio: 'baseline' };
    return { ...r, ratio: `${(b.median_ms / r.median_ms).toFixed(2)}× vs ${base}` };
  });
}

/** Each non-peer row's speed against the fastest peer (numpy, scipy, torch) of its case, where peers ran. */
function withPeerRatios(rows: BenchRow[]): TableRow[] {
  const peers = new Set<string>(PEER_IMPLS);
  return rows.map((r) => {
    if (peers.has(r.impl)) return r;
    const best = rows.filter((x) => x.suite === r.suite && x.case === r.case && peers.has(x.impl)).sort((a, b) => a.median_ms - b.median_ms)[0];
    const ratio = best ? best.median_ms / r.median_ms : 0;
    return best ? { ...r, peerRatio: `${ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)}× vs ${best.impl}` } : r;
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const files = suiteFiles();
  if (args.print) {
    const saved = JSON.parse(readFileSync(args.print, 'utf8')) as { env: Record<string, string>; rows: BenchRow[] };
    const bases = new Map<string, string | null>();
    for (const n of files.keys()) bases.set(n, (await loadSuite(files.get(n)!)).baseline ?? null);
    console.log(`gnnrl bench: node ${saved.env.node}, adapter ${saved.env.adapter}, ${saved.env.cpu ?? ''}, ${saved.env.date}`);
    console.log(formatTable(withRatios(saved.rows, bases)));
    return;
  }
  if (args.child) {
    const [name, out] = args.child.split('=');
    await runChild(files.get(name)!, out, args.quick);
    return;
  }
  const names = args.suites ?? [...files.keys()];
  for (const n of names) if (!files.has(n)) throw new Error(`bench: no suite '${n}' (have: ${[...files.keys()].join(', ')})`);
  const env = { node: process.version, ...(await adapterName()), date: new Date().toISOString(), cpu: `${cpus()[0]?.model ?? '?'} × ${cpus().length}` };
  console.error(`gnnrl bench — node ${env.node}, backend ${env.backend}, adapter ${env.adapter}, cpu ${env.cpu}${args.quick ? ', quick sizes' : ''}`);
  const tmp = mkdtempSync(join(tmpdir(), 'gnnrl-bench-'));
  const rows: BenchRow[] = [];
  const baselines = new Map<string, string | null>();
  let failed = 0;
  for (const name of names) {
    console.error(`\nsuite ${name}`);
    const out = join(tmp, `${name}.json`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', `${name}=${out}`, ...(args.quick ? ['--quick'] : [])], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) {
      console.error(`suite ${name} failed (exit ${r.status ?? r.signal})`);
      failed++;
      continue;
    }
    const res = JSON.parse(readFileSync(out, 'utf8')) as { rows: BenchRow[]; baseline: string | null };
    rows.push(...res.rows);
    for (const row of res.rows) baselines.set(row.suite, res.baseline);
  }
  console.log(`\ngnnrl bench: node ${env.node}, adapter ${env.adapter}, ${env.cpu}, ${env.date}`);
  console.log(formatTable(withRatios(rows, baselines)));
  if (args.json) {
    const path = resolve(args.json);
    const tmpPath = `${path}.tmp-${process.pid}`;
    writeFileSync(tmpPath, JSON.stringify({ env: { node: env.node, adapter: env.adapter, backend: env.backend, date: env.date, cpu: env.cpu }, rows }, null, 2));
    renameSync(tmpPath, path);
    console.log(`\nwrote ${path}`);
  }
  if (failed > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
