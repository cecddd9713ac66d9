/**
 * What `gnnrl rl` writes and prints from its results: metrics.json, episodes.csv,
 * rewards.svg, the final table, and the training progress line. Pure functions of the
 * results (the progress class aside), so tests check them without running agents.
 */
import type { AgentMetrics, EpisodeRecord } from '../rl/evaluate.js';
import type { TrainProgress } from '../rl/train-loop.js';
import type { ProgressStream } from './progress.js';
import { renderCurvesSvg, type Series } from './svg-plot.js';
import { csvField, formatDuration, formatMetric, formatRate, formatTable, type Column } from './table.js';
import { finiteNumbers } from './json.js';

/** One agent's outcome in an rl run. */
export interface AgentResult {
  /** Canonical registry name ('dqn', 'greedy:lightgcn'). */
  name: string;
  display: string;
  learns: boolean;
  /** ok: evaluated; interrupted: Ctrl-C while training (checkpoint, no evaluation); skipped; failed (see error). */
  status: 'ok' | 'interrupted' | 'skipped' | 'failed';
  error?: string;
  note?: string;
  /** Final evaluation (absent unless ok). */
  metrics?: Omit<AgentMetrics, 'agent' | 'name'>;
  /** The evaluation's episodes. */
  records: EpisodeRecord[];
  /** Learning agents: what training did. */
  train?: {
    steps: number;
    episodes: number;
    seconds: number;
    /** Slot-steps per second on-policy; logged events per second (× epochs) from a log. */
    stepsPerSecond: number;
    meanTrainReturn: number;
    lastLoss: number | null;
    /** The last ε of ε-greedy agents (null otherwise). */
    epsilon: number | null;
    /** The last Boltzmann temperature τ (DQN with exploration 'boltzmann'); absent otherwise. */
    temperature?: number;
    /** Set when the agent learned from `--train-log` (steps are then its updates). */
    fromLog?: { file: string; events: number; epochs: number; meanWeight: number | null; ess: number | null };
  };
  /** Learning agents: evaluated mean return after each number of training steps. */
  curve: { step: number; meanReturn: number }[];
  /** Checkpoint path relative to the output folder. */
  checkpoint?: string;
  /**
   * Environments with a log (replay:, fitted:): the ranking metrics of the agent's greedy
   * policy on the test split (eval/'s precision, recall, ndcg, hr, mrr, map @10 and @20,
   * coverage, novelty, gini), and the users scored.
   */
  ranking?: Record<string, number>;
}

/** Learner − baseline mean return, with a 95% bootstrap interval of the difference. */
export interface Comparison {
  agent: string;
  baseline: string;
  difference: number;
  ci95: [number, number];
}

/** Fields of metrics.json that measure time, not outcome (they differ between identical runs). */
export const TIMING_FIELDS: readonly string[] = ['stepsPerSecond', 'seconds'];

const jsonNumbers = finiteNumbers;

/** metrics.json: per agent the final metrics, training summary and curve; then the comparisons. */
export function rlMetricsJson(about: { env: string; seed: number; steps: number; episodes: number }, agents: readonly AgentResult[], comparisons: readonly Comparison[]): string {
  const out: Record<string, unknown> = {};
  for (const a of agents) {
    out[a.name] = {
      display: a.display,
      learns: a.learns,
      status: a.status,
      ...(a.error ? { error: a.error } : {}),
      ...(a.note ? { note: a.note } : {}),
      ...(a.metrics ?? {}),
      ...(a.train ? { train: a.train } : {}),
      ...(a.learns ? { curve: a.curve } : {}),
      ...(a.checkpoint ? { checkpoint: a.checkpoint } : {}),
      ...(a.ranking ? { ranking: a.ranking } : {}),
    };
  }
  return JSON.stringify({ ...about, agents: out, comparisons }, jsonNumbers, 2) + '\n';
}

export const EPISODES_CSV_HEADER = ['agent', 'episode', 'slot', 'user', 'return', 'discountedReturn', 'length', 'clicks', 'conversions'] as const;

/** episodes.csv: one row per evaluated episode of every agent. */
export function episodesCsv(agents: readonly AgentResult[]): string {
  const lines = [EPISODES_CSV_HEADER.join(',')];
  for (const a of agents) {
    a.records.forEach((r, j) => {
      lines.push([csvField(a.name), j, r.slot, r.user, r.return, r.discountedReturn, r.length, r.clicks, r.conversions].map(String).join(','));
    });
  }
  return lines.join('\n') + '\n';
}

/** rewards.svg: evaluated mean return against training steps per learning agent; fixed policies as horizontal lines. */
export function rewardsSvg(agents: readonly AgentResult[], steps: number, title: string): string {
  const series: Series[] = [];
  const maxStep = Math.max(steps, 1, ...agents.flatMap((a) => a.curve.map((p) => p.step)));
  for (const a of agents) {
    if (a.learns && a.curve.length > 0) series.push({ name: a.display, points: a.curve.map((p) => [p.step, p.meanReturn] as const) });
  }
  for (const a of agents) {
    if (!a.learns && a.metrics) series.push({ name: a.display, points: [[0, a.metrics.meanReturn], [maxStep, a.metrics.meanReturn]] });
  }
  return renderCurvesSvg([{ title: 'evaluated mean episode return', xLabel: 'training steps', yLabel: 'mean return', series }], { title, columns: 1, panelWidth: 640, panelHeight: 380 });
}

/** The final table: rows = agents, columns = return ± CI half-width, the interval, discounted return, CTR, CVR, session length, steps/s. */
export function rlResultsTable(agents: readonly AgentResult[], comparisons: readonly Comparison[]): string {
  const columns: Column[] = [
    { header: 'agent', align: 'left' },
    { header: 'return' },
    { header: '95% CI' },
    { header: 'disc.' },
    { header: 'CTR' },
    { header: 'CVR' },
    { header: 'length' },
    { header: 'train' },
    { header: 'steps/s' },
  ];
  const f = (v: number, d = 3) => formatMetric(v, d);
  const rows = agents.map((a) => {
    const label = a.status === 'ok' ? a.display : `${a.display} (${a.status})`;
    const m = a.metrics;
    const train = a.train ? formatDuration(a.train.seconds) : '';
    if (!m) return [label, '', '', '', '', '', '', train, ''];
    return [label, `${f(m.meanReturn)}±${f((m.ci95[1] - m.ci95[0]) / 2)}`, `[${f(m.ci95[0])}, ${f(m.ci95[1])}]`, f(m.meanDiscountedReturn), f(m.ctr), f(m.cvr), f(m.meanSessionLength, 2), train, formatRate(m.stepsPerSecond)];
  });
  const display = new Map(agents.map((a) => [a.name, a.display]));
  const diffs = comparisons.map((c) => {
    const verdict = c.ci95[0] > 0 ? 'ahead' : c.ci95[1] < 0 ? 'behind' : 'no clear difference';
    return `  ${display.get(c.agent)} − ${display.get(c.baseline)}: ${c.difference >= 0 ? '+' : ''}${f(c.difference)} [${f(c.ci95[0])}, ${f(c.ci95[1])}] (${verdict})`;
  });
  const notes = agents.filter((a) => a.error || a.note).map((a) => `${a.display}: ${a.error ?? a.note}`);
  const legend = 'return: mean undiscounted episode return ± half the 95% bootstrap interval; disc.: discounted; length: mean session length';
  return [formatTable(columns, rows), '', legend, ...(diffs.length ? ['', 'difference in mean return, 95% bootstrap CI:', ...diffs] : []), ...notes].join('\n');
}

/**
 * Training progress on stderr: on a terminal one line rewritten in place (bar, steps/s,
 * ε, recent return, loss, ETA); elsewhere one line per report.
 */
export class RlProgress {
  private readonly tty: boolean;
  private open = false;
  private lastDraw = -Infinity;
  private label = '';
  private batch = 1;

  constructor(
    private readonly stream: ProgressStream,
    private readonly opts: { quiet?: boolean; tty?: boolean; redrawMs?: number } = {},
  ) {
    this.tty = opts.tty ?? stream.isTTY === true;
  }

  get isTTY(): boolean {
    return this.tty;
  }

  message(text: string): void {
    if (this.opts.quiet) return;
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /** Starts an agent's training; `batch` is the env's slots per step (for the ETA). */
  start(label: string, batch: number): void {
    this.label = label;
    this.batch = batch;
    this.lastDraw = -Infinity;
  }

  report(p: TrainProgress): void {
    if (this.opts.quiet) return;
    const now = performance.now();
    if (this.tty && now - this.lastDraw < (this.opts.redrawMs ?? 100) && p.step < p.steps) return;
    this.lastDraw = now;
    const frac = p.steps > 0 ? Math.min(1, p.step / p.steps) : 1;
    const width = String(p.steps).length;
    const eps = p.update?.exploration;
    const rate = p.stepsPerSecond;
    // stepsPerSecond counts slot-steps (batch of them per step): the ETA divides it back.
    const eta = p.step > 0 && p.step < p.steps && rate > 0 ? `  ETA ${formatDuration(((p.steps - p.step) * this.batch) / rate)}` : '';
    const parts = [
      `${this.label}  step ${String(p.step).padStart(width)}/${p.steps}`,
      this.tty ? ` ${bar(frac)} ${String(Math.round(frac * 100)).padStart(3)}%` : '',
      `  ${formatRate(rate)} steps/s`,
      // Boltzmann DQN reports τ as its exploration (extra.temperature says which).
      eps !== undefined ? `  ${p.update?.extra?.temperature !== undefined ? 'τ' : 'ε'} ${eps.toFixed(3)}` : '',
      `  return ${Number.isFinite(p.recentReturn) ? p.recentReturn.toFixed(3) : '-'}`,
      p.update ? `  loss ${p.update.loss.toFixed(4)}` : '',
      eta,
    ];
    const line = parts.join('');
    if (this.tty) {
      const cols = this.stream.columns;
      this.stream.write(`\r\x1b[2K${cols && line.length > cols - 1 ? line.slice(0, cols - 1) : line}`);
      this.open = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  clear(): void {
    if (this.open) {
      this.stream.write('\r\x1b[2K');
      this.open = false;
    }
  }
}

function bar(frac: number): string {
  const n = 20;
  const filled = Math.round(frac * n);
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === n ? '=' : '>') : ''}${' '.repeat(n - filled)}]`;
}
