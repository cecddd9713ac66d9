#pragma once
#include <napi.h>
namespace gnnrl {
// Adds the graph kernels (max aggregation, graph attention) to `exports.kernels`; call
// after registerKernels.
void registerGraphKernels(Napi::Env env, Napi::Object exports);
}  // namespace gnnrl
