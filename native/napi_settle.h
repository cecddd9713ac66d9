// How the addon's async workers (kernels, graph builds) settle their Promises.
#pragma once
#include <napi.h>

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

 private:
  Napi::FunctionReference resolve_, reject_;
};

}  // namespace gnnrl
