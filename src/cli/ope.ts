/**
 * `gnnrl ope`: parses the options, runs the job (ope-job.ts), prints per target policy the
 * true value beside every estimate with its 95% interval and effective sample size.
 * stderr carries progress, stdout the table (or JSON with --json).
 *
 * Exit codes: 0 done; 1 a failure while running; 2 a usage error (a bad flag, a log that
 * does not load, a checkpoint for another catalogue: nothing is written).
 */
import { GnnrlError } from '../errors.js';
import { UsageError } from './args.js';
import { opeHelp, parseOpeArgs } from './ope-config.js';
import { runOpeJob, type OpeResult } from './ope-job.js';
import { formatMetric, formatTable, type Column } from './table.js';
import type { TrainCommandIO } from './train.js';

export async function opeCommand(argv: readonly string[], io: TrainCommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parseOpeArgs(argv);
  } catch (err) {
    return usage(err, io);
  }
  if (parsed.help) {
    io.stdout.write(opeHelp());
    return 0;
  }
  let result: OpeResult;
  try {
    result = await runOpeJob(parsed.config, { stderr: io.stderr, argv });
  } catch (err) {
    // A log that does not load, or a policy that does not fit the world, is the caller's input.
    if (err instanceof UsageError || (err instanceof GnnrlError && (err.code === 'format' || err.code === 'input'))) return usage(err, io);
    io.stderr.write(`gnnrl ope: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (parsed.config.json) {
    io.stdout.write(JSON.stringify({ out: result.outDir, log: result.log, policies: result.policies }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  } else {
    io.stdout.write(opeTable(result) + '\n');
    if (!parsed.config.quiet) io.stderr.write(`wrote ${result.outDir}: config.json, manifest.json, metrics.json${result.log.source.startsWith('sim') ? ', log.jsonl' : ''}\n`);
  }
  return 0;
}

/** Rows: policies; columns: the truth, then each estimator's value [95% CI] and ESS, then the on-policy run. */
export function opeTable(r: OpeResult): string {
  const f = (v: number | null | undefined, d = 4) => formatMetric(v ?? undefined, d);
  const names = r.policies[0]?.estimates.map((e) => e.display) ?? [];
  const columns: Column[] = [{ header: 'policy', align: 'left' }, { header: 'true V' }, ...names.flatMap((n) => [{ header: n }, { header: `${n} 95% CI` }]), { header: 'ESS' }, { header: 'match' }, { header: 'on-policy return' }, { header: 'reward/step' }];
  const rows = r.policies.map((p) => [
    p.display,
    p.trueValue === null ? '' : f(p.trueValue),
    ...p.estimates.flatMap((e) => [f(e.value), `[${f(e.ci95[0])}, ${f(e.ci95[1])}]`]),
    formatMetric(p.estimates[0]?.ess, 1),
    formatMetric(p.matchRate, 3),
    `${f(p.onPolicy.meanReturn, 3)} [${f(p.onPolicy.ci95[0], 3)}, ${f(p.onPolicy.ci95[1], 3)}]`,
    f(p.onPolicy.rewardPerStep),
  ]);
  const l = r.log;
  const head = `log: ${l.source}, ${l.events} events, slate ${l.slateSize}, propensities ${l.propensitySource}, mean reward ${f(l.meanReward)}${l.loggerValue !== null ? `, logger's true value ${f(l.loggerValue)}` : ''}`;
  const legend = "true V: the target's expected reward per decision in the logged states (what the estimators estimate; simulator logs only); ESS: effective sample size of the importance weights; match: share of events where the target shows the logged action; on-policy: the target run in the simulator (episode return, 95% CI; reward per step)";
  // Where the estimates rest on few events, say so beside the numbers.
  const notes = r.policies.flatMap((p) => {
    const ess = p.estimates[0]?.ess ?? 0;
    if (p.matchRate === 0) return [`note: ${p.display} never shows a logged action: IPS and DR rest on the direct model alone, SNIPS is undefined`];
    if (ess < 100) return [`note: ${p.display}: effective sample size ${ess.toFixed(1)}: few logged events carry the estimates, so their intervals are unreliable`];
    return [];
  });
  return [head, '', formatTable(columns, rows), '', legend, ...notes].join('\n');
}

function usage(err: unknown, io: TrainCommandIO): number {
  io.stderr.write(`gnnrl ope: ${err instanceof Error ? err.message : String(err)}\nrun 'gnnrl ope --help' for the options\n`);
  return err instanceof UsageError || err instanceof GnnrlError ? 2 : 1;
}
