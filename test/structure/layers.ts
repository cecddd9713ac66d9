/**
 * The layer table, written once, and a checker for src/'s imports against it (issue #12).
 * Every import in src/**\/*.ts (static `import … from`, `export … from`, side-effect
 * `import '…'`, and `import('…')` with a literal) is parsed; relative specifiers are
 * resolved to a src file and its layer. The checker reports
 *  - `up`: a file imports a module of a higher layer than its own;
 *  - `folder-cycle`: two layers (folders) import each other, directly or through others;
 *  - `file-cycle`: files that import each other, directly or through others.
 * Type-only imports count too: a type pointing up the table is still a dependency.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * Bottom up. A module may import its own layer and any layer listed before it.
 * `errors` is src/errors.ts, `util` src/util/, `backend` src/backend/ (the typed-array
 * storage types and the per-backend kernel table), `native` src/native.ts (the addon's
 * loader and bindings), `engine` src/engine.ts (which picks a backend and owns the GPU
 * runtime and the native addon), `index` src/index.ts.
 * `rank` (catalogue-wide top-k and the narrow `Ranker` interface) and `eval` sit below
 * `nn` and `models`: evaluation needs only data and something that ranks, so models can
 * validate per epoch through eval/ without a cycle, and RL policies are evaluated alike.
 */
export const LAYERS = [
  'errors',
  'util',
  'backend',
  'gpu',
  'native',
  'engine',
  'kernels',
  'tensor',
  'graph',
  'data',
  'rank',
  'eval',
  'nn',
  'models',
  'rl',
  'serve',
  'cli',
  'index',
] as const;
export type Layer = (typeof LAYERS)[number];

export interface Import {
  from: string; // src-relative path of the importing file, with '/'
  to: string; // src-relative path of the imported file
  line: number;
  typeOnly: boolean;
}

export interface Violation {
  rule: 'up' | 'folder-cycle' | 'file-cycle';
  /** `from -> to` for `up`; the cycle's members joined by ' -> ' otherwise. */
  what: string;
}

export function layerOf(srcPath: string): Layer {
  const first = srcPath.split('/')[0]!;
  const name = first.endsWith('.ts') ? first.slice(0, -3) : first;
  if (!(LAYERS as readonly string[]).includes(name)) throw new Error(`src/${srcPath}: no layer for '${name}'; add it to LAYERS`);
  return name as Layer;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Blank out comments and keep string literals, so that imports in comments are not counted. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g, (m) =>
    m.startsWith('/') ? m.replace(/[^\n]/g, ' ') : m,
  );
}

const IMPORT_RE =
  /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?(['"])([^'"]+)\3|\bimport\s*\(\s*(['"])([^'"]+)\5\s*\)/g;

export function parseImports(srcDir: string): { files: string[]; imports: Import[] } {
  const abs = listTs(srcDir);
  const files = abs.map((p) => relative(srcDir, p).split(sep).join('/'));
  const known = new Set(files);
  const imports: Import[] = [];
  for (const [i, p] of abs.entries()) {
    const text = stripComments(readFileSync(p, 'utf8'));
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[4] ?? m[6]!;
      if (!spec.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(p), spec.replace(/\.js$/, '.ts'));
      let to = relative(srcDir, target).split(sep).join('/');
      if (!known.has(to) && known.has(`${to}/index.ts`)) to = `${to}/index.ts`;
      if (!known.has(to) && known.has(`${to}.ts`)) to = `${to}.ts`;
      if (to.startsWith('..')) continue; // outside src (package.json and the like)
      if (!known.has(to)) throw new Error(`src/${files[i]}: cannot resolve '${spec}'`);
      const line = text.slice(0, m.index).split('\n').length;
      imports.push({ from: files[i]!, to, line, typeOnly: Boolean(m[2]) });
    }
  }
  return { files, imports };
}

/** Strongly connected components with more than one member (Tarjan), each sorted. */
function cycles(nodes: string[], edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

export function checkLayers(srcDir: string): { imports: Import[]; violations: Violation[] } {
  const { files, imports } = parseImports(srcDir);
  const violations: Violation[] = [];
  const rank = (l: Layer) => LAYERS.indexOf(l);
  const folderEdges = new Map<string, Set<string>>();
  const fileEdges = new Map<string, Set<string>>();
  for (const imp of imports) {
    const a = layerOf(imp.from);
    const b = layerOf(imp.to);
    if (rank(b) > rank(a)) violations.push({ rule: 'up', what: `${imp.from} -> ${imp.to}` });
    if (a !== b) (folderEdges.get(a) ?? folderEdges.set(a, new Set()).get(a)!).add(b);
    (fileEdges.get(imp.from) ?? fileEdges.set(imp.from, new Set()).get(imp.from)!).add(imp.to);
  }
  for (const c of cycles([...LAYERS], folderEdges)) violations.push({ rule: 'folder-cycle', what: c.join(' <-> ') });
  for (const c of cycles(files, fileEdges)) violations.push({ rule: 'file-cycle', what: c.join(' <-> ') });
  // Unique, in a stable order.
  const seen = new Set<string>();
  return {
    imports,
    violations: violations.filter((v) => {
      const k = `${v.rule} ${v.what}`;
      return seen.has(k) ? false : (seen.add(k), true);
    }),
  };
}
