// CSR SpMM, Y = A·X: rows split into parts of about equal nnz + rows (core_threads.h's
// rowSplit), so one huge row does not leave the other threads idle while short rows pile
// up on one. Each output row is summed by one part in CSR order, in float, so the result
// does not depend on the partition. The part count is fixed by the data (about 64k
// entries × columns each), not by the thread count.
#include "kern_simd.h"  // first: sets the floating-point contraction for this file

#include <algorithm>
#include <cstring>
#include <string>

#include "core_error.h"
#include "core_threads.h"
#include "kern.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

// One row with a width known at compile time (the common 32/64/128): the accumulators
// stay in registers.
template <int D>
void rowFixed(int64_t e0, int64_t e1, const int32_t* colIdx, const float* values, const float* X, float* y) {
  constexpr int V = (D + kLanes - 1) / kLanes;
  static_assert(D % kLanes == 0, "fixed widths are whole vectors");
  VF acc[V];
  for (int v = 0; v < V; ++v) acc[v] = vsplat(0);
  for (int64_t e = e0; e < e1; ++e) {
    const VF w = vsplat(values[e]);
    const float* x = X + static_cast<int64_t>(colIdx[e]) * D;
    for (int v = 0; v < V; ++v) acc[v] += w * vload(x + v * kLanes);
  }
  for (int v = 0; v < V; ++v) vstore(y + v * kLanes, acc[v]);
}

void rowAny(int64_t e0, int64_t e1, const int32_t* colIdx, const float* values, const float* X, int64_t d, float* y) {
  float acc[256];  // d <= 256 is checked by the caller (SPMM_MAX_D)
  std::fill(acc, acc + d, 0.f);
  for (int64_t e = e0; e < e1; ++e) {
    const float w = values[e];
    const float* x = X + static_cast<int64_t>(colIdx[e]) * d;
    for (int64_t c = 0; c < d; ++c) acc[c] += w * x[c];
  }
  std::memcpy(y, acc, static_cast<size_t>(d) * sizeof(float));
}

}  // namespace

void checkIndexCsr(int64_t nRows, const int32_t* rowPtr, int64_t nnz, const int32_t* colIdx, int64_t nCols,
                   const char* name) {
  const std::string nm(name);
  if (rowPtr[0] != 0) throwInput(nm + ".rowPtr", 0, "0, got " + std::to_string(rowPtr[0]));
  for (int64_t r = 0; r < nRows; ++r)
    if (rowPtr[r + 1] < rowPtr[r] || rowPtr[r + 1] > nnz)
      throwInput(nm + ".rowPtr", r + 1, "a value in [rowPtr[" + std::to_string(r) + "] = " + std::to_string(rowPtr[r]) +
                                            ", " + std::to_string(nnz) + "], got " + std::to_string(rowPtr[r + 1]));
  if (rowPtr[nRows] != nnz)
    throwInput(nm + ".rowPtr", nRows, std::to_string(nnz) + " (the length of colIdx), got " + std::to_string(rowPtr[nRows]));
  // Columns in parallel chunks; the lowest failing chunk's error is the one thrown, and
  // within a chunk the first bad entry, so the message does not depend on the threads.
  const int64_t chunk = 1 << 18;
  parallelFor((nnz + chunk - 1) / chunk, [&](int64_t p) {
    for (int64_t j = p * chunk; j < std::min(nnz, (p + 1) * chunk); ++j)
      if (colIdx[j] < 0 || colIdx[j] >= nCols)
        throwInput(nm + ".colIdx", j, "a column in [0, " + std::to_string(nCols) + "), got " + std::to_string(colIdx[j]));
  });
}

void spmm(int64_t nRows, const int32_t* rowPtr, const int32_t* colIdx, const float* values, const float* X, int64_t d,
          float* Y) {
  if (nRows <= 0) return;
  const int64_t work = (static_cast<int64_t>(rowPtr[nRows]) - rowPtr[0] + nRows) * d;
  const int parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(4096, work / (1 << 16))));
  const auto bounds = rowSplit(rowPtr, nRows, parts);
  parallelFor(parts, [&](int64_t p) {
    for (int64_t r = bounds[p]; r < bounds[p + 1]; ++r) {
      const int64_t e0 = rowPtr[r], e1 = rowPtr[r + 1];
      float* y = Y + r * d;
      if (d == 64 && 64 % kLanes == 0) rowFixed<64>(e0, e1, colIdx, values, X, y);
      else if (d == 32 && 32 % kLanes == 0) rowFixed<32>(e0, e1, colIdx, values, X, y);
      else if (d == 128 && 128 % kLanes == 0) rowFixed<128>(e0, e1, colIdx, values, X, y);
      else rowAny(e0, e1, colIdx, values, X, d, y);
    }
  });
}

}  // namespace kern
}  // namespace gnnrl
