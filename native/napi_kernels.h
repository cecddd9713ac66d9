#pragma once
#include <napi.h>
namespace gnnrl {
// Registers `kernels`: the native backend's GEMM, fused Q-target/top-K, SpMM and pool size.
void registerKernels(Napi::Env env, Napi::Object exports);
}  // namespace gnnrl
