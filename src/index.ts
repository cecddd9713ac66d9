/** gnnrl: GNN + reinforcement-learning recommenders for Node.js on WebGPU. */
export { GnnrlError, type GnnrlErrorCode, type GnnrlErrorDetails } from './errors.js';
export { Engine, type EngineOptions, type BackendChoice } from './engine.js';
export type { BackendKind, DType, DeviceArray, DeviceCsr, CpuArray, GpuArray } from './backend/arrays.js';
export { listKernels, registerKernelImpl } from './backend/kernel-table.js';
export type { AdapterSummary } from './gpu/adapter.js';
export type { KernelProgram, KernelTiming } from './gpu/runtime.js';
export type { Csr } from './graph/types.js';
export { spmm, spmmReference } from './kernels/index.js';
export { Rng } from './util/rng.js';
