// Standalone fuzz driver for the N-API-free core (never part of the addon: CMake and
// node-gyp compile only native/*.cc). scripts/native-sanitize.sh builds it with
// AddressSanitizer + UBSan and runs it for a bounded time. It feeds seeded random inputs
// (valid and malformed) to every core entry point and checks that each call either
// returns a well-formed result or throws CoreError, and that results do not depend on
// the thread count. Any sanitizer report, other exception or broken invariant exits
// non-zero.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "../csr_core.h"
#include "../graph_ops_core.h"
#include "../kern.h"
#include "../kern_attention.h"
#include "../kern_graph.h"
#include "../kern_pool.h"

using namespace gnnrl;

namespace {

struct Rand {  // xorshift64*: small and seedable
  uint64_t s;
  explicit Rand(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return s * 2685821657736338717ull; }
  int64_t upto(int64_t n) { return n <= 0 ? 0 : static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  bool chance(double p) { return (next() >> 11) * (1.0 / 9007199254740992.0) < p; }
};

[[noreturn]] void fail(const char* what, uint64_t iter) {
  std::fprintf(stderr, "native fuzz: invariant broken at iteration %llu: %s\n", static_cast<unsigned long long>(iter), what);
  std::exit(2);
}

void checkCsr(const CsrView& m, int64_t nnz, uint64_t iter) {
  try {
    validateCsr(m, nnz, "out");
  } catch (const CoreError& e) {
    std::fprintf(stderr, "%s\n", e.message.c_str());
    fail("builder produced a malformed CSR", iter);
  }
}

bool sameCsr(const CsrOut& a, const CsrOut& b) {
  if (a.nRows != b.nRows || a.nCols != b.nCols || a.colIdx.size() != b.colIdx.size()) return false;
  return std::memcmp(a.rowPtr.data(), b.rowPtr.data(), a.rowPtr.size() * 4) == 0 &&
         (a.colIdx.size() == 0 || (std::memcmp(a.colIdx.data(), b.colIdx.data(), a.colIdx.size() * 4) == 0 &&
                                   std::memcmp(a.values.data(), b.values.data(), a.values.size() * 4) == 0));
}

const float kWeird[] = {1.0f, 0.0f, -0.0f, 2.5f, -3.0f, 1e30f, -1e-30f, std::numeric_limits<float>::quiet_NaN(),
                        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};

void oneIteration(Rand& r, uint64_t iter) {
  CooInput in;
  in.nUsers = r.chance(0.05) ? (r.chance(0.5) ? -1 : (int64_t(1) << 31) - r.upto(3)) : r.upto(40);
  in.nItems = r.chance(0.05) ? (r.chance(0.5) ? -5 : (int64_t(1) << 30)) : r.upto(40);
  const int64_t n = r.upto(r.chance(0.1) ? 5000 : 200);
  std::vector<int32_t> users(n + 1), items(n + 1), tsI(n + 1);
  std::vector<float> w(n + 1);
  std::vector<double> tsF(n + 1);
  const int64_t nu = std::max<int64_t>(1, std::min<int64_t>(in.nUsers, 40)), ni = std::max<int64_t>(1, std::min<int64_t>(in.nItems, 40));
  const double bad = r.chance(0.3) ? 0.02 : 0;  // per-element chance of a malformed value
  for (int64_t k = 0; k < n; ++k) {
    users[k] = r.chance(bad) ? static_cast<int32_t>(r.next()) : static_cast<int32_t>(r.upto(nu));
    items[k] = r.chance(bad) ? -static_cast<int32_t>(r.upto(5)) - 1 : static_cast<int32_t>(r.upto(ni));
    w[k] = r.chance(bad) ? kWeird[r.upto(10)] : kWeird[r.upto(7)] * static_cast<float>(r.upto(9));
    tsF[k] = r.chance(bad) ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(r.upto(6));
    tsI[k] = static_cast<int32_t>(r.upto(6)) - 3;
  }
  in.users = users.data();
  in.items = items.data();
  in.n = n;
  in.weights = r.chance(0.7) ? w.data() : nullptr;
  int tsKind = static_cast<int>(r.upto(3));
  if (tsKind == 1) in.tsF64 = tsF.data();
  if (tsKind == 2) in.tsI32 = tsI.data();
  BuildOptions o;
  o.policy = static_cast<Policy>(r.upto(5));
  o.threads = 1 + static_cast<int>(r.upto(4));
  o.adjacency = r.chance(0.7);
  o.adj.norm = static_cast<Norm>(r.upto(4));
  o.adj.selfLoops = r.chance(0.5);
  o.adj.weighted = r.chance(0.5);
  // Giant node counts must be refused by the memory limit, not attempted.
  o.memoryLimit = (in.nUsers > 1000 || in.nItems > 1000) ? 64.0 * 1024 * 1024 : (r.chance(0.05) ? 100.0 : 0.0);

  GraphOut g;
  try {
    g = buildGraph(in, o);
  } catch (const CoreError&) {
    return;  // a coded refusal is a correct outcome for malformed input
  }
  checkCsr(g.userItem.view(), static_cast<int64_t>(g.userItem.colIdx.size()), iter);
  checkCsr(g.itemUser.view(), static_cast<int64_t>(g.itemUser.colIdx.size()), iter);
  if (g.hasAdjacency) checkCsr(g.adjacency.view(), static_cast<int64_t>(g.adjacency.colIdx.size()), iter);
  BuildOptions o1 = o;
  o1.threads = o.threads == 1 ? 3 : 1;
  GraphOut h = buildGraph(in, o1);
  if (!sameCsr(g.userItem, h.userItem) || !sameCsr(g.itemUser, h.itemUser) ||
      (g.hasAdjacency && !sameCsr(g.adjacency, h.adjacency)))
    fail("output depends on the thread count", iter);

  const CsrView ui = g.userItem.view();
  CsrOut co = cooccurrence(ui, g.itemUser.view(), 1 + static_cast<int>(r.upto(5)), static_cast<CoocMeasure>(r.upto(2)),
                           1 + static_cast<int>(r.upto(3)));
  checkCsr(co.view(), static_cast<int64_t>(co.colIdx.size()), iter);

  if (g.hasAdjacency) {
    const CsrView adj = g.adjacency.view();
    std::vector<int32_t> seeds(1 + r.upto(10)), fan(r.upto(4));
    for (auto& s : seeds) s = static_cast<int32_t>(r.upto(adj.nRows + 2)) - (r.chance(0.05) ? 3 : 0);
    for (auto& f : fan) f = static_cast<int32_t>(r.upto(6)) - (r.chance(0.05) ? 1 : 0);
    try {
      SampleOut s = sampleNeighbors(adj, seeds.data(), static_cast<int64_t>(seeds.size()), fan.data(),
                                    static_cast<int64_t>(fan.size()), static_cast<uint32_t>(r.next()));
      for (auto& b : s.blocks) checkCsr(b.view(), static_cast<int64_t>(b.colIdx.size()), iter);
    } catch (const CoreError&) {
    }
    try {
      CsrOut wk = randomWalkTopK(adj, seeds.data(), static_cast<int64_t>(seeds.size()), 1 + static_cast<int>(r.upto(5)),
                                 1 + static_cast<int>(r.upto(6)), 1 + static_cast<int>(r.upto(2)),
                                 1 + static_cast<int>(r.upto(4)), static_cast<uint32_t>(r.next()), 1 + static_cast<int>(r.upto(3)));
      checkCsr(wk.view(), static_cast<int64_t>(wk.colIdx.size()), iter);
    } catch (const CoreError&) {
    }
  }

  // Malformed CSR given from outside must be refused without reading out of bounds.
  if (g.userItem.colIdx.size() > 0) {
    std::vector<int32_t> rp(g.userItem.rowPtr.data(), g.userItem.rowPtr.data() + g.userItem.rowPtr.size());
    std::vector<int32_t> ci(g.userItem.colIdx.data(), g.userItem.colIdx.data() + g.userItem.colIdx.size());
    std::vector<float> va(g.userItem.values.data(), g.userItem.values.data() + g.userItem.values.size());
    size_t at = static_cast<size_t>(r.upto(static_cast<int64_t>(rp.size())));
    if (r.chance(0.5)) rp[at] = static_cast<int32_t>(r.next());
    else ci[static_cast<size_t>(r.upto(static_cast<int64_t>(ci.size())))] = static_cast<int32_t>(r.next());
    CsrView m{g.userItem.nRows, g.userItem.nCols, rp.data(), ci.data(), va.data()};
    try {
      validateCsr(m, static_cast<int64_t>(ci.size()), "m");
      CsrOut t = transpose(m, 2);
      checkCsr(t.view(), static_cast<int64_t>(t.colIdx.size()), iter);
    } catch (const CoreError&) {
    }
  }

  // Id encoding: numbers with repeats and -0, strings with shared prefixes.
  std::vector<double> ids(static_cast<size_t>(n));
  for (auto& x : ids) x = r.chance(0.05) ? -0.0 : static_cast<double>(r.upto(50)) * (r.chance(0.5) ? 1e9 : 1);
  IdEncodeOut e = encodeNumbers(ids.data(), n);
  for (int64_t k = 0; k < n; ++k) {
    double a = ids[static_cast<size_t>(e.firstIndex[e.dense[k]])], b = ids[static_cast<size_t>(k)];
    if (a != b) fail("encodeNumbers mapped different ids together", iter);
  }
  std::string bytes;
  std::vector<int64_t> off{0};
  for (int64_t k = 0; k < n; ++k) {
    bytes += std::string(static_cast<size_t>(r.upto(20)), 'x') + std::to_string(r.upto(30));
    off.push_back(static_cast<int64_t>(bytes.size()));
  }
  IdEncodeOut es = encodeStrings(bytes.data(), off.data(), n);
  for (int64_t k = 0; k < n; ++k) {
    int64_t f = es.firstIndex[es.dense[k]];
    if (bytes.compare(static_cast<size_t>(off[f]), static_cast<size_t>(off[f + 1] - off[f]), bytes, static_cast<size_t>(off[k]),
                      static_cast<size_t>(off[k + 1] - off[k])) != 0)
      fail("encodeStrings mapped different ids together", iter);
  }
}

}  // namespace

// ---------------------------------------------------------------- the native kernels
//
// Exact-size buffers (std::vector, so ASan sees one element past the end), random shapes
// including zeros and sizes of no tile, weird values, exclusion lists with repeats; each
// kernel runs on 1 and on 3 pool threads and the outputs must be identical bytes.

std::vector<float> randomFloats(Rand& r, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = r.chance(0.02) ? kWeird[r.upto(10)] : static_cast<float>(static_cast<int64_t>(r.upto(2001)) - 1000) / 250.0f;
  return v;
}

template <class T>
bool sameBytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Runs f (which fills its outputs) on 1 and 3 threads; the two results must match.
template <class F>
void onThreads(const char* what, uint64_t iter, F f) {
  kern::setPoolThreads(1);
  auto one = f();
  kern::setPoolThreads(3);
  auto three = f();
  if (!(one == three)) {
    std::fprintf(stderr, "%s: 1 and 3 threads differ\n", what);
    fail("kernel result depends on the thread count", iter);
  }
}

struct Bytes {  // outputs compared bytewise (NaN == NaN)
  std::vector<std::vector<uint8_t>> parts;
  template <class T>
  void add(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    parts.push_back(std::move(b));
  }
  bool operator==(const Bytes& o) const { return parts == o.parts; }
};

kern::Exclusions randomExclusions(Rand& r, int64_t batch, int64_t nItems, std::vector<int32_t>& rowPtr, std::vector<int32_t>& colIdx) {
  rowPtr.assign(static_cast<size_t>(batch + 1), 0);
  colIdx.clear();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t m = r.chance(0.1) ? nItems + r.upto(3) : r.upto(std::min<int64_t>(nItems, 6));  // whole rows, repeats
    for (int64_t j = 0; j < m; ++j) colIdx.push_back(static_cast<int32_t>(r.upto(nItems)));
    rowPtr[static_cast<size_t>(b + 1)] = static_cast<int32_t>(colIdx.size());
  }
  kern::Exclusions e;
  if (colIdx.empty()) colIdx.push_back(0);  // a valid pointer even when no row excludes anything
  e.rowPtr = rowPtr.data();
  e.colIdx = colIdx.data();
  return e;
}

void kernelIteration(Rand& r, uint64_t iter) {
  // GEMM with every transpose combination.
  {
    kern::GemmShape s;
    s.M = r.upto(40);
    s.K = r.upto(70);
    s.N = r.upto(40);
    s.transA = r.chance(0.5);
    s.transB = r.chance(0.5);
    auto A = randomFloats(r, s.M * s.K), B = randomFloats(r, s.K * s.N);
    onThreads("gemm", iter, [&] {
      std::vector<float> C(static_cast<size_t>(s.M * s.N), std::numeric_limits<float>::quiet_NaN());
      kern::gemm(A.data(), B.data(), C.data(), s);
      Bytes out;
      out.add(C);
      return out;
    });
  }
  // top-K and Q-targets over a small catalogue with exclusions.
  {
    const int64_t batch = r.upto(12), dim = 1 + r.upto(20), nItems = 1 + r.upto(300), k = 1 + r.upto(std::min<int64_t>(nItems + 3, 130));
    auto q = randomFloats(r, batch * dim), items = randomFloats(r, nItems * dim), bias = randomFloats(r, nItems);
    std::vector<int32_t> rowPtr, colIdx;
    const kern::Exclusions ex = r.chance(0.7) ? randomExclusions(r, batch, nItems, rowPtr, colIdx) : kern::Exclusions{};
    kern::TopKArgs t;
    t.queries = q.data();
    t.batch = batch;
    t.dim = dim;
    t.nItems = nItems;
    t.k = k;
    t.items = items.data();
    t.bias = r.chance(0.5) ? bias.data() : nullptr;
    t.exclude = ex;
    onThreads("topk", iter, [&] {
      std::vector<int32_t> idx(static_cast<size_t>(batch * k), -7);
      std::vector<float> sc(static_cast<size_t>(batch * k));
      kern::topk(t, idx.data(), sc.data());
      for (auto i : idx)
        if (i < -1 || i >= nItems) fail("topk returned an index outside the catalogue", iter);
      Bytes out;
      out.add(idx);
      out.add(sc);
      return out;
    });
    auto value = randomFloats(r, nItems * dim), reward = randomFloats(r, batch), done = randomFloats(r, batch);
    kern::QTargetArgs a;
    a.next = q.data();
    a.batch = batch;
    a.dim = dim;
    a.nItems = nItems;
    a.chooser = items.data();
    a.chooserBias = t.bias;
    a.value = r.chance(0.5) ? value.data() : nullptr;
    a.reward = reward.data();
    a.done = done.data();
    a.exclude = ex;
    a.gamma = 0.9f;
    onThreads("qtarget", iter, [&] {
      std::vector<float> y(static_cast<size_t>(batch));
      std::vector<int32_t> am(static_cast<size_t>(batch), -7);
      kern::qtarget(a, y.data(), am.data());
      for (auto i : am)
        if (i < -1 || i >= nItems) fail("qtarget returned an argmax outside the catalogue", iter);
      Bytes out;
      out.add(y);
      out.add(am);
      return out;
    });
  }
  // SpMM over a random well-formed CSR (a huge row now and then); malformed ones must be refused.
  {
    const int64_t nRows = r.upto(60), nCols = 1 + r.upto(60), d = 1 + r.upto(r.chance(0.3) ? 256 : 70);
    std::vector<int32_t> rowPtr(static_cast<size_t>(nRows + 1), 0), colIdx;
    for (int64_t i = 0; i < nRows; ++i) {
      const int64_t m = r.chance(0.05) ? 500 : r.upto(8);
      for (int64_t j = 0; j < m; ++j) colIdx.push_back(static_cast<int32_t>(r.upto(nCols)));
      rowPtr[static_cast<size_t>(i + 1)] = static_cast<int32_t>(colIdx.size());
    }
    auto values = randomFloats(r, static_cast<int64_t>(colIdx.size()));
    auto X = randomFloats(r, nCols * d);
    if (r.chance(0.2) && !colIdx.empty()) {
      colIdx[static_cast<size_t>(r.upto(static_cast<int64_t>(colIdx.size())))] = r.chance(0.5) ? -1 : static_cast<int32_t>(nCols);
      try {
        kern::checkIndexCsr(nRows, rowPtr.data(), static_cast<int64_t>(colIdx.size()), colIdx.data(), nCols, "a");
        fail("checkIndexCsr accepted a column outside the matrix", iter);
      } catch (const CoreError&) {
      }
    } else {
      kern::checkIndexCsr(nRows, rowPtr.data(), static_cast<int64_t>(colIdx.size()), colIdx.data(), nCols, "a");
      onThreads("spmm", iter, [&] {
        std::vector<float> Y(static_cast<size_t>(nRows * d), std::numeric_limits<float>::quiet_NaN());
        kern::spmm(nRows, rowPtr.data(), colIdx.data(), values.data(), X.data(), d, Y.data());
        Bytes out;
        out.add(Y);
        return out;
      });
    }
  }
  // Max aggregation and GAT over a random well-formed CSR (duplicates, empty rows, a huge
  // row now and then), with the transpose built here; exact-size outputs so ASan sees
  // any write past them. Then sequence self-attention with ragged lengths.
  {
    const int64_t nDst = r.upto(40), nSrc = 1 + r.upto(40), heads = 1 + r.upto(4), f = 1 + r.upto(20), d = 1 + r.upto(40);
    std::vector<int32_t> rowPtr(static_cast<size_t>(nDst + 1), 0), colIdx;
    for (int64_t i = 0; i < nDst; ++i) {
      const int64_t m = r.chance(0.05) ? 300 : r.upto(6);
      for (int64_t j = 0; j < m; ++j) colIdx.push_back(static_cast<int32_t>(r.upto(nSrc)));
      rowPtr[static_cast<size_t>(i + 1)] = static_cast<int32_t>(colIdx.size());
    }
    const int64_t nnz = static_cast<int64_t>(colIdx.size());
    auto X = randomFloats(r, nSrc * d);
    std::vector<int32_t> argmax;
    onThreads("maxAggregate", iter, [&] {
      std::vector<float> Y(static_cast<size_t>(nDst * d), std::numeric_limits<float>::quiet_NaN());
      std::vector<int32_t> am(static_cast<size_t>(nDst * d), -7);
      kern::maxAggregate(nDst, rowPtr.data(), colIdx.data(), X.data(), d, Y.data(), am.data());
      for (auto j : am)
        if (j < -1 || j >= nSrc) fail("maxAggregate returned an argmax outside the sources", iter);
      argmax = am;
      Bytes out;
      out.add(Y);
      out.add(am);
      return out;
    });
    auto dy = randomFloats(r, nDst * d);
    onThreads("maxAggregateBackward", iter, [&] {
      std::vector<float> dx(static_cast<size_t>(nSrc * d), std::numeric_limits<float>::quiet_NaN());
      kern::maxAggregateBackward(nDst, nSrc, argmax.data(), dy.data(), d, dx.data());
      Bytes out;
      out.add(dx);
      return out;
    });
    if (!argmax.empty() && r.chance(0.2)) {
      argmax[static_cast<size_t>(r.upto(static_cast<int64_t>(argmax.size())))] = static_cast<int32_t>(nSrc);
      std::vector<float> dx(static_cast<size_t>(nSrc * d));
      try {
        kern::maxAggregateBackward(nDst, nSrc, argmax.data(), dy.data(), d, dx.data());
        fail("maxAggregateBackward accepted an argmax outside the sources", iter);
      } catch (const CoreError&) {
      }
    }
    // The transpose with edge ids, edges ascending within each source.
    std::vector<int32_t> tRowPtr(static_cast<size_t>(nSrc + 1), 0), tDst(static_cast<size_t>(nnz)), tEdge(static_cast<size_t>(nnz));
    for (auto j : colIdx) tRowPtr[static_cast<size_t>(j + 1)]++;
    for (int64_t j = 0; j < nSrc; ++j) tRowPtr[static_cast<size_t>(j + 1)] += tRowPtr[static_cast<size_t>(j)];
    std::vector<int32_t> fillAt(tRowPtr.begin(), tRowPtr.end() - 1);
    for (int64_t i = 0; i < nDst; ++i)
      for (int32_t e = rowPtr[static_cast<size_t>(i)]; e < rowPtr[static_cast<size_t>(i + 1)]; ++e) {
        const int32_t q = fillAt[static_cast<size_t>(colIdx[static_cast<size_t>(e)])]++;
        tDst[static_cast<size_t>(q)] = static_cast<int32_t>(i);
        tEdge[static_cast<size_t>(q)] = e;
      }
    kern::GatShape gs;
    gs.nDst = nDst;
    gs.nSrc = nSrc;
    gs.heads = heads;
    gs.f = f;
    gs.slope = 0.2;
    const int64_t W = heads * f;
    auto H = randomFloats(r, nSrc * W), el = randomFloats(r, nDst * heads), er = randomFloats(r, nSrc * heads), g = randomFloats(r, nDst * W);
    onThreads("gatForward", iter, [&] {
      std::vector<float> out(static_cast<size_t>(nDst * W), std::numeric_limits<float>::quiet_NaN());
      std::vector<float> st(static_cast<size_t>(2 * nDst * heads), std::numeric_limits<float>::quiet_NaN());
      kern::gatForward(gs, rowPtr.data(), colIdx.data(), H.data(), el.data(), er.data(), out.data(), st.data());
      Bytes b;
      b.add(out);
      b.add(st);
      return b;
    });
    kern::GatTranspose t{tRowPtr.data(), tDst.data(), tEdge.data()};
    onThreads("gatBackward", iter, [&] {
      std::vector<float> dH(static_cast<size_t>(nSrc * W), std::numeric_limits<float>::quiet_NaN());
      std::vector<float> dEl(static_cast<size_t>(nDst * heads), std::numeric_limits<float>::quiet_NaN());
      std::vector<float> dEr(static_cast<size_t>(nSrc * heads), std::numeric_limits<float>::quiet_NaN());
      kern::gatBackward(gs, rowPtr.data(), colIdx.data(), t, H.data(), el.data(), er.data(), g.data(), dH.data(), dEl.data(), dEr.data());
      Bytes b;
      b.add(dH);
      b.add(dEl);
      b.add(dEr);
      return b;
    });
  }
  {
    kern::SeqAttentionShape s;
    s.batch = r.upto(20);
    s.len = 1 + r.upto(64);
    s.d = 1 + r.upto(40);
    s.dv = 1 + r.upto(40);
    s.causal = r.chance(0.5);
    std::vector<int32_t> lengths(static_cast<size_t>(s.batch));
    for (auto& n : lengths) n = static_cast<int32_t>(r.upto(s.len + 1));
    if (r.chance(0.7)) s.lengths = lengths.data();
    auto w = randomFloats(r, s.len);
    if (r.chance(0.5)) s.weights = w.data();
    auto q = randomFloats(r, s.batch * s.len * s.d), k = randomFloats(r, s.batch * s.len * s.d), v = randomFloats(r, s.batch * s.len * s.dv);
    auto dOut = randomFloats(r, s.weights ? s.batch * s.dv : s.batch * s.len * s.dv);
    onThreads("seqAttention", iter, [&] {
      std::vector<float> z(static_cast<size_t>(s.batch * s.len * s.dv), std::numeric_limits<float>::quiet_NaN());
      std::vector<float> pooled(static_cast<size_t>(s.batch * s.dv), std::numeric_limits<float>::quiet_NaN());
      std::vector<float> st(static_cast<size_t>(2 * s.batch * s.len), std::numeric_limits<float>::quiet_NaN());
      kern::seqAttentionForward(s, q.data(), k.data(), v.data(), z.data(), s.weights ? pooled.data() : nullptr, st.data());
      std::vector<float> dq(q.size(), std::numeric_limits<float>::quiet_NaN()), dk(k.size(), std::numeric_limits<float>::quiet_NaN()), dv(v.size(), std::numeric_limits<float>::quiet_NaN());
      kern::seqAttentionBackward(s, q.data(), k.data(), v.data(), dOut.data(), dq.data(), dk.data(), dv.data());
      Bytes b;
      b.add(z);
      if (s.weights) b.add(pooled);
      b.add(st);
      b.add(dq);
      b.add(dk);
      b.add(dv);
      return b;
    });
  }
  // Element-wise: every op, broadcast strides, exact-extent operands.
  {
    const int op = static_cast<int>(r.upto(14));
    const int64_t n = r.chance(0.1) ? 70000 + r.upto(50) : r.upto(300);
    auto x = randomFloats(r, n);
    kern::UnaryParams p;
    p.alpha = 0.5;
    p.beta = -1;
    p.seed = static_cast<uint32_t>(r.next());
    p.threshold = static_cast<uint32_t>(r.next());
    auto start = randomFloats(r, n);
    onThreads("unary", iter, [&] {
      auto out = start;
      kern::unary(op, x.data(), out.data(), n, p);
      Bytes b;
      b.add(out);
      return b;
    });
    kern::Broadcast bc;
    bc.rows = r.upto(50);
    bc.cols = r.upto(r.chance(0.2) ? 3000 : 50);
    const auto pick = [&](int64_t& rs, int64_t& cs) {
      switch (r.upto(4)) {
        case 0: rs = bc.cols; cs = 1; break;
        case 1: rs = 0; cs = 1; break;
        case 2: rs = 1; cs = 0; break;
        default: rs = 0; cs = 0;
      }
    };
    pick(bc.aRs, bc.aCs);
    pick(bc.bRs, bc.bCs);
    const auto extent = [&](int64_t rs, int64_t cs) { return bc.rows == 0 || bc.cols == 0 ? 0 : (bc.rows - 1) * rs + (bc.cols - 1) * cs + 1; };
    auto a = randomFloats(r, extent(bc.aRs, bc.aCs)), b = randomFloats(r, extent(bc.bRs, bc.bCs));
    const int bop = static_cast<int>(r.upto(16));
    onThreads("binary", iter, [&] {
      std::vector<float> out(static_cast<size_t>(bc.rows * bc.cols), std::numeric_limits<float>::quiet_NaN());
      kern::binary(bop, a.data(), b.data(), out.data(), bc, 0.7, 1.3);
      Bytes o;
      o.add(out);
      return o;
    });
    // Softmax rows over exact-size buffers (weird values included: NaN rows stay NaN rows).
    const int64_t srows = r.upto(20), scols = r.upto(r.chance(0.2) ? 5000 : 60);
    auto sx = randomFloats(r, srows * scols), sg = randomFloats(r, srows * scols);
    const bool slog = r.chance(0.5);
    onThreads("softmax", iter, [&] {
      std::vector<float> y(static_cast<size_t>(srows * scols)), gx(static_cast<size_t>(srows * scols));
      kern::softmax(sx.data(), srows, scols, slog, y.data());
      kern::softmaxBackward(y.data(), sg.data(), srows, scols, slog, gx.data());
      Bytes o;
      o.add(y);
      o.add(gx);
      return o;
    });
    // Reductions along every axis, exact-size output.
    for (int axis = 0; axis < 3; ++axis) {
      const int rop = static_cast<int>(r.upto(3));
      onThreads("reduce", iter, [&] {
        std::vector<float> out(static_cast<size_t>(axis == 0 ? 1 : axis == 1 ? srows : scols));
        kern::reduce(rop, sx.data(), srows, scols, axis, 0.5, out.data());
        Bytes o;
        o.add(out);
        return o;
      });
    }
    // Gather (indices sometimes outside the table) and the segment-sum backward over exact-size buffers.
    {
      const int64_t tableRows = 1 + r.upto(50), gcols = r.upto(70), m = r.upto(300);
      auto table = randomFloats(r, tableRows * gcols);
      std::vector<int32_t> gi(static_cast<size_t>(m));
      for (auto& t : gi) t = static_cast<int32_t>(r.chance(0.05) ? -1 - r.upto(3) : r.upto(tableRows + (r.chance(0.05) ? 5 : 0)));
      onThreads("gather", iter, [&] {
        std::vector<float> out(static_cast<size_t>(m * gcols));
        kern::gather(table.data(), tableRows, gi.data(), m, gcols, out.data());
        Bytes o;
        o.add(out);
        return o;
      });
      std::vector<int32_t> ptr(static_cast<size_t>(tableRows + 1), 0), pos;
      for (int64_t t = 0; t < tableRows; ++t) {
        const int64_t k = r.upto(5);
        for (int64_t j = 0; j < k && m > 0; ++j) pos.push_back(static_cast<int32_t>(r.upto(m)));
        ptr[static_cast<size_t>(t + 1)] = static_cast<int32_t>(pos.size());
      }
      auto gg = randomFloats(r, m * gcols);
      if (m > 0) {
        kern::checkIndexCsr(tableRows, ptr.data(), static_cast<int64_t>(pos.size()), pos.data(), m, "segment");
        onThreads("segmentSum", iter, [&] {
          std::vector<float> out(static_cast<size_t>(tableRows * gcols));
          kern::segmentSum(ptr.data(), pos.empty() ? nullptr : pos.data(), gg.data(), tableRows, gcols, out.data());
          Bytes o;
          o.add(out);
          return o;
        });
      }
    }
    // Adam in place over exact-size state.
    {
      auto aw = randomFloats(r, n), ag = randomFloats(r, n);
      kern::AdamHyper h;
      h.lr = 0.01;
      h.weightDecay = r.chance(0.5) ? 0.1 : 0;
      h.decoupled = r.chance(0.5);
      h.step = 1 + static_cast<double>(r.upto(100));
      onThreads("adam", iter, [&] {
        auto w2 = aw;
        std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
        kern::adam(w2.data(), ag.data(), m.data(), v.data(), n, 0.5, h);
        Bytes o;
        o.add(w2);
        o.add(m);
        o.add(v);
        return o;
      });
    }
    try {
      kern::unary(14 + static_cast<int>(r.upto(5)), x.data(), x.data(), n, p);
      fail("unary accepted an unknown op code", iter);
    } catch (const CoreError&) {
    }
  }
}

// The addon's *Async bindings (napi_kernels.cc) run these same kern:: entry points, with
// the same index checks first, from libuv worker threads: several callers at once, next
// to a JS-thread caller. Here: four kernels computed on this thread first, then all four
// again from four threads at once into poisoned outputs, on a pool of another size;
// every result must match bit for bit (the pool runs one job at a time, and each
// kernel's result does not depend on the thread count). A resize never overlaps a
// kernel: the addon's setThreads() waits for the running ones (napi_kernels.cc's gate),
// since kernels read the pool's size unlocked.
void concurrentIteration(Rand& r, uint64_t iter) {
  kern::GemmShape gs;
  gs.M = 1 + r.upto(90);
  gs.K = 1 + r.upto(90);
  gs.N = 1 + r.upto(300);
  gs.transA = r.chance(0.5);
  gs.transB = r.chance(0.5);
  auto A = randomFloats(r, gs.M * gs.K), B = randomFloats(r, gs.K * gs.N);

  const int64_t batch = 1 + r.upto(40), dim = 1 + r.upto(40), nItems = 1 + r.upto(900), k = 1 + r.upto(std::min<int64_t>(nItems, 40));
  auto q = randomFloats(r, batch * dim), items = randomFloats(r, nItems * dim), bias = randomFloats(r, nItems);
  auto value = randomFloats(r, nItems * dim), reward = randomFloats(r, batch), done = randomFloats(r, batch);
  std::vector<int32_t> exRowPtr, exColIdx;
  const kern::Exclusions ex = randomExclusions(r, batch, nItems, exRowPtr, exColIdx);
  kern::TopKArgs t;
  t.queries = q.data();
  t.batch = batch;
  t.dim = dim;
  t.nItems = nItems;
  t.k = k;
  t.items = items.data();
  t.bias = bias.data();
  t.exclude = ex;
  kern::QTargetArgs a;
  a.next = q.data();
  a.batch = batch;
  a.dim = dim;
  a.nItems = nItems;
  a.chooser = items.data();
  a.chooserBias = bias.data();
  a.value = r.chance(0.5) ? value.data() : nullptr;
  a.reward = reward.data();
  a.done = done.data();
  a.exclude = ex;
  a.gamma = 0.9f;

  const int64_t nRows = 1 + r.upto(400), nCols = 1 + r.upto(200), d = 1 + r.upto(100);
  std::vector<int32_t> rowPtr(static_cast<size_t>(nRows + 1), 0), colIdx;
  for (int64_t i = 0; i < nRows; ++i) {
    const int64_t m = r.chance(0.02) ? 2000 : r.upto(10);
    for (int64_t j = 0; j < m; ++j) colIdx.push_back(static_cast<int32_t>(r.upto(nCols)));
    rowPtr[static_cast<size_t>(i + 1)] = static_cast<int32_t>(colIdx.size());
  }
  auto values = randomFloats(r, static_cast<int64_t>(colIdx.size()));
  auto X = randomFloats(r, nCols * d);

  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto run = [&](int job) {
    Bytes out;
    if (job == 0) {
      std::vector<float> C(static_cast<size_t>(gs.M * gs.N), nan);
      kern::gemm(A.data(), B.data(), C.data(), gs);
      out.add(C);
    } else if (job == 1) {
      std::vector<int32_t> idx(static_cast<size_t>(batch * k), -7);
      std::vector<float> sc(static_cast<size_t>(batch * k), nan);
      // colIdx holds a placeholder when no row excludes anything (the binding accepts that).
      if (ex.rowPtr[batch] > 0) kern::checkIndexCsr(batch, ex.rowPtr, static_cast<int64_t>(exColIdx.size()), ex.colIdx, nItems, "exclude");
      kern::topk(t, idx.data(), sc.data());
      out.add(idx);
      out.add(sc);
    } else if (job == 2) {
      std::vector<float> y(static_cast<size_t>(batch), nan);
      std::vector<int32_t> am(static_cast<size_t>(batch), -7);
      kern::qtarget(a, y.data(), am.data());
      out.add(y);
      out.add(am);
    } else {
      std::vector<float> Y(static_cast<size_t>(nRows * d), nan);
      kern::checkIndexCsr(nRows, rowPtr.data(), static_cast<int64_t>(colIdx.size()), colIdx.data(), nCols, "a");
      kern::spmm(nRows, rowPtr.data(), colIdx.data(), values.data(), X.data(), d, Y.data());
      out.add(Y);
    }
    return out;
  };
  kern::setPoolThreads(3);
  std::vector<Bytes> want, got(4);
  for (int j = 0; j < 4; ++j) want.push_back(run(j));
  kern::setPoolThreads(1 + static_cast<int>(iter % 4));  // the callers meet a pool of another size
  std::vector<std::exception_ptr> errs(4);
  std::vector<std::thread> callers;
  for (int j = 0; j < 4; ++j)
    callers.emplace_back([&, j] {
      try {
        got[static_cast<size_t>(j)] = run(j);
      } catch (...) {
        errs[static_cast<size_t>(j)] = std::current_exception();
      }
    });
  for (auto& c : callers) c.join();
  for (int j = 0; j < 4; ++j) {
    if (errs[static_cast<size_t>(j)]) std::rethrow_exception(errs[static_cast<size_t>(j)]);
    if (!(got[static_cast<size_t>(j)] == want[static_cast<size_t>(j)])) {
      std::fprintf(stderr, "concurrent callers: job %d differs from the one-caller result\n", j);
      fail("kernel result depends on concurrent callers", iter);
    }
  }
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 20;
  const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  Rand r(seed);
  const auto start = std::chrono::steady_clock::now();
  uint64_t iter = 0;
  for (;; ++iter) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (el >= seconds) break;
    try {
      oneIteration(r, iter);
      if (iter % 4 == 0) kernelIteration(r, iter);
      if (iter % 32 == 0) concurrentIteration(r, iter);
    } catch (const CoreError& e) {
      std::fprintf(stderr, "unexpected CoreError outside the checked calls: %s\n", e.message.c_str());
      fail("CoreError escaped", iter);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "unexpected exception: %s\n", e.what());
      fail("non-CoreError exception", iter);
    }
  }
  std::printf("native fuzz: %llu iterations in %.0f s (seed %llu), no findings\n", static_cast<unsigned long long>(iter), seconds,
              static_cast<unsigned long long>(seed));
  return 0;
}
