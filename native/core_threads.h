// Minimal fork-join helpers over std::thread. Work is always split into fixed,
// index-ordered parts so results never depend on scheduling, only on the data.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace gnnrl {

// Default worker count: the hardware's, capped (the builder is memory-bound; more than
// 16 threads buys nothing and multiplies the per-thread histograms).
inline int defaultThreads() {
  unsigned h = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(1u, std::min(h == 0 ? 1u : h, 16u)));
}

// Runs f(t) for t in [0, parts) on `parts` threads (the caller's thread takes part 0)
// and rethrows the first exception by part index, so errors are deterministic too.
template <class F>
void forkJoin(int parts, F&& f) {
  if (parts <= 1) { f(0); return; }
  std::vector<std::exception_ptr> errs(parts);
  std::vector<std::thread> pool;
  pool.reserve(parts - 1);
  auto run = [&](int t) {
    try { f(t); } catch (...) { errs[t] = std::current_exception(); }
  };
  for (int t = 1; t < parts; ++t) {
    try {
      pool.emplace_back(run, t);
    } catch (...) {
      run(t);  // could not spawn: do that part here, same result
    }
  }
  run(0);
  for (auto& th : pool) th.join();
  for (auto& e : errs) if (e) std::rethrow_exception(e);
}

// Splits [0, n) into `parts` contiguous, near-equal ranges; bounds has parts + 1 entries.
inline std::vector<int64_t> evenSplit(int64_t n, int parts) {
  std::vector<int64_t> b(parts + 1);
  for (int t = 0; t <= parts; ++t) b[t] = n * t / parts;
  return b;
}

// Splits rows [0, nRows) into `parts` ranges of about equal (nnz + rows) work, using the
// CSR row pointer, so one long row does not leave the other threads idle.
template <class P>
std::vector<int64_t> rowSplit(const P* rowPtr, int64_t nRows, int parts) {
  std::vector<int64_t> b(parts + 1, nRows);
  b[0] = 0;
  int64_t total = static_cast<int64_t>(rowPtr[nRows]) + nRows;
  for (int t = 1; t < parts; ++t) {
    int64_t target = total * t / parts;
    int64_t lo = b[t - 1], hi = nRows;
    while (lo < hi) {  // first row r with rowPtr[r] + r >= target
      int64_t mid = (lo + hi) / 2;
      if (static_cast<int64_t>(rowPtr[mid]) + mid < target) lo = mid + 1; else hi = mid;
    }
    b[t] = lo;
  }
  return b;
}

}  // namespace gnnrl
