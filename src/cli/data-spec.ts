/**
 * `--data`, `--map` and `--split` of `gnnrl train`: parsing the specs, loading the log
 * they name, fingerprinting the input files, and splitting it (with a validation part
 * carved from train the same way).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './args.js';
import { loadCsv, loadTsv, type ColumnMap } from '../data/csv.js';
import { loadJsonl } from '../data/jsonl.js';
import { detectMovieLens, loadMovieLens, type MovieLensFormat } from '../data/movielens.js';
import { syntheticWorld, WORLD_PRESETS, type WorldPreset } from '../data/synthetic.js';
import { splitByGlobalTime, splitByUserTime, splitLeaveLastOut, splitRandom, type Split } from '../data/split.js';
import { interactionsSha256, type Interactions } from '../data/interactions.js';

/** Where the interaction log comes from. */
export type DataSpec =
  | { kind: 'movielens'; format: MovieLensFormat | 'auto'; path: string }
  | { kind: 'csv' | 'tsv' | 'jsonl'; path: string }
  | { kind: 'synthetic'; preset: WorldPreset };

/** Which columns (CSV/TSV: names or 0-based indices; JSONL: keys) hold what. */
export interface ColumnSpec {
  user: string | number;
  item: string | number;
  rating?: string | number;
  ts?: string | number;
}

/** How the log is cut into train and test. */
export type SplitSpec = { kind: 'user-time'; ratio: number } | { kind: 'time'; ratio: number } | { kind: 'random'; ratio: number } | { kind: 'loo' };

const ML_PREFIX: Record<string, MovieLensFormat | 'auto'> = {
  'ml-100k': '100k',
  'ml-1m': '1m',
  'ml-latest': 'latest',
  movielens: 'auto',
  ml: 'auto',
};
const PRESETS = Object.keys(WORLD_PRESETS) as WorldPreset[];
const DATA_FORMS = 'ml-100k:DIR, ml-1m:DIR, ml-latest:DIR, movielens:DIR, csv:FILE, tsv:FILE, jsonl:FILE or synthetic[:tiny|small|medium|large]';

/** Parses `ml-100k:data/ml-100k`, `csv:log.csv`, `synthetic:small`, … */
export function parseDataSpec(raw: unknown, where: string): DataSpec {
  if (typeof raw !== 'string' || !raw.trim()) throw new UsageError(`${where}: expected ${DATA_FORMS}, got ${JSON.stringify(raw)}`, where);
  const s = raw.trim();
  const colon = s.indexOf(':');
  const scheme = (colon < 0 ? s : s.slice(0, colon)).toLowerCase();
  const rest = colon < 0 ? '' : s.slice(colon + 1);
  if (scheme === 'synthetic') {
    const preset = (rest || 'small').toLowerCase();
    if (!(PRESETS as string[]).includes(preset)) throw new UsageError(`${where}: synthetic preset: expected one of ${PRESETS.join(', ')}, got '${rest}'`, where);
    return { kind: 'synthetic', preset: preset as WorldPreset };
  }
  if (!rest) throw new UsageError(`${where}: expected ${DATA_FORMS}, got '${s}'`, where);
  if (scheme in ML_PREFIX) return { kind: 'movielens', format: ML_PREFIX[scheme], path: rest };
  if (scheme === 'csv' || scheme === 'tsv' || scheme === 'jsonl') return { kind: scheme, path: rest };
  throw new UsageError(`${where}: unknown data kind '${scheme}'; expected ${DATA_FORMS}`, where);
}

/** The canonical string of a data spec (what config.json records). */
export function formatDataSpec(d: DataSpec): string {
  if (d.kind === 'synthetic') return `synthetic:${d.preset}`;
  if (d.kind === 'movielens') return `${d.format === 'auto' ? 'movielens' : `ml-${d.format}`}:${d.path}`;
  return `${d.kind}:${d.path}`;
}

const ROLES = ['user', 'item', 'rating', 'ts'] as const;

/** Parses `user=userId,item=movieId,rating=rating,ts=timestamp` (or a JSON object of the same). Digits mean a column index. */
export function parseColumnSpec(raw: unknown, where: string): ColumnSpec {
  const pairs: [string, unknown][] = [];
  if (typeof raw === 'string') {
    for (const part of raw.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) throw new UsageError(`${where}: expected role=column pairs like user=userId,item=movieId,rating=rating,ts=timestamp; got '${part}'`, where);
      pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  } else if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    pairs.push(...Object.entries(raw));
  } else {
    throw new UsageError(`${where}: expected role=column pairs (user=…,item=…,rating=…,ts=…), got ${JSON.stringify(raw)}`, where);
  }
  const out: Partial<ColumnSpec> = {};
  for (const [role, col] of pairs) {
    if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`${where}: unknown role '${role}'; roles are ${ROLES.join(', ')}`, where);
    if (role in out) throw new UsageError(`${where}: role '${role}' is given twice`, where);
    let v: string | number;
    if (typeof col === 'number' && Number.isInteger(col) && col >= 0) v = col;
    else if (typeof col === 'string' && col !== '') v = /^\d+$/.test(col) ? Number(col) : col;
    else throw new UsageError(`${where}: ${role}: expected a column name or a 0-based index, got ${JSON.stringify(col)}`, where);
    out[role as keyof ColumnSpec] = v;
  }
  if (out.user === undefined || out.item === undefined) throw new UsageError(`${where}: expected at least user=… and item=…`, where);
  return out as ColumnSpec;
}

export function formatColumnSpec(c: ColumnSpec): string {
  return ROLES.filter((r) => c[r] !== undefined)
    .map((r) => `${r}=${c[r]}`)
    .join(',');
}

/** Parses `user-time:0.8`, `loo`, `random:0.8`, `time:0.8` (ratio = train share, in (0, 1)). */
export function parseSplitSpec(raw: unknown, where: string): SplitSpec {
  const forms = 'user-time[:RATIO], loo, random[:RATIO] or time[:RATIO], RATIO in (0, 1)';
  if (typeof raw !== 'string' || !raw.trim()) throw new UsageError(`${where}: expected ${forms}, got ${JSON.stringify(raw)}`, where);
  const [kindRaw, ratioRaw, ...more] = raw.trim().split(':');
  const kind = kindRaw.toLowerCase();
  if (more.length) throw new UsageError(`${where}: expected ${forms}, got '${raw}'`, where);
  if (kind === 'loo' || kind === 'leave-last-out') {
    if (ratioRaw !== undefined) throw new UsageError(`${where}: loo takes no ratio (each user's last event is the test), got '${raw}'`, where);
    return { kind: 'loo' };
  }
  if (kind !== 'user-time' && kind !== 'random' && kind !== 'time') throw new UsageError(`${where}: unknown split '${kindRaw}'; expected ${forms}`, where);
  const ratio = ratioRaw === undefined ? 0.8 : Number(ratioRaw);
  if (!(ratioRaw === undefined || /^\s*(0?\.\d+|0|1)\s*$/.test(ratioRaw)) || !(ratio > 0 && ratio < 1)) {
    throw new UsageError(`${where}: ${kind} ratio: expected a number in (0, 1), got '${ratioRaw}'`, where);
  }
  return { kind, ratio };
}

export function formatSplitSpec(s: SplitSpec): string {
  return s.kind === 'loo' ? 'loo' : `${s.kind}:${s.ratio}`;
}

/** Checks that the files a spec names exist (a usage error, before any work starts). */
export function checkDataPaths(d: DataSpec, where: string): void {
  if (d.kind === 'synthetic') return;
  const p = resolve(d.path);
  if (!existsSync(p)) throw new UsageError(`${where}: ${d.kind === 'movielens' ? 'directory' : 'file'} not found: ${d.path}`, where);
  const isDir = statSync(p).isDirectory();
  if (d.kind === 'movielens' && !isDir) throw new UsageError(`${where}: ${d.path} is not a directory (MovieLens data is a folder holding u.data, ratings.dat or ratings.csv)`, where);
  if (d.kind !== 'movielens' && isDir) throw new UsageError(`${where}: ${d.path} is a directory; ${d.kind}: expects a file`, where);
}

/** A loaded log with a description of where it came from (for the manifest). */
export interface LoadedData {
  interactions: Interactions;
  source: {
    spec: string;
    /** Files read, each with its size and SHA-256 (empty for synthetic data). */
    files: { path: string; bytes: number; sha256: string }[];
    /** The synthetic world's configuration (synthetic data only). */
    synthetic?: Record<string, unknown>;
    /** Malformed lines dropped (none: the loaders refuse them). */
    rows: number;
    /**
     * SHA-256 of the loaded log itself (dense user, item, rating and timestamp arrays, in
     * order): the same for a synthetic world regenerated from its seed, and a check that
     * a re-run read the same events even where the files' bytes differ (e.g. line endings).
     */
    sha256: string;
  };
}

export { interactionsSha256 };

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The MovieLens files a format reads, for fingerprinting. */
function movieLensFiles(dir: string, format: MovieLensFormat): string[] {
  const names: Record<MovieLensFormat, string[]> = {
    '100k': ['u.data', 'u.item', 'u.user', 'u.genre', 'u.occupation'],
    '1m': ['ratings.dat', 'movies.dat', 'users.dat'],
    latest: ['ratings.csv', 'movies.csv'],
  };
  return names[format].map((n) => join(dir, n)).filter((p) => existsSync(p));
}

/** Loads the log a spec names. `seed` seeds synthetic worlds. */
/**
 * `features`: the --features flag (side features for the graph encoders; an error when the
 * data has none). `sideFiles`: build the side features of MovieLens data when its files are
 * there, quietly (models that need them, DDPG-LA, name what is missing themselves).
 */
export async function loadData(d: DataSpec, columns: ColumnSpec | null, seed: number, opts: { features?: boolean; sideFiles?: boolean } = {}): Promise<LoadedData> {
  const spec = formatDataSpec(d);
  if (opts.features && d.kind !== 'movielens') {
    throw new UsageError(`--features: node features come from MovieLens side files; ${spec} has none (use ml-100k:, ml-1m: or ml-latest: data, or leave --features out)`, '--features');
  }
  if (d.kind === 'synthetic') {
    const world = syntheticWorld({ preset: d.preset, seed });
    const x = world.interactions;
    return { interactions: x, source: { spec, files: [], synthetic: { preset: d.preset, ...world.config }, rows: x.user.length, sha256: interactionsSha256(x) } };
  }
  let x: Interactions;
  let files: string[];
  if (d.kind === 'movielens') {
    const format = d.format === 'auto' ? detectMovieLens(d.path) : d.format;
    // Side-file features are built only when asked for: only the graph encoders use them.
    x = await loadMovieLens(d.path, { format, features: opts.features === true || opts.sideFiles === true });
    if (opts.features && !x.userFeatures && !x.itemFeatures) {
      throw new UsageError(`--features: ${d.path} has no user or item side files to build features from`, '--features');
    }
    files = movieLensFiles(d.path, format);
  } else {
    if (!columns) throw new UsageError(`--map: required with ${d.kind}: data (e.g. --map user=userId,item=movieId,rating=rating,ts=timestamp)`, '--map');
    const cols = columns as ColumnMap;
    if (d.kind === 'jsonl') {
      const bad = ROLES.find((r) => typeof columns[r] === 'number');
      if (bad) throw new UsageError(`--map: ${bad}: JSONL fields are keys, not column indices (got ${columns[bad]})`, '--map');
      x = await loadJsonl(d.path, { columns: cols as { user: string; item: string; rating?: string; ts?: string } });
    } else if (d.kind === 'tsv') x = await loadTsv(d.path, { columns: cols });
    else x = await loadCsv(d.path, { columns: cols });
    files = [d.path];
  }
  const fingerprints = [];
  for (const f of files) fingerprints.push({ path: resolve(f), bytes: statSync(f).size, sha256: await sha256File(f) });
  return { interactions: x, source: { spec, files: fingerprints, rows: x.user.length, sha256: interactionsSha256(x) } };
}

/** Splits a log by a spec; `seed` seeds random splits. */
export function applySplit(x: Interactions, s: SplitSpec, seed: number): Split {
  switch (s.kind) {
    case 'user-time':
      return splitByUserTime(x, s.ratio);
    case 'loo':
      return splitLeaveLastOut(x);
    case 'random':
      return splitRandom(x, s.ratio, { seed });
    case 'time':
      return splitByGlobalTime(x, { ratio: s.ratio });
  }
}

/**
 * Carves a validation part out of train the same way the test was cut: the last `val`
 * share of each user's history (user-time), each user's last training event (loo), a
 * random `val` share (random) or the latest `val` share overall (time).
 */
export function carveValidation(train: Interactions, s: SplitSpec, val: number, seed: number): Split {
  if (s.kind === 'loo') return splitLeaveLastOut(train);
  return applySplit(train, { kind: s.kind, ratio: 1 - val }, seed + 1);
}
