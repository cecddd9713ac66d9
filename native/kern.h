// The native backend's kernels (N-API free, so scripts/native-sanitize.sh can build them
// alone). Inputs are raw pointers into JS typed arrays, checked by the binding layer
// (napi_kernels.cc); every kernel runs on the pool of kern_pool.h and writes each output
// element from exactly one part, in an order that does not depend on the thread count.
#pragma once
#include <cstdint>

namespace gnnrl {
namespace kern {

// C[M, N] = op(A)·op(B): A is [M, K] or, transA, [K, M]; B is [K, N] or, transB, [N, K].
// Register-blocked micro-kernel (kGemmMR × kGemmNR outputs) over packed panels, cache
// blocks of kGemmKC × kGemmNC, row blocks spread over the pool.
struct GemmShape {
  int64_t M = 0, K = 0, N = 0;
  bool transA = false, transB = false;
};
void gemm(const float* A, const float* B, float* C, const GemmShape& s);

// Items each row must skip: CSR over the batch rows (any column order, duplicates
// allowed), columns in [0, nItems) (checked by the caller).
struct Exclusions {
  const int32_t* rowPtr = nullptr;  // null: none
  const int32_t* colIdx = nullptr;
};

// Fused DQN targets over the whole catalogue: per row, a* = the first best non-excluded
// item under `chooser` (s·e + bias, ties to the lower index, the first eligible item even
// when its score is NaN), y = r + γ(1 − done)·q with q the chooser's best score (plain)
// or the value table's score of a* (Double DQN, `value` non-null); q = 0 and a* = −1 when
// every item is excluded. Scores are computed tile by tile and never stored.
struct QTargetArgs {
  const float* next = nullptr;  // batch × dim
  int64_t batch = 0, dim = 0, nItems = 0;
  const float* chooser = nullptr;      // nItems × dim
  const float* chooserBias = nullptr;  // nItems or null
  const float* value = nullptr;        // Double DQN's target table, or null (plain DQN)
  const float* valueBias = nullptr;
  const float* reward = nullptr;
  const float* done = nullptr;
  Exclusions exclude;
  float gamma = 0;
};
void qtarget(const QTargetArgs& a, float* y, int32_t* argmax);

// The k best non-excluded items per row (score desc, index asc), best first; −1 and −∞
// past the number of eligible items. Scores are tiled as in qtarget, never stored.
struct TopKArgs {
  const float* queries = nullptr;  // batch × dim
  int64_t batch = 0, dim = 0, nItems = 0, k = 0;
  const float* items = nullptr;  // nItems × dim
  const float* bias = nullptr;
  Exclusions exclude;
};
void topk(const TopKArgs& a, int32_t* indices, float* scores);

// Y[nRows, d] = A·X over CSR A (well-formed: checked by the caller), rows split into
// parts of about equal nnz + rows.
void spmm(int64_t nRows, const int32_t* rowPtr, const int32_t* colIdx, const float* values, const float* X, int64_t d,
          float* Y);

// Element-wise maps of src/kernels/elementwise.ts (op codes as its UNARY / BINARY tables),
// each element in double, rounded to float once. `axpy` (13) reads `out`.
struct UnaryParams {
  double alpha = 1, beta = 0;
  uint32_t seed = 0, threshold = 0;  // dropout: keep when hash(seed, i) >= threshold
};
void unary(int op, const float* x, float* out, int64_t n, const UnaryParams& prm);

// out[r, c] = g(a[r·aRs + c·aCs], b[r·bRs + c·bCs]) over a rows × cols grid (strides
// checked against the operands' lengths by the caller).
struct Broadcast {
  int64_t rows = 0, cols = 0, aRs = 0, aCs = 0, bRs = 0, bCs = 0;
};
void binary(int op, const float* a, const float* b, float* out, const Broadcast& bc, double alpha, double beta);

// Row softmax / log-softmax of x [rows, cols] (stable: shifted by the row max), and the
// backward from the saved output y: softmax gx = y ⊙ (g − Σ g⊙y), log-softmax
// gx = g − exp(y)·Σ g. Sums in double.
void softmax(const float* x, int64_t rows, int64_t cols, bool log, float* out);
void softmaxBackward(const float* y, const float* g, int64_t rows, int64_t cols, bool log, float* out);

// One Adam (or decoupled AdamW) step in place over n parameters; `clip` scales the gradient.
struct AdamHyper {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0;
  bool decoupled = false;
  double step = 1;
};
void adam(float* w, const float* g, float* m, float* v, int64_t n, double clip, const AdamHyper& h);

// out = scale · reduce(x [rows, cols]) along axis 0 (everything: one value), 1 (per row)
// or 2 (per column); op 0 sum, 1 sum of squares, 2 max. In double.
void reduce(int op, const float* x, int64_t rows, int64_t cols, int axis, double scale, float* out);

// out[i, :] = table[idx[i], :] (a zero row where idx[i] is outside [0, tableRows)).
void gather(const float* table, int64_t tableRows, const int32_t* idx, int64_t n, int64_t cols, float* out);
// out[r, :] = Σ_{e ∈ [ptr[r], ptr[r+1])} g[pos[e], :], in CSR order, in double (CSR checked by the caller).
void segmentSum(const int32_t* ptr, const int32_t* pos, const float* g, int64_t rows, int64_t cols, float* out);
// dst[r, dstOff .. dstOff + width) = src[r, srcOff .. srcOff + width) for r < rows (extents checked by the caller).
struct Copy2dShape {
  int64_t rows = 0, width = 0, srcCols = 0, srcOff = 0, dstCols = 0, dstOff = 0;
};
void copy2d(const float* src, float* dst, const Copy2dShape& s);

// The SIMD the kernels were compiled for (for `gnnrl doctor`).
const char* kernelSimd();

}  // namespace kern
}  // namespace gnnrl

namespace gnnrl {
namespace kern {

// Index checks the kernels rely on for memory safety (CoreError 'input' naming `name`):
// rowPtr[0] = 0, non-decreasing, rowPtr[nRows] = nnz; every column in [0, nCols).
// Column order and values are not checked (the kernels accept any).
void checkIndexCsr(int64_t nRows, const int32_t* rowPtr, int64_t nnz, const int32_t* colIdx, int64_t nCols,
                   const char* name);

}  // namespace kern
}  // namespace gnnrl
