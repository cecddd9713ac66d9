/**
 * `gnnrl rl`: parses the options, runs the job (rl-job.ts), prints the table. As for
 * `gnnrl train`, stderr carries progress and stdout the final table (or JSON with --json).
 *
 * Exit codes: 0 done; 1 a failure while running (an agent failed); 2 a usage error (the
 * message names the flag or config key); 130 interrupted by Ctrl-C or SIGTERM (what exists
 * is still written).
 */
import { UsageError } from './args.js';
import { parseRlArgs, rlHelp } from './rl-config.js';
import { runRlJob, type RlResult } from './rl-job.js';
import { rlResultsTable } from './rl-output.js';
import type { TrainCommandIO } from './train.js';
import { toJson } from './json.js';

/** Runs `gnnrl rl` with `argv` (the arguments after `rl`); returns the exit code. */
export async function rlCommand(argv: readonly string[], io: TrainCommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parseRlArgs(argv);
  } catch (err) {
    return usage(err, io);
  }
  if (parsed.help) {
    io.stdout.write(rlHelp());
    return 0;
  }
  const config = parsed.config;

  // First Ctrl-C (or SIGTERM): stop at the next step and write what exists; a second: leave now.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) {
      io.stderr.write('\ngnnrl rl: interrupted again, exiting without writing\n');
      process.exit(130);
    }
    io.stderr.write('\ngnnrl rl: stopping at the next step and writing what exists (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let result: RlResult;
  try {
    result = await runRlJob(config, { stderr: io.stderr, signal: abort.signal, argv });
  } catch (err) {
    if (err instanceof UsageError) return usage(err, io);
    io.stderr.write(`gnnrl rl: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }

  if (config.json) {
    const agents = result.agents.map(({ records: _r, ...a }) => a);
    const json = toJson({ out: result.outDir, status: result.manifest.status, agents, comparisons: result.comparisons });
    io.stdout.write(json + '\n');
  } else {
    io.stdout.write(rlResultsTable(result.agents, result.comparisons) + '\n');
    if (!config.quiet) io.stderr.write(`wrote ${result.outDir}: config.json, manifest.json, metrics.json, episodes.csv, rewards.svg, <agent>/agent.ckpt, models/<model>.ckpt\n`);
  }
  if (result.interrupted) return 130;
  return result.failed ? 1 : 0;
}

function usage(err: unknown, io: TrainCommandIO): number {
  if (err instanceof UsageError) {
    io.stderr.write(`gnnrl rl: ${err.message}\nrun 'gnnrl rl --help' for the options\n`);
    return 2;
  }
  io.stderr.write(`gnnrl rl: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
