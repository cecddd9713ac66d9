#!/usr/bin/env node
// Builds the C++ addon with cmake-js at `npm install`. A failed build does not fail the
// install (every native function has a TypeScript twin), unless GNNRL_REQUIRE_NATIVE=1,
// which CI sets so a broken addon cannot hide behind the fallback.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const built = join(root, 'build', 'Release', 'gnnrl_native.node');
if (process.env.GNNRL_SKIP_NATIVE === '1') {
  console.log('gnnrl: GNNRL_SKIP_NATIVE=1, not building the native addon');
  process.exit(0);
}
if (existsSync(built) && !force) {
  console.log(`gnnrl: native addon already built at ${built}`);
  process.exit(0);
}
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const jobs = String(Math.max(1, (await import('node:os')).availableParallelism()));
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--directory', root, '--out', 'build', '--parallel', jobs], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  const msg = [
    'gnnrl: the native addon did not build; the TypeScript fallbacks will be used.',
    '  It needs cmake >= 3.15 and a C++17 compiler (Debian/Ubuntu: apt-get install cmake g++).',
    '  Rebuild with: npm run build:native',
  ].join('\n');
  if (process.env.GNNRL_REQUIRE_NATIVE === '1') {
    console.error(msg + '\n  GNNRL_REQUIRE_NATIVE=1 is set, so this is an error.');
    process.exit(1);
  }
  console.warn(msg);
}
