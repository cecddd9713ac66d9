// How the addon's async workers (kernels, graph builds) run their job and settle their
// Promises.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <optional>
#include <string>

#include "core_error.h"
#include "napi_common.h"

namespace gnnrl {

// How an async worker settles its Promise: the resolve/reject functions of a plain
// `new Promise(executor)`, held by references. Not napi_create_promise's deferred: when
// a worker thread is terminated while the call runs, the environment can no longer run
// JS, napi_resolve_deferred returns early and the deferred's handle is never freed (a
// leak LeakSanitizer reports); references are freed by their destructors either way.
class Settle {
 public:
  Napi::Promise create(Napi::Env env) {
    Napi::Function ctor = env.Global().Get("Promise").As<Napi::Function>();
    Napi::Function executor = Napi::Function::New(env, [this](const Napi::CallbackInfo& info) {
      resolve_ = Napi::Persistent(info[0].As<Napi::Function>());
      reject_ = Napi::Persistent(info[1].As<Napi::Function>());
    });
    return ctor.New({executor}).As<Napi::Promise>();
  }
  void resolve(Napi::Value v) { resolve_.Call({v}); }
  void reject(Napi::Value e) { reject_.Call({e}); }
  // Rejects with the GnnrlError of `e`, as the sync call would throw it.
  void reject(Napi::Env env, const CoreError& e) { reject(toJsError(env, e).Value()); }

 private:
  Napi::FunctionReference resolve_, reject_;
};

// Runs a worker's OnOK/OnError body. Settling fails only when the environment is going
// away (a worker thread terminated while the call ran): then nobody is left to tell, and
// a Napi::Error escaping would reach std::terminate through node-addon-api's wrapper.
template <class F>
void whileAlive(F&& settle) {
  try {
    settle();
  } catch (const Napi::Error&) {
  }
}

// Runs a worker thread's job; a C++ failure comes back as the CoreError to reject with
// (the codes the sync calls throw: input/limit from the core, limit for out of memory,
// native for anything else), nothing on success.
template <class F>
std::optional<CoreError> captureCoreError(F&& job) {
  try {
    job();
    return std::nullopt;
  } catch (const CoreError& e) {
    return e;
  } catch (const std::bad_alloc&) {
    return CoreError(ErrCode::Limit, "out of memory in the native addon");
  } catch (const std::exception& e) {
    return CoreError(ErrCode::Native, std::string("native addon failure: ") + e.what());
  }
}

}  // namespace gnnrl
