/** Graph encoders as recommenders: the shared base, LightGCN, GCN, GraphSAGE and GAT. */
export { GraphEncoderModel, ENCODER_DEFAULTS, resolveEncoderOptions, type GraphEncoderOptions, type ResolvedEncoderOptions, type EncoderClass } from './base.js';
export { InputLayer, ENCODER_INPUTS, type EncoderInput, type InputLayerSpec } from './features.js';
export { concatRows, sliceRows, splitRows, rowDot } from './rows.js';
export { LightGCN, type LightGCNOptions } from './lightgcn.js';
export { GCN, type GCNStack, type GCNOptions, type LayerCombine } from './gcn.js';
export { GraphSAGE, type SAGEStack, type GraphSAGEOptions } from './sage.js';
export { GAT, type GATStack, type GATOptions } from './gat.js';
