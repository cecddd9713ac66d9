#include "napi_common.h"

#include <cmath>
#include <cstring>

#include "core_threads.h"

namespace gnnrl {
namespace {

struct AddonData {
  Napi::FunctionReference errorClass;
};

AddonData* data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throwInputJs(env, "errorClass", "the GnnrlError class, got " + describe(info[0]));
  data(env)->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), "0.1.0"); }

Napi::Value HardwareThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), defaultThreads()); }

template <class T>
Napi::Value externalTyped(Napi::Env env, Array<T>&& a, napi_typedarray_type type) {
  const size_t n = a.size(), bytes = n * sizeof(T);
  napi_value ab = nullptr;
  if (n > 0) {
    napi_status s = napi_create_external_arraybuffer(
        env, a.data(), bytes, [](napi_env, void* p, void*) { std::free(p); }, nullptr, &ab);
    if (s == napi_ok) {
      a.release();
    } else {
      ab = nullptr;
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) { napi_value ignored; napi_get_and_clear_last_exception(env, &ignored); }
    }
  }
  if (ab == nullptr) {
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, bytes);
    if (bytes) std::memcpy(copy.Data(), a.data(), bytes);
    ab = copy;
  }
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, type, n, ab, 0, &out), Napi::Value());
  return Napi::Value(env, out);
}

}  // namespace

void registerCommon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("hardwareThreads", Napi::Function::New(env, HardwareThreads));
}

Napi::Error makeError(Napi::Env env, const char* code, const std::string& message, const std::string& arg, int64_t index) {
  AddonData* d = data(env);
  Napi::Object details = Napi::Object::New(env);
  if (!arg.empty()) details.Set("arg", arg);
  if (index >= 0) details.Set("index", Napi::Number::New(env, static_cast<double>(index)));
  if (d && !d->errorClass.IsEmpty()) {
    Napi::Object e = d->errorClass.New({Napi::String::New(env, code), Napi::String::New(env, message), details});
    return Napi::Error(env, e);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("details", details);
  return e;
}

Napi::Error toJsError(Napi::Env env, const CoreError& e) {
  const char* code = e.code == ErrCode::Input ? "input" : e.code == ErrCode::Limit ? "limit" : "native";
  return makeError(env, code, e.message, e.arg, e.index);
}

void throwInputJs(Napi::Env env, const std::string& arg, const std::string& expected) {
  throw makeError(env, "input", arg + ": expected " + expected, arg);
}

std::string describe(Napi::Value v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_bigint: return "bigint";
    case napi_function: return "function";
    default: break;
  }
  Napi::Value ctor = v.As<Napi::Object>().Get("constructor");
  if (ctor.IsFunction()) {
    Napi::Value name = ctor.As<Napi::Object>().Get("name");
    if (name.IsString() && !name.As<Napi::String>().Utf8Value().empty()) return name.As<Napi::String>().Utf8Value();
  }
  return "object";
}

std::string showValue(Napi::Value v) {
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNumber()) return v.ToString().Utf8Value();
  return describe(v);
}

template <class T>
Span<T> typedArg(Napi::Env env, Napi::Value v, const std::string& name, napi_typedarray_type type, const char* typeName,
                 bool optional) {
  Span<T> s;
  if (optional && (v.IsUndefined() || v.IsNull())) return s;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throwInputJs(env, name, std::string("an ") + typeName + ", got " + describe(v));
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  s.size = static_cast<int64_t>(ta.ElementLength());
  // An empty typed array may have no backing store; a present-but-empty span must still
  // be non-null (null means "absent" to the core, e.g. no timestamps).
  static const T kEmpty[1] = {};
  s.data = s.size == 0 ? kEmpty
                       : reinterpret_cast<const T*>(static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  s.present = true;
  return s;
}
template Span<int32_t> typedArg<int32_t>(Napi::Env, Napi::Value, const std::string&, napi_typedarray_type, const char*, bool);
template Span<float> typedArg<float>(Napi::Env, Napi::Value, const std::string&, napi_typedarray_type, const char*, bool);
template Span<double> typedArg<double>(Napi::Env, Napi::Value, const std::string&, napi_typedarray_type, const char*, bool);

int64_t intArg(Napi::Env env, Napi::Value v, const std::string& name, int64_t lo, int64_t hi) {
  double x = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!v.IsNumber() || !(x >= static_cast<double>(lo) && x <= static_cast<double>(hi)) || x != std::floor(x))
    throwInputJs(env, name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + showValue(v));
  return static_cast<int64_t>(x);
}

bool boolOpt(Napi::Env env, Napi::Object o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsBoolean()) throwInputJs(env, key, "a boolean, got " + showValue(v));
  return v.As<Napi::Boolean>().Value();
}

int choiceOpt(Napi::Env env, Napi::Object o, const char* key, const char* const* choices, int n, int def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    for (int k = 0; k < n; ++k) if (s == choices[k]) return k;
  }
  std::string list;
  for (int k = 0; k < n; ++k) list += (k ? ", " : "") + std::string(choices[k]);
  throwInputJs(env, key, "one of " + list + ", got " + showValue(v));
}

Napi::Value toJs(Napi::Env env, Array<int32_t>&& a) { return externalTyped(env, std::move(a), napi_int32_array); }
Napi::Value toJs(Napi::Env env, Array<float>&& a) { return externalTyped(env, std::move(a), napi_float32_array); }

Napi::Object csrToJs(Napi::Env env, CsrOut&& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("nRows", Napi::Number::New(env, static_cast<double>(m.nRows)));
  o.Set("nCols", Napi::Number::New(env, static_cast<double>(m.nCols)));
  o.Set("rowPtr", toJs(env, std::move(m.rowPtr)));
  o.Set("colIdx", toJs(env, std::move(m.colIdx)));
  o.Set("values", toJs(env, std::move(m.values)));
  return o;
}

CsrView csrArg(Napi::Env env, Napi::Value v, const std::string& name) {
  if (!v.IsObject()) throwInputJs(env, name, "a Csr object, got " + describe(v));
  Napi::Object o = v.As<Napi::Object>();
  CsrView m;
  m.nRows = intArg(env, o.Get("nRows"), name + ".nRows", 0, kMaxIndex);
  m.nCols = intArg(env, o.Get("nCols"), name + ".nCols", 0, kMaxIndex);
  auto rp = typedArg<int32_t>(env, o.Get("rowPtr"), name + ".rowPtr", napi_int32_array, "Int32Array", false);
  auto ci = typedArg<int32_t>(env, o.Get("colIdx"), name + ".colIdx", napi_int32_array, "Int32Array", false);
  auto va = typedArg<float>(env, o.Get("values"), name + ".values", napi_float32_array, "Float32Array", false);
  if (rp.size != m.nRows + 1)
    throwInputJs(env, name + ".rowPtr", "length " + std::to_string(m.nRows + 1) + " (nRows + 1), got " + std::to_string(rp.size));
  if (va.size != ci.size)
    throwInputJs(env, name + ".values", "length " + std::to_string(ci.size) + " (colIdx.length), got " + std::to_string(va.size));
  m.rowPtr = rp.data;
  m.colIdx = ci.data;
  m.values = va.data;
  validateCsr(m, ci.size, name);
  return m;
}

int threadsOpt(Napi::Env env, Napi::Object o, int64_t workItems) {
  Napi::Value v = o.Get("threads");
  if (v.IsUndefined() || (v.IsNumber() && v.As<Napi::Number>().DoubleValue() == 0)) {
    // Automatic: thread start-up costs ~tens of microseconds; below ~64k items one
    // thread is faster. Output does not depend on the count either way.
    int64_t byWork = std::max<int64_t>(1, workItems / 65536);
    return static_cast<int>(std::min<int64_t>(defaultThreads(), byWork));
  }
  return static_cast<int>(intArg(env, v, "threads", 0, 256));
}

}  // namespace gnnrl
