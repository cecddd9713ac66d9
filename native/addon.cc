// Entry point of the gnnrl native addon: registers every exported function. The
// algorithms live in the N-API-free *_core.cc files (also compiled alone by
// scripts/native-sanitize.sh); the napi_*.cc files only translate arguments and errors.
#include <napi.h>

#include "napi_common.h"
#include "napi_csr.h"
#include "napi_graph_kernels.h"
#include "napi_kernels.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  gnnrl::registerCommon(env, exports);
  gnnrl::registerCsr(env, exports);
  gnnrl::registerGraphOps(env, exports);
  gnnrl::registerKernels(env, exports);
  gnnrl::registerGraphKernels(env, exports);
  return exports;
}

NODE_API_MODULE(gnnrl_native, Init)
