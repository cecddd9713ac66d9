// Bindings of the native backend's kernels (kern.h). Every kernel reads and writes the
// JS typed arrays in place (no copies); the checks here are what keep the C++ inside
// those arrays: lengths against the shapes, and every index (CSR columns, exclusions)
// in range. The TypeScript wrappers (src/kernels/native/) check the shapes first with the
// same words as the CPU kernels, so these messages are the last line of defence.
#include <napi.h>

#include <string>

#include "kern.h"
#include "kern_pool.h"
#include "napi_common.h"

namespace gnnrl {
namespace {

template <class T>
T* mutableData(const Span<T>& s) {
  return const_cast<T*>(s.data);
}

Span<float> f32(Napi::Env env, Napi::Value v, const std::string& name, int64_t length, bool optional = false) {
  auto s = typedArg<float>(env, v, name, napi_float32_array, "Float32Array", optional);
  if (s.present && s.size != length)
    throwInputJs(env, name, std::to_string(length) + " elements, got " + std::to_string(s.size));
  return s;
}

Span<int32_t> i32(Napi::Env env, Napi::Value v, const std::string& name, int64_t length, bool optional = false) {
  auto s = typedArg<int32_t>(env, v, name, napi_int32_array, "Int32Array", optional);
  if (s.present && length >= 0 && s.size != length)
    throwInputJs(env, name, std::to_string(length) + " elements, got " + std::to_string(s.size));
  return s;
}

// At least `length` elements (GEMM operands may be longer arrays, as the CPU kernel allows).
Span<float> f32AtLeast(Napi::Env env, Napi::Value v, const std::string& name, int64_t length) {
  auto s = typedArg<float>(env, v, name, napi_float32_array, "Float32Array", false);
  if (s.size < length) throwInputJs(env, name, "at least " + std::to_string(length) + " elements, got " + std::to_string(s.size));
  return s;
}

double numArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsNumber()) throwInputJs(env, name, "a number, got " + describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Object objArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsObject()) throwInputJs(env, name, "an object, got " + describe(v));
  return v.As<Napi::Object>();
}

// Exclusion lists {excludeRowPtr, excludeColIdx}: both or neither, indices in range.
kern::Exclusions exclusionsArg(Napi::Env env, Napi::Object o, int64_t batch, int64_t nItems) {
  kern::Exclusions e;
  auto rp = i32(env, o.Get("excludeRowPtr"), "exclude.rowPtr", batch + 1, true);
  auto ci = i32(env, o.Get("excludeColIdx"), "exclude.colIdx", -1, true);
  if (rp.present != ci.present) throwInputJs(env, "exclude", "both rowPtr and colIdx, or neither");
  if (!rp.present) return e;
  kern::checkIndexCsr(batch, rp.data, ci.size, ci.data, nItems, "exclude");
  e.rowPtr = rp.data;
  e.colIdx = ci.data;
  return e;
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), kern::poolThreads()); }

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  kern::setPoolThreads(static_cast<int>(intArg(env, info[0], "threads", 1, 256)));
  return Napi::Number::New(env, kern::poolThreads());
}

Napi::Value Simd(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kern::kernelSimd()); }

// gemm(a, b, c, M, K, N, transA, transB): c = op(a)·op(b).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    kern::GemmShape s;
    s.M = intArg(env, info[3], "M", 0, kMaxIndex);
    s.K = intArg(env, info[4], "K", 0, kMaxIndex);
    s.N = intArg(env, info[5], "N", 0, kMaxIndex);
    s.transA = info[6].ToBoolean();
    s.transB = info[7].ToBoolean();
    auto a = f32AtLeast(env, info[0], "a", s.M * s.K);
    auto b = f32AtLeast(env, info[1], "b", s.K * s.N);
    auto c = f32AtLeast(env, info[2], "out", s.M * s.N);
    kern::gemm(a.data, b.data, mutableData(c), s);
    return env.Undefined();
  });
}

// qtarget({next, batch, dim, nItems, chooser, chooserBias?, value?, valueBias?, reward,
//          done, excludeRowPtr?, excludeColIdx?, gamma}, y, argmax)
Napi::Value QTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    Napi::Object o = objArg(env, info[0], "args");
    kern::QTargetArgs a;
    a.batch = intArg(env, o.Get("batch"), "batch", 0, kMaxIndex);
    a.dim = intArg(env, o.Get("dim"), "dim", 1, 1 << 16);
    a.nItems = intArg(env, o.Get("nItems"), "nItems", 1, kMaxIndex);
    a.next = f32(env, o.Get("next"), "next", a.batch * a.dim).data;
    a.chooser = f32(env, o.Get("chooser"), "chooser", a.nItems * a.dim).data;
    a.chooserBias = f32(env, o.Get("chooserBias"), "chooserBias", a.nItems, true).data;
    a.value = f32(env, o.Get("value"), "value", a.nItems * a.dim, true).data;
    a.valueBias = f32(env, o.Get("valueBias"), "valueBias", a.nItems, true).data;
    a.reward = f32(env, o.Get("reward"), "reward", a.batch).data;
    a.done = f32(env, o.Get("done"), "done", a.batch).data;
    a.exclude = exclusionsArg(env, o, a.batch, a.nItems);
    a.gamma = static_cast<float>(numArg(env, o.Get("gamma"), "gamma"));
    auto y = f32(env, info[1], "y", a.batch);
    auto am = i32(env, info[2], "argmax", a.batch);
    kern::qtarget(a, mutableData(y), mutableData(am));
    return env.Undefined();
  });
}

// topk({queries, batch, dim, items, nItems, bias?, excludeRowPtr?, excludeColIdx?, k}, indices, scores)
Napi::Value TopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    Napi::Object o = objArg(env, info[0], "args");
    kern::TopKArgs a;
    a.batch = intArg(env, o.Get("batch"), "batch", 0, kMaxIndex);
    a.dim = intArg(env, o.Get("dim"), "dim", 1, 1 << 16);
    a.nItems = intArg(env, o.Get("nItems"), "nItems", 1, kMaxIndex);
    a.k = intArg(env, o.Get("k"), "k", 1, 4096);
    a.queries = f32(env, o.Get("queries"), "queries", a.batch * a.dim).data;
    a.items = f32(env, o.Get("items"), "items", a.nItems * a.dim).data;
    a.bias = f32(env, o.Get("bias"), "bias", a.nItems, true).data;
    a.exclude = exclusionsArg(env, o, a.batch, a.nItems);
    auto idx = i32(env, info[1], "indices", a.batch * a.k);
    auto sc = f32(env, info[2], "scores", a.batch * a.k);
    kern::topk(a, mutableData(idx), mutableData(sc));
    return env.Undefined();
  });
}

// spmm(nRows, nCols, rowPtr, colIdx, values, x, d, out): out = A·x.
Napi::Value Spmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int64_t nRows = intArg(env, info[0], "a.nRows", 0, kMaxIndex);
    const int64_t nCols = intArg(env, info[1], "a.nCols", 0, kMaxIndex);
    auto rp = i32(env, info[2], "a.rowPtr", nRows + 1);
    auto ci = i32(env, info[3], "a.colIdx", -1);
    auto va = f32(env, info[4], "a.values", ci.size);
    const int64_t d = intArg(env, info[6], "d", 1, 256);
    auto x = f32(env, info[5], "x", nCols * d);
    auto y = f32(env, info[7], "out", nRows * d);
    kern::checkIndexCsr(nRows, rp.data, ci.size, ci.data, nCols, "a");
    kern::spmm(nRows, rp.data, ci.data, va.data, x.data, d, mutableData(y));
    return env.Undefined();
  });
}

// unary(op, x, out, alpha, beta, seed, threshold): out[i] = f(x[i]) over out's length.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int op = static_cast<int>(intArg(env, info[0], "op", 0, 13));
    auto out = typedArg<float>(env, info[2], "out", napi_float32_array, "Float32Array", false);
    auto x = f32AtLeast(env, info[1], "x", out.size);
    kern::UnaryParams p;
    p.alpha = numArg(env, info[3], "alpha");
    p.beta = numArg(env, info[4], "beta");
    p.seed = static_cast<uint32_t>(intArg(env, info[5], "seed", 0, 0xffffffffLL));
    p.threshold = static_cast<uint32_t>(intArg(env, info[6], "threshold", 0, 0xffffffffLL));
    kern::unary(op, x.data, mutableData(out), out.size, p);
    return env.Undefined();
  });
}

// The last element a rows × cols grid reads through strides (rs, cs), plus one.
int64_t extent(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * rs + (cols - 1) * cs + 1;
}

// binary(op, a, b, out, rows, cols, aRs, aCs, bRs, bCs, alpha, beta).
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int op = static_cast<int>(intArg(env, info[0], "op", 0, 15));
    kern::Broadcast bc;
    bc.rows = intArg(env, info[4], "rows", 0, kMaxIndex);
    bc.cols = intArg(env, info[5], "cols", 0, kMaxIndex);
    bc.aRs = intArg(env, info[6], "aRs", 0, kMaxIndex);
    bc.aCs = intArg(env, info[7], "aCs", 0, kMaxIndex);
    bc.bRs = intArg(env, info[8], "bRs", 0, kMaxIndex);
    bc.bCs = intArg(env, info[9], "bCs", 0, kMaxIndex);
    auto a = f32AtLeast(env, info[1], "a", extent(bc.rows, bc.cols, bc.aRs, bc.aCs));
    auto b = f32AtLeast(env, info[2], "b", extent(bc.rows, bc.cols, bc.bRs, bc.bCs));
    auto out = f32AtLeast(env, info[3], "out", bc.rows * bc.cols);
    kern::binary(op, a.data, b.data, mutableData(out), bc, numArg(env, info[10], "alpha"), numArg(env, info[11], "beta"));
    return env.Undefined();
  });
}

// softmax(x, rows, cols, log, out) / softmaxBackward(y, g, rows, cols, log, out).
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int64_t rows = intArg(env, info[1], "rows", 0, kMaxIndex);
    const int64_t cols = intArg(env, info[2], "cols", 0, kMaxIndex);
    auto x = f32AtLeast(env, info[0], "x", rows * cols);
    auto out = f32AtLeast(env, info[4], "out", rows * cols);
    kern::softmax(x.data, rows, cols, info[3].ToBoolean(), mutableData(out));
    return env.Undefined();
  });
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int64_t rows = intArg(env, info[2], "rows", 0, kMaxIndex);
    const int64_t cols = intArg(env, info[3], "cols", 0, kMaxIndex);
    auto y = f32AtLeast(env, info[0], "y", rows * cols);
    auto g = f32AtLeast(env, info[1], "g", rows * cols);
    auto out = f32AtLeast(env, info[5], "out", rows * cols);
    kern::softmaxBackward(y.data, g.data, rows, cols, info[4].ToBoolean(), mutableData(out));
    return env.Undefined();
  });
}

// adam(w, g, m, v, clip, lr, beta1, beta2, eps, weightDecay, decoupled, step), in place.
Napi::Value Adam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto w = typedArg<float>(env, info[0], "w", napi_float32_array, "Float32Array", false);
    auto g = f32(env, info[1], "g", w.size);
    auto m = f32(env, info[2], "m", w.size);
    auto v = f32(env, info[3], "v", w.size);
    kern::AdamHyper h;
    const double clip = numArg(env, info[4], "clip");
    h.lr = numArg(env, info[5], "lr");
    h.beta1 = numArg(env, info[6], "beta1");
    h.beta2 = numArg(env, info[7], "beta2");
    h.eps = numArg(env, info[8], "eps");
    h.weightDecay = numArg(env, info[9], "weightDecay");
    h.decoupled = info[10].ToBoolean();
    h.step = numArg(env, info[11], "step");
    kern::adam(mutableData(w), g.data, mutableData(m), mutableData(v), w.size, clip, h);
    return env.Undefined();
  });
}

// reduce(op, x, rows, cols, axis, scale, out).
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int op = static_cast<int>(intArg(env, info[0], "op", 0, 2));
    const int64_t rows = intArg(env, info[2], "rows", 0, kMaxIndex);
    const int64_t cols = intArg(env, info[3], "cols", 0, kMaxIndex);
    const int axis = static_cast<int>(intArg(env, info[4], "axis", 0, 2));
    auto x = f32AtLeast(env, info[1], "x", rows * cols);
    auto out = f32AtLeast(env, info[6], "out", axis == 0 ? 1 : axis == 1 ? rows : cols);
    kern::reduce(op, x.data, rows, cols, axis, numArg(env, info[5], "scale"), mutableData(out));
    return env.Undefined();
  });
}

// gather(table, tableRows, idx, cols, out).
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int64_t tableRows = intArg(env, info[1], "tableRows", 0, kMaxIndex);
    const int64_t cols = intArg(env, info[3], "cols", 0, kMaxIndex);
    auto table = f32AtLeast(env, info[0], "table", tableRows * cols);
    auto idx = i32(env, info[2], "idx", -1);
    auto out = f32AtLeast(env, info[4], "out", idx.size * cols);
    kern::gather(table.data, tableRows, idx.data, idx.size, cols, mutableData(out));
    return env.Undefined();
  });
}

// segmentSum(ptr, pos, g, gRows, rows, cols, out): the CSR (ptr, pos) is checked against g's rows.
Napi::Value SegmentSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const int64_t gRows = intArg(env, info[3], "gRows", 0, kMaxIndex);
    const int64_t rows = intArg(env, info[4], "rows", 0, kMaxIndex);
    const int64_t cols = intArg(env, info[5], "cols", 0, kMaxIndex);
    auto ptr = i32(env, info[0], "ptr", rows + 1);
    auto pos = i32(env, info[1], "pos", -1);
    auto g = f32AtLeast(env, info[2], "g", gRows * cols);
    auto out = f32AtLeast(env, info[6], "out", rows * cols);
    kern::checkIndexCsr(rows, ptr.data, pos.size, pos.data, gRows, "segment");
    kern::segmentSum(ptr.data, pos.data, g.data, rows, cols, mutableData(out));
    return env.Undefined();
  });
}

// copy2d(src, dst, rows, width, srcCols, srcOff, dstCols, dstOff).
Napi::Value Copy2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    kern::Copy2dShape s;
    s.rows = intArg(env, info[2], "rows", 0, kMaxIndex);
    s.width = intArg(env, info[3], "width", 0, kMaxIndex);
    s.srcCols = intArg(env, info[4], "srcCols", 0, kMaxIndex);
    s.srcOff = intArg(env, info[5], "srcOff", 0, kMaxIndex);
    s.dstCols = intArg(env, info[6], "dstCols", 0, kMaxIndex);
    s.dstOff = intArg(env, info[7], "dstOff", 0, kMaxIndex);
    if (s.srcOff + s.width > s.srcCols && s.rows > 0 && s.width > 0) throwInputJs(env, "srcOff", "srcOff + width <= srcCols");
    if (s.dstOff + s.width > s.dstCols && s.rows > 0 && s.width > 0) throwInputJs(env, "dstOff", "dstOff + width <= dstCols");
    const bool any = s.rows > 0 && s.width > 0;
    auto src = f32AtLeast(env, info[0], "src", any ? (s.rows - 1) * s.srcCols + s.srcOff + s.width : 0);
    auto dst = f32AtLeast(env, info[1], "dst", any ? (s.rows - 1) * s.dstCols + s.dstOff + s.width : 0);
    kern::copy2d(src.data, mutableData(dst), s);
    return env.Undefined();
  });
}

}  // namespace

void registerKernels(Napi::Env env, Napi::Object exports) {
  Napi::Object k = Napi::Object::New(env);
  k.Set("threads", Napi::Function::New(env, Threads));
  k.Set("setThreads", Napi::Function::New(env, SetThreads));
  k.Set("simd", Napi::Function::New(env, Simd));
  k.Set("gemm", Napi::Function::New(env, Gemm));
  k.Set("qtarget", Napi::Function::New(env, QTarget));
  k.Set("topk", Napi::Function::New(env, TopK));
  k.Set("spmm", Napi::Function::New(env, Spmm));
  k.Set("unary", Napi::Function::New(env, Unary));
  k.Set("binary", Napi::Function::New(env, Binary));
  k.Set("softmax", Napi::Function::New(env, Softmax));
  k.Set("adam", Napi::Function::New(env, Adam));
  k.Set("reduce", Napi::Function::New(env, Reduce));
  k.Set("gather", Napi::Function::New(env, Gather));
  k.Set("segmentSum", Napi::Function::New(env, SegmentSum));
  k.Set("copy2d", Napi::Function::New(env, Copy2d));
  k.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward));
  exports.Set("kernels", k);
}

}  // namespace gnnrl
