/**
 * What `gnnrl train` writes and prints from its results: metrics.json, epochs.csv,
 * curves.svg, and the final table. Pure functions of the results, so tests check them
 * without training anything; the job writes them atomically.
 */
import type { EpochReport } from '../models/types.js';
import { renderCurvesSvg, type Panel } from './svg-plot.js';
import { csvField, formatDuration, formatMetric, formatTable, type Column } from './table.js';
import { toJson } from './json.js';

/** One model's outcome in a train run. */
export interface ModelResult {
  /** Registry name. */
  name: string;
  /** Table name (the model's own `name`, e.g. 'BaselineOnly (als)', or the registry's display name). */
  display: string;
  kind: 'encoder' | 'baseline';
  /**
   * ok: fit and evaluated; interrupted: Ctrl-C during its fit (checkpoint of what it had, no
   * evaluation); skipped: not run (needs ratings the data lacks, or an earlier interrupt);
   * failed: an error (in `error`).
   */
  status: 'ok' | 'interrupted' | 'skipped' | 'failed';
  error?: string;
  /** Why it was skipped. */
  note?: string;
  fitSeconds: number;
  evalSeconds: number;
  /** Validation metric that picked the best epoch (null without validation). */
  monitor: string | null;
  bestEpoch: number;
  stoppedEarly: boolean;
  history: EpochReport[];
  /** Final test metrics (empty unless status is ok). */
  metrics: Record<string, number>;
  ci?: Record<string, [number, number]>;
  users?: { evaluated: number; skipped: number };
  /** Checkpoint path relative to the output folder. */
  checkpoint?: string;
  /** The model's own per-epoch series (FitResult.curves), e.g. DDPG-LA's Ave_Reward per round. */
  curves?: Record<string, number[]>;
}

/** metrics.json: every model's final metrics, intervals, and per-epoch history. */
export function metricsJson(k: number[], models: readonly ModelResult[]): string {
  const out: Record<string, unknown> = {};
  for (const m of models) {
    out[m.name] = {
      display: m.display,
      kind: m.kind,
      status: m.status,
      ...(m.error ? { error: m.error } : {}),
      ...(m.note ? { note: m.note } : {}),
      fitSeconds: m.fitSeconds,
      evalSeconds: m.evalSeconds,
      monitor: m.monitor,
      bestEpoch: m.bestEpoch,
      stoppedEarly: m.stoppedEarly,
      metrics: m.metrics,
      ...(m.ci ? { ci: m.ci } : {}),
      ...(m.users ? { users: m.users } : {}),
      ...(m.checkpoint ? { checkpoint: m.checkpoint } : {}),
      ...(m.curves ? { curves: m.curves } : {}),
      history: m.history,
    };
  }
  // JSON has no NaN or Infinity: they become null, which readers take as "no value".
  return toJson({ k, models: out }) + '\n';
}

function csvNumber(v: number | undefined): string {
  if (v === undefined) return '';
  return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

/** Validation metric names over all models, in a stable order (rating errors first). */
export function validationNames(models: readonly ModelResult[]): string[] {
  const names = new Set<string>();
  for (const m of models) for (const r of m.history) for (const k of Object.keys(r.validation ?? {})) names.add(k);
  const rank = (n: string) => (n === 'rmse' ? 0 : n === 'mae' ? 1 : 2);
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The header of epochs.csv for these validation metrics. */
export function epochsCsvHeader(valNames: readonly string[]): string[] {
  return ['model', 'epoch', 'loss', 'seconds', 'samples_per_second', ...valNames.map((n) => `val_${n}`), 'best'];
}

/** epochs.csv: one row per model and epoch. */
export function epochsCsv(models: readonly ModelResult[]): string {
  const val = validationNames(models);
  const lines = [epochsCsvHeader(val).map(csvField).join(',')];
  for (const m of models) {
    for (const r of m.history) {
      const cells = [m.name, String(r.epoch), csvNumber(r.loss), csvNumber(r.seconds), csvNumber(r.samplesPerSecond), ...val.map((n) => csvNumber(r.validation?.[n])), r.best ? '1' : '0'];
      lines.push(cells.map(csvField).join(','));
    }
  }
  return lines.join('\n') + '\n';
}

/** curves.svg: training loss per model, and each monitored validation metric per model, against the epoch. */
export function curvesSvg(models: readonly ModelResult[], title: string): string {
  const withHistory = models.filter((m) => m.history.length > 0);
  const panels: Panel[] = [];
  const loss = withHistory
    .filter((m) => m.history.some((r) => Number.isFinite(r.loss)))
    .map((m) => ({ name: m.display, points: m.history.map((r) => [r.epoch, r.loss] as const) }));
  panels.push({ title: 'training loss', xLabel: 'epoch', yLabel: 'loss', series: loss });
  const monitors = [...new Set(withHistory.map((m) => m.monitor).filter((x): x is string => !!x))];
  for (const metric of monitors) {
    const series = withHistory
      .filter((m) => m.monitor === metric)
      .map((m) => ({ name: m.display, points: m.history.map((r) => [r.epoch, r.validation?.[metric] ?? NaN] as const) }));
    panels.push({ title: `validation ${metric}`, xLabel: 'epoch', yLabel: metric, series });
  }
  // Each model-reported series (Ave_Reward per round, …) gets a panel of its own.
  for (const name of curveNames(models)) {
    const series = models
      .filter((m) => m.curves?.[name]?.length)
      .map((m) => ({ name: m.display, points: m.curves![name].map((v, i) => [i + 1, v] as const) }));
    panels.push({ title: `${name} per epoch`, xLabel: 'epoch (round)', yLabel: name, series });
  }
  return renderCurvesSvg(panels, { title, columns: Math.min(3, panels.length), order: withHistory.map((m) => m.display) });
}

/** The names of the models' own per-epoch series, in order of appearance. */
export function curveNames(models: readonly ModelResult[]): string[] {
  return [...new Set(models.flatMap((m) => Object.keys(m.curves ?? {})))];
}

/** Table headers of metric families. */
const SHORT: Record<string, string> = { precision: 'P', recall: 'R', ndcg: 'NDCG', hr: 'HR', mrr: 'MRR', map: 'MAP', coverage: 'Cov' };

/** The metric columns of the final table, in order: RMSE, MAE, then each family at each K, then coverage. */
export function tableMetricKeys(k: readonly number[]): { key: string; header: string }[] {
  const cols = [
    { key: 'rmse', header: 'RMSE' },
    { key: 'mae', header: 'MAE' },
    // Only models that predict on [0, 1] fill these (labelled: not comparable with RMSE/MAE).
    { key: 'rmse[0,1]', header: 'RMSE[0,1]' },
    { key: 'mae[0,1]', header: 'MAE[0,1]' },
  ];
  for (const kk of k) for (const fam of ['precision', 'recall', 'ndcg', 'hr', 'mrr', 'map']) cols.push({ key: `${fam}@${kk}`, header: `${SHORT[fam]}@${kk}` });
  const maxK = Math.max(...k);
  cols.push({ key: `coverage@${maxK}`, header: `${SHORT.coverage}@${maxK}` });
  return cols;
}

/** The final table: rows = models, columns = fit time, epochs and metrics (blank where not applicable). */
export function resultsTable(models: readonly ModelResult[], k: readonly number[]): string {
  const metricCols = tableMetricKeys(k);
  const columns: Column[] = [{ header: 'model', align: 'left' }, { header: 'fit' }, { header: 'epochs' }, ...metricCols.map((c) => ({ header: c.header }))];
  const rows = models.map((m) => {
    const label = m.status === 'ok' ? m.display : `${m.display} (${m.status})`;
    const epochs = m.history.length === 0 ? '' : m.bestEpoch && m.bestEpoch !== m.history.length ? `${m.bestEpoch}/${m.history.length}` : String(m.history.length);
    const cells = metricCols.map((c) => {
      const v = m.metrics[c.key];
      const ci = m.ci?.[c.key];
      if (v === undefined) return '';
      return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? `${formatMetric(v)}±${formatMetric((ci[1] - ci[0]) / 2)}` : formatMetric(v);
    });
    return [label, m.status === 'skipped' ? '' : formatDuration(m.fitSeconds), epochs, ...cells];
  });
  // Columns no model has a value in (e.g. RMSE in a ranking-only run) are dropped.
  const keep = columns.map((_, j) => j < 3 || rows.some((r) => r[j] !== ''));
  const table = formatTable(columns.filter((_, j) => keep[j]), rows.map((r) => r.filter((_, j) => keep[j])));
  const notes = models.filter((m) => m.error || m.note).map((m) => `${m.display}: ${m.error ?? m.note}`);
  const legend = 'epochs: best/run when validation picked an earlier epoch than the last';
  return [table, '', legend, ...notes].join('\n');
}
