/**
 * What `--state` names: where the user and item vectors of an agent's state come from.
 *
 *     state := part ('+' part)*
 *     part  := <encoder>                   a graph encoder's factors (lightgcn, gcn, sage, gat)
 *            | random                      seeded N(0, 1) tables (the no-GNN ablation)
 *            | vectors:<items file>        pretrained item vectors (.npy, .safetensors, .jsonl)
 *            | vectors:items=<file>,users=<file>   … and user vectors too
 *
 * Parts joined by '+' are concatenated per row (`lightgcn+vectors:llm.npy`: the graph's
 * vectors beside a language model's), each scaled to unit RMS first so that neither
 * dominates by its units. Without a users file, a user's pretrained vector is the mean
 * of the vectors of the items they interacted with in the environment's log (zero for a
 * user with none) — the usual way to lift item features to users.
 *
 * Vector files are matched to the environment by id (JSONL ids, safetensors metadata ids
 * or `<file>.ids` beside an .npy or .safetensors, one id per line: see data/vectors.ts), or by row order when they carry no
 * ids; a missing id or a wrong row count is a coded error naming the file and the ids.
 */
import { stat } from 'node:fs/promises';
import { GnnrlError } from '../../errors.js';
import type { Interactions } from '../../data/interactions.js';
import { alignVectors, readVectors } from '../../data/vectors.js';
import { rmsScaled, type StateTables } from './window-state.js';

export type StatePart = { kind: 'encoder'; name: string } | { kind: 'random' } | { kind: 'vectors'; items: string; users: string | null };

/** The model a spec names when it is one model's vectors and nothing else (null: vectors files, random tables or joined parts). */
export function singleEncoder(parts: readonly StatePart[]): string | null {
  return parts.length === 1 && parts[0].kind === 'encoder' ? parts[0].name : null;
}

/** Parses a `--state` value into its parts; `arg` names the flag in errors. */
export function parseStateSpec(spec: string, arg = 'state'): StatePart[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw new GnnrlError('input', `${arg}: expected an encoder name, random or vectors:<file>, got ${JSON.stringify(spec)}`, { arg });
  return spec.split('+').map((raw) => {
    const part = raw.trim();
    if (part.toLowerCase() === 'random') return { kind: 'random' };
    if (part.startsWith('vectors:')) {
      const rest = part.slice('vectors:'.length);
      if (rest === '') throw new GnnrlError('input', `${arg}: vectors: expected a file (vectors:<file> or vectors:items=<file>,users=<file>)`, { arg });
      if (!rest.startsWith('items=')) return { kind: 'vectors', items: rest, users: null };
      const m = /^items=(.+?)(?:,users=(.+))?$/.exec(rest);
      if (!m) throw new GnnrlError('input', `${arg}: vectors:${rest}: expected items=<file> or items=<file>,users=<file>`, { arg });
      return { kind: 'vectors', items: m[1], users: m[2] ?? null };
    }
    if (!/^[a-z][a-z0-9-]*$/i.test(part)) throw new GnnrlError('input', `${arg}: '${part}' is not an encoder name, random or vectors:<file>`, { arg });
    return { kind: 'encoder', name: part.toLowerCase() };
  });
}

/** External ids of a map as the strings vector files are matched on. */
function idStrings(map: { ids(): readonly (string | number)[] }): string[] {
  return map.ids().map((x) => String(x));
}

/** Reads a vector file, with `<file>.ids` (one id per line) as its ids when present beside an .npy or .safetensors. */
async function readWithIds(file: string) {
  const idsFile = `${file}.ids`;
  const beside = !file.endsWith('.jsonl') && !file.endsWith('.ndjson') && (await stat(idsFile).then((s) => s.isFile(), () => false));
  return readVectors(file, beside ? { idsFile } : {});
}

/**
 * State tables from pretrained vectors, in the order of `log`'s users and items. Users
 * without a users file get the mean of their log items' vectors.
 */
export async function tablesFromVectors(log: Interactions, part: { items: string; users: string | null }): Promise<StateTables> {
  const itemTable = await readWithIds(part.items);
  const items = alignVectors(itemTable, { ids: idStrings(log.itemIds), what: 'items' }).vectors;
  const dim = itemTable.dim;
  let users: Float32Array;
  if (part.users) {
    const userTable = await readWithIds(part.users);
    if (userTable.dim !== dim) {
      throw new GnnrlError('input', `state: ${part.users} holds ${userTable.dim}-dimensional user vectors, ${part.items} ${dim}-dimensional item vectors; they must match`, { file: part.users, field: 'dim' });
    }
    users = alignVectors(userTable, { ids: idStrings(log.userIds), what: 'users' }).vectors;
  } else {
    users = new Float32Array(log.nUsers * dim);
    const count = new Float64Array(log.nUsers);
    const sums = new Float64Array(log.nUsers * dim);
    for (let e = 0; e < log.user.length; e++) {
      const u = log.user[e];
      const i = log.item[e];
      count[u]++;
      for (let c = 0; c < dim; c++) sums[u * dim + c] += items[i * dim + c];
    }
    for (let u = 0; u < log.nUsers; u++) if (count[u] > 0) for (let c = 0; c < dim; c++) users[u * dim + c] = sums[u * dim + c] / count[u];
  }
  return { dim, nUsers: log.nUsers, nItems: log.nItems, users, items, source: `vectors:${part.items}` };
}

/** Row-wise concatenation of tables over the same users and items, each at unit RMS. */
export function concatTables(parts: StateTables[]): StateTables {
  if (parts.length === 1) return parts[0];
  const { nUsers, nItems } = parts[0];
  for (const p of parts) {
    if (p.nUsers !== nUsers || p.nItems !== nItems) throw new GnnrlError('input', `state: ${p.source} covers ${p.nUsers} users × ${p.nItems} items, ${parts[0].source} ${nUsers} × ${nItems}`, { arg: 'state' });
  }
  const dim = parts.reduce((a, p) => a + p.dim, 0);
  const join = (rows: number, pick: (p: StateTables) => Float32Array) => {
    const out = new Float32Array(rows * dim);
    let off = 0;
    for (const p of parts) {
      const t = rmsScaled(pick(p));
      for (let r = 0; r < rows; r++) out.set(t.subarray(r * p.dim, (r + 1) * p.dim), r * dim + off);
      off += p.dim;
    }
    return out;
  };
  return { dim, nUsers, nItems, users: join(nUsers, (p) => p.users), items: join(nItems, (p) => p.items), source: parts.map((p) => p.source).join('+') };
}
