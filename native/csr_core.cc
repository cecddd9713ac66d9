// COO -> CSR builder: parallel stable counting sort by user, per-row stable sort by item,
// duplicate merging, transpose and bipartite adjacency. See csr_core.h for the contract.
#include "csr_core.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core_threads.h"

namespace gnnrl {
namespace {

// Per-thread histograms cost threads * rows ints; past this many we use fewer threads
// for the histogram phases (the result is the same, only slower).
constexpr int64_t kMaxHistogramCells = int64_t(1) << 27;

int histogramThreads(int threads, int64_t rows) {
  int64_t t = threads;
  if (rows > 0) t = std::min<int64_t>(t, std::max<int64_t>(1, kMaxHistogramCells / rows));
  return static_cast<int>(std::max<int64_t>(1, t));
}

void checkEdge(const CooInput& in, int64_t k) {
  int32_t u = in.users[k], i = in.items[k];
  if (u < 0 || u >= in.nUsers)
    throwInput("users", k, "an id in [0, " + std::to_string(in.nUsers) + "), got " + std::to_string(u));
  if (i < 0 || i >= in.nItems)
    throwInput("items", k, "an id in [0, " + std::to_string(in.nItems) + "), got " + std::to_string(i));
  if (in.weights && !std::isfinite(in.weights[k]))
    throwInput("weights", k, "a finite number, got " + jsNumber(in.weights[k]));
  if (in.tsF64 && !std::isfinite(in.tsF64[k]))
    throwInput("ts", k, "a finite number, got " + jsNumber(in.tsF64[k]));
}

bool edgeOk(const CooInput& in, int64_t k) {
  uint32_t u = static_cast<uint32_t>(in.users[k]), i = static_cast<uint32_t>(in.items[k]);
  if (u >= static_cast<uint64_t>(in.nUsers) || i >= static_cast<uint64_t>(in.nItems)) return false;
  if (in.weights && !std::isfinite(in.weights[k])) return false;
  if (in.tsF64 && !std::isfinite(in.tsF64[k])) return false;
  return true;
}

inline uint32_t floatBits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }
inline float bitsFloat(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }

// Sorts one row's keys by item (the high 32 bits), stably, so duplicates stay in input
// order (the scatter kept it). The low bits are either the edge index (policy 'last',
// which needs ts[k]) or the weight's float32 bits: carrying the weight in the key spares
// the merge a random read of weights[k] per edge, the builder's costliest cache miss.
// Insertion sort wins on the short rows that dominate real graphs.
void sortRow(uint64_t* a, int64_t len) {
  if (len <= 32) {
    for (int64_t x = 1; x < len; ++x) {
      uint64_t v = a[x];
      int64_t y = x - 1;
      while (y >= 0 && (a[y] >> 32) > (v >> 32)) { a[y + 1] = a[y]; --y; }
      a[y + 1] = v;
    }
  } else {
    std::stable_sort(a, a + len, [](uint64_t x, uint64_t y) { return (x >> 32) < (y >> 32); });
  }
}

// Merges one sorted row in place: entry j (j <= read position) becomes item << 32 | f32
// bits of the merged value. Returns the number of distinct items.
int64_t mergeRow(uint64_t* a, int64_t len, const CooInput& in, Policy policy) {
  const bool packed = policy != Policy::Last;  // low bits hold the weight, not the edge
  int64_t out = 0, x = 0;
  while (x < len) {
    uint32_t item = static_cast<uint32_t>(a[x] >> 32);
    int64_t y = x;
    double acc = 0;
    int64_t best = -1;
    double bestTs = 0;
    for (; y < len && static_cast<uint32_t>(a[y] >> 32) == item; ++y) {
      const uint32_t low = static_cast<uint32_t>(a[y]);
      const int64_t k = static_cast<int64_t>(low);
      const double w = packed ? static_cast<double>(bitsFloat(low)) : in.weights ? static_cast<double>(in.weights[k]) : 1.0;
      switch (policy) {
        case Policy::Sum:
        case Policy::Mean: acc += w; break;
        case Policy::Max: acc = (y == x || w > acc) ? w : acc; break;
        case Policy::Count: acc += 1; break;
        case Policy::Last: {
          double t = in.tsF64 ? in.tsF64[k] : static_cast<double>(in.tsI32[k]);
          if (best < 0 || t >= bestTs) { best = k; bestTs = t; }  // edges come in input order
          break;
        }
      }
    }
    double v = acc;
    if (policy == Policy::Mean) v = acc / static_cast<double>(y - x);
    if (policy == Policy::Last) v = in.weights ? static_cast<double>(in.weights[best]) : 1.0;
    a[out++] = (static_cast<uint64_t>(item) << 32) | floatBits(static_cast<float>(v));
    x = y;
  }
  return out;
}

std::string mib(double bytes) { return std::to_string(static_cast<int64_t>(std::ceil(bytes / 1048576.0))); }

}  // namespace

void validateCoo(const CooInput& in, int threads) {
  if (in.nUsers < 0 || in.nUsers > kMaxIndex)
    throwInput("nUsers", -1, "an integer in [0, 2147483647], got " + std::to_string(in.nUsers));
  if (in.nItems < 0 || in.nItems > kMaxIndex)
    throwInput("nItems", -1, "an integer in [0, 2147483647], got " + std::to_string(in.nItems));
  if (in.nUsers + in.nItems > kMaxIndex)
    throwLimit("nUsers + nItems: " + std::to_string(in.nUsers + in.nItems) +
               " nodes exceed the int32 index limit 2147483647");
  if (in.n > kMaxIndex)
    throwLimit("users: " + std::to_string(in.n) + " interactions exceed the int32 index limit 2147483647");
  // Each part finds its first bad edge; the lowest part's wins, so the error names the
  // first bad index whatever the thread count.
  int parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, in.n / 65536)));
  auto b = evenSplit(in.n, parts);
  std::vector<int64_t> bad(parts, -1);
  forkJoin(parts, [&](int t) {
    for (int64_t k = b[t]; k < b[t + 1]; ++k)
      if (!edgeOk(in, k)) { bad[t] = k; return; }
  });
  for (int64_t k : bad) if (k >= 0) checkEdge(in, k);
}

double estimateBuildBytes(int64_t n, int64_t nUsers, int64_t nItems, bool adjacency, bool selfLoops) {
  double nn = static_cast<double>(n), nu = static_cast<double>(nUsers), ni = static_cast<double>(nItems);
  double bytes = 8 * nn + 4 * (nu + 1) + 8 * nn + 4 * (ni + 1) + 8 * nn + 4 * (nu + ni);
  if (adjacency) {
    double nodes = nu + ni;
    bytes += 4 * (nodes + 1) + 8 * (2 * nn + (selfLoops ? nodes : 0)) + 8 * nodes;
  }
  return bytes;
}

GraphOut buildGraph(const CooInput& in, const BuildOptions& opts) {
  const int T = std::max(1, opts.threads);
  validateCoo(in, T);
  if (opts.policy == Policy::Last && !in.tsF64 && !in.tsI32)
    throwInput("ts", -1, "a Float64Array or an Int32Array (policy 'last' needs timestamps), got undefined");
  double need = estimateBuildBytes(in.n, in.nUsers, in.nItems, opts.adjacency, opts.adj.selfLoops);
  if (opts.memoryLimit > 0 && need > opts.memoryLimit)
    throwLimit("cooToCsr: needs about " + mib(need) + " MiB, over the memoryLimit of " + mib(opts.memoryLimit) + " MiB");
  try {
    const int64_t n = in.n, nU = in.nUsers, nI = in.nItems;

    // 1. Stable counting sort by user: per-part histograms, then offsets part by part so
    //    part t's edges of a row land after part t-1's (input order kept in every row).
    const int P = n < 65536 && opts.threads <= 1 ? 1 : histogramThreads(T, nU);
    auto eb = evenSplit(n, P);
    std::vector<Array<int32_t>> hist(P);
    forkJoin(P, [&](int t) {
      hist[t] = Array<int32_t>(static_cast<size_t>(nU));
      int32_t* h = hist[t].data();
      std::fill(h, h + nU, 0);
      for (int64_t k = eb[t]; k < eb[t + 1]; ++k) ++h[in.users[k]];
    });
    Array<int64_t> rowStart(static_cast<size_t>(nU + 1));
    rowStart[0] = 0;
    for (int64_t u = 0; u < nU; ++u) {
      int64_t c = 0;
      for (int t = 0; t < P; ++t) c += hist[t][u];
      rowStart[u + 1] = rowStart[u] + c;
    }
    {
      auto rb = evenSplit(nU, P);
      forkJoin(P, [&](int part) {
        for (int64_t u = rb[part]; u < rb[part + 1]; ++u) {
          int64_t off = rowStart[u];
          for (int t = 0; t < P; ++t) { int32_t c = hist[t][u]; hist[t][u] = static_cast<int32_t>(off); off += c; }
        }
      });
    }
    Array<uint64_t> keys(static_cast<size_t>(n));
    const bool packWeights = opts.policy != Policy::Last;
    const uint32_t one = floatBits(1.0f);
    forkJoin(P, [&](int t) {
      int32_t* pos = hist[t].data();
      for (int64_t k = eb[t]; k < eb[t + 1]; ++k) {
        uint32_t low = !packWeights ? static_cast<uint32_t>(k) : in.weights ? floatBits(in.weights[k]) : one;
        keys[pos[in.users[k]]++] = (static_cast<uint64_t>(static_cast<uint32_t>(in.items[k])) << 32) | low;
      }
    });
    hist.clear();

    // 2. Per row: sort by (item, edge), merge duplicates in place. Split by rows.
    GraphOut g;
    g.userDegree = Array<int32_t>(static_cast<size_t>(nU));
    auto rows = rowSplit(rowStart.data(), nU, T);
    forkJoin(T, [&](int t) {
      for (int64_t u = rows[t]; u < rows[t + 1]; ++u) {
        uint64_t* a = keys.data() + rowStart[u];
        int64_t len = rowStart[u + 1] - rowStart[u];
        sortRow(a, len);
        g.userDegree[u] = static_cast<int32_t>(mergeRow(a, len, in, opts.policy));
      }
    });

    // 3. Compact into the user -> item CSR.
    CsrOut& ui = g.userItem;
    ui.nRows = nU;
    ui.nCols = nI;
    ui.rowPtr = Array<int32_t>(static_cast<size_t>(nU + 1));
    ui.rowPtr[0] = 0;
    for (int64_t u = 0; u < nU; ++u) ui.rowPtr[u + 1] = ui.rowPtr[u] + g.userDegree[u];
    const int64_t nnz = nU ? ui.rowPtr[nU] : 0;
    ui.colIdx = Array<int32_t>(static_cast<size_t>(nnz));
    ui.values = Array<float>(static_cast<size_t>(nnz));
    forkJoin(T, [&](int t) {
      for (int64_t u = rows[t]; u < rows[t + 1]; ++u) {
        const uint64_t* a = keys.data() + rowStart[u];
        int32_t o = ui.rowPtr[u];
        for (int32_t j = 0; j < g.userDegree[u]; ++j) {
          ui.colIdx[o + j] = static_cast<int32_t>(a[j] >> 32);
          ui.values[o + j] = bitsFloat(static_cast<uint32_t>(a[j]));
        }
      }
    });
    keys = Array<uint64_t>();
    rowStart = Array<int64_t>();

    // 4. Transpose and item degrees.
    g.itemUser = transpose(ui.view(), T);
    g.itemDegree = Array<int32_t>(static_cast<size_t>(nI));
    for (int64_t i = 0; i < nI; ++i) g.itemDegree[i] = g.itemUser.rowPtr[i + 1] - g.itemUser.rowPtr[i];

    if (opts.adjacency) {
      g.adjacency = bipartiteAdjacency(ui.view(), g.itemUser.view(), opts.adj, T);
      g.hasAdjacency = true;
    }
    return g;
  } catch (const std::bad_alloc&) {
    throwLimit("cooToCsr: out of memory (the build needs about " + mib(need) + " MiB)");
  }
}

void validateCsr(const CsrView& m, int64_t nnz, const std::string& nm) {
  if (m.nRows < 0 || m.nRows > kMaxIndex) throwInput(nm + ".nRows", -1, "an integer in [0, 2147483647], got " + std::to_string(m.nRows));
  if (m.nCols < 0 || m.nCols > kMaxIndex) throwInput(nm + ".nCols", -1, "an integer in [0, 2147483647], got " + std::to_string(m.nCols));
  if (m.rowPtr[0] != 0) throwInput(nm + ".rowPtr", 0, "0, got " + std::to_string(m.rowPtr[0]));
  for (int64_t r = 0; r < m.nRows; ++r) {
    int32_t a = m.rowPtr[r], b = m.rowPtr[r + 1];
    if (b < a || b > nnz)
      throwInput(nm + ".rowPtr", r + 1, "a value in [rowPtr[" + std::to_string(r) + "] = " + std::to_string(a) +
                                            ", nnz = " + std::to_string(nnz) + "], got " + std::to_string(b));
    for (int32_t j = a; j < b; ++j) {
      int32_t c = m.colIdx[j];
      if (c < 0 || c >= m.nCols)
        throwInput(nm + ".colIdx", j, "a column in [0, " + std::to_string(m.nCols) + "), got " + std::to_string(c));
      if (j > a && c <= m.colIdx[j - 1])
        throwInput(nm + ".colIdx", j, "columns strictly ascending within row " + std::to_string(r) + ", got " +
                                          std::to_string(c) + " after " + std::to_string(m.colIdx[j - 1]));
      if (!std::isfinite(m.values[j])) throwInput(nm + ".values", j, "a finite number, got " + jsNumber(m.values[j]));
    }
  }
  if (m.rowPtr[m.nRows] != nnz)
    throwInput(nm + ".rowPtr", m.nRows, std::to_string(nnz) + " (the length of colIdx), got " + std::to_string(m.rowPtr[m.nRows]));
}

CsrOut transpose(const CsrView& m, int threads) {
  const int64_t nR = m.nRows, nC = m.nCols, nnz = m.rowPtr[nR];
  const int P = nnz < 65536 && threads <= 1 ? 1 : histogramThreads(threads, nC);
  auto rb = rowSplit(m.rowPtr, nR, P);
  std::vector<Array<int32_t>> hist(P);
  forkJoin(P, [&](int t) {
    hist[t] = Array<int32_t>(static_cast<size_t>(nC));
    int32_t* h = hist[t].data();
    std::fill(h, h + nC, 0);
    for (int64_t j = m.rowPtr[rb[t]]; j < m.rowPtr[rb[t + 1]]; ++j) ++h[m.colIdx[j]];
  });
  CsrOut o;
  o.nRows = nC;
  o.nCols = nR;
  o.rowPtr = Array<int32_t>(static_cast<size_t>(nC + 1));
  o.rowPtr[0] = 0;
  for (int64_t c = 0; c < nC; ++c) {
    int32_t off = o.rowPtr[c];
    for (int t = 0; t < P; ++t) { int32_t k = hist[t][c]; hist[t][c] = off; off += k; }
    o.rowPtr[c + 1] = off;
  }
  o.colIdx = Array<int32_t>(static_cast<size_t>(nnz));
  o.values = Array<float>(static_cast<size_t>(nnz));
  // Parts own increasing row ranges and walk rows upward, so each output row gets its
  // source rows in ascending order: sorted columns for free.
  forkJoin(P, [&](int t) {
    int32_t* pos = hist[t].data();
    for (int64_t r = rb[t]; r < rb[t + 1]; ++r)
      for (int32_t j = m.rowPtr[r]; j < m.rowPtr[r + 1]; ++j) {
        int32_t p = pos[m.colIdx[j]]++;
        o.colIdx[p] = static_cast<int32_t>(r);
        o.values[p] = m.values[j];
      }
  });
  return o;
}

CsrOut bipartiteAdjacency(const CsrView& ui, const CsrView& iu, const AdjOptions& opt, int threads) {
  const int64_t nU = ui.nRows, nI = ui.nCols, N = nU + nI;
  const int64_t nnz = ui.rowPtr[nU];
  const int64_t total = 2 * nnz + (opt.selfLoops ? N : 0);
  if (N > kMaxIndex) throwLimit("nUsers + nItems: " + std::to_string(N) + " nodes exceed the int32 index limit 2147483647");
  if (total > kMaxIndex)
    throwLimit("adjacency: " + std::to_string(total) + " entries exceed the int32 index limit 2147483647");
  const int T = std::max(1, threads);
  const int sl = opt.selfLoops ? 1 : 0;
  CsrOut o;
  o.nRows = N;
  o.nCols = N;
  o.rowPtr = Array<int32_t>(static_cast<size_t>(N + 1));
  o.rowPtr[0] = 0;
  for (int64_t u = 0; u < nU; ++u) o.rowPtr[u + 1] = o.rowPtr[u] + (ui.rowPtr[u + 1] - ui.rowPtr[u]) + sl;
  for (int64_t i = 0; i < nI; ++i) o.rowPtr[nU + i + 1] = o.rowPtr[nU + i] + (iu.rowPtr[i + 1] - iu.rowPtr[i]) + sl;
  o.colIdx = Array<int32_t>(static_cast<size_t>(total));
  o.values = Array<float>(static_cast<size_t>(total));
  Array<double> deg(static_cast<size_t>(N));
  auto rb = rowSplit(o.rowPtr.data(), N, T);
  // Pass 1: columns, raw entries (kept in float64 scratch via the values' source), degrees.
  forkJoin(T, [&](int t) {
    for (int64_t r = rb[t]; r < rb[t + 1]; ++r) {
      int32_t p = o.rowPtr[r];
      double d = 0;
      if (r < nU) {
        if (sl) { o.colIdx[p] = static_cast<int32_t>(r); o.values[p++] = 1.0f; d += 1; }
        for (int32_t j = ui.rowPtr[r]; j < ui.rowPtr[r + 1]; ++j) {
          float a = opt.weighted ? ui.values[j] : 1.0f;
          o.colIdx[p] = static_cast<int32_t>(nU + ui.colIdx[j]);
          o.values[p++] = a;
          d += static_cast<double>(a);
        }
      } else {
        int64_t i = r - nU;
        for (int32_t j = iu.rowPtr[i]; j < iu.rowPtr[i + 1]; ++j) {
          float a = opt.weighted ? iu.values[j] : 1.0f;
          o.colIdx[p] = iu.colIdx[j];
          o.values[p++] = a;
          d += static_cast<double>(a);
        }
        if (sl) { o.colIdx[p] = static_cast<int32_t>(r); o.values[p++] = 1.0f; d += 1; }
      }
      deg[r] = opt.weighted ? d : static_cast<double>(o.rowPtr[r + 1] - o.rowPtr[r]);
    }
  });
  if (opt.norm == Norm::None) return o;
  // Pass 2: normalise. Raw entries are exact in float32 (merged weights or 1), so
  // reading them back loses nothing.
  forkJoin(T, [&](int t) {
    for (int64_t r = rb[t]; r < rb[t + 1]; ++r) {
      const double dr = deg[r];
      for (int32_t j = o.rowPtr[r]; j < o.rowPtr[r + 1]; ++j) {
        const double a = static_cast<double>(o.values[j]);
        const double dc = deg[o.colIdx[j]];
        double v = 0;
        switch (opt.norm) {
          case Norm::Sym: { double p = dr * dc; v = p > 0 ? a / std::sqrt(p) : 0; break; }
          case Norm::Row: v = dr != 0 ? a / dr : 0; break;
          case Norm::Col: v = dc != 0 ? a / dc : 0; break;
          case Norm::None: v = a; break;
        }
        o.values[j] = static_cast<float>(v);
      }
    }
  });
  return o;
}

}  // namespace gnnrl
