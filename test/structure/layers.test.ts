/**
 * The dependency check of issue #12: every import in src/ points down the layer table
 * (LAYERS in ./layers.ts, written once), and neither layers nor files import each other
 * in a circle. The README's "Layers" line must spell the same order.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYERS, checkLayers, layerOf } from './layers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const srcDir = join(root, 'src');

describe('src/ imports follow the layer table', () => {
  const { imports, violations } = checkLayers(srcDir);
  const found = violations.map((v) => `${v.rule} ${v.what}`);

  it('parses a plausible import graph', () => {
    expect(imports.length).toBeGreaterThan(300);
  });

  it('has no import up the table and no cycle', () => {
    expect(found).toEqual([]);
  });

  it('the README states the same layer order', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const line = readme.split('\n').find((l) => l.startsWith('Layers, bottom up:'));
    expect(line, "README.md: a line starting 'Layers, bottom up:'").toBeDefined();
    const named = [...line!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]);
    expect(named).toEqual([...LAYERS]);
  });
});

describe('the checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gnnrl-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it('reports imports up the table, type-only ones included, and ignores comments and packages', () => {
    write('errors.ts', "import { x } from 'node:fs';\n// import { y } from './engine.js';\nexport const e = 1;\n");
    write('gpu/a.ts', "import type { E } from '../engine.js';\nexport const a = 1;\n");
    write('engine.ts', "import { a } from './gpu/a.js';\nexport type E = number;\n");
    const v = checkLayers(dir).violations.map((x) => `${x.rule} ${x.what}`);
    expect(v).toEqual(['up gpu/a.ts -> engine.ts', 'folder-cycle engine <-> gpu', 'file-cycle engine.ts <-> gpu/a.ts']);
  });

  it('reports a cycle of files inside one layer', () => {
    rmSync(dir, { recursive: true, force: true });
    write('util/a.ts', "export { b } from './b.js';\n");
    write('util/b.ts', "import('./a.js');\nexport const b = 1;\n");
    expect(checkLayers(dir).violations).toEqual([{ rule: 'file-cycle', what: 'util/a.ts <-> util/b.ts' }]);
  });

  it('names a file outside every layer', () => {
    expect(() => layerOf('nowhere/x.ts')).toThrow("src/nowhere/x.ts: no layer for 'nowhere'; add it to LAYERS");
  });
});
