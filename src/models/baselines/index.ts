/**
 * The classic baselines: popularity, BaselineOnly, the KNN family, SVD, SVD++ and NMF,
 * with the reference implementation's (Surprise's) hyper-parameters as defaults, so
 * results compare with published tables. All implement `RecommenderModel`, fit on the
 * CPU in typed arrays, restore exactly with `X.fromState(state)`, and rank through the
 * top-K kernel when constructed with an engine (`new SVD({}, { engine })`).
 */
export { BaselineModel, type FittedScalars, type ModelContext } from './base.js';
export { Popularity, type PopularityOptions } from './popularity.js';
export { BaselineOnly, type BaselineOnlyOptions } from './baseline-only.js';
export { type BaselineMethod, type BaselineOptions } from './biases.js';
export { KNNBasic, KNNWithMeans, KNNBaseline, type KnnOptions, type ResolvedKnnOptions } from './knn.js';
export { type SimilarityName } from './similarity.js';
export { SVD, type SvdInit, type SvdOptions, type ResolvedSvdOptions } from './svd.js';
export { SVDpp, type SvdppInit, type SvdppOptions, type ResolvedSvdppOptions } from './svdpp.js';
export { NMF, type NmfOptions, type ResolvedNmfOptions } from './nmf.js';
