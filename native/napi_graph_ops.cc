// N-API bindings of the graph operations: co-occurrence, neighbour sampling, random
// walks and id encoding. Thin: read arguments, call the core, wrap the outputs.
#include <string>
#include <vector>

#include "graph_ops_core.h"
#include "napi_common.h"
#include "napi_csr.h"

namespace gnnrl {
namespace {

const char* const kMeasures[] = {"count", "cosine"};

Napi::Object opts(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined()) return Napi::Object::New(env);
  if (!v.IsObject()) throwInputJs(env, "options", "an object, got " + describe(v));
  return v.As<Napi::Object>();
}

uint32_t seedOpt(Napi::Env env, Napi::Object o) {
  Napi::Value v = o.Get("seed");
  if (v.IsUndefined()) return 1;
  return static_cast<uint32_t>(intArg(env, v, "seed", 0, 4294967295LL));
}

Napi::Value Cooccurrence(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = opts(env, info[1]);
    int topN = static_cast<int>(intArg(env, o.Get("topN"), "topN", 1, kMaxIndex));
    auto m = static_cast<CoocMeasure>(choiceOpt(env, o, "measure", kMeasures, 2, 0));
    CsrView ui = csrArg(env, info[0], "userItem");
    int threads = threadsOpt(env, o, ui.rowPtr[ui.nRows]);
    CsrOut iu = transpose(ui, threads);
    return csrToJs(env, cooccurrence(ui, iu.view(), topN, m, threads));
  });
}

Napi::Value SampleNeighbors(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = opts(env, info[3]);
    uint32_t seed = seedOpt(env, o);
    CsrView g = csrArg(env, info[0], "graph");
    auto seeds = typedArg<int32_t>(env, info[1], "seeds", napi_int32_array, "Int32Array", false);
    auto fan = typedArg<int32_t>(env, info[2], "fanouts", napi_int32_array, "Int32Array", false);
    SampleOut s = sampleNeighbors(g, seeds.data, seeds.size, fan.data, fan.size, seed);
    Napi::Array layers = Napi::Array::New(env, s.layers.size());
    for (size_t l = 0; l < s.layers.size(); ++l) layers.Set(static_cast<uint32_t>(l), toJs(env, std::move(s.layers[l])));
    Napi::Array blocks = Napi::Array::New(env, s.blocks.size());
    for (size_t l = 0; l < s.blocks.size(); ++l) blocks.Set(static_cast<uint32_t>(l), csrToJs(env, std::move(s.blocks[l])));
    Napi::Object out = Napi::Object::New(env);
    out.Set("layers", layers);
    out.Set("blocks", blocks);
    return out;
  });
}

Napi::Value RandomWalk(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = opts(env, info[2]);
    int walks = static_cast<int>(intArg(env, o.Get("walks"), "walks", 1, 1 << 20));
    int length = static_cast<int>(intArg(env, o.Get("length"), "length", 1, 1 << 20));
    int stride = o.Get("stride").IsUndefined() ? 1 : static_cast<int>(intArg(env, o.Get("stride"), "stride", 1, 1 << 20));
    int topK = static_cast<int>(intArg(env, o.Get("topK"), "topK", 1, kMaxIndex));
    uint32_t seed = seedOpt(env, o);
    CsrView g = csrArg(env, info[0], "graph");
    auto seeds = typedArg<int32_t>(env, info[1], "seeds", napi_int32_array, "Int32Array", false);
    int threads = threadsOpt(env, o, seeds.size * static_cast<int64_t>(walks) * length / 16);
    return csrToJs(env, randomWalkTopK(g, seeds.data, seeds.size, walks, length, stride, topK, seed, threads));
  });
}

Napi::Object encodedToJs(Napi::Env env, IdEncodeOut&& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dense", toJs(env, std::move(e.dense)));
  o.Set("firstIndex", toJs(env, std::move(e.firstIndex)));
  return o;
}

// ids: Float64Array already checked by the TS side to hold safe integers.
Napi::Value EncodeNumbers(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto ids = typedArg<double>(env, info[0], "ids", napi_float64_array, "Float64Array", false);
    return encodedToJs(env, encodeNumbers(ids.data, ids.size));
  });
}

// ids: a JS array of strings. Each is copied once as UTF-8 into one arena (N-API has no
// way to borrow V8's string storage), then hashed on the C++ side.
Napi::Value EncodeStrings(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throwInputJs(env, "ids", "an array of strings, got " + describe(info[0]));
    napi_value arr = info[0];
    uint32_t n = info[0].As<Napi::Array>().Length();
    std::vector<int64_t> off(static_cast<size_t>(n) + 1, 0);
    std::string bytes;
    bytes.reserve(static_cast<size_t>(n) * 8);
    char small[256];
    for (uint32_t k = 0; k < n; ++k) {
      napi_value el;
      NAPI_THROW_IF_FAILED(env, napi_get_element(env, arr, k, &el), Napi::Value());
      size_t len = 0;
      napi_status s = napi_get_value_string_utf8(env, el, small, sizeof small, &len);
      if (s == napi_string_expected)
        throw makeError(env, "input", "ids[" + std::to_string(k) + "]: expected a string (ids are strings), got " + describe(Napi::Value(env, el)), "ids", k);
      NAPI_THROW_IF_FAILED(env, s, Napi::Value());
      if (len + 1 < sizeof small) {
        bytes.append(small, len);
      } else {  // longer than the scratch buffer: ask for the length, then copy it all
        NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, el, nullptr, 0, &len), Napi::Value());
        size_t at = bytes.size();
        bytes.resize(at + len + 1);
        NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, el, &bytes[at], len + 1, &len), Napi::Value());
        bytes.resize(at + len);
      }
      off[k + 1] = static_cast<int64_t>(bytes.size());
    }
    return encodedToJs(env, encodeStrings(bytes.data(), off.data(), n));
  });
}

// ids: all the string ids joined by "\0" (one V8 join in JS, one UTF-8 copy here:
// ~10x cheaper than reading 10^7 strings one N-API call at a time). Returns null when the
// split does not give n pieces (an id contained "\0"), so the caller falls back.
Napi::Value EncodeJoined(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throwInputJs(env, "joined", "a string, got " + describe(info[0]));
    const int64_t n = intArg(env, info[1], "n", 0, kMaxIndex);
    size_t len = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, info[0], nullptr, 0, &len), Napi::Value());
    std::string bytes(len + 1, '\0');
    NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, info[0], &bytes[0], len + 1, &len), Napi::Value());
    bytes.resize(len);
    std::vector<int64_t> off;
    off.reserve(static_cast<size_t>(n) + 1);
    off.push_back(0);
    if (n > 0) {
      for (size_t i = 0; i < len; ++i)
        if (bytes[i] == '\0') off.push_back(static_cast<int64_t>(i) + 1);
      off.push_back(static_cast<int64_t>(len) + 1);
    }
    if (static_cast<int64_t>(off.size()) != n + 1) return env.Null();
    // Pieces are [off[k], off[k+1] - 1): drop each separator by shifting the end.
    std::vector<int64_t> ends(off.size());
    ends[0] = 0;
    for (size_t k = 1; k < off.size(); ++k) ends[k] = off[k] - 1;
    // encodeStrings wants contiguous [start_k, start_{k+1}); give it starts and lengths via
    // a copy without separators instead, so its contract stays simple.
    std::string packed;
    packed.reserve(len);
    std::vector<int64_t> poff(static_cast<size_t>(n) + 1, 0);
    for (int64_t k = 0; k < n; ++k) {
      packed.append(bytes, static_cast<size_t>(off[k]), static_cast<size_t>(ends[k + 1] - off[k]));
      poff[k + 1] = static_cast<int64_t>(packed.size());
    }
    return encodedToJs(env, encodeStrings(packed.data(), poff.data(), n));
  });
}

}  // namespace

void registerGraphOps(Napi::Env env, Napi::Object exports) {
  exports.Set("cooccurrence", Napi::Function::New(env, Cooccurrence));
  exports.Set("sampleNeighbors", Napi::Function::New(env, SampleNeighbors));
  exports.Set("randomWalk", Napi::Function::New(env, RandomWalk));
  exports.Set("encodeNumbers", Napi::Function::New(env, EncodeNumbers));
  exports.Set("encodeStrings", Napi::Function::New(env, EncodeStrings));
  exports.Set("encodeJoined", Napi::Function::New(env, EncodeJoined));
}

}  // namespace gnnrl
