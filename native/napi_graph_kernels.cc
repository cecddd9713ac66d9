// Bindings of the graph kernels of kern_graph.h (max aggregation, graph attention) and
// the sequence self-attention of kern_attention.h, added to the addon's `kernels` object. As in napi_kernels.cc, outputs are written in
// place into the caller's typed arrays, and every length and index is checked here
// first (the CSR, the transpose, argmax inside the core): the TypeScript wrappers check
// the shapes in the CPU kernels' words, so these messages are the last line of defence.
#include <napi.h>

#include <string>

#include "kern.h"
#include "kern_attention.h"
#include "kern_graph.h"
#include "napi_args.h"
#include "napi_common.h"
#include "napi_graph_kernels.h"
#include "napi_kernels.h"

namespace gnnrl {
namespace {

// The destination CSR of a graph call: rowPtr over nRows, colIdx into [0, nCols).
struct RowsIn {
  Span<int32_t> rowPtr, colIdx;
};

RowsIn rowsArg(Napi::Env env, Napi::Object o, int64_t nRows, int64_t nCols) {
  RowsIn r{i32(env, o.Get("rowPtr"), "rowPtr", nRows + 1), i32(env, o.Get("colIdx"), "colIdx", -1)};
  kern::checkIndexCsr(nRows, r.rowPtr.data, r.colIdx.size, r.colIdx.data, nCols, "csr");
  return r;
}

// maxAggregate({ nRows, nCols, rowPtr, colIdx, x, d }, y, argmax)
Napi::Value MaxAggregate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto o = objArg(env, info[0], "args");
    const int64_t nRows = intArg(env, o.Get("nRows"), "nRows", 0, kMaxIndex);
    const int64_t nCols = intArg(env, o.Get("nCols"), "nCols", 0, kMaxIndex);
    const int64_t d = intArg(env, o.Get("d"), "d", 1, 1 << 16);
    auto rows = rowsArg(env, o, nRows, nCols);
    auto x = f32(env, o.Get("x"), "x", nCols * d);
    auto y = f32(env, info[1], "y", nRows * d);
    auto am = i32(env, info[2], "argmax", nRows * d);
    kern::maxAggregate(nRows, rows.rowPtr.data, rows.colIdx.data, x.data, d, mutableData(y), mutableData(am));
    return env.Undefined();
  });
}

// maxAggregateBackward({ nRows, nSrc, argmax, dy, d }, dx)
Napi::Value MaxAggregateBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto o = objArg(env, info[0], "args");
    const int64_t nRows = intArg(env, o.Get("nRows"), "nRows", 0, kMaxIndex);
    const int64_t nSrc = intArg(env, o.Get("nSrc"), "nSrc", 0, kMaxIndex);
    const int64_t d = intArg(env, o.Get("d"), "d", 1, 1 << 16);
    auto am = i32(env, o.Get("argmax"), "argmax", nRows * d);
    auto dy = f32(env, o.Get("dy"), "dy", nRows * d);
    auto dx = f32(env, info[1], "dx", nSrc * d);
    kern::maxAggregateBackward(nRows, nSrc, am.data, dy.data, d, mutableData(dx));
    return env.Undefined();
  });
}

kern::GatShape gatShapeArg(Napi::Env env, Napi::Object o) {
  kern::GatShape s;
  s.nDst = intArg(env, o.Get("nDst"), "nDst", 0, kMaxIndex);
  s.nSrc = intArg(env, o.Get("nSrc"), "nSrc", 0, kMaxIndex);
  s.heads = intArg(env, o.Get("heads"), "heads", 1, 1024);
  s.f = intArg(env, o.Get("f"), "f", 1, 1 << 16);
  s.slope = numArg(env, o.Get("slope"), "slope");
  return s;
}

// The operands every GAT call reads: the graph's rows and h, el, er.
struct GatIn {
  RowsIn rows;
  Span<float> h, el, er;
};

GatIn gatArgs(Napi::Env env, Napi::Object o, const kern::GatShape& s) {
  auto rows = rowsArg(env, o, s.nDst, s.nSrc);
  return {rows, f32(env, o.Get("h"), "h", s.nSrc * s.heads * s.f), f32(env, o.Get("el"), "el", s.nDst * s.heads),
          f32(env, o.Get("er"), "er", s.nSrc * s.heads)};
}

// gatForward({ nDst, nSrc, heads, f, slope, rowPtr, colIdx, h, el, er }, out, rowStat)
Napi::Value GatForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto o = objArg(env, info[0], "args");
    const auto s = gatShapeArg(env, o);
    const auto a = gatArgs(env, o, s);
    auto y = f32(env, info[1], "out", s.nDst * s.heads * s.f);
    auto st = f32(env, info[2], "rowStat", 2 * s.nDst * s.heads);
    kern::gatForward(s, a.rows.rowPtr.data, a.rows.colIdx.data, a.h.data, a.el.data, a.er.data, mutableData(y), mutableData(st));
    return env.Undefined();
  });
}

// gatBackward({ …gatForward's, tRowPtr, tDst, tEdge, dOut }, dH, dEl, dEr)
Napi::Value GatBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto o = objArg(env, info[0], "args");
    const auto s = gatShapeArg(env, o);
    const auto a = gatArgs(env, o, s);
    const RowsIn& rows = a.rows;
    const int64_t nnz = rows.colIdx.size;
    auto tRowPtr = i32(env, o.Get("tRowPtr"), "tRowPtr", s.nSrc + 1);
    auto tDst = i32(env, o.Get("tDst"), "tDst", nnz);
    auto tEdge = i32(env, o.Get("tEdge"), "tEdge", nnz);
    kern::checkIndexCsr(s.nSrc, tRowPtr.data, nnz, tDst.data, s.nDst, "transpose");
    kern::checkIndexCsr(s.nSrc, tRowPtr.data, nnz, tEdge.data, nnz, "transpose.edge");
    // The transpose must be this graph's: entry q of source j is an edge (tDst, j).
    for (int64_t j = 0; j < s.nSrc; ++j)
      for (int64_t q = tRowPtr.data[j]; q < tRowPtr.data[j + 1]; ++q) {
        const int32_t e = tEdge.data[q], i = tDst.data[q];
        if (rows.colIdx.data[e] != j || e < rows.rowPtr.data[i] || e >= rows.rowPtr.data[i + 1])
          throwInputJs(env, "tEdge[" + std::to_string(q) + "]", "an edge (" + std::to_string(i) + ", " + std::to_string(j) + ") of the graph, got edge " + std::to_string(e));
      }
    const int64_t W = s.heads * s.f;
    auto dOut = f32(env, o.Get("dOut"), "dOut", s.nDst * W);
    auto dH = f32(env, info[1], "dH", s.nSrc * W);
    auto dEl = f32(env, info[2], "dEl", s.nDst * s.heads);
    auto dEr = f32(env, info[3], "dEr", s.nSrc * s.heads);
    kern::GatTranspose t{tRowPtr.data, tDst.data, tEdge.data};
    kern::gatBackward(s, rows.rowPtr.data, rows.colIdx.data, t, a.h.data, a.el.data, a.er.data, dOut.data, mutableData(dH), mutableData(dEl), mutableData(dEr));
    return env.Undefined();
  });
}

kern::SeqAttentionShape seqShapeArg(Napi::Env env, Napi::Object o) {
  kern::SeqAttentionShape s;
  s.batch = intArg(env, o.Get("batch"), "batch", 0, kMaxIndex);
  s.len = intArg(env, o.Get("len"), "len", 1, 1 << 12);
  s.d = intArg(env, o.Get("d"), "d", 1, 1 << 12);
  s.dv = intArg(env, o.Get("dv"), "dv", 1, 1 << 12);
  s.causal = boolOpt(env, o, "causal", false);
  Napi::Value lv = o.Get("lengths");
  if (!lv.IsUndefined() && !lv.IsNull()) {
    auto l = i32(env, lv, "lengths", s.batch);
    for (int64_t b = 0; b < s.batch; ++b)
      if (l.data[b] < 0 || l.data[b] > s.len)
        throwInputJs(env, "lengths[" + std::to_string(b) + "]", "an integer in [0, " + std::to_string(s.len) + "], got " + std::to_string(l.data[b]));
    s.lengths = l.data;
  }
  Napi::Value wv = o.Get("weights");
  if (!wv.IsUndefined() && !wv.IsNull()) s.weights = f32(env, wv, "weights", s.len).data;
  return s;
}

// The operands every attention call reads: q, k, v.
struct SeqIn {
  Span<float> q, k, v;
};

SeqIn seqArgs(Napi::Env env, Napi::Object o, const kern::SeqAttentionShape& s) {
  return {f32(env, o.Get("q"), "q", s.batch * s.len * s.d), f32(env, o.Get("k"), "k", s.batch * s.len * s.d),
          f32(env, o.Get("v"), "v", s.batch * s.len * s.dv)};
}

// seqAttention({ batch, len, d, dv, causal?, lengths?, weights?, q, k, v }, z, pooled | null, rowStat)
Napi::Value SeqAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto o = objArg(env, info[0], "args");
    const auto s = seqShapeArg(env, o);
    const auto a = seqArgs(env, o, s);
    auto z = f32(env, info[1], "z", s.batch * s.len * s.dv);
    float* pooled = nullptr;
    if (s.weights) pooled = mutableData(f32(env, info[2], "pooled", s.batch * s.dv));
    auto st = f32(env, info[3], "rowStat", 2 * s.batch * s.len);
    kern::seqAttentionForward(s, a.q.data, a.k.data, a.v.data, mutableData(z), pooled, mutableData(st));
    return env.Undefined();
  });
}

// seqAttentionBackward({ …seqAttention's, dOut }, dq, dk, dv)
Napi::Value SeqAttentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto o = objArg(env, info[0], "args");
    const auto s = seqShapeArg(env, o);
    const auto a = seqArgs(env, o, s);
    auto dOut = f32(env, o.Get("dOut"), "dOut", s.weights ? s.batch * s.dv : s.batch * s.len * s.dv);
    auto dq = f32(env, info[1], "dq", s.batch * s.len * s.d);
    auto dk = f32(env, info[2], "dk", s.batch * s.len * s.d);
    auto dV = f32(env, info[3], "dv", s.batch * s.len * s.dv);
    kern::seqAttentionBackward(s, a.q.data, a.k.data, a.v.data, dOut.data, mutableData(dq), mutableData(dk), mutableData(dV));
    return env.Undefined();
  });
}

}  // namespace

void registerGraphKernels(Napi::Env env, Napi::Object exports) {
  Napi::Object k = exports.Get("kernels").As<Napi::Object>();
  k.Set("maxAggregate", Napi::Function::New(env, gated<MaxAggregate>));
  k.Set("maxAggregateBackward", Napi::Function::New(env, gated<MaxAggregateBackward>));
  k.Set("gatForward", Napi::Function::New(env, gated<GatForward>));
  k.Set("gatBackward", Napi::Function::New(env, gated<GatBackward>));
  k.Set("seqAttention", Napi::Function::New(env, gated<SeqAttention>));
  k.Set("seqAttentionBackward", Napi::Function::New(env, gated<SeqAttentionBackward>));
}

}  // namespace gnnrl
