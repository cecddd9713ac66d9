/**
 * gnnrl: GNN + reinforcement-learning recommenders for Node.js, hot paths in WebGPU.
 * The layers, bottom up: engine and errors; kernels (per backend); tensors with autograd;
 * layers; graphs (native CSR builder); data (loaders, splits, synthetic worlds).
 */
import * as kernelsOnly from './kernels/index.js';
import { uploadCsrForSpmm, prepareGatGraph } from './graph/upload.js';
import { spmmPlanArrays } from './graph/layout.js';
import { withSelfLoops } from './graph/gat-edges.js';

export { GnnrlError, type GnnrlErrorCode, type GnnrlErrorDetails } from './errors.js';
export { Engine, nativeStatus, type EngineOptions, type BackendChoice, type Disposable, type DeviceLossReport, type NativeStatus } from './engine.js';
export type { BackendKind, DType, DeviceArray, DeviceCsr, CpuArray, GpuArray } from './backend/arrays.js';
export { listKernels, registerKernelImpl } from './backend/kernel-table.js';
export type { AdapterSummary } from './gpu/adapter.js';
export type { KernelProgram, KernelTiming } from './gpu/runtime.js';
export { pinnedVariant, chooseVariant, autotune, type VariantChoice } from './gpu/variants.js';
export { Rng } from './util/rng.js';

// Kernels that work on raw device arrays (the tensor ops below wrap the trainable ones),
// and, for compatibility, the graph preparation they take (it moved to graph/).
export const kernels = { ...kernelsOnly, uploadCsrForSpmm, spmmPlanArrays, prepareGatGraph, withSelfLoops };
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace kernels {
  export type QTargetArgs = kernelsOnly.QTargetArgs;
  export type QTargetResult = kernelsOnly.QTargetResult;
  export type QTargetVariant = kernelsOnly.QTargetVariant;
  export type TopKArgs = kernelsOnly.TopKArgs;
  export type TopKResult = kernelsOnly.TopKResult;
  export type SpmmPlan = kernelsOnly.SpmmPlan;
  export type SpmmPlanArrays = kernelsOnly.SpmmPlanArrays;
  export type PlannedCsr = kernelsOnly.PlannedCsr;
  export type SpmmVariant = kernelsOnly.SpmmVariant;
  export type GatVariant = kernelsOnly.GatVariant;
  export type GatGraph = kernelsOnly.GatGraph;
  export type GatShape = kernelsOnly.GatShape;
  export type SeqAttentionShape = kernelsOnly.SeqAttentionShape;
  export type MaxAggregateResult = kernelsOnly.MaxAggregateResult;
}
export { uploadCsrForSpmm, prepareGatGraph } from './graph/upload.js';
export {
  spmm,
  spmmReference,
  tuneSpmm,
  qTargets,
  qTargetsReference,
  tuneQTargets,
  topK,
  topKReference,
  recencyWeights,
  type PlannedCsr,
  type QTargetArgs,
  type QTargetResult,
  type TopKArgs,
  type TopKResult,
  type GatGraph,
  type GatShape,
  type SeqAttentionShape,
} from './kernels/index.js';

export * from './tensor/index.js';
export * from './nn/index.js';
export * from './data/index.js';

// The graph layer; its IdMap (batch encoding, native string hashing) is exported as
// GraphIdMap beside the data layer's IdMap (incremental, used by the loaders).
export type { Csr } from './backend/arrays.js';
export { buildGraph, buildGraphAsync, symNormAdjacency, bipartiteAdjacency, transposeCsr, type ImplOption } from './graph/build.js';
export { buildGraphTs } from './graph/build-ts.js';
export { cooccurrence, type CoocOptions, type CoocMeasure } from './graph/cooccurrence.js';
export { sampleNeighbors, randomWalkNeighbors, type SampleOptions, type WalkOptions } from './graph/sampling.js';
export { degreeLayout, spmmPlanArrays, type SegmentLayout, type LayoutOptions } from './graph/layout.js';
export { withSelfLoops, gatEdgeArrays, type GatEdgeArrays } from './graph/gat-edges.js';
export { IdMap as GraphIdMap, type IdInput, type IdKind } from './graph/id-map.js';
export { InteractionGraph, type InteractionsInput, type InteractionGraphOptions, type DenseLog } from './graph/interaction-graph.js';
export { powerLawInteractions, type PowerLawOptions, type SyntheticInteractions } from './graph/powerlaw.js';
export { loadNative, nativeLoadError, type NativeAddon, type MergePolicy, type Normalization, type BuildOptions, type AdjacencyOptions, type BuiltGraph, type CooInput } from './native.js';

// Models: the shared interface, catalogue-wide ranking and the epoch loop.
export type {
  RecommenderModel,
  Objective,
  EpochReport,
  BatchProgress,
  FitOptions,
  FitResult,
  FactorScores,
  ExcludeRows,
  RecommendOptions,
  Recommendations,
  ModelState,
} from './models/types.js';
export { recommendFromFactors, recommendFromDense, exclusionRows, selectTopK } from './rank/rank.js';
export { runEpochLoop, lowerIsBetter, type EpochLoopSpec, type EpochOutcome } from './models/fit-loop.js';

// Evaluation: rating and ranking metrics, beyond-accuracy measures, bootstrap intervals.
export * from './eval/index.js';

// Classic baselines: the same fit / predict / recommend interface as the encoders.
export {
  Popularity,
  BaselineOnly,
  KNNBasic,
  KNNWithMeans,
  KNNBaseline,
  SVD,
  SVDpp,
  NMF,
  type ModelContext,
  type PopularityOptions,
  type BaselineOnlyOptions,
  type BaselineMethod,
  type KnnOptions,
  type SimilarityName,
  type SvdOptions,
  type SvdppOptions,
  type NmfOptions,
} from './models/baselines/index.js';

// Graph encoders: LightGCN, GCN, GraphSAGE and GAT on one training base.
export * from './models/encoders/index.js';

// Checkpoints and the model registry (names, defaults, restore from a checkpoint).
export {
  saveCheckpoint,
  loadCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  CHECKPOINT_MAGIC,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointArray,
  type CheckpointDType,
  type CheckpointHeader,
  type SaveOptions,
} from './models/checkpoint.js';
export { saveTrainedModel, type TrainingRecord } from './models/trained-checkpoint.js';
export {
  listModels,
  modelNames,
  getModel,
  resolveModelName,
  parseModelList,
  restoreModel,
  trainingGraph,
  DEFAULT_MODELS,
  type ModelEntry,
  type CreateContext,
  type RestoreContext,
  type CommonModelOptions,
} from './models/registry.js';

// The RL layer: environments, replay memory, agents, the run loop and its evaluation.
export * from './rl/index.js';

// Serving: the Recommender, snapshots, online updates, HTTP and Redis scale-out.
export * from './serve/index.js';
