// Row softmax and log-softmax of the native backend, and their backwards from the saved
// output, as src/kernels/softmax.ts computes them: the row max (NaN propagating, as
// Math.max does), log Σ exp(x − max) in double, each output rounded to float once.
// Rows are split into fixed parts (about 32k elements each), chosen from the shape alone,
// so every row is computed by one part in the same order whatever the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kern.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

template <class Row>
void forRows(int64_t rows, int64_t cols, Row row) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t per = std::max<int64_t>(1, (int64_t(1) << 15) / cols);
  parallelFor((rows + per - 1) / per, [&](int64_t p) {
    const int64_t r1 = std::min(rows, (p + 1) * per);
    for (int64_t r = p * per; r < r1; ++r) row(r * cols);
  });
}

}  // namespace

void softmax(const float* x, int64_t rows, int64_t cols, bool log, float* out) {
  forRows(rows, cols, [&](int64_t o) {
    double m = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) {
      const double v = x[o + c];
      if (std::isnan(v) || v > m) m = std::isnan(m) ? m : v;
    }
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += std::exp(static_cast<double>(x[o + c]) - m);
    const double lse = m + std::log(s);
    if (log)
      for (int64_t c = 0; c < cols; ++c) out[o + c] = static_cast<float>(static_cast<double>(x[o + c]) - lse);
    else
      for (int64_t c = 0; c < cols; ++c) out[o + c] = static_cast<float>(std::exp(static_cast<double>(x[o + c]) - lse));
  });
}

void softmaxBackward(const float* y, const float* g, int64_t rows, int64_t cols, bool log, float* out) {
  forRows(rows, cols, [&](int64_t o) {
    double d = 0;
    if (log)
      for (int64_t c = 0; c < cols; ++c) d += g[o + c];
    else
      for (int64_t c = 0; c < cols; ++c) d += static_cast<double>(g[o + c]) * y[o + c];
    if (log)
      for (int64_t c = 0; c < cols; ++c) out[o + c] = static_cast<float>(g[o + c] - std::exp(static_cast<double>(y[o + c])) * d);
    else
      for (int64_t c = 0; c < cols; ++c) out[o + c] = static_cast<float>(y[o + c] * (g[o + c] - d));
  });
}

}  // namespace kern
}  // namespace gnnrl
