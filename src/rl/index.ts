/**
 * The RL layer's public API: environments, replay memory, agents, the run loop and its
 * evaluation. Each part appends its exports here (one block per file).
 */
export type {
  Observation,
  StepResult,
  Environment,
  EpisodeLog,
  TruthfulEnvironment,
  TransitionBatch,
  ActOptions,
  UpdateReport,
  Agent,
} from './types.js';
export { constantSchedule, linearSchedule, exponentialSchedule, parseSchedule, toSchedule } from './schedules.js';
export type { Schedule, ScheduleSpec, ScheduleLike } from './schedules.js';
export { ReplayBuffer, transitionSchema, checkSchema, checkCapacity, checkRows, defaultMaxBytes, allocField, bytesPerValue, isDtype } from './memory/replay.js';
export type { FieldDtype, FieldArray, FieldSpec, ReplayOptions, ReplaySample, ReplayPosition, ReplayState } from './memory/replay.js';
export { SumTree } from './memory/sum-tree.js';
export { PrioritizedReplay } from './memory/prioritized.js';
export type { PrioritizedOptions, PrioritizedSample, PrioritizedState } from './memory/prioritized.js';
export { NStepAccumulator } from './memory/nstep.js';
export type { NStepOptions, NStepInput, NStepBatch } from './memory/nstep.js';
export { ChainEnv, CliffWalkEnv, deterministicModel, valueIteration } from './env/discrete.js';
export type { DiscreteEnv, DiscreteStep, MdpModel, ValueIterationResult } from './env/discrete.js';
export { TabularAgent } from './agents/tabular.js';
export type { TabularMethod, TabularOptions, TabularState } from './agents/tabular.js';
export { Simulator, simulatorConfig, SIMULATOR_DEFAULTS, type SimulatorOptions, type SimulatorConfig } from './env/simulator.js';
export { EpisodeRecorder } from './env/episode-log.js';
export { RandomPolicy, PopularityPolicy, GreedyModelPolicy, OraclePolicy, isTruthful } from './policies/fixed.js';
export { historyExclusions, windowExclusions, isExcluded, type ExclusionRows } from './state/exclusions.js';
export { WindowStateEncoder, tablesFromModel, randomTables, type StateTables, type WindowStateOptions } from './state/window-state.js';
export { DqnAgent, type DqnOptions, type DqnContext } from './agents/dqn.js';
export { trainAgent, type TrainOptions, type TrainProgress, type TrainResult } from './train-loop.js';
export { evaluateAgent, summarize, differenceCI, type EvaluateOptions as AgentEvaluateOptions, type EpisodeRecord, type AgentMetrics, type Evaluation } from './evaluate.js';
export { AGENTS, agentNames, agentFamily, resolveAgentName, parseAgentList, checkAgentOptions, createAgent, checkModelFits, dqnDefaults, type AgentInfo, type AgentContext, type CreatedAgent } from './registry.js';
export { SoftmaxLoggingPolicy, modelScorer, popularityScorer, type ItemScorer, type LoggingPolicy, type SoftmaxLoggingOptions } from './policies/logging.js';
export { logToJsonl, logToCsv, writeLog, logFormatOf, contextObservation, withPropensities, LOG_CSV_HEADER, type LoggedData, type LogFormat } from './log/format.js';
export { loadLog, parseLog, type LoadLogOptions } from './log/loader.js';
export { fitBehaviourModel, type BehaviourModel, type BehaviourOptions } from './log/behaviour.js';
export { collectLog, type CollectOptions, type CollectedLog } from './log/collect.js';
export { TabularSlateAgent, GroupWindowDiscretizer, itemGroupsOf, type TabularSlateOptions } from './agents/tabular-slate.js';
export { ReplayEnv, replayEnvConfig, REPLAY_ENV_DEFAULTS, MAX_MODEL_PAIRS, type ReplayEnvOptions, type ReplayEnvConfig, type ReplayEnvContext, type UnknownPolicy, type ReplayRewardMap } from './env/replay.js';
export { fittedSimulator, fittedFromWorld, fittedWorld, calibrate, calibrationOptions, itemClusters, CALIBRATION_DEFAULTS, type ClickCalibration, type CalibrationOptions, type FittedTables, type FittedSimulatorResult } from './env/fitted.js';
export { RidgeModel, LinearBanditAgent, invertSpd, cholesky, type LinearBanditOptions, type LinearBanditContext } from './agents/linear-bandit.js';
export { LinUcbAgent, type LinUcbOptions } from './agents/linucb.js';
export { LinTsAgent, type LinTsOptions } from './agents/lin-ts.js';
export { AgentRanker } from './agent-ranker.js';
