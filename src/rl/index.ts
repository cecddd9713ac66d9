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
