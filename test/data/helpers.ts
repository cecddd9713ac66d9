/** Shared test helpers: temp folders and raw fixture files. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh temp folder removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes raw bytes or text (as given, no newline fix-ups) and returns the path. */
export function fixture(dir: string, name: string, content: string | Uint8Array, encoding: BufferEncoding = 'utf8'): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? Buffer.from(content, encoding) : content);
  return p;
}

export function ids(m: { size: number; id(i: number): string | number }): (string | number)[] {
  return Array.from({ length: m.size }, (_, i) => m.id(i));
}

/** The events of a log as external-id tuples, for exact comparisons. */
export function rows(x: {
  user: Int32Array;
  item: Int32Array;
  rating: Float32Array | null;
  ts: Float64Array | null;
  userIds: { id(i: number): string | number };
  itemIds: { id(i: number): string | number };
}): (string | number | null)[][] {
  return Array.from(x.user, (u, i) => [x.userIds.id(u), x.itemIds.id(x.item[i]), x.rating ? x.rating[i] : null, x.ts ? x.ts[i] : null]);
}
