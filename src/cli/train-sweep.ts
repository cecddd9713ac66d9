/**
 * `gnnrl train --sweep MODEL.KEY=V1,V2,…`: one train job per value of one model option,
 * on the same data, split and seed, sharing one engine. Each value's run is a complete
 * run folder (`<out>/KEY=VALUE/`); the sweep's own files sit beside them and are
 * rewritten after every value, so an interrupted sweep keeps the rows it finished:
 *
 *   sweep.csv   one row per value: value, status, fit seconds, every final test metric
 *   sweep.json  the same, with confidence intervals when --ci
 *   sweep.svg   each metric against the value (numeric values), one panel per metric; for
 *               a model's own per-epoch series (FitResult.curves, e.g. Ave_Reward) one line
 *               per value against the epoch and its mean over the epochs against the value
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Engine } from '../engine.js';
import { writeFileAtomic } from '../data/io/atomic.js';
import { parseSweepSpec, type SweepSpec, type TrainConfig } from './config.js';
import { runTrainJob, type ModelResult, type TrainIO } from './train-job.js';
import { curveNames, tableMetricKeys } from './train-output.js';
import { renderCurvesSvg, type Panel } from './svg-plot.js';
import { toJson } from './json.js';
import { csvField } from './table.js';

export interface SweepRow {
  value: number | boolean | string;
  /** The value's run folder, relative to the sweep's. */
  dir: string;
  result: ModelResult;
}

export interface SweepResult {
  outDir: string;
  spec: SweepSpec;
  rows: SweepRow[];
  interrupted: boolean;
  failed: boolean;
}

/** Folder name of one value: the option and its value, with path-unsafe characters replaced. */
export function sweepDirName(key: string, value: SweepRow['value']): string {
  return `${key}=${String(value).replace(/[^A-Za-z0-9._+-]/g, '_')}`;
}

export async function runTrainSweep(config: TrainConfig, io: TrainIO = {}): Promise<SweepResult> {
  const spec = parseSweepSpec(config.sweep, '--sweep');
  const outDir = resolve(config.out);
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  let engine = io.engine;
  const ownEngine = !engine;
  const rows: SweepRow[] = [];
  let interrupted = false;
  try {
    engine ??= await Engine.create({ backend: config.backend, quiet: true });
    for (const value of spec.values) {
      if (io.signal?.aborted) {
        interrupted = true;
        break;
      }
      const dir = sweepDirName(spec.key, value);
      const own = config.modelOptions[spec.model] ?? {};
      const sub: TrainConfig = {
        ...config,
        sweep: null,
        model: [spec.model],
        modelOptions: { ...config.modelOptions, [spec.model]: { ...own, [spec.key]: value } },
        out: join(outDir, dir),
      };
      if (!config.quiet) io.stderr?.write(`sweep ${spec.model}.${spec.key} = ${String(value)} (${rows.length + 1}/${spec.values.length})\n`);
      const r = await runTrainJob(sub, { ...io, engine });
      rows.push({ value, dir, result: r.models[0] });
      await writeSweepFiles(outDir, config, spec, rows);
      if (r.interrupted) {
        interrupted = true;
        break;
      }
    }
  } finally {
    if (ownEngine) await engine?.dispose();
  }
  return { outDir, spec, rows, interrupted, failed: rows.some((r) => r.result.status === 'failed') };
}

/** The metric keys any row has, in the final table's order. */
function metricKeys(config: TrainConfig, rows: readonly SweepRow[]): string[] {
  return tableMetricKeys(config.k)
    .map((c) => c.key)
    .filter((k) => rows.some((r) => r.result.metrics[k] !== undefined));
}

/** The mean of a model's own series over its epochs (e.g. Total_Ave_Reward: Ave_Reward averaged over the rounds). */
export function curveMean(r: SweepRow, name: string): number {
  const v = r.result.curves?.[name];
  return v && v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
}

export function sweepCsv(config: TrainConfig, spec: SweepSpec, rows: readonly SweepRow[]): string {
  const keys = metricKeys(config, rows);
  const curves = curveNames(rows.map((r) => r.result));
  const lines = [[spec.key, 'status', 'fit_seconds', 'best_epoch', ...keys, ...curves.map((c) => `mean_${c}`)].join(',')];
  for (const r of rows) {
    const m = r.result;
    const means = curves.map((c) => curveMean(r, c)).map((v) => (Number.isFinite(v) ? String(v) : ''));
    lines.push([csvField(String(r.value)), m.status, m.fitSeconds.toFixed(3), m.bestEpoch, ...keys.map((k) => (m.metrics[k] === undefined ? '' : String(m.metrics[k]))), ...means].join(','));
  }
  return lines.join('\n') + '\n';
}

export function sweepSvg(config: TrainConfig, spec: SweepSpec, rows: readonly SweepRow[]): string {
  // Numeric values are the x axis; other values are placed at their position in the list.
  const numeric = rows.every((r) => typeof r.value === 'number');
  const x = (r: SweepRow, i: number) => (numeric ? (r.value as number) : i);
  const label = numeric ? spec.key : `${spec.key} (value number)`;
  const panels: Panel[] = metricKeys(config, rows).map((k) => ({
    title: `test ${k}`,
    xLabel: label,
    yLabel: k,
    series: [{ name: spec.model, points: rows.map((r, i) => [x(r, i), r.result.metrics[k] ?? NaN] as const) }],
  }));
  // A model's own per-epoch series: one line per value against the epoch (the seed's
  // Fig. 7 for Ave_Reward), and its mean over the epochs against the value (Fig. 8).
  for (const name of curveNames(rows.map((r) => r.result))) {
    panels.push({
      title: `${name} per epoch, by ${spec.key}`,
      xLabel: 'epoch (round)',
      yLabel: name,
      series: rows.filter((r) => r.result.curves?.[name]?.length).map((r) => ({ name: `${spec.key}=${String(r.value)}`, points: r.result.curves![name].map((v, i) => [i + 1, v] as const) })),
    });
    panels.push({ title: `mean ${name} over the epochs`, xLabel: label, yLabel: `mean ${name}`, series: [{ name: spec.model, points: rows.map((r, i) => [x(r, i), curveMean(r, name)] as const) }] });
  }
  return renderCurvesSvg(panels, { title: `gnnrl train --sweep ${spec.model}.${spec.key} on ${config.data}`, columns: Math.min(3, Math.max(1, panels.length)) });
}

async function writeSweepFiles(outDir: string, config: TrainConfig, spec: SweepSpec, rows: readonly SweepRow[]): Promise<void> {
  const json = {
    model: spec.model,
    key: spec.key,
    values: spec.values,
    rows: rows.map((r) => ({ value: r.value, dir: r.dir, status: r.result.status, fitSeconds: r.result.fitSeconds, metrics: r.result.metrics, ...(r.result.ci ? { ci: r.result.ci } : {}), ...(r.result.curves ? { curves: r.result.curves } : {}), ...(r.result.error ? { error: r.result.error } : {}) })),
  };
  await writeFileAtomic(join(outDir, 'sweep.json'), toJson(json) + '\n');
  await writeFileAtomic(join(outDir, 'sweep.csv'), sweepCsv(config, spec, rows));
  await writeFileAtomic(join(outDir, 'sweep.svg'), sweepSvg(config, spec, rows));
}
