/** Serving: `Recommender`, snapshots, online updates, the HTTP server and the Redis path. */
export {
  Recommender,
  type RecommenderOptions,
  type OnlineOptions,
  type OnlineStats,
  type ServeRecommendOptions,
  type RecommendResponse,
  type ScoreResponse,
  type SimilarResponse,
  type UnknownUserPolicy,
} from './recommender.js';
export { checkEvent, isPositive, type FeedbackEvent, type FoldInSettings, type BatchReport } from './feedback.js';
export { foldIn, type FoldInOptions, type FoldInTable } from './fold-in.js';
export { FactorTable, topKHost } from './factor-table.js';
export {
  encodeSnapshot,
  decodeSnapshot,
  saveSnapshot,
  loadSnapshot,
  loadServable,
  decodeServable,
  SNAPSHOT_MAGIC,
  SNAPSHOT_VERSION,
  type SnapshotData,
  type SnapshotInput,
  type SnapshotHeader,
  type Servable,
} from './snapshot.js';
export { RecommendServer, type ServerOptions } from './http.js';
export { ServerMetrics, LATENCY_BUCKETS } from './metrics.js';
export { FeedbackPublisher, Learner, SnapshotFollower, compareStreamIds, type BrokerOptions, type LearnerOptions, type LearnerStats } from './broker.js';
