/** Public API of the data layer: logs, loaders, writers, features, filters, splits, sampling, synthetic worlds. */
export { IdMap, normalizeId, type ExternalId, type IdMapJson } from './idmap.js';
export {
  interactionCount,
  validateInteractions,
  selectInteractions,
  filterByMask,
  groupByUser,
  userDegrees,
  itemDegrees,
  fromExternal,
  type Interactions,
  type UserGroups,
} from './interactions.js';
export type { FeatureTable } from './features-types.js';
export type { BadLinePolicy, LoadReport, LoadedInteractions } from './io/builder.js';
export type { Progress, TextEncoding } from './io/scanner.js';
export { loadCsv, loadTsv, type CsvOptions, type ColumnMap, type ColumnRef } from './csv.js';
export { loadJsonl, type JsonlOptions } from './jsonl.js';
export {
  loadMovieLens,
  detectMovieLens,
  ML100K_GENRES,
  ML1M_OCCUPATIONS,
  type MovieLensData,
  type MovieLensFormat,
  type MovieLensOptions,
  type UserSide,
  type ItemSide,
} from './movielens.js';
export {
  oneHot,
  multiHot,
  Scaler,
  numericFeature,
  concatFeatures,
  movieLensFeatures,
  timestampScaler,
  type ScalerKind,
  type ScalerJson,
  type MovieLensFeatureOptions,
  type MovieLensFeatures,
} from './features.js';
export { kCore, binarize, compactIds, selectRows, type KCoreOptions } from './filter.js';
export {
  splitByUserTime,
  splitLeaveLastOut,
  splitByGlobalTime,
  splitRandom,
  kFold,
  trainCount,
  type Split,
  type SingletonPolicy,
  type UserTimeOptions,
} from './split.js';
export { AliasTable } from './alias.js';
export {
  PositiveIndex,
  NegativeSampler,
  sampleNegatives,
  bprBatches,
  type NegativeStrategy,
  type SamplerOptions,
  type Triples,
  type BprOptions,
} from './negatives.js';
export { syntheticWorld, WORLD_PRESETS, type SyntheticWorld, type WorldConfig, type WorldPreset } from './synthetic.js';
export { writeCsv, writeTsv, writeJsonl, writeMovieLens, formatFloat32, type CsvWriteOptions, type MovieLensWriteOptions } from './writers.js';
export { cachePath, type CacheOption, type CacheInfo, type CacheStatus } from './cache.js';
export { writeFileAtomic } from './io/atomic.js';
export { readVectors, alignVectors, writeNpy, type VectorTable, type VectorFormat, type ReadVectorsOptions, type AlignWant } from './vectors.js';
