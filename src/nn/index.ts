/** Layers built from tensors: the public API of src/nn. */
export { Module, type ModuleState } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
