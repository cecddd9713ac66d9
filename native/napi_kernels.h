#pragma once
#include <napi.h>

#include <shared_mutex>
namespace gnnrl {
// Held shared by every kernel call and exclusively by setThreads() (see napi_kernels.cc).
std::shared_mutex& poolGate();

// A binding that runs its kernel under the gate, shared. For bindings that do not take
// the gate themselves (a thread must not take a shared_mutex twice).
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value gated(const Napi::CallbackInfo& info) {
  std::shared_lock<std::shared_mutex> gate(poolGate());
  return Fn(info);
}

// Registers `kernels`: the native backend's GEMM, fused Q-target/top-K, SpMM and pool size.
void registerKernels(Napi::Env env, Napi::Object exports);
}  // namespace gnnrl
