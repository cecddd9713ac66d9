/** Layers built from tensors: the public API of src/nn. */
export { Module, type ModuleState } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { LightGCNPropagation, type LightGCNPropagationOptions } from './lightgcn-propagation.js';
export { GCNConv, applyActivation, GRAPH_ACTIVATIONS, type GCNConvOptions, type GraphActivation } from './gcn-conv.js';
export { SAGEConv, uploadSageBlock, freeSageBlock, l2NormalizeRows, type SAGEConvOptions, type SageAggregator, type SageBlock } from './sage-conv.js';
export { GATConv, freeGatGraph, type GATConvOptions, type GatActivation } from './gat-conv.js';
export { LayerStack } from './layer-stack.js';
