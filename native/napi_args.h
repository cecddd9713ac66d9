// Argument readers shared by the kernel bindings (napi_kernels.cc, napi_graph_kernels.cc):
// typed arrays checked against the lengths their shapes imply, numbers and objects, and
// the Pins an async call holds its arrays with. Errors name the argument in the same
// words as the TypeScript wrappers.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "napi_common.h"

namespace gnnrl {

template <class T>
T* mutableData(const Span<T>& s) {
  return const_cast<T*>(s.data);
}

// The typed arrays an async call reads and writes, held by persistent references from
// the moment they are read until the Promise settles, so that no GC in between can free
// them, whatever the caller does with its own references. Their lengths are recorded so
// that OnOK can tell when a caller detached or shrank one mid-call (which it must not do:
// the addon cannot stop that, it can only report it). The sync calls pass no Pins.
class Pins {
 public:
  void add(Napi::Value v) {
    if (!v.IsTypedArray()) return;
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    refs_.push_back(Napi::Persistent(v));
    lengths_.push_back(ta.ByteLength());
  }
  // True when every pinned array still has its buffer and its byte length.
  bool intact() const {
    for (size_t i = 0; i < refs_.size(); ++i) {
      Napi::TypedArray ta = refs_[i].Value().As<Napi::TypedArray>();
      if (ta.ArrayBuffer().IsDetached() || ta.ByteLength() != lengths_[i]) return false;
    }
    return true;
  }
  size_t size() const { return refs_.size(); }

 private:
  std::vector<Napi::Reference<Napi::Value>> refs_;
  std::vector<size_t> lengths_;
};

template <class T>
Span<T> pinned(Napi::Env env, Napi::Value v, const std::string& name, napi_typedarray_type type, const char* typeName,
               bool optional, Pins* pins) {
  auto s = typedArg<T>(env, v, name, type, typeName, optional);
  if (pins && s.present) pins->add(v);
  return s;
}

inline Span<float> f32(Napi::Env env, Napi::Value v, const std::string& name, int64_t length, bool optional = false,
                Pins* pins = nullptr) {
  auto s = pinned<float>(env, v, name, napi_float32_array, "Float32Array", optional, pins);
  if (s.present && s.size != length)
    throwInputJs(env, name, std::to_string(length) + " elements, got " + std::to_string(s.size));
  return s;
}

inline Span<int32_t> i32(Napi::Env env, Napi::Value v, const std::string& name, int64_t length, bool optional = false,
                  Pins* pins = nullptr) {
  auto s = pinned<int32_t>(env, v, name, napi_int32_array, "Int32Array", optional, pins);
  if (s.present && length >= 0 && s.size != length)
    throwInputJs(env, name, std::to_string(length) + " elements, got " + std::to_string(s.size));
  return s;
}

// At least `length` elements (GEMM operands may be longer arrays, as the CPU kernel allows).
inline Span<float> f32AtLeast(Napi::Env env, Napi::Value v, const std::string& name, int64_t length, Pins* pins = nullptr) {
  auto s = pinned<float>(env, v, name, napi_float32_array, "Float32Array", false, pins);
  if (s.size < length) throwInputJs(env, name, "at least " + std::to_string(length) + " elements, got " + std::to_string(s.size));
  return s;
}

inline double numArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) throwInputJs(env, name, "a number, got " + describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

inline Napi::Object objArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsObject()) throwInputJs(env, name, "an object, got " + describe(v));
  return v.As<Napi::Object>();
}

}  // namespace gnnrl
