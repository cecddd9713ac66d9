/**
 * A small declarative option parser for the CLI commands. Each option is declared once
 * (flag, config-file key, default, help, value parser), and the same parser validates a
 * value whether it came from the command line (a string) or from a JSON config file (any
 * JSON value), so a bad value reads the same from both places, naming where it came from.
 */
import { readFileSync } from 'node:fs';
import { GnnrlError } from '../errors.js';

/**
 * A usage error: the command line or config file is wrong. The CLI exits with 2 on it
 * (1 is for failures while running). `details.arg` names the flag or key.
 */
export class UsageError extends GnnrlError {
  constructor(message: string, arg?: string) {
    super('input', message, { arg });
    this.name = 'UsageError';
  }
}

/** Where a value came from, for messages: `--epochs` or `key 'epochs' of run.json`. */
export type Origin = { flag: string } | { key: string; file: string };

export function originName(o: Origin): string {
  return 'flag' in o ? `--${o.flag}` : `'${o.key}' in ${o.file}`;
}

/** Declares one option. */
export interface OptionSpec<T = unknown> {
  /** Flag name without dashes ('batch-size'). */
  flag: string;
  /** Key in the JSON config file ('batchSize'). */
  key: string;
  /** Short value hint for help ('N', 'LIST', 'DIR'); absent for switches. */
  value?: string;
  /** True for switches (`--ci`); they take no value on the command line, `--ci=false` turns one off. */
  boolean?: boolean;
  /** One-line help. */
  help: string;
  /** Default as shown in help ('' = show nothing). */
  defaultText: string;
  /** Only on the command line (e.g. `--config` itself, `--help`). */
  flagOnly?: boolean;
  /** Parses and validates a raw value (a string from a flag, any JSON value from a file). */
  parse: (raw: unknown, where: string) => T;
}

/** Raw command-line values by flag name, in the order given. */
export type RawFlags = Map<string, string | true>;

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** "unknown flag --epoch (did you mean --epochs?); valid flags: …" */
export function unknownName(kind: 'flag' | 'key', name: string, valid: string[], where = ''): UsageError {
  const shown = (n: string) => (kind === 'flag' ? `--${n}` : `'${n}'`);
  const guess = closest(name, valid);
  const hint = guess ? ` (did you mean ${shown(guess)}?)` : '';
  return new UsageError(`unknown ${kind} ${shown(name)}${where}${hint}; valid ${kind}s: ${valid.map(shown).join(', ')}`, kind === 'flag' ? `--${name}` : name);
}

/**
 * Splits argv into flag values. Accepts `--name value`, `--name=value`, and bare switches
 * for boolean options. Positional arguments and unknown flags are usage errors.
 */
export function parseFlags(argv: readonly string[], specs: readonly OptionSpec[]): RawFlags {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const out: RawFlags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h') {
      out.set('help', true);
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument '${arg}': options are given as --name value (see --help)`);
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = byFlag.get(name);
    if (!spec) throw unknownName('flag', name, specs.map((s) => s.flag));
    if (out.has(name)) throw new UsageError(`--${name} is given twice`, `--${name}`);
    if (eq >= 0) {
      out.set(name, arg.slice(eq + 1));
    } else if (spec.boolean) {
      out.set(name, true);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`--${name}: expected a value (${spec.value ?? 'VALUE'})`, `--${name}`);
      }
      out.set(name, next);
      i++;
    }
  }
  return out;
}

// ------------------------------------------------------------------ value parsers
// Each takes a raw value (string from a flag, JSON value from a file) and `where`
// ("--epochs" or "'epochs' in run.json") for the message.

/** Throws "<where>: expected <expected>, got <raw>" as a usage error. */
export function fail(where: string, expected: string, raw: unknown): never {
  const got = typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw);
  throw new UsageError(`${where}: expected ${expected}, got ${got}`, where);
}

/** A boolean: true/false (also 1/0, yes/no as strings; `true` from a bare switch). */
export function parseBool(raw: unknown, where: string): boolean {
  if (raw === true || raw === false) return raw;
  if (typeof raw === 'string') {
    const v = raw.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') return true;
    if (v === 'false' || v === '0' || v === 'no') return false;
  }
  return fail(where, 'true or false', raw);
}

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A finite number in [min, max] (strict: no trailing text, no empty string). */
export function parseNumber(raw: unknown, where: string, min = -Infinity, max = Infinity, what?: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && NUMBER.test(raw.trim()) ? Number(raw) : NaN;
  const range = what ?? (min === -Infinity && max === Infinity ? 'a number' : max === Infinity ? `a number >= ${min}` : `a number in [${min}, ${max}]`);
  if (!Number.isFinite(n) || n < min || n > max) fail(where, range, raw);
  return n;
}

/** A number in the open interval (lo, hi). */
export function parseOpenUnit(raw: unknown, where: string, lo = 0, hi = 1): number {
  const n = parseNumber(raw, where, -Infinity, Infinity, `a number in (${lo}, ${hi})`);
  if (!(n > lo && n < hi)) fail(where, `a number in (${lo}, ${hi})`, raw);
  return n;
}

/** An integer in [min, max]. */
export function parseInt32(raw: unknown, where: string, min = 0, max = 2 ** 31 - 1): number {
  const what = max >= 2 ** 31 - 1 ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
  const n = parseNumber(raw, where, -Infinity, Infinity, what);
  if (!Number.isInteger(n) || n < min || n > max) fail(where, what, raw);
  return n;
}

/** A non-empty string. */
export function parseString(raw: unknown, where: string, what = 'a non-empty string'): string {
  if (typeof raw !== 'string' || raw.trim() === '') fail(where, what, raw);
  return raw.trim();
}

/** One of `choices`. */
export function parseChoice<T extends string>(raw: unknown, where: string, choices: readonly T[]): T {
  const v = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) fail(where, `one of ${choices.join(', ')}`, raw);
  return v as T;
}

/** A list: a comma-separated string, or a JSON array of strings/numbers (each item trimmed, empties refused). */
export function parseList(raw: unknown, where: string): string[] {
  let items: unknown[];
  if (typeof raw === 'string') items = raw.split(',');
  else if (Array.isArray(raw)) items = raw;
  else return fail(where, 'a comma-separated list or a JSON array', raw);
  const out = items.map((x) => (typeof x === 'number' ? String(x) : typeof x === 'string' ? x.trim() : undefined));
  if (out.length === 0 || out.some((x) => x === undefined || x === '')) fail(where, 'a non-empty comma-separated list without empty items', raw);
  return out as string[];
}

/** Help text for a command: usage line, then one line per option with its default. */
export function formatHelp(usage: string, specs: readonly OptionSpec[], footer = ''): string {
  const left = specs.map((s) => `  --${s.flag}${s.value ? ` ${s.value}` : ''}`);
  const width = Math.min(34, Math.max(...left.map((l) => l.length)) + 2);
  const lines = specs.map((s, i) => {
    const def = s.defaultText ? ` (default: ${s.defaultText})` : '';
    const pad = left[i].length >= width ? `\n${' '.repeat(width)}` : ' '.repeat(width - left[i].length);
    return `${left[i]}${pad}${s.help}${def}`;
  });
  return `${usage}\n\noptions:\n${lines.join('\n')}\n${footer ? `\n${footer}` : ''}`;
}

/** Reads a JSON config file's options (unknown keys and bad values are usage errors naming the key and file). */
export function readOptionsFile(specs: readonly OptionSpec[], path: string, read: (p: string) => string = (p) => readFileSync(p, 'utf8')): Record<string, unknown> {
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    throw new UsageError(`--config: cannot read ${path}: ${(err as Error).message}`, '--config');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config: ${path} is not valid JSON: ${(err as Error).message}`, '--config');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new UsageError(`--config: ${path}: expected a JSON object of options`, '--config');
  const byKey = new Map(specs.map((s) => [s.key as string, s]));
  const fileKeys = specs.filter((s) => !s.flagOnly).map((s) => s.key as string);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(json as Record<string, unknown>)) {
    const spec = byKey.get(key);
    if (!spec || spec.flagOnly) throw unknownName('key', key, fileKeys, ` in ${path}`);
    out[key] = spec.parse(raw, `'${key}' in ${path}`);
  }
  return out;
}

/** argv resolved in layers: the defaults, then the `--config` file, then flags; or a request for help. */
export type LayeredOptions = { help: true } | { help: false; config: Record<string, unknown>; configFile: string | null; flags: RawFlags };

/** Every command's option precedence, in one place (each command cross-checks the result itself). */
export function resolveOptions(specs: readonly OptionSpec[], argv: readonly string[], defaults: object, read?: (p: string) => string): LayeredOptions {
  const flags = parseFlags(argv, specs);
  if (flags.has('help') && parseBool(flags.get('help'), '--help')) return { help: true };
  const config = { ...defaults } as Record<string, unknown>;
  const configFile = flags.has('config') ? (specs.find((s) => s.flag === 'config')!.parse(flags.get('config'), '--config') as string) : null;
  if (configFile) Object.assign(config, readOptionsFile(specs, configFile, read));
  for (const spec of specs) {
    if (spec.flagOnly || !flags.has(spec.flag)) continue;
    config[spec.key as string] = spec.parse(flags.get(spec.flag), `--${spec.flag}`);
  }
  return { help: false, config, configFile, flags };
}
