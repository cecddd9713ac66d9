/**
 * Reads WGSL from the package's `shaders/` folder. Both `src/gpu` (tests run the
 * TypeScript sources) and `dist/gpu` (the compiled package) sit two levels below the
 * package root, so one relative path serves both.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { GnnrlError } from '../errors.js';

export const SHADER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shaders');

const cache = new Map<string, string>();

export function shaderSource(file: string): string {
  let src = cache.get(file);
  if (src === undefined) {
    const path = join(SHADER_DIR, file);
    try {
      src = readFileSync(path, 'utf8');
    } catch (err) {
      throw new GnnrlError('shader', `shader file ${path} could not be read: ${(err as Error).message}`, {
        kernel: file,
        cause: err,
      });
    }
    cache.set(file, src);
  }
  return src;
}

/** Formats a WGSL compiler message as `shaders/file.wgsl:line:col: error: text` plus the offending line. */
export function formatCompileMessage(file: string, source: string, msg: GPUCompilationMessage): string {
  const line = msg.lineNum;
  const text = line > 0 ? source.split('\n')[line - 1] ?? '' : '';
  const caret = line > 0 ? `\n    ${text}\n    ${' '.repeat(Math.max(0, msg.linePos - 1))}^` : '';
  return `shaders/${file}:${line}:${msg.linePos}: ${msg.type}: ${msg.message}${caret}`;
}
