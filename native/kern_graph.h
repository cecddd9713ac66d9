// The native backend's graph kernels beside SpMM: max aggregation (GraphSAGE-max) and
// graph attention (GATConv's sparse part), forward and backward. N-API free like kern.h;
// contracts as the TypeScript references in src/kernels/spmm-max.ts and src/kernels/gat.ts,
// whose float64 sums they follow in the same order, so results agree to rounding.
#pragma once
#include <cstdint>

namespace gnnrl {
namespace kern {

// y[i, c] = max over row i's columns j of x[j, c] (the first, lowest-CSR-position maximum
// wins), argmax[i, c] = that j; a row without columns gives 0 and −1. CSR well-formed.
void maxAggregate(int64_t nRows, const int32_t* rowPtr, const int32_t* colIdx, const float* x, int64_t d, float* y,
                  int32_t* argmax);

// dx[j, c] = Σ_i [argmax[i, c] = j] dy[i, c] (summed in double, i ascending); argmax
// entries are −1 or in [0, nSrc) (checked here: an input error names the first bad one).
void maxAggregateBackward(int64_t nRows, int64_t nSrc, const int32_t* argmax, const float* dy, int64_t d, float* dx);

// Attention over CSR rows (row i = destination, columns j = sources) with `heads` heads of
// `f` columns: α_ij = softmax_j(LeakyReLU(el[i, k] + er[j, k])), out[i, k·f + c] =
// Σ_j α_ij h[j, k·f + c]; rowStat[2(i·heads + k)] = the log-sum-exp (−3e38 for a row
// without columns) and [.. + 1] = 0.
struct GatShape {
  int64_t nDst = 0, nSrc = 0, heads = 0, f = 0;
  double slope = 0.2;
};
void gatForward(const GatShape& s, const int32_t* rowPtr, const int32_t* colIdx, const float* h, const float* el,
                const float* er, float* out, float* rowStat);

// The backward of Σ dOut ⊙ out with respect to h, el and er. The transpose (tRowPtr over
// sources, tDst the destination and tEdge the edge id of each entry, edges ascending
// within a source) lets each source's gradients be summed by one part, without atomics.
struct GatTranspose {
  const int32_t* rowPtr = nullptr;
  const int32_t* dst = nullptr;
  const int32_t* edge = nullptr;
};
void gatBackward(const GatShape& s, const int32_t* rowPtr, const int32_t* colIdx, const GatTranspose& t, const float* h,
                 const float* el, const float* er, const float* dOut, float* dH, float* dEl, float* dEr);

}  // namespace kern
}  // namespace gnnrl
