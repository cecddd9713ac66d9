/**
 * `gnnrl generate`: writes the seeded synthetic world as a MovieLens-100K folder (ratings,
 * timestamps and side files; data/synthetic-movielens.ts), so every loader, model and
 * report that needs MovieLens can run on a machine without the real data.
 *
 *   gnnrl generate --out data/synthetic-ml [--preset small] [--seed 42] [--drift 0.3]
 *
 * Exit codes: 0 written, 1 failed while writing, 2 bad options.
 */
import { UsageError, formatHelp, parseBool, parseChoice, parseInt32, parseNumber, parseString, resolveOptions, type OptionSpec } from './args.js';
import { writeSyntheticMovieLens } from '../data/synthetic-movielens.js';
import type { WorldPreset } from '../data/synthetic.js';
import type { TrainCommandIO } from './train.js';

export interface GenerateConfig {
  out: string;
  preset: WorldPreset;
  seed: number;
  /** Interest drift of the world (its default when null). */
  drift: number | null;
}

const DEFAULTS: GenerateConfig = { out: '', preset: 'small', seed: 42, drift: null };

const OPTIONS: OptionSpec[] = [
  { flag: 'out', key: 'out', value: 'DIR', defaultText: '', help: 'folder to write (created; u.data, u.user, u.item, u.genre, u.occupation)', parse: (r, w) => parseString(r, w, 'a folder path') },
  { flag: 'preset', key: 'preset', value: 'SIZE', defaultText: DEFAULTS.preset, help: 'tiny (60 users × 120 items) | small (1,000 × 2,000) | medium (20,000 × 20,000) | large (100,000 × 100,000)', parse: (r, w) => parseChoice(r, w, ['tiny', 'small', 'medium', 'large'] as const) },
  { flag: 'seed', key: 'seed', value: 'N', defaultText: String(DEFAULTS.seed), help: 'seed of the world', parse: (r, w) => parseInt32(r, w, 0, 2 ** 30) },
  { flag: 'drift', key: 'drift', value: 'X', defaultText: "the world's (0.3)", help: 'interest drift over time (0 = static tastes)', parse: (r, w) => parseNumber(r, w, 0, 10) },
  { flag: 'help', key: 'help', boolean: true, defaultText: '', flagOnly: true, help: 'this text', parse: parseBool },
];

export function generateHelp(): string {
  return formatHelp('usage: gnnrl generate --out DIR [options]\n\nWrites the seeded synthetic world (planted preferences, interest drift) as a MovieLens-100K folder with side files.', OPTIONS, '\nthen: gnnrl train --data ml-100k:DIR …\n');
}

export function parseGenerateArgs(argv: readonly string[]): { help: true } | { help: false; config: GenerateConfig } {
  const r = resolveOptions(OPTIONS, argv, { ...DEFAULTS });
  if (r.help) return { help: true };
  const c = r.config as unknown as GenerateConfig;
  if (!c.out) throw new UsageError('--out: required (the folder to write)', '--out');
  return { help: false, config: c };
}

export async function generateCommand(argv: readonly string[], io: TrainCommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parseGenerateArgs(argv);
  } catch (err) {
    io.stderr.write(`gnnrl generate: ${(err as Error).message}\nrun 'gnnrl generate --help' for the options\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  if (parsed.help) {
    io.stdout.write(generateHelp());
    return 0;
  }
  const c = parsed.config;
  try {
    const world = await writeSyntheticMovieLens(c.out, { preset: c.preset, seed: c.seed, ...(c.drift !== null ? { drift: c.drift } : {}) });
    io.stderr.write(`wrote ${c.out}: ${world.interactions.user.length} ratings, ${world.nUsers} users, ${world.nItems} items (ML-100K layout); gnnrl train --data ml-100k:${c.out}\n`);
    return 0;
  } catch (err) {
    io.stderr.write(`gnnrl generate: ${(err as Error).message}\n`);
    return 1;
  }
}
