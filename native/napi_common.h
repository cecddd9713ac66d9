// Shared helpers of the N-API layer: GnnrlError construction (the class is handed over
// by JS through init()), argument readers that name the argument in their errors, and
// zero-copy conversion of core arrays to JS typed arrays.
#pragma once
#include <napi.h>

#include <string>

#include "core_array.h"
#include "core_error.h"
#include "csr_core.h"

namespace gnnrl {

// Registers init() and version(); per-environment state holds the error class.
void registerCommon(Napi::Env env, Napi::Object exports);

// A JS error: a GnnrlError(code, message, {arg, index}) when init() ran, else an Error
// with a `code` property.
Napi::Error makeError(Napi::Env env, const char* code, const std::string& message, const std::string& arg = "",
                      int64_t index = -1);
Napi::Error toJsError(Napi::Env env, const CoreError& e);
[[noreturn]] void throwInputJs(Napi::Env env, const std::string& arg, const std::string& expected);

// Runs a binding body, turning CoreError / bad_alloc / other C++ exceptions into
// GnnrlErrors ('input'/'limit', 'limit', 'native').
template <class F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const CoreError& e) {
    throw toJsError(env, e);
  } catch (const std::bad_alloc&) {
    throw makeError(env, "limit", "out of memory in the native addon");
  } catch (const std::exception& e) {
    throw makeError(env, "native", std::string("native addon failure: ") + e.what());
  }
}

// How JS would name a value's type in a message: constructor name for objects
// ("Float64Array", "Array", "Object"), else typeof ("undefined", "null", "number").
std::string describe(Napi::Value v);
// How the TS twin formats a bad value: strings quoted, numbers as JS prints them,
// anything else described.
std::string showValue(Napi::Value v);

template <class T>
struct Span {
  const T* data = nullptr;
  int64_t size = 0;
  bool present = false;
};

// Reads a typed array argument of the given element type. `optional` lets undefined or
// null through as an absent span; anything else of the wrong type is an 'input' error.
template <class T>
Span<T> typedArg(Napi::Env env, Napi::Value v, const std::string& name, napi_typedarray_type type, const char* typeName,
                 bool optional);

// An integer-valued JS number in [lo, hi], else an 'input' error naming `name`.
int64_t intArg(Napi::Env env, Napi::Value v, const std::string& name, int64_t lo, int64_t hi);
bool boolOpt(Napi::Env env, Napi::Object o, const char* key, bool def);
// One of `choices` ("a|b|c"), returned as its index; undefined gives `def`.
int choiceOpt(Napi::Env env, Napi::Object o, const char* key, const char* const* choices, int n, int def);

// Hands a core array to JS as a typed array without copying (external ArrayBuffer freed
// by its finaliser); falls back to one memcpy where external buffers are not allowed.
Napi::Value toJs(Napi::Env env, Array<int32_t>&& a);
Napi::Value toJs(Napi::Env env, Array<float>&& a);
Napi::Object csrToJs(Napi::Env env, CsrOut&& m);
// Reads {nRows, nCols, rowPtr, colIdx, values}, checks shapes and well-formedness.
CsrView csrArg(Napi::Env env, Napi::Value v, const std::string& name);

// Worker count from an options value: 0/undefined = automatic (hardware, fewer for small
// inputs), else an integer in [1, 256].
int threadsOpt(Napi::Env env, Napi::Object o, int64_t workItems);

}  // namespace gnnrl
