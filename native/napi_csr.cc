// N-API bindings of the CSR builder: buildGraph (sync), buildGraphAsync (worker thread,
// Promise), bipartiteAdjacency, transpose. Argument order of checks mirrors the TS twin
// (options first, then the input object field by field) so both report the same error.
#include <memory>
#include <vector>

#include "napi_common.h"
#include "napi_settle.h"
#include "napi_csr.h"

namespace gnnrl {
namespace {

const char* const kPolicies[] = {"sum", "mean", "max", "last", "count"};
const char* const kNorms[] = {"none", "sym", "row", "col"};

AdjOptions adjOptions(Napi::Env env, Napi::Object o) {
  AdjOptions a;
  a.norm = static_cast<Norm>(choiceOpt(env, o, "norm", kNorms, 4, 1));
  a.selfLoops = boolOpt(env, o, "selfLoops", false);
  a.weighted = boolOpt(env, o, "weighted", false);
  return a;
}

Napi::Object optionsObject(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined()) return Napi::Object::New(env);
  if (!v.IsObject()) throwInputJs(env, "options", "an object, got " + describe(v));
  return v.As<Napi::Object>();
}

// Everything a build needs, read from (input, options). Spans point into the caller's
// typed arrays: valid only until JS runs again (the async path copies them first).
struct BuildArgs {
  CooInput in;
  BuildOptions opts;
};

BuildArgs readBuildArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BuildArgs a;
  Napi::Object o = optionsObject(env, info[1]);
  a.opts.policy = static_cast<Policy>(choiceOpt(env, o, "policy", kPolicies, 5, 0));
  Napi::Value adj = o.Get("adjacency");
  if (!adj.IsUndefined() && !(adj.IsBoolean() && !adj.As<Napi::Boolean>().Value())) {
    if (!adj.IsObject() || adj.IsArray()) throwInputJs(env, "adjacency", "an object or false, got " + describe(adj));
    a.opts.adjacency = true;
    a.opts.adj = adjOptions(env, adj.As<Napi::Object>());
  }
  Napi::Value ml = o.Get("memoryLimit");
  if (!ml.IsUndefined()) {
    if (!ml.IsNumber() || !(ml.As<Napi::Number>().DoubleValue() >= 0))
      throwInputJs(env, "memoryLimit", "a number of bytes >= 0, got " + showValue(ml));
    a.opts.memoryLimit = ml.As<Napi::Number>().DoubleValue();
  }

  if (!info[0].IsObject()) throwInputJs(env, "input", "an object, got " + describe(info[0]));
  Napi::Object in = info[0].As<Napi::Object>();
  a.in.nUsers = intArg(env, in.Get("nUsers"), "nUsers", 0, kMaxIndex);
  a.in.nItems = intArg(env, in.Get("nItems"), "nItems", 0, kMaxIndex);
  auto users = typedArg<int32_t>(env, in.Get("users"), "users", napi_int32_array, "Int32Array", false);
  auto items = typedArg<int32_t>(env, in.Get("items"), "items", napi_int32_array, "Int32Array", false);
  if (items.size != users.size)
    throwInputJs(env, "items", "length " + std::to_string(users.size) + " (users.length), got " + std::to_string(items.size));
  auto w = typedArg<float>(env, in.Get("weights"), "weights", napi_float32_array, "Float32Array", true);
  if (w.present && w.size != users.size)
    throwInputJs(env, "weights", "length " + std::to_string(users.size) + " (users.length), got " + std::to_string(w.size));
  Napi::Value ts = in.Get("ts");
  if (!ts.IsUndefined() && !ts.IsNull()) {
    bool f64 = ts.IsTypedArray() && ts.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
    bool i32 = ts.IsTypedArray() && ts.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
    if (!f64 && !i32) throwInputJs(env, "ts", "a Float64Array or an Int32Array, got " + describe(ts));
    int64_t len = static_cast<int64_t>(ts.As<Napi::TypedArray>().ElementLength());
    if (len != users.size)
      throwInputJs(env, "ts", "length " + std::to_string(users.size) + " (users.length), got " + std::to_string(len));
    if (f64) a.in.tsF64 = typedArg<double>(env, ts, "ts", napi_float64_array, "Float64Array", false).data;
    else a.in.tsI32 = typedArg<int32_t>(env, ts, "ts", napi_int32_array, "Int32Array", false).data;
  }
  a.in.users = users.data;
  a.in.items = items.data;
  a.in.n = users.size;
  a.in.weights = w.present ? w.data : nullptr;
  a.opts.threads = threadsOpt(env, o, a.in.n);
  return a;
}

Napi::Object graphToJs(Napi::Env env, GraphOut&& g) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("userItem", csrToJs(env, std::move(g.userItem)));
  o.Set("itemUser", csrToJs(env, std::move(g.itemUser)));
  o.Set("userDegree", toJs(env, std::move(g.userDegree)));
  o.Set("itemDegree", toJs(env, std::move(g.itemDegree)));
  if (g.hasAdjacency) o.Set("adjacency", csrToJs(env, std::move(g.adjacency)));
  return o;
}

Napi::Value BuildGraph(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    BuildArgs a = readBuildArgs(info);
    return graphToJs(info.Env(), buildGraph(a.in, a.opts));
  });
}

// Async build. The constructor copies every input array (one memcpy each) on the JS
// thread, so the caller may mutate, reuse or transfer its arrays the moment the Promise
// is returned; the worker reads only these private copies. Outputs are created on the JS
// thread in OnOK.
class BuildWorker : public Napi::AsyncWorker {
 public:
  BuildWorker(Napi::Env env, const BuildArgs& a)
      : Napi::AsyncWorker(env, "gnnrl.buildGraph"), opts_(a.opts),
        err_(ErrCode::Native, "") {
    const CooInput& in = a.in;
    const size_t n = static_cast<size_t>(in.n);
    users_.assign(in.users, in.users + n);
    items_.assign(in.items, in.items + n);
    if (in.weights) weights_.assign(in.weights, in.weights + n);
    if (in.tsF64) tsF64_.assign(in.tsF64, in.tsF64 + n);
    if (in.tsI32) tsI32_.assign(in.tsI32, in.tsI32 + n);
    in_ = in;
    in_.users = users_.data();
    in_.items = items_.data();
    in_.weights = in.weights ? weights_.data() : nullptr;
    in_.tsF64 = in.tsF64 ? tsF64_.data() : nullptr;
    in_.tsI32 = in.tsI32 ? tsI32_.data() : nullptr;
  }
  // Called once, before Queue().
  Napi::Promise promise() { return settle_.create(Env()); }

 protected:
  void Execute() override {
    const auto e = captureCoreError([&] { out_ = buildGraph(in_, opts_); });
    if (e) {
      err_ = *e;
      SetError(e->message);
    }
  }
  void OnOK() override {
    whileAlive([&] {
      try {
        settle_.resolve(graphToJs(Env(), std::move(out_)));
      } catch (const Napi::Error& e) {
        settle_.reject(e.Value());
      }
    });
  }
  void OnError(const Napi::Error&) override {
    whileAlive([&] { settle_.reject(Env(), err_); });
  }

 private:
  Settle settle_;
  std::vector<int32_t> users_, items_, tsI32_;
  std::vector<float> weights_;
  std::vector<double> tsF64_;
  CooInput in_;
  BuildOptions opts_;
  GraphOut out_;
  CoreError err_;
};

Napi::Value BuildGraphAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    BuildArgs a = readBuildArgs(info);
    auto* w = new BuildWorker(env, a);
    Napi::Promise p;
    try {
      p = w->promise();
    } catch (...) {
      delete w;  // never queued
      throw;
    }
    w->Queue();
    return p;
  } catch (const Napi::Error& e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  } catch (const std::bad_alloc&) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(makeError(env, "limit", "out of memory in the native addon").Value());
    return d.Promise();
  }
}

Napi::Value BipartiteAdjacency(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = optionsObject(env, info[1]);
    AdjOptions ao = adjOptions(env, o);
    CsrView ui = csrArg(env, info[0], "userItem");
    int threads = threadsOpt(env, o, ui.rowPtr[ui.nRows]);
    CsrOut iu = transpose(ui, threads);
    return csrToJs(env, bipartiteAdjacency(ui, iu.view(), ao, threads));
  });
}

Napi::Value Transpose(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = optionsObject(env, info[1]);
    CsrView m = csrArg(env, info[0], "csr");
    return csrToJs(env, transpose(m, threadsOpt(env, o, m.rowPtr[m.nRows])));
  });
}

}  // namespace

void registerCsr(Napi::Env env, Napi::Object exports) {
  exports.Set("buildGraph", Napi::Function::New(env, BuildGraph));
  exports.Set("buildGraphAsync", Napi::Function::New(env, BuildGraphAsync));
  exports.Set("bipartiteAdjacency", Napi::Function::New(env, BipartiteAdjacency));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
}

}  // namespace gnnrl
