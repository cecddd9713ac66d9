/** Tensors, ops with autograd, and optimisers: the public API of src/tensor. */
export { Tensor } from './tensor.js';
export { type Shape, fmtShape, sizeOf } from './shape.js';
export { noGrad, isGradEnabled, grad, type GradNode } from './autograd.js';
export { tensor, zeros, ones, full, randUniform, randNormal, xavierUniform, xavierNormal, readAll, parameter, type RandomSource } from './create.js';
export { add, sub, mul, div, relu, leakyRelu, sigmoid, tanh, exp, log, softplus, logSigmoid, sqrt, square, dropout, type DropoutOptions } from './ops/elementwise.js';
export { sum, mean, type Axis } from './ops/reduce.js';
export { matmul, type MatmulOptions } from './ops/matmul.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { gather, gatherIndices, slice, concat } from './ops/gather.js';
export { mseLoss, huberLoss, bprLoss, crossEntropy, type LossOptions } from './ops/loss.js';
export { sparseMatmul } from './ops/spmm.js';
export { Optimizer, SGD, Adam, AdamW, gradNormSquared, type OptimizerOptions, type SgdOptions, type AdamOptions } from './optim.js';
export { graphAttention, maxAggregate, selfAttention } from './ops/attention.js';
