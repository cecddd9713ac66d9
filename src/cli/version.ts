/** The installed package's version, for manifests and `doctor` ('unknown' when package.json cannot be read). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  try {
    // src/cli and dist/cli both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}
