/**
 * Logged bandit feedback with propensities: what an earlier (logging) policy showed, to
 * whom, in which context, what came of it, and how probable that action was under the
 * logging policy. Off-policy estimators (eval/ope/) need exactly these columns.
 *
 * One event per line, in JSONL or CSV (the same fields; the extension picks):
 *
 *   field                  JSONL                      CSV column                what
 *   user                   "user": 3                  user                      dense user index
 *   session                "session": 17              session                   optional: the session (episode) the event
 *                                                                               belongs to, so intervals can resample
 *                                                                               whole sessions
 *   step                   "step": 4                  step                      step in the user's session (context)
 *   history                "history": [7, 2]          history "7 2"             the items the user had just consumed,
 *                                                                               oldest first: with user and step the
 *                                                                               state the policy saw (its window)
 *   item | slate           "item": 5 | "slate": [5,1] item | slate "5 1"        the action: an item, or an ordered slate
 *   position               "position": 1              position                  slate position clicked, −1 for none
 *   reward                 "reward": 1                reward                    the observed reward
 *   propensity             "propensity": 0.013        propensity                μ(action | context) ∈ (0, 1] of the
 *                                                                               logging policy (the whole slate's)
 *   positionPropensities   "positionPropensities":[…] position_propensities     optional, slates: μ(item at position j),
 *                                                                               what the pseudo-inverse estimator needs
 *   time                   "time": 120                time                      when (seconds or simulator steps)
 *
 * In memory a log is a struct of arrays (`LoggedData`); history windows are right-aligned
 * and −1 left-padded like an `Observation`'s, so a log's contexts can be replayed to any
 * policy as observations (`contextObservation`).
 */
import { GnnrlError } from '../../errors.js';
import { writeFileAtomic } from '../../data/io/atomic.js';
import type { Observation } from '../types.js';

export interface LoggedData {
  /** Events. */
  readonly n: number;
  /** K, items per action (1 = single items). */
  readonly slateSize: number;
  /** H of the history windows. */
  readonly historyLen: number;
  readonly user: Int32Array;
  /** Session (episode) id per event, or null when not logged. */
  readonly session: Int32Array | null;
  readonly step: Int32Array;
  /** n × H, oldest first, −1 left-padded. */
  readonly history: Int32Array;
  /** n × K. */
  readonly slate: Int32Array;
  readonly position: Int32Array;
  readonly reward: Float32Array;
  /** μ(logged slate | context), in (0, 1]. */
  readonly propensity: Float64Array;
  /** n × K marginals μ(slate[j] at position j), or null when not logged. */
  readonly positionPropensity: Float64Array | null;
  readonly time: Float64Array;
  /** 'logged' when the file gave them, 'estimated' when a behaviour model filled them. */
  readonly propensitySource: 'logged' | 'estimated';
}

export type LogFormat = 'jsonl' | 'csv';

/** The format a path's extension names (.jsonl/.ndjson/.json → jsonl, .csv → csv). */
export function logFormatOf(path: string): LogFormat {
  const ext = path.toLowerCase().split('.').pop();
  if (ext === 'jsonl' || ext === 'ndjson' || ext === 'json') return 'jsonl';
  if (ext === 'csv') return 'csv';
  throw new GnnrlError('input', `${path}: unknown log format '.${ext}'; expected .jsonl or .csv`, { arg: 'path', file: path });
}

export const LOG_CSV_HEADER = 'user,session,step,history,item,slate,position,reward,propensity,position_propensities,time';

function historyOf(log: LoggedData, j: number): number[] {
  const H = log.historyLen;
  const out: number[] = [];
  for (let t = 0; t < H; t++) {
    const i = log.history[j * H + t];
    if (i >= 0) out.push(i);
  }
  return out;
}

/** Shortest text that parses back to the same double. */
const num = (x: number): string => String(x);

/** One JSONL line per event (with a trailing newline). */
export function logToJsonl(log: LoggedData): string {
  const K = log.slateSize;
  const lines: string[] = [];
  for (let j = 0; j < log.n; j++) {
    const slate = Array.from(log.slate.subarray(j * K, (j + 1) * K));
    const e: Record<string, unknown> = { user: log.user[j] };
    if (log.session) e.session = log.session[j];
    e.step = log.step[j];
    e.history = historyOf(log, j);
    if (K === 1) e.item = slate[0];
    else e.slate = slate;
    e.position = log.position[j];
    e.reward = log.reward[j];
    e.propensity = log.propensity[j];
    if (log.positionPropensity) e.positionPropensities = Array.from(log.positionPropensity.subarray(j * K, (j + 1) * K));
    e.time = log.time[j];
    lines.push(JSON.stringify(e));
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** A header line and one CSV row per event; lists are space-separated inside their field. */
export function logToCsv(log: LoggedData): string {
  const K = log.slateSize;
  const rows = [LOG_CSV_HEADER];
  for (let j = 0; j < log.n; j++) {
    const slate = Array.from(log.slate.subarray(j * K, (j + 1) * K));
    const pp = log.positionPropensity ? Array.from(log.positionPropensity.subarray(j * K, (j + 1) * K), num).join(' ') : '';
    rows.push(
      [log.user[j], log.session ? log.session[j] : '', log.step[j], historyOf(log, j).join(' '), K === 1 ? slate[0] : '', K === 1 ? '' : slate.join(' '), log.position[j], num(log.reward[j]), num(log.propensity[j]), pp, num(log.time[j])].join(','),
    );
  }
  return rows.join('\n') + '\n';
}

/** Writes a log atomically (temp file, fsync, rename) in the format `path`'s extension names, or `format`. */
export async function writeLog(path: string, log: LoggedData, format: LogFormat = logFormatOf(path)): Promise<void> {
  await writeFileAtomic(path, format === 'csv' ? logToCsv(log) : logToJsonl(log));
}

/** Events [lo, hi) of a log's contexts as one observation (for asking a policy what it would do there). */
export function contextObservation(log: LoggedData, lo: number, hi: number): Observation {
  const H = log.historyLen;
  const B = hi - lo;
  const historyItems = log.history.slice(lo * H, hi * H);
  const historyRatings = new Float32Array(B * H);
  const historyTimes = new Float64Array(B * H);
  const historyCount = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < H; t++) {
      if (historyItems[b * H + t] >= 0) {
        historyRatings[b * H + t] = 1;
        historyCount[b]++;
      }
    }
  }
  return { batch: B, user: log.user.slice(lo, hi), historyLen: H, historyItems, historyRatings, historyTimes, historyCount, stepInEpisode: log.step.slice(lo, hi), featureDim: 0, features: null };
}

/** A copy of `log` with new propensities (the behaviour model's). */
export function withPropensities(log: LoggedData, propensity: Float64Array, source: LoggedData['propensitySource']): LoggedData {
  if (propensity.length !== log.n) throw new GnnrlError('input', `propensity: expected ${log.n} values, got ${propensity.length}`, { arg: 'propensity' });
  return { ...log, propensity, propensitySource: source };
}
