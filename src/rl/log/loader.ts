/**
 * Reads a propensity log (format.ts) from JSONL or CSV into `LoggedData`, checking every
 * line. A bad value is a `format` error whose message and details name the file, the
 * 1-based line and the field: a missing or non-positive propensity, one above 1, unknown
 * user or item ids (outside `nUsers`/`nItems` when given), a slate of the wrong length or
 * with an item twice, a position outside the slate, an empty log.
 *
 * `propensity: 'estimate'` ignores the file's propensities (they may be absent) and fills
 * them from a behaviour model fitted to the logged actions (behaviour.ts).
 */
import { readFile } from 'node:fs/promises';
import { GnnrlError } from '../../errors.js';
import { LOG_CSV_HEADER, logFormatOf, withPropensities, type LogFormat, type LoggedData } from './format.js';
import { fitBehaviourModel, type BehaviourOptions } from './behaviour.js';

export interface LoadLogOptions {
  /** 'logged' (default): the file's propensities, required on every line; 'estimate': fitted. */
  propensity?: 'logged' | 'estimate';
  /** Users and items of the catalogue: ids at or above are refused (default: any index). */
  nUsers?: number;
  nItems?: number;
  /** Overrides the extension. */
  format?: LogFormat;
  /** The behaviour model's options (with `propensity: 'estimate'`). */
  behaviour?: BehaviourOptions;
}

/** One parsed line, before the checks that need the whole file. */
interface RawEvent {
  line: number;
  user: unknown;
  session: unknown;
  step: unknown;
  history: unknown;
  item: unknown;
  slate: unknown;
  position: unknown;
  reward: unknown;
  propensity: unknown;
  positionPropensities: unknown;
  time: unknown;
}

export async function loadLog(path: string, opts: LoadLogOptions = {}): Promise<LoggedData> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new GnnrlError('input', `${path}: cannot read the log (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { arg: 'log', file: path, cause: err });
  }
  return parseLog(text, path, opts);
}

/** Parses a log's text; `file` names it in errors. */
export async function parseLog(text: string, file: string, opts: LoadLogOptions = {}): Promise<LoggedData> {
  const format = opts.format ?? logFormatOf(file);
  const mode = opts.propensity ?? 'logged';
  if (mode !== 'logged' && mode !== 'estimate') throw new GnnrlError('input', `propensity: expected 'logged' or 'estimate', got ${JSON.stringify(mode)}`, { arg: 'propensity' });
  const raw = format === 'csv' ? csvEvents(text, file) : jsonlEvents(text, file);
  if (raw.length === 0) throw new GnnrlError('format', `${file}: the log has no events`, { file });
  const log = build(raw, file, opts, mode === 'logged');
  if (mode === 'logged') return log;
  const model = await fitBehaviourModel(log, { nItems: opts.nItems, ...opts.behaviour });
  return withPropensities(log, model.propensities(log), 'estimated');
}

function fail(file: string, line: number, field: string, what: string): never {
  throw new GnnrlError('format', `${file}:${line}: ${field}: ${what}`, { file, line, field });
}

function jsonlEvents(text: string, file: string): RawEvent[] {
  const out: RawEvent[] = [];
  const lines = text.split('\n');
  for (let l = 0; l < lines.length; l++) {
    const s = lines[l].trim();
    if (!s) continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (err) {
      throw new GnnrlError('format', `${file}:${l + 1}: not a JSON object (${(err as Error).message})`, { file, line: l + 1 });
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new GnnrlError('format', `${file}:${l + 1}: expected a JSON object per line, got ${s.slice(0, 40)}`, { file, line: l + 1 });
    const o = v as Record<string, unknown>;
    out.push({ line: l + 1, user: o.user, session: o.session, step: o.step, history: o.history, item: o.item, slate: o.slate, position: o.position, reward: o.reward, propensity: o.propensity, positionPropensities: o.positionPropensities, time: o.time });
  }
  return out;
}

/** A CSV field → number | number[] | undefined (empty). */
function csvValue(s: string | undefined, list: boolean): unknown {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '') return list ? [] : undefined;
  if (list) return t.split(/\s+/).map(Number);
  return Number(t);
}

function csvEvents(text: string, file: string): RawEvent[] {
  const lines = text.split('\n');
  const header = lines[0]?.trim().split(',').map((h) => h.trim()) ?? [];
  const col = (name: string) => header.indexOf(name);
  if (col('user') < 0 || col('reward') < 0 || (col('item') < 0 && col('slate') < 0)) {
    throw new GnnrlError('format', `${file}:1: expected a header with user, reward and item or slate (all columns: ${LOG_CSV_HEADER}), got '${lines[0]?.slice(0, 80) ?? ''}'`, { file, line: 1 });
  }
  const out: RawEvent[] = [];
  for (let l = 1; l < lines.length; l++) {
    const s = lines[l].trim();
    if (!s) continue;
    const f = s.split(',');
    if (f.length !== header.length) throw new GnnrlError('format', `${file}:${l + 1}: expected ${header.length} fields like the header, got ${f.length}`, { file, line: l + 1 });
    const get = (name: string, list = false) => (col(name) < 0 ? undefined : csvValue(f[col(name)], list));
    const slate = get('slate', true);
    out.push({
      line: l + 1,
      user: get('user'),
      session: get('session'),
      step: get('step'),
      history: get('history', true),
      item: get('item'),
      slate: Array.isArray(slate) && slate.length === 0 ? undefined : slate,
      position: get('position'),
      reward: get('reward'),
      propensity: get('propensity'),
      positionPropensities: col('position_propensities') >= 0 && f[col('position_propensities')].trim() ? get('position_propensities', true) : undefined,
      time: get('time'),
    });
  }
  return out;
}

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function build(raw: RawEvent[], file: string, opts: LoadLogOptions, needPropensity: boolean): LoggedData {
  const n = raw.length;
  const first = raw[0];
  const K = Array.isArray(first.slate) ? first.slate.length : 1;
  if (K === 0) fail(file, first.line, 'slate', 'expected at least one item');
  let H = 0;
  for (const e of raw) if (Array.isArray(e.history)) H = Math.max(H, e.history.length);
  const hasPos = raw.some((e) => e.positionPropensities !== undefined);
  const withSession = raw.find((e) => e.session !== undefined);
  const user = new Int32Array(n);
  const session = withSession ? new Int32Array(n) : null;
  const step = new Int32Array(n);
  const history = new Int32Array(n * H).fill(-1);
  const slate = new Int32Array(n * K);
  const position = new Int32Array(n);
  const reward = new Float32Array(n);
  const propensity = new Float64Array(n);
  const positionPropensity = hasPos ? new Float64Array(n * K) : null;
  const time = new Float64Array(n);
  const checkItem = (v: unknown, line: number, field: string): number => {
    if (!isIndex(v)) fail(file, line, field, `expected an item index (an integer >= 0), got ${JSON.stringify(v)}`);
    if (opts.nItems !== undefined && v >= opts.nItems) fail(file, line, field, `unknown item ${v}: the catalogue has ${opts.nItems} items`);
    return v;
  };
  for (let j = 0; j < n; j++) {
    const e = raw[j];
    const L = e.line;
    if (!isIndex(e.user)) fail(file, L, 'user', `expected a user index (an integer >= 0), got ${JSON.stringify(e.user)}`);
    if (opts.nUsers !== undefined && e.user >= opts.nUsers) fail(file, L, 'user', `unknown user ${e.user}: the catalogue has ${opts.nUsers} users`);
    user[j] = e.user;
    if (session) {
      if (!isIndex(e.session)) fail(file, L, 'session', `expected a session id (an integer >= 0) as line ${withSession!.line} gives, got ${JSON.stringify(e.session)}`);
      session[j] = e.session;
    }
    if (e.step !== undefined && !isIndex(e.step)) fail(file, L, 'step', `expected an integer >= 0, got ${JSON.stringify(e.step)}`);
    step[j] = (e.step as number | undefined) ?? 0;
    if (e.history !== undefined) {
      if (!Array.isArray(e.history)) fail(file, L, 'history', `expected a list of item indices, got ${JSON.stringify(e.history)}`);
      const h = e.history as unknown[];
      for (let t = 0; t < h.length; t++) history[j * H + H - h.length + t] = checkItem(h[t], L, 'history');
    }
    let items: unknown[];
    if (K === 1 && !Array.isArray(e.slate)) {
      if (e.item === undefined) fail(file, L, 'item', 'missing: every event needs the item shown (or a slate)');
      items = [e.item];
    } else {
      if (!Array.isArray(e.slate)) fail(file, L, 'slate', `missing: the log's slates have ${K} items (line ${first.line})`);
      items = e.slate as unknown[];
      if (items.length !== K) fail(file, L, 'slate', `expected ${K} items like line ${first.line}, got ${items.length}`);
    }
    for (let p = 0; p < K; p++) {
      const it = checkItem(items[p], L, K === 1 ? 'item' : 'slate');
      for (let q = 0; q < p; q++) if (slate[j * K + q] === it) fail(file, L, 'slate', `item ${it} appears twice (positions ${q} and ${p}); a slate's items are distinct`);
      slate[j * K + p] = it;
    }
    if (typeof e.reward !== 'number' || !Number.isFinite(e.reward)) fail(file, L, 'reward', `expected a finite number, got ${JSON.stringify(e.reward)}`);
    reward[j] = e.reward;
    if (e.position === undefined) position[j] = K === 1 && e.reward !== 0 ? 0 : -1;
    else if (!(typeof e.position === 'number' && Number.isInteger(e.position) && e.position >= -1 && e.position < K)) fail(file, L, 'position', `expected an integer in [-1, ${K}) (−1: no click), got ${JSON.stringify(e.position)}`);
    else position[j] = e.position;
    if (needPropensity) {
      if (e.propensity === undefined || e.propensity === null) fail(file, L, 'propensity', "missing: every event needs the logging policy's probability of its action, in (0, 1] (or load with propensity 'estimate' to fit a behaviour model)");
      const p = e.propensity;
      if (typeof p !== 'number' || !(p > 0 && p <= 1)) fail(file, L, 'propensity', `expected a probability in (0, 1], got ${JSON.stringify(p)}${typeof p === 'number' && p <= 0 ? ' (a non-positive propensity cannot weight its event)' : ''}`);
      propensity[j] = p;
    }
    if (positionPropensity) {
      const pp = e.positionPropensities;
      if (!Array.isArray(pp) || pp.length !== K) fail(file, L, 'positionPropensities', `expected ${K} probabilities (one per position) as other lines give, got ${JSON.stringify(pp)}`);
      for (let p = 0; p < K; p++) {
        const v = pp[p];
        if (typeof v !== 'number' || !(v > 0 && v <= 1)) fail(file, L, 'positionPropensities', `position ${p}: expected a probability in (0, 1], got ${JSON.stringify(v)}`);
        positionPropensity[j * K + p] = v;
      }
    }
    if (e.time !== undefined && !(typeof e.time === 'number' && Number.isFinite(e.time))) fail(file, L, 'time', `expected a finite number, got ${JSON.stringify(e.time)}`);
    time[j] = (e.time as number | undefined) ?? j;
  }
  return { n, slateSize: K, historyLen: H, user, session, step, history, slate, position, reward, propensity, positionPropensity, time, propensitySource: 'logged' };
}
