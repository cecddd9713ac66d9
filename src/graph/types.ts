/**
 * The graph layer's name for the plain CSR matrix. The type itself lives in
 * backend/arrays.ts beside DeviceCsr, so that the native addon's bindings, the engine and
 * the kernels, all below graph/, can take it without importing upwards.
 */
export type { Csr } from '../backend/arrays.js';
