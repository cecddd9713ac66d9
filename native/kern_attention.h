// The native backend's sequence self-attention (DDPG-LA's short-term interest), forward
// and backward; N-API free. Contract as the TypeScript references in
// src/kernels/seq-attention.ts: per sequence b, Z = softmax(Q·Kᵀ/√d [causal]) · V over
// its first n_b positions (padded rows give 0), the pooled Σ_i w_i Z_i when weights are
// given, and rowStat = (log-sum-exp, 0) per row (−3e38 for a padded row). Sums in double.
#pragma once
#include <cstdint>

namespace gnnrl {
namespace kern {

struct SeqAttentionShape {
  int64_t batch = 0, len = 0, d = 0, dv = 0;
  bool causal = false;
  const int32_t* lengths = nullptr;  // batch entries in [0, len], or null (all len)
  const float* weights = nullptr;    // len entries, or null (no pooling)
};

void seqAttentionForward(const SeqAttentionShape& s, const float* q, const float* k, const float* v, float* z,
                         float* pooled, float* rowStat);

// Gradients of Σ dOut ⊙ out, out = pooled (weights given: dOut is batch × dv) or Z
// (dOut batch × len × dv).
void seqAttentionBackward(const SeqAttentionShape& s, const float* q, const float* k, const float* v, const float* dOut,
                          float* dq, float* dk, float* dv);

}  // namespace kern
}  // namespace gnnrl
