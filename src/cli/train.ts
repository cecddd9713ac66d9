/**
 * `gnnrl train`: parses the options, runs the job (train-job.ts), prints the table.
 * stderr carries progress, stdout the final table (or JSON with --json), so
 * `gnnrl train > results.txt` keeps only the results.
 *
 * Exit codes: 0 done; 1 a failure while running (a model failed, a file did not parse);
 * 2 a usage error (the message names the flag or config key); 130 interrupted by Ctrl-C
 * or SIGTERM (what exists is still written).
 */
import { UsageError } from './args.js';
import { parseTrainArgs, trainHelp, type TrainConfig } from './config.js';
import { runTrainJob, type TrainResult } from './train-job.js';
import { runTrainSweep, type SweepResult } from './train-sweep.js';
import { resultsTable } from './train-output.js';
import { toJson } from './json.js';

export interface TrainCommandIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
}

/** Runs `gnnrl train` with `argv` (the arguments after `train`); returns the exit code. */
export async function trainCommand(argv: readonly string[], io: TrainCommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parseTrainArgs(argv);
  } catch (err) {
    return usage(err, io);
  }
  if (parsed.help) {
    io.stdout.write(trainHelp());
    return 0;
  }
  const config = parsed.config;

  // First Ctrl-C (or SIGTERM, as CI runners and containers stop jobs): stop at the next
  // batch and write what exists; a second one: leave now.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) {
      io.stderr.write('\ngnnrl train: interrupted again, exiting without writing\n');
      process.exit(130);
    }
    io.stderr.write('\ngnnrl train: stopping at the next batch and writing what exists (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let run: { sweep: SweepResult } | { result: TrainResult };
  try {
    const jobIO = { stderr: io.stderr, signal: abort.signal, argv };
    run = config.sweep ? { sweep: await runTrainSweep(config, jobIO) } : { result: await runTrainJob(config, jobIO) };
  } catch (err) {
    return usage(err, io);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  if ('sweep' in run) return printSweep(run.sweep, config, io);
  const { result } = run;

  if (config.json) {
    const models = result.models.map((m) => ({
      name: m.name,
      display: m.display,
      status: m.status,
      fitSeconds: m.fitSeconds,
      bestEpoch: m.bestEpoch,
      metrics: m.metrics,
      ...(m.ci ? { ci: m.ci } : {}),
      ...(m.error ? { error: m.error } : {}),
      ...(m.checkpoint ? { checkpoint: m.checkpoint } : {}),
    }));
    const json = toJson({ out: result.outDir, status: result.manifest.status, models });
    io.stdout.write(json + '\n');
  } else {
    io.stdout.write(resultsTable(result.models, config.k) + '\n');
    if (!config.quiet) io.stderr.write(`wrote ${result.outDir}: config.json, manifest.json, metrics.json, epochs.csv, curves.svg, <model>/best.ckpt\n`);
  }
  if (result.interrupted) return 130;
  return result.failed ? 1 : 0;
}

/** The sweep's table (one row per value) or JSON, and its exit code. */
function printSweep(sweep: SweepResult, config: TrainConfig, io: TrainCommandIO): number {
  const rows = sweep.rows.map((r) => ({ ...r.result, display: `${r.result.display} ${sweep.spec.key}=${String(r.value)}` }));
  if (config.json) io.stdout.write(toJson({ out: sweep.outDir, model: sweep.spec.model, key: sweep.spec.key, rows: rows.map((m, i) => ({ value: sweep.rows[i].value, status: m.status, metrics: m.metrics, ...(m.ci ? { ci: m.ci } : {}) })) }) + '\n');
  else {
    io.stdout.write(resultsTable(rows, config.k) + '\n');
    if (!config.quiet) io.stderr.write(`wrote ${sweep.outDir}: sweep.csv, sweep.json, sweep.svg, and one run folder per value\n`);
  }
  if (sweep.interrupted) return 130;
  return sweep.failed ? 1 : 0;
}

function usage(err: unknown, io: TrainCommandIO): number {
  if (err instanceof UsageError) {
    io.stderr.write(`gnnrl train: ${err.message}\nrun 'gnnrl train --help' for the options\n`);
    return 2;
  }
  io.stderr.write(`gnnrl train: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
