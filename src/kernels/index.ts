/** Importing this registers every kernel with the per-backend kernel table. */
export { spmm, spmmReference } from './spmm.js';
export { qTargets, qTargetsReference, type QTargetArgs, type QTargetResult } from './qtarget.js';
