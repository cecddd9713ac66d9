/** Evaluation: rating and ranking metrics, beyond-accuracy measures, bootstrap intervals, reports. */
export { rmse, mae } from './rating.js';
export { RANKING_METRICS, metricName, rankingMetrics } from './ranking.js';
export type { RankingMetric, RankedLists, RankingOptions, RankingResult, RelevantRows } from './ranking.js';
export { coverage, gini, itemPopularity, novelty, recommendationCounts } from './diversity.js';
export type { Popularity } from './diversity.js';
export { bootstrapCI, bootstrapCIs, quantileSorted } from './bootstrap.js';
export type { BootstrapOptions } from './bootstrap.js';
export { validationMetrics } from './validate.js';
export type { ValidationOptions } from './validate.js';
export { evaluateModel } from './evaluate.js';
export type { EvaluateOptions, EvaluationReport, SampledOptions } from './evaluate.js';
export { ips, snips, doublyRobust, pseudoInverse, ESTIMATORS, estimateAll, estimateInterval, estimateValue, effectiveSampleSize, importanceWeights } from './ope/estimators.js';
export type { OpeInput, OpeEstimator, OpeEstimate, OpeOptions, EstimatorTerms } from './ope/estimators.js';
export { calibrateScores, type Calibration } from './ope/direct.js';
