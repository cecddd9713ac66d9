// Element-wise kernels of the native backend: the unary and binary op families of
// src/kernels/elementwise.ts (op codes kept in sync with its UNARY and BINARY tables),
// with the same broadcast strides. Each element is computed in double and rounded to
// float once, as the TypeScript reference does, so the two agree to the last bit but for
// the libm functions (exp, log, tanh, log1p), which may differ by an ulp of double.
//
// Every op is a template instantiation of one loop, so the op switch runs once per call
// rather than once per element. Parts are fixed blocks of elements (or of rows), chosen
// from the size alone: each output element is written by exactly one part, and results do
// not depend on the thread count.
//
// Unlike the dense kernels this file does not include kern_simd.h, so the build's
// -ffp-contract=off holds (no fused multiply-add): the double arithmetic then rounds as
// the reference's does.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core_error.h"
#include "kern.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

constexpr int64_t kBlock = 1 << 15;  // elements per part: big enough to amortise a task

inline double sigmoidD(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}
inline double softplusD(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

// The counter-based hash of src/util/rng.ts's hashU32 (PCG's output permutation).
inline uint32_t hashU32(uint32_t seed, uint32_t counter) {
  uint32_t h = counter * 747796405u + seed;
  h = ((h >> ((h >> 28) + 4)) ^ h) * 277803737u;
  return (h >> 22) ^ h;
}

template <class F>
void mapUnary(const float* x, float* out, int64_t n, F f) {
  const int64_t parts = (n + kBlock - 1) / kBlock;
  parallelFor(parts, [&](int64_t p) {
    const int64_t i1 = std::min(n, (p + 1) * kBlock);
    for (int64_t i = p * kBlock; i < i1; ++i) out[i] = static_cast<float>(f(static_cast<double>(x[i]), out[i], i));
  });
}

template <class G>
void mapBinary(const float* a, const float* b, float* out, const Broadcast& bc, G g) {
  const int64_t rows = bc.rows, cols = bc.cols;
  if (rows <= 0 || cols <= 0) return;
  const int64_t rowsPerPart = std::max<int64_t>(1, kBlock / cols);
  const int64_t parts = (rows + rowsPerPart - 1) / rowsPerPart;
  const bool full = bc.aRs == cols && bc.aCs == 1 && bc.bRs == cols && bc.bCs == 1;
  parallelFor(parts, [&](int64_t p) {
    const int64_t r1 = std::min(rows, (p + 1) * rowsPerPart);
    if (full) {
      // Contiguous operands: one flat loop the compiler can vectorise.
      const int64_t e0 = p * rowsPerPart * cols, e1 = r1 * cols;
      for (int64_t e = e0; e < e1; ++e) out[e] = static_cast<float>(g(static_cast<double>(a[e]), static_cast<double>(b[e])));
      return;
    }
    for (int64_t r = p * rowsPerPart; r < r1; ++r) {
      const float* ar = a + r * bc.aRs;
      const float* br = b + r * bc.bRs;
      float* o = out + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        o[c] = static_cast<float>(g(static_cast<double>(ar[c * bc.aCs]), static_cast<double>(br[c * bc.bCs])));
    }
  });
}

}  // namespace

void unary(int op, const float* x, float* out, int64_t n, const UnaryParams& prm) {
  const double alpha = prm.alpha, beta = prm.beta;
  switch (op) {
    case 0: return mapUnary(x, out, n, [=](double v, float, int64_t) { return alpha * v + beta; });
    case 1: return mapUnary(x, out, n, [](double v, float, int64_t) { return v > 0 ? v : 0.0; });
    case 2: return mapUnary(x, out, n, [=](double v, float, int64_t) { return v > 0 ? v : alpha * v; });
    case 3: return mapUnary(x, out, n, [](double v, float, int64_t) { return sigmoidD(v); });
    case 4: return mapUnary(x, out, n, [](double v, float, int64_t) { return std::tanh(v); });
    case 5: return mapUnary(x, out, n, [](double v, float, int64_t) { return std::exp(v); });
    case 6: return mapUnary(x, out, n, [](double v, float, int64_t) { return std::log(v); });
    case 7: return mapUnary(x, out, n, [](double v, float, int64_t) { return softplusD(v); });
    case 8: return mapUnary(x, out, n, [](double v, float, int64_t) { return -softplusD(-v); });
    case 9: {
      const uint32_t seed = prm.seed, thresh = prm.threshold;
      return mapUnary(x, out, n, [=](double v, float, int64_t i) {
        return hashU32(seed, static_cast<uint32_t>(i)) >= thresh ? v * alpha : 0.0;
      });
    }
    case 10: return mapUnary(x, out, n, [](double v, float, int64_t) { return v * v; });
    case 11: return mapUnary(x, out, n, [](double v, float, int64_t) { return std::sqrt(v); });
    case 12: return mapUnary(x, out, n, [=](double, float, int64_t) { return beta; });
    case 13: return mapUnary(x, out, n, [=](double v, float y, int64_t) { return static_cast<double>(y) + alpha * v; });
    default: throwInput("op", 0, "a unary op code in [0, 13], got " + std::to_string(op));
  }
}

void binary(int op, const float* a, const float* b, float* out, const Broadcast& bc, double alpha, double beta) {
  switch (op) {
    case 0: return mapBinary(a, b, out, bc, [=](double x, double y) { return alpha * x + beta * y; });
    case 1: return mapBinary(a, b, out, bc, [=](double x, double y) { return alpha * x * y; });
    case 2: return mapBinary(a, b, out, bc, [=](double x, double y) { return (alpha * x) / y; });
    case 3: return mapBinary(a, b, out, bc, [](double g, double x) { return x > 0 ? g : 0.0; });
    case 4: return mapBinary(a, b, out, bc, [=](double g, double x) { return x > 0 ? g : alpha * g; });
    case 5: return mapBinary(a, b, out, bc, [](double g, double y) { return g * y * (1 - y); });
    case 6: return mapBinary(a, b, out, bc, [](double g, double y) { return g * (1 - y * y); });
    case 7: return mapBinary(a, b, out, bc, [](double g, double x) { return g * sigmoidD(x); });
    case 8: return mapBinary(a, b, out, bc, [](double g, double x) { return g * sigmoidD(-x); });
    case 9: return mapBinary(a, b, out, bc, [](double x, double y) { return (x - y) * (x - y); });
    case 10:
      return mapBinary(a, b, out, bc, [=](double x, double y) {
        const double d = std::fabs(x - y);
        return d <= alpha ? 0.5 * d * d : alpha * (d - 0.5 * alpha);
      });
    case 11:
      return mapBinary(a, b, out, bc, [=](double x, double y) {
        const double d = x - y;  // NaN passes through, as Math.min/Math.max let it
        return std::isnan(d) ? d : std::min(alpha, std::max(-alpha, d));
      });
    case 12: return mapBinary(a, b, out, bc, [](double x, double y) { return softplusD(y - x); });
    case 13: return mapBinary(a, b, out, bc, [](double x, double y) { return -sigmoidD(y - x); });
    case 14: return mapBinary(a, b, out, bc, [=](double, double y) { return alpha * y + beta; });
    case 15: return mapBinary(a, b, out, bc, [](double g, double y) { return (g * 0.5) / y; });
    default: throwInput("op", 0, "a binary op code in [0, 15], got " + std::to_string(op));
  }
}

}  // namespace kern
}  // namespace gnnrl
