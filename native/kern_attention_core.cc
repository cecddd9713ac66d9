// Sequence self-attention on the kernel pool: one part per block of sequences, each
// sequence computed by one part in the references' order (kern_attention.h), so results
// do not depend on the thread count.
#include "kern_simd.h"  // first: sets the floating-point contraction for this file

#include <algorithm>
#include <cmath>
#include <vector>

#include "kern_attention.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

// Probabilities of query i of sequence b over its visible keys (p[0, lim)), and the
// log-sum-exp; returns lim.
int64_t attentionRow(const SeqAttentionShape& s, const float* q, const float* k, int64_t b, int64_t i, int64_t n,
                     double* p, double* lse) {
  const int64_t L = s.len, d = s.d;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const int64_t lim = s.causal ? i + 1 : n;
  const float* qi = q + (b * L + i) * d;
  double m = -INFINITY;
  for (int64_t j = 0; j < lim; ++j) {
    const float* kj = k + (b * L + j) * d;
    double dot = 0;
    for (int64_t c = 0; c < d; ++c) dot += static_cast<double>(qi[c]) * kj[c];
    p[j] = dot * scale;
    m = std::max(m, p[j]);
  }
  double tot = 0;
  for (int64_t j = 0; j < lim; ++j) tot += (p[j] = std::exp(p[j] - m));
  for (int64_t j = 0; j < lim; ++j) p[j] /= tot;
  *lse = m + std::log(tot);
  return lim;
}

int64_t lengthOf(const SeqAttentionShape& s, int64_t b) { return s.lengths ? s.lengths[b] : s.len; }

int64_t partsFor(const SeqAttentionShape& s) {
  const int64_t work = s.batch * s.len * s.len * (s.d + s.dv);
  return std::max<int64_t>(1, std::min<int64_t>(s.batch, std::min<int64_t>(4096, work / (1 << 15))));
}

}  // namespace

void seqAttentionForward(const SeqAttentionShape& s, const float* q, const float* k, const float* v, float* z,
                         float* pooled, float* rowStat) {
  const int64_t B = s.batch, L = s.len, dv = s.dv;
  if (B <= 0) return;
  const int64_t parts = partsFor(s);
  parallelFor(parts, [&](int64_t part) {
    std::vector<double> p(static_cast<size_t>(L)), zs(static_cast<size_t>(L * dv));
    for (int64_t b = part * B / parts; b < (part + 1) * B / parts; ++b) {
      const int64_t n = lengthOf(s, b);
      std::fill(zs.begin(), zs.end(), 0.0);
      for (int64_t i = 0; i < L; ++i) {
        float* st = rowStat + 2 * (b * L + i);
        st[1] = 0.f;
        if (i >= n) {
          st[0] = -3e38f;
          continue;
        }
        double lse = 0;
        const int64_t lim = attentionRow(s, q, k, b, i, n, p.data(), &lse);
        st[0] = static_cast<float>(lse);
        double* zi = zs.data() + i * dv;
        for (int64_t j = 0; j < lim; ++j) {
          const float* vj = v + (b * L + j) * dv;
          for (int64_t c = 0; c < dv; ++c) zi[c] += p[j] * vj[c];
        }
      }
      for (int64_t x = 0; x < L * dv; ++x) z[b * L * dv + x] = static_cast<float>(zs[x]);
      if (pooled && s.weights) {
        for (int64_t c = 0; c < dv; ++c) {
          double acc = 0;
          for (int64_t i = 0; i < L; ++i) acc += s.weights[i] * zs[i * dv + c];
          pooled[b * dv + c] = static_cast<float>(acc);
        }
      }
    }
  });
}

void seqAttentionBackward(const SeqAttentionShape& s, const float* q, const float* k, const float* v, const float* dOut,
                          float* dq, float* dk, float* dV) {
  const int64_t B = s.batch, L = s.len, d = s.d, dv = s.dv;
  if (B <= 0) return;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const int64_t parts = partsFor(s);
  parallelFor(parts, [&](int64_t part) {
    std::vector<double> p(static_cast<size_t>(L)), dP(static_cast<size_t>(L)), dz(static_cast<size_t>(dv));
    std::vector<double> gq(static_cast<size_t>(L * d)), gk(static_cast<size_t>(L * d)), gv(static_cast<size_t>(L * dv));
    for (int64_t b = part * B / parts; b < (part + 1) * B / parts; ++b) {
      const int64_t n = lengthOf(s, b);
      std::fill(gq.begin(), gq.end(), 0.0);
      std::fill(gk.begin(), gk.end(), 0.0);
      std::fill(gv.begin(), gv.end(), 0.0);
      for (int64_t i = 0; i < n; ++i) {
        double lse = 0;
        const int64_t lim = attentionRow(s, q, k, b, i, n, p.data(), &lse);
        for (int64_t c = 0; c < dv; ++c)
          dz[c] = s.weights ? static_cast<double>(s.weights[i]) * dOut[b * dv + c] : dOut[(b * L + i) * dv + c];
        double delta = 0;
        for (int64_t j = 0; j < lim; ++j) {
          const float* vj = v + (b * L + j) * dv;
          double t = 0;
          for (int64_t c = 0; c < dv; ++c) t += dz[c] * vj[c];
          dP[j] = t;
          delta += p[j] * t;
        }
        const float* qi = q + (b * L + i) * d;
        for (int64_t j = 0; j < lim; ++j) {
          const double ds = p[j] * (dP[j] - delta) * scale;
          const float* kj = k + (b * L + j) * d;
          for (int64_t c = 0; c < d; ++c) {
            gq[i * d + c] += ds * kj[c];
            gk[j * d + c] += ds * qi[c];
          }
          for (int64_t c = 0; c < dv; ++c) gv[j * dv + c] += p[j] * dz[c];
        }
      }
      for (int64_t x = 0; x < L * d; ++x) {
        dq[b * L * d + x] = static_cast<float>(gq[x]);
        dk[b * L * d + x] = static_cast<float>(gk[x]);
      }
      for (int64_t x = 0; x < L * dv; ++x) dV[b * L * dv + x] = static_cast<float>(gv[x]);
    }
  });
}

}  // namespace kern
}  // namespace gnnrl
