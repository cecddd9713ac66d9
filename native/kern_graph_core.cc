// Max aggregation and graph attention on the kernel pool (see kern_graph.h for the
// contracts). Destination rows are split into parts of about equal nnz + rows; each
// output element is written by exactly one part and summed in a fixed order (CSR order
// for rows, edge order for sources through the transpose), so results do not depend on
// the thread count. Sums are in double, as in the TypeScript references.
#include "kern_simd.h"  // first: sets the floating-point contraction for this file

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core_error.h"
#include "core_threads.h"
#include "kern_graph.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

int partsFor(int64_t work) { return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(4096, work / (1 << 15)))); }

inline double lrelu(double z, double slope) { return z > 0 ? z : z * slope; }

}  // namespace

void maxAggregate(int64_t nRows, const int32_t* rowPtr, const int32_t* colIdx, const float* x, int64_t d, float* y,
                  int32_t* argmax) {
  if (nRows <= 0 || d <= 0) return;
  const int parts = partsFor((static_cast<int64_t>(rowPtr[nRows]) + nRows) * d);
  const auto bounds = rowSplit(rowPtr, nRows, parts);
  parallelFor(parts, [&](int64_t p) {
    for (int64_t i = bounds[p]; i < bounds[p + 1]; ++i) {
      float* yi = y + i * d;
      int32_t* ai = argmax + i * d;
      std::fill(yi, yi + d, 0.f);
      std::fill(ai, ai + d, -1);
      for (int64_t e = rowPtr[i]; e < rowPtr[i + 1]; ++e) {
        const int32_t j = colIdx[e];
        const float* xj = x + static_cast<int64_t>(j) * d;
        for (int64_t c = 0; c < d; ++c)
          if (ai[c] < 0 || xj[c] > yi[c]) {
            yi[c] = xj[c];
            ai[c] = j;
          }
      }
    }
  });
}

void maxAggregateBackward(int64_t nRows, int64_t nSrc, const int32_t* argmax, const float* dy, int64_t d, float* dx) {
  if (d <= 0) return;
  const int64_t n = nRows * d;
  for (int64_t k = 0; k < n; ++k)
    if (argmax[k] < -1 || argmax[k] >= nSrc)
      throwInput("argmax", k, "-1 or a source in [0, " + std::to_string(nSrc) + "), got " + std::to_string(argmax[k]));
  // Parts own column blocks: every (j, c) is summed by one part, over i ascending.
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(d, 16));
  const int64_t nBlocks = (d + block - 1) / block;
  std::vector<double> acc(static_cast<size_t>(nSrc * d), 0.0);
  parallelFor(nBlocks, [&](int64_t b) {
    const int64_t c0 = b * block, c1 = std::min(d, c0 + block);
    for (int64_t i = 0; i < nRows; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        const int32_t j = argmax[i * d + c];
        if (j >= 0) acc[static_cast<size_t>(j) * d + c] += dy[i * d + c];
      }
    for (int64_t j = 0; j < nSrc; ++j)
      for (int64_t c = c0; c < c1; ++c) dx[j * d + c] = static_cast<float>(acc[static_cast<size_t>(j) * d + c]);
  });
}

void gatForward(const GatShape& s, const int32_t* rowPtr, const int32_t* colIdx, const float* h, const float* el,
                const float* er, float* out, float* rowStat) {
  const int64_t nRows = s.nDst, K = s.heads, F = s.f, W = K * F;
  if (nRows <= 0 || K <= 0) return;
  const int parts = partsFor((static_cast<int64_t>(rowPtr[nRows]) + nRows) * W);
  const auto bounds = rowSplit(rowPtr, nRows, parts);
  parallelFor(parts, [&](int64_t p) {
    // Per row: every edge's K scores in one pass over the columns (er read once per edge),
    // then one sweep over the edges accumulating whole h rows (contiguous, all heads), in
    // the reference's order per (head, column): edges ascending.
    std::vector<double> acc(static_cast<size_t>(W)), m(static_cast<size_t>(K)), sum(static_cast<size_t>(K));
    std::vector<double> z;
    for (int64_t i = bounds[p]; i < bounds[p + 1]; ++i) {
      const int64_t e0 = rowPtr[i], e1 = rowPtr[i + 1], n = e1 - e0;
      float* o = out + i * W;
      float* st = rowStat + 2 * i * K;
      if (n == 0) {
        std::fill(o, o + W, 0.f);
        for (int64_t k = 0; k < K; ++k) {
          st[2 * k] = -3e38f;
          st[2 * k + 1] = 0.f;
        }
        continue;
      }
      z.resize(static_cast<size_t>(n * K));
      std::fill(m.begin(), m.end(), -INFINITY);
      const float* eli = el + i * K;
      for (int64_t q = 0; q < n; ++q) {
        const float* erj = er + static_cast<int64_t>(colIdx[e0 + q]) * K;
        for (int64_t k = 0; k < K; ++k) {
          const double v = lrelu(static_cast<double>(eli[k]) + erj[k], s.slope);
          z[q * K + k] = v;
          m[k] = std::max(m[k], v);
        }
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t q = 0; q < n; ++q) {
        const float* hj = h + static_cast<int64_t>(colIdx[e0 + q]) * W;
        for (int64_t k = 0; k < K; ++k) {
          const double w = std::exp(z[q * K + k] - m[k]);
          sum[k] += w;
          double* a = acc.data() + k * F;
          const float* hk = hj + k * F;
          for (int64_t c = 0; c < F; ++c) a[c] += w * hk[c];
        }
      }
      for (int64_t k = 0; k < K; ++k) {
        for (int64_t c = 0; c < F; ++c) o[k * F + c] = static_cast<float>(acc[k * F + c] / sum[k]);
        st[2 * k] = static_cast<float>(m[k] + std::log(sum[k]));
        st[2 * k + 1] = 0.f;
      }
    }
  });
}

void gatBackward(const GatShape& s, const int32_t* rowPtr, const int32_t* colIdx, const GatTranspose& t, const float* h,
                 const float* el, const float* er, const float* dOut, float* dH, float* dEl, float* dEr) {
  const int64_t nRows = s.nDst, nSrc = s.nSrc, K = s.heads, F = s.f, W = K * F;
  const int64_t nnz = nRows > 0 ? rowPtr[nRows] : 0;
  // Pass 1, over destination rows: each edge's α and ∂L/∂z per head, and dEl.
  std::vector<double> alpha(static_cast<size_t>(nnz * K)), dz(static_cast<size_t>(nnz * K));
  if (nRows > 0 && K > 0) {
    const int parts = partsFor((nnz + nRows) * W);
    const auto bounds = rowSplit(rowPtr, nRows, parts);
    parallelFor(parts, [&](int64_t p) {
      std::vector<double> z, ex, dal;
      for (int64_t i = bounds[p]; i < bounds[p + 1]; ++i) {
        const int64_t e0 = rowPtr[i], e1 = rowPtr[i + 1], n = e1 - e0;
        z.resize(static_cast<size_t>(n));
        ex.resize(static_cast<size_t>(n));
        dal.resize(static_cast<size_t>(n));
        for (int64_t k = 0; k < K; ++k) {
          const double eli = el[i * K + k];
          double m = -INFINITY;
          for (int64_t q = 0; q < n; ++q) {
            z[q] = eli + er[static_cast<int64_t>(colIdx[e0 + q]) * K + k];
            m = std::max(m, lrelu(z[q], s.slope));
          }
          double tot = 0;
          for (int64_t q = 0; q < n; ++q) tot += (ex[q] = std::exp(lrelu(z[q], s.slope) - m));  // one exp per edge and head
          const float* g = dOut + i * W + k * F;
          double dot = 0;
          for (int64_t q = 0; q < n; ++q) {
            const double a = ex[q] / tot;
            alpha[static_cast<size_t>((e0 + q) * K + k)] = a;
            const float* hj = h + static_cast<int64_t>(colIdx[e0 + q]) * W + k * F;
            double d = 0;
            for (int64_t c = 0; c < F; ++c) d += static_cast<double>(g[c]) * hj[c];
            dal[q] = d;
            dot += a * d;
          }
          double sumDz = 0;
          for (int64_t q = 0; q < n; ++q) {
            const double a = alpha[static_cast<size_t>((e0 + q) * K + k)];
            const double v = a * (dal[q] - dot) * (z[q] > 0 ? 1.0 : s.slope);
            dz[static_cast<size_t>((e0 + q) * K + k)] = v;
            sumDz += v;
          }
          dEl[i * K + k] = static_cast<float>(sumDz);
        }
      }
    });
  } else if (nRows > 0) {
    std::fill(dEl, dEl + nRows * K, 0.f);
  }
  // Pass 2, over sources through the transpose: dEr and dH, edges ascending.
  if (nSrc <= 0 || K <= 0) return;
  const int parts = partsFor((nnz + nSrc) * W);
  const auto bounds = rowSplit(t.rowPtr, nSrc, parts);
  parallelFor(parts, [&](int64_t p) {
    std::vector<double> acc(static_cast<size_t>(W));
    std::vector<double> accR(static_cast<size_t>(K));
    for (int64_t j = bounds[p]; j < bounds[p + 1]; ++j) {
      std::fill(acc.begin(), acc.end(), 0.0);
      std::fill(accR.begin(), accR.end(), 0.0);
      for (int64_t q = t.rowPtr[j]; q < t.rowPtr[j + 1]; ++q) {
        const int64_t e = t.edge[q], i = t.dst[q];
        const float* g = dOut + i * W;
        for (int64_t k = 0; k < K; ++k) {
          const double a = alpha[static_cast<size_t>(e * K + k)];
          accR[k] += dz[static_cast<size_t>(e * K + k)];
          for (int64_t c = 0; c < F; ++c) acc[k * F + c] += a * g[k * F + c];
        }
      }
      for (int64_t k = 0; k < K; ++k) dEr[j * K + k] = static_cast<float>(accR[k]);
      for (int64_t c = 0; c < W; ++c) dH[j * W + c] = static_cast<float>(acc[c]);
    }
  });
}

}  // namespace kern
}  // namespace gnnrl
