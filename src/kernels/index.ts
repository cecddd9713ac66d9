/** Importing this registers every kernel with the per-backend kernel table. */
export { spmm, spmmReference } from './spmm.js';
export { qTargets, qTargetsReference, qTargetVariant, tuneQTargets, QTARGET_VARIANTS, type QTargetArgs, type QTargetResult, type QTargetVariant } from './qtarget.js';
export { topK, topKReference, TOPK_MAX, type TopKArgs, type TopKResult } from './topk.js';
export { releaseSpmmCsr, uploadSpmmPlan, spmmNeedsSplit, spmmVariant, spmmVariantsFor, tuneSpmm, SPMM_VARIANTS, type SpmmPlan, type SpmmPlanArrays, type PlannedCsr, type SpmmVariant } from './spmm.js';
export { gatForward, gatBackward, gatVariant, tuneGat, GAT_VARIANTS, type GatVariant, gatForwardReference, gatBackwardReference, type GatGraph, type GatShape } from './gat.js';
export { seqAttention, seqAttentionBackward, seqAttentionReference, seqAttentionBackwardReference, recencyWeights, SEQ_MAX_LEN, SEQ_MAX_DIM, type SeqAttentionShape } from './seq-attention.js';
export { maxAggregate, maxAggregateBackward, maxAggregateReference, maxAggregateBackwardReference, type MaxAggregateResult } from './spmm-max.js';
