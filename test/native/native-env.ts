/**
 * Whether native tests run. Without the addon they are skipped with a visible reason,
 * unless GNNRL_REQUIRE_NATIVE=1 (CI), where they run and fail.
 */
import { describe } from 'vitest';
import { loadNative, nativeLoadError } from '../../src/native.js';

export const addon = loadNative();
export const required = process.env.GNNRL_REQUIRE_NATIVE === '1';
export const nativeReason = addon ? '' : ` [SKIPPED: ${nativeLoadError()?.split('\n').join(' | ')}]`;
if (!addon && !required) console.warn(`native tests skipped:${nativeReason}`);

/** describe() for native suites: skipped (named with the reason) only when the addon is missing and not required. */
export const describeNative = (name: string, fn: () => void) =>
  addon || required ? describe(name, fn) : describe.skip(name + nativeReason, fn);
