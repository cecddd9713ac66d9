#pragma once
#include <napi.h>
namespace gnnrl {
void registerCsr(Napi::Env env, Napi::Object exports);
void registerGraphOps(Napi::Env env, Napi::Object exports);
}  // namespace gnnrl
