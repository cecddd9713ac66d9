/**
 * What the loaders return beside the data: the load report, the bad-line policy and the
 * binary cache's outcome. Shared by io/builder.ts (which builds the data) and cache.ts
 * (which stores and restores it), so that neither imports the other.
 */
import type { Interactions } from './interactions.js';

/** `true`: a `.gnnrl-cache/` folder next to the source; a string: that folder. */
export type CacheOption = boolean | string | undefined;

export type CacheStatus = 'hit' | 'miss' | 'stale' | 'corrupt' | 'off';

export interface CacheInfo {
  status: CacheStatus;
  path?: string;
  /** Why a cache was not used (stale or corrupt), or why writing it failed. */
  reason?: string;
}

export type BadLinePolicy = 'error' | 'skip' | 'warn';

/** What a loader did, returned next to the data. */
export interface LoadReport {
  file: string;
  /** Records accepted. */
  rows: number;
  /** Malformed records dropped under `onBadLine: 'skip' | 'warn'`. */
  skipped: number;
  /** The first few skipped-line messages (at most 20), for logs. */
  skippedMessages: string[];
  bytes: number;
  /** True when the data came from the binary cache instead of parsing. */
  fromCache: boolean;
  /** What the binary cache did, when one was asked for. */
  cache?: CacheInfo;
}

export type LoadedInteractions = Interactions & { report: LoadReport };
