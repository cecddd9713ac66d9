// Bindings of the native backend's kernels (kern.h). Every kernel reads and writes the
// JS typed arrays in place (no copies); the checks here are what keep the C++ inside
// those arrays: lengths against the shapes, and every index (CSR columns, exclusions)
// in range. The TypeScript wrappers (src/kernels/native/) check the shapes first with the
// same words as the CPU kernels, so these messages are the last line of defence.
//
// The four long calls (gemm, qtarget, topk, spmm) also come as *Async variants that run
// the same job on a libuv worker thread and return a Promise (see KernelWorker below).
#include <napi.h>

#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "kern.h"
#include "kern_pool.h"
#include "napi_args.h"
#include "napi_kernels.h"
#include "napi_settle.h"
#include "napi_common.h"

namespace gnnrl {
namespace {

// Exclusion lists {excludeRowPtr, excludeColIdx}: both or neither. Their indices are
// checked by checkExclusions() as part of the job (on the worker thread when async).
struct ExclusionsIn {
  kern::Exclusions e;
  int64_t nnz = 0;
};

ExclusionsIn exclusionsArg(Napi::Env env, Napi::Object o, int64_t batch, Pins* pins) {
  ExclusionsIn x;
  auto rp = i32(env, o.Get("excludeRowPtr"), "exclude.rowPtr", batch + 1, true, pins);
  auto ci = i32(env, o.Get("excludeColIdx"), "exclude.colIdx", -1, true, pins);
  if (rp.present != ci.present) throwInputJs(env, "exclude", "both rowPtr and colIdx, or neither");
  if (!rp.present) return x;
  x.e.rowPtr = rp.data;
  x.e.colIdx = ci.data;
  x.nnz = ci.size;
  return x;
}

// Rows that exclude nothing at all may come with a one-element placeholder colIdx (an
// empty typed array has no storage to point at; rank/'s native path passes one): every
// rowPtr entry 0 is accepted with any colIdx. Anything else must be exact.
void checkExclusions(const ExclusionsIn& x, int64_t batch, int64_t nItems) {
  if (!x.e.rowPtr) return;
  bool none = true;
  for (int64_t b = 0; b <= batch && none; ++b) none = x.e.rowPtr[b] == 0;
  if (none) return;
  kern::checkIndexCsr(batch, x.e.rowPtr, x.nnz, x.e.colIdx, nItems, "exclude");
}

// Kernels read the pool's size (poolThreads()) outside the pool's own lock to pick their
// partitions, and a resize writes it: once kernels run on libuv workers (the *Async
// calls) and on several JS threads (worker_threads), a setThreads() could race with them
// (ThreadSanitizer found it). Every kernel call therefore holds this gate shared, and
// setThreads() holds it exclusively: it waits for the kernels running, async ones included.
// (poolGate() itself is defined below, outside the anonymous namespace: the graph and
// attention bindings take it too.)

Napi::Value Threads(const Napi::CallbackInfo& info) {
  std::shared_lock<std::shared_mutex> gate(poolGate());
  return Napi::Number::New(info.Env(), kern::poolThreads());
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int n = static_cast<int>(intArg(env, info[0], "threads", 1, 256));
  std::unique_lock<std::shared_mutex> gate(poolGate());
  kern::setPoolThreads(n);
  return Napi::Number::New(env, kern::poolThreads());
}

Napi::Value Simd(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kern::kernelSimd()); }

// ---- The long calls: each is read into a Job (pointers into the JS arrays plus the
// shape), whose run() does the index checks and the kernel. The sync binding runs it at
// once; the *Async binding queues it on a KernelWorker. Both read the arguments with the
// same code, so they report the same errors (the async one as a rejection).

// gemm(a, b, c, M, K, N, transA, transB): c = op(a)·op(b).
struct GemmJob {
  static constexpr const char* kName = "gnnrl.gemm";  // async resource name
  static constexpr const char* kJs = "gemmAsync";
  const float* a = nullptr;
  const float* b = nullptr;
  float* c = nullptr;
  kern::GemmShape s;
  void run() const { kern::gemm(a, b, c, s); }
};

GemmJob readGemm(const Napi::CallbackInfo& info, Pins* pins) {
  Napi::Env env = info.Env();
  GemmJob j;
  j.s.M = intArg(env, info[3], "M", 0, kMaxIndex);
  j.s.K = intArg(env, info[4], "K", 0, kMaxIndex);
  j.s.N = intArg(env, info[5], "N", 0, kMaxIndex);
  j.s.transA = info[6].ToBoolean();
  j.s.transB = info[7].ToBoolean();
  j.a = f32AtLeast(env, info[0], "a", j.s.M * j.s.K, pins).data;
  j.b = f32AtLeast(env, info[1], "b", j.s.K * j.s.N, pins).data;
  j.c = mutableData(f32AtLeast(env, info[2], "out", j.s.M * j.s.N, pins));
  return j;
}

// qtarget({next, batch, dim, nItems, chooser, chooserBias?, value?, valueBias?, reward,
//          done, excludeRowPtr?, excludeColIdx?, gamma}, y, argmax)
struct QTargetJob {
  static constexpr const char* kName = "gnnrl.qtarget";  // async resource name
  static constexpr const char* kJs = "qtargetAsync";
  kern::QTargetArgs a;
  ExclusionsIn exclude;
  float* y = nullptr;
  int32_t* argmax = nullptr;
  void run() const {
    checkExclusions(exclude, a.batch, a.nItems);
    kern::qtarget(a, y, argmax);
  }
};

QTargetJob readQTarget(const Napi::CallbackInfo& info, Pins* pins) {
  Napi::Env env = info.Env();
  Napi::Object o = objArg(env, info[0], "args");
  QTargetJob j;
  kern::QTargetArgs& a = j.a;
  a.batch = intArg(env, o.Get("batch"), "batch", 0, kMaxIndex);
  a.dim = intArg(env, o.Get("dim"), "dim", 1, 1 << 16);
  a.nItems = intArg(env, o.Get("nItems"), "nItems", 1, kMaxIndex);
  a.next = f32(env, o.Get("next"), "next", a.batch * a.dim, false, pins).data;
  a.chooser = f32(env, o.Get("chooser"), "chooser", a.nItems * a.dim, false, pins).data;
  a.chooserBias = f32(env, o.Get("chooserBias"), "chooserBias", a.nItems, true, pins).data;
  a.value = f32(env, o.Get("value"), "value", a.nItems * a.dim, true, pins).data;
  a.valueBias = f32(env, o.Get("valueBias"), "valueBias", a.nItems, true, pins).data;
  a.reward = f32(env, o.Get("reward"), "reward", a.batch, false, pins).data;
  a.done = f32(env, o.Get("done"), "done", a.batch, false, pins).data;
  j.exclude = exclusionsArg(env, o, a.batch, pins);
  a.exclude = j.exclude.e;
  a.gamma = static_cast<float>(numArg(env, o.Get("gamma"), "gamma"));
  j.y = mutableData(f32(env, info[1], "y", a.batch, false, pins));
  j.argmax = mutableData(i32(env, info[2], "argmax", a.batch, false, pins));
  return j;
}

// topk({queries, batch, dim, items, nItems, bias?, excludeRowPtr?, excludeColIdx?, k}, indices, scores)
struct TopKJob {
  static constexpr const char* kName = "gnnrl.topk";  // async resource name
  static constexpr const char* kJs = "topkAsync";
  kern::TopKArgs a;
  ExclusionsIn exclude;
  int32_t* indices = nullptr;
  float* scores = nullptr;
  void run() const {
    checkExclusions(exclude, a.batch, a.nItems);
    kern::topk(a, indices, scores);
  }
};

TopKJob readTopK(const Napi::CallbackInfo& info, Pins* pins) {
  Napi::Env env = info.Env();
  Napi::Object o = objArg(env, info[0], "args");
  TopKJob j;
  kern::TopKArgs& a = j.a;
  a.batch = intArg(env, o.Get("batch"), "batch", 0, kMaxIndex);
  a.dim = intArg(env, o.Get("dim"), "dim", 1, 1 << 16);
  a.nItems = intArg(env, o.Get("nItems"), "nItems", 1, kMaxIndex);
  a.k = intArg(env, o.Get("k"), "k", 1, 4096);
  a.queries = f32(env, o.Get("queries"), "queries", a.batch * a.dim, false, pins).data;
  a.items = f32(env, o.Get("items"), "items", a.nItems * a.dim, false, pins).data;
  a.bias = f32(env, o.Get("bias"), "bias", a.nItems, true, pins).data;
  j.exclude = exclusionsArg(env, o, a.batch, pins);
  a.exclude = j.exclude.e;
  j.indices = mutableData(i32(env, info[1], "indices", a.batch * a.k, false, pins));
  j.scores = mutableData(f32(env, info[2], "scores", a.batch * a.k, false, pins));
  return j;
}

// spmm(nRows, nCols, rowPtr, colIdx, values, x, d, out): out = A·x.
struct SpmmJob {
  static constexpr const char* kName = "gnnrl.spmm";  // async resource name
  static constexpr const char* kJs = "spmmAsync";
  int64_t nRows = 0, nCols = 0, nnz = 0, d = 0;
  const int32_t* rowPtr = nullptr;
  const int32_t* colIdx = nullptr;
  const float* values = nullptr;
  const float* x = nullptr;
  float* y = nullptr;
  void run() const {
    kern::checkIndexCsr(nRows, rowPtr, nnz, colIdx, nCols, "a");
    kern::spmm(nRows, rowPtr, colIdx, values, x, d, y);
  }
};

SpmmJob readSpmm(const Napi::CallbackInfo& info, Pins* pins) {
  Napi::Env env = info.Env();
  SpmmJob j;
  j.nRows = intArg(env, info[0], "a.nRows", 0, kMaxIndex);
  j.nCols = intArg(env, info[1], "a.nCols", 0, kMaxIndex);
  j.rowPtr = i32(env, info[2], "a.rowPtr", j.nRows + 1, false, pins).data;
  auto ci = i32(env, info[3], "a.colIdx", -1, false, pins);
  j.colIdx = ci.data;
  j.nnz = ci.size;
  j.values = f32(env, info[4], "a.values", ci.size, false, pins).data;
  j.d = intArg(env, info[6], "d", 1, 256);
  j.x = f32(env, info[5], "x", j.nCols * j.d, false, pins).data;
  j.y = mutableData(f32(env, info[7], "out", j.nRows * j.d, false, pins));
  return j;
}

template <class Job, Job (*Read)(const Napi::CallbackInfo&, Pins*)>
Napi::Value runSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const Job job = Read(info, nullptr);
    std::shared_lock<std::shared_mutex> gate(poolGate());
    job.run();
    return env.Undefined();
  });
}

// One async kernel call. The job holds raw pointers into the caller's typed arrays (no
// copies: an item table or a GEMM output may be hundreds of MB); `pins_` holds a
// persistent reference to every one of those arrays until the Promise settles, so a GC
// while the worker runs cannot free them even when the caller has dropped its own
// references. The contract for callers (src/native.ts repeats it): until the Promise
// settles, do not read or write the outputs, do not write the inputs, and do not
// detach, transfer or resize any of the arrays. Execute() runs on a libuv thread and
// touches no JS value; errors (CoreError from the index checks, bad_alloc) are carried
// to OnError and rejected as the same GnnrlErrors the sync call throws.
//
// The kernels' pool runs one job at a time (kern_pool.h): a sync kernel call made while
// an async one is running waits for it, and several async calls run one after another
// (src/native.ts queues them so that they take one libuv thread, not all four).
template <class Job>
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const Job& job, Pins&& pins)
      : Napi::AsyncWorker(env, Job::kName), job_(job), pins_(std::move(pins)), err_(ErrCode::Native, "") {}
  // Called once, before Queue().
  Napi::Promise promise() { return settle_.create(Env()); }

 protected:
  void Execute() override {
    const auto e = captureCoreError([&] {
      std::shared_lock<std::shared_mutex> gate(poolGate());
      job_.run();
    });
    if (e) {
      err_ = *e;
      SetError(e->message);
    }
  }
  void OnOK() override {
    whileAlive([&] {
      Napi::Env env = Env();
      if (!pins_.intact()) {
        settle_.reject(makeError(env, "native", std::string(Job::kJs) +
                                                      ": an argument array was detached or resized while the call "
                                                      "was in flight; its results are undefined")
                           .Value());
        return;
      }
      settle_.resolve(env.Undefined());
    });
  }
  void OnError(const Napi::Error&) override {
    whileAlive([&] { settle_.reject(Env(), err_); });
  }

 private:
  Settle settle_;
  Job job_;
  Pins pins_;
  CoreError err_;
};

// Reads the arguments on the JS thread (the same checks as the sync call), pins the
// arrays and queues the job; a bad argument gives a rejected Promise, never a throw.
template <class Job, Job (*Read)(const Napi::CallbackInfo&, Pins*)>
Napi::Value runAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto rejected = [&](Napi::Value e) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e);
    return d.Promise();
  };
  try {
    Pins pins;
    Job job = Read(info, &pins);
    auto* w = new KernelWorker<Job>(env, job, std::move(pins));
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
    return rejected(e.Value());
  } catch (const CoreError& e) {
    return rejected(toJsError(env, e).Value());
  } catch (const std::bad_alloc&) {
    return rejected(makeError(env, "limit", "out of memory in the native addon").Value());
  }
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
// Also adamAsync: a served agent's item head is millions of values, a step of ~10 ms
// that the event loop need not wait for.
struct AdamJob {
  static constexpr const char* kName = "gnnrl.adam";  // async resource name
  static constexpr const char* kJs = "adamAsync";
  float* w = nullptr;
  const float* g = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  int64_t n = 0;
  double clip = 1;
  kern::AdamHyper h;
  void run() const { kern::adam(w, g, m, v, n, clip, h); }
};

AdamJob readAdam(const Napi::CallbackInfo& info, Pins* pins) {
  Napi::Env env = info.Env();
  AdamJob j;
  auto w = pinned<float>(env, info[0], "w", napi_float32_array, "Float32Array", false, pins);
  j.w = mutableData(w);
  j.n = w.size;
  j.g = f32(env, info[1], "g", w.size, false, pins).data;
  j.m = mutableData(f32(env, info[2], "m", w.size, false, pins));
  j.v = mutableData(f32(env, info[3], "v", w.size, false, pins));
  j.clip = numArg(env, info[4], "clip");
  j.h.lr = numArg(env, info[5], "lr");
  j.h.beta1 = numArg(env, info[6], "beta1");
  j.h.beta2 = numArg(env, info[7], "beta2");
  j.h.eps = numArg(env, info[8], "eps");
  j.h.weightDecay = numArg(env, info[9], "weightDecay");
  j.h.decoupled = info[10].ToBoolean();
  j.h.step = numArg(env, info[11], "step");
  return j;
}

Napi::Value Adam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    readAdam(info, nullptr).run();
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

std::shared_mutex& poolGate() {
  static std::shared_mutex* m = new std::shared_mutex();  // never destroyed, as the pool
  return *m;
}

void registerKernels(Napi::Env env, Napi::Object exports) {
  Napi::Object k = Napi::Object::New(env);
  k.Set("threads", Napi::Function::New(env, Threads));
  k.Set("setThreads", Napi::Function::New(env, SetThreads));
  k.Set("simd", Napi::Function::New(env, Simd));
  k.Set("gemm", Napi::Function::New(env, runSync<GemmJob, readGemm>));
  k.Set("qtarget", Napi::Function::New(env, runSync<QTargetJob, readQTarget>));
  k.Set("topk", Napi::Function::New(env, runSync<TopKJob, readTopK>));
  k.Set("spmm", Napi::Function::New(env, runSync<SpmmJob, readSpmm>));
  k.Set("gemmAsync", Napi::Function::New(env, runAsync<GemmJob, readGemm>));
  k.Set("qtargetAsync", Napi::Function::New(env, runAsync<QTargetJob, readQTarget>));
  k.Set("topkAsync", Napi::Function::New(env, runAsync<TopKJob, readTopK>));
  k.Set("spmmAsync", Napi::Function::New(env, runAsync<SpmmJob, readSpmm>));
  k.Set("adamAsync", Napi::Function::New(env, runAsync<AdamJob, readAdam>));
  k.Set("unary", Napi::Function::New(env, gated<Unary>));
  k.Set("binary", Napi::Function::New(env, gated<Binary>));
  k.Set("softmax", Napi::Function::New(env, gated<Softmax>));
  k.Set("adam", Napi::Function::New(env, gated<Adam>));
  k.Set("reduce", Napi::Function::New(env, gated<Reduce>));
  k.Set("gather", Napi::Function::New(env, gated<Gather>));
  k.Set("segmentSum", Napi::Function::New(env, gated<SegmentSum>));
  k.Set("copy2d", Napi::Function::New(env, gated<Copy2d>));
  k.Set("softmaxBackward", Napi::Function::New(env, gated<SoftmaxBackward>));
  exports.Set("kernels", k);
}

}  // namespace gnnrl
