/** The graph layer's public surface. */
export type { Csr } from './types.js';
export { buildGraph, buildGraphAsync, symNormAdjacency, bipartiteAdjacency, transposeCsr, type ImplOption } from './build.js';
export { buildGraphTs } from './build-ts.js';
export { cooccurrence, type CoocOptions, type CoocMeasure } from './cooccurrence.js';
export { sampleNeighbors, randomWalkNeighbors, type SampleOptions, type WalkOptions } from './sampling.js';
export { degreeLayout, spmmPlanArrays, type SegmentLayout, type LayoutOptions } from './layout.js';
export { withSelfLoops, gatEdgeArrays, type GatEdgeArrays } from './gat-edges.js';
export { uploadCsrForSpmm, prepareGatGraph } from './upload.js';
export { IdMap, type ExternalId, type IdInput, type IdKind, type IdMapJson } from './id-map.js';
export { InteractionGraph, type InteractionsInput, type InteractionGraphOptions } from './interaction-graph.js';
export { powerLawInteractions, type PowerLawOptions, type SyntheticInteractions } from './powerlaw.js';
