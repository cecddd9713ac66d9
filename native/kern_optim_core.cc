// Adam / AdamW of the native backend, in place, with the rounding points of
// src/kernels/optim.ts's adamRef (itself the shader's): the moments are rounded to float
// when stored, everything else is double until w is stored. Fixed blocks of elements on
// the pool, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kern.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {

void adam(float* w, const float* g, float* m, float* v, int64_t n, double clip, const AdamHyper& h) {
  const double bc1 = static_cast<float>(1 - std::pow(h.beta1, h.step));
  const double bc2 = static_cast<float>(1 - std::pow(h.beta2, h.step));
  const int64_t block = 1 << 15;
  parallelFor((n + block - 1) / block, [&](int64_t p) {
    const int64_t i1 = std::min(n, (p + 1) * block);
    for (int64_t i = p * block; i < i1; ++i) {
      const double wi = w[i];
      double gi = static_cast<double>(g[i]) * clip;
      if (!h.decoupled) gi += h.weightDecay * wi;
      const float mi = static_cast<float>(h.beta1 * m[i] + (1 - h.beta1) * gi);
      const float vi = static_cast<float>(h.beta2 * v[i] + (1 - h.beta2) * gi * gi);
      m[i] = mi;
      v[i] = vi;
      double step = mi / bc1 / (std::sqrt(vi / bc2) + h.eps);
      if (h.decoupled) step += h.weightDecay * wi;
      w[i] = static_cast<float>(wi - h.lr * step);
    }
  });
}

}  // namespace kern
}  // namespace gnnrl
