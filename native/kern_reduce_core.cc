// Reductions of the native backend (src/kernels/reduce.ts): sum, sum of squares or max
// over everything, per row or per column of a row-major [rows, cols] matrix, in double,
// times `scale`. Per row and per column the order is the reference's (left to right, top
// to bottom), so those results match it exactly; over everything the sum is split into
// fixed blocks whose partial sums are added in block order, so it depends on the shape
// only, never on the thread count. max propagates NaN as Math.max does.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core_error.h"
#include "kern.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

constexpr double kFloatMax = 3.4028234663852886e38;

inline double combine(int op, double acc, double v) {
  if (op == 0) return acc + v;
  if (op == 1) return acc + v * v;
  return (std::isnan(acc) || std::isnan(v)) ? NAN : std::max(acc, v);
}

}  // namespace

void reduce(int op, const float* x, int64_t rows, int64_t cols, int axis, double scale, float* out) {
  if (op < 0 || op > 2) throwInput("op", 0, "0 (sum), 1 (sumsq) or 2 (max), got " + std::to_string(op));
  const double init = op == 2 ? -kFloatMax : 0.0;
  if (axis == 0) {
    const int64_t n = rows * cols;
    const int64_t block = 1 << 15;
    const int64_t parts = (n + block - 1) / block;
    std::vector<double> partial(static_cast<size_t>(std::max<int64_t>(parts, 1)), init);
    parallelFor(parts, [&](int64_t p) {
      double acc = init;
      const int64_t i1 = std::min(n, (p + 1) * block);
      for (int64_t i = p * block; i < i1; ++i) acc = combine(op, acc, x[i]);
      partial[static_cast<size_t>(p)] = acc;
    });
    double acc = init;
    for (int64_t p = 0; p < parts; ++p) acc = op == 2 ? combine(2, acc, partial[static_cast<size_t>(p)]) : acc + partial[static_cast<size_t>(p)];
    out[0] = static_cast<float>(acc * scale);
    return;
  }
  if (axis == 1) {
    if (rows <= 0) return;
    const int64_t per = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(cols, 1));
    parallelFor((rows + per - 1) / per, [&](int64_t p) {
      const int64_t r1 = std::min(rows, (p + 1) * per);
      for (int64_t r = p * per; r < r1; ++r) {
        double acc = init;
        for (int64_t c = 0; c < cols; ++c) acc = combine(op, acc, x[r * cols + c]);
        out[r] = static_cast<float>(acc * scale);
      }
    });
    return;
  }
  if (axis != 2) throwInput("axis", 0, "0 (all), 1 (rows) or 2 (cols), got " + std::to_string(axis));
  if (cols <= 0) return;
  // Column blocks: each column summed top to bottom by one part.
  const int64_t width = 64;
  parallelFor((cols + width - 1) / width, [&](int64_t p) {
    const int64_t c0 = p * width, c1 = std::min(cols, c0 + width);
    double acc[64];
    std::fill(acc, acc + (c1 - c0), init);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] = combine(op, acc[c - c0], x[r * cols + c]);
    for (int64_t c = c0; c < c1; ++c) out[c] = static_cast<float>(acc[c - c0] * scale);
  });
}

}  // namespace kern
}  // namespace gnnrl
