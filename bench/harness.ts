/**
 * The benchmark harness every suite uses: benchmark.js measures, this file turns its
 * samples into the project's row shape (medians, not means) and names the machine.
 */
import Benchmark from 'benchmark';
import { nativeKernelsUnavailable } from '../src/native.js';

/** One measured line of the report; the JSON written by `--json` is a list of these. */
export interface BenchRow {
  suite: string;
  case: string;
  impl: string;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  samples: number;
  gflops?: number;
  gbps?: number;
  /** Requests per second, for load tests. */
  rps?: number;
}

export interface BenchOptions {
  /** Floating-point operations one call performs, for GFLOP/s. */
  flops?: number;
  /** Bytes one call must move at least, for GB/s. */
  bytes?: number;
  /** Upper bound on measuring time in seconds (benchmark.js `maxTime`). */
  maxTime?: number;
  /** Lower bound on samples. */
  minSamples?: number;
}

export interface SuiteContext {
  /** `--quick`: smaller sizes and fewer samples, for smoke runs. */
  quick: boolean;
  /** Adds one measured case; `fn` may be async. Warm-up happens before timing. */
  measure(
    suite: string,
    caseName: string,
    impl: string,
    fn: () => unknown | Promise<unknown>,
    opts?: BenchOptions,
  ): Promise<BenchRow>;
  /** Adds a row measured by another tool (an HTTP load generator), already in the row's shape. */
  record(row: BenchRow): void;
  log(msg: string): void;
}

export interface Suite {
  name: string;
  /** The impl every other impl of a case is compared with (e.g. 'cpu', 'ts'). */
  baseline?: string;
  run(ctx: SuiteContext): Promise<void>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn` under benchmark.js (deferred, so async work is awaited) and summarises. */
export async function measureWithBenchmarkJs(
  suite: string,
  caseName: string,
  impl: string,
  fn: () => unknown | Promise<unknown>,
  opts: BenchOptions & { quick?: boolean } = {},
): Promise<BenchRow> {
  // Warm-up outside the timed region: shader compilation and JIT stay out of the numbers.
  await fn();
  await fn();
  const samplesMs = await new Promise<number[]>((resolve, reject) => {
    const bench = new Benchmark(`${suite}/${caseName}/${impl}`, {
      defer: true,
      async: true,
      minSamples: opts.minSamples ?? (opts.quick ? 3 : 7),
      maxTime: opts.maxTime ?? (opts.quick ? 1 : 5),
      initCount: 1,
      fn(deferred: { resolve(): void }) {
        Promise.resolve(fn()).then(
          () => deferred.resolve(),
          (err) => {
            reject(err);
            deferred.resolve();
          },
        );
      },
      onComplete(this: Benchmark) {
        resolve(this.stats.sample.map((s) => s * 1000));
      },
      onError(this: Benchmark) {
        reject((this as unknown as { error: Error }).error);
      },
    });
    bench.run({ async: true });
  });
  const med = median(samplesMs);
  const row: BenchRow = {
    suite,
    case: caseName,
    impl,
    median_ms: round(med),
    min_ms: round(Math.min(...samplesMs)),
    max_ms: round(Math.max(...samplesMs)),
    samples: samplesMs.length,
  };
  if (opts.flops) row.gflops = round(opts.flops / (med * 1e6));
  if (opts.bytes) row.gbps = round(opts.bytes / (med * 1e6));
  return row;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * The engine backends a suite measures: WebGPU and the TypeScript CPU backend always (a
 * missing adapter is the suite's error to report), the native C++ backend when its addon
 * loads (`npm run build:native`), so a machine without a compiler still benches the rest.
 */
export function engineBackends(order: readonly ('webgpu' | 'cpu')[] = ['webgpu', 'cpu']): ('webgpu' | 'cpu' | 'native')[] {
  return nativeKernelsUnavailable() ? [...order] : [...order, 'native'];
}

