// COO -> CSR graph builder, N-API free. The exact contract (shared with the TypeScript
// twin in src/graph/build-ts.ts, which must agree bit for bit):
//
// * Edges k = 0..n-1 are (users[k], items[k], weights[k] or 1, ts[k]).
// * userItem: row u holds the distinct items of u, ascending. Duplicates of (u, i) are
//   merged in input order: sum / mean (sum in float64, in input order, then / count) /
//   max / last (largest ts; equal ts -> the later edge) / count (weights ignored). The
//   merged value is computed in float64 and rounded once to float32.
// * itemUser: the transpose (users ascending per item), same merged values.
// * userDegree / itemDegree: number of distinct neighbours (merged edges).
// * adjacency (optional): symmetric bipartite matrix over nUsers + nItems nodes, users
//   first, item i at node nUsers + i. Entry a = merged weight when `weighted`, else 1;
//   a self-loop (value 1) on every node when `selfLoops`. Node degree d = number of
//   entries in its row (incl. self-loop), or their float64 sum in column order when
//   `weighted`. Normalised value, computed in float64 then rounded to float32:
//     none: a   sym: a / sqrt(d_r * d_c)   row: a / d_r   col: a / d_c
//   where sym with d_r * d_c <= 0, or row/col with a zero degree, gives 0 (only
//   possible with `weighted` and zero or negative weights).
#pragma once
#include <cstdint>
#include <string>

#include "core_array.h"
#include "core_error.h"

namespace gnnrl {

enum class Policy { Sum, Mean, Max, Last, Count };
enum class Norm { None, Sym, Row, Col };

struct CooInput {
  const int32_t* users = nullptr;
  const int32_t* items = nullptr;
  int64_t n = 0;
  const float* weights = nullptr;  // may be null: every weight is 1
  const double* tsF64 = nullptr;   // at most one of tsF64 / tsI32
  const int32_t* tsI32 = nullptr;
  int64_t nUsers = 0;
  int64_t nItems = 0;
};

struct AdjOptions {
  Norm norm = Norm::Sym;
  bool selfLoops = false;
  bool weighted = false;
};

struct BuildOptions {
  Policy policy = Policy::Sum;
  int threads = 1;             // >= 1, already resolved by the caller
  bool adjacency = false;
  AdjOptions adj;
  double memoryLimit = 0;      // bytes; 0 = no limit (std::bad_alloc still maps to 'limit')
};

// A read-only CSR over memory the caller owns.
struct CsrView {
  int64_t nRows = 0, nCols = 0;
  const int32_t* rowPtr = nullptr;
  const int32_t* colIdx = nullptr;
  const float* values = nullptr;
};

struct CsrOut {
  int64_t nRows = 0, nCols = 0;
  Array<int32_t> rowPtr, colIdx;
  Array<float> values;
  CsrView view() const { return {nRows, nCols, rowPtr.data(), colIdx.data(), values.data()}; }
};

struct GraphOut {
  CsrOut userItem, itemUser;
  Array<int32_t> userDegree, itemDegree;
  bool hasAdjacency = false;
  CsrOut adjacency;
};

constexpr int64_t kMaxIndex = 2147483647;  // every index lives in an Int32Array

// Throws CoreError(Input) naming the first bad argument/index, CoreError(Limit) when a
// size passes int32 indices or opts.memoryLimit. std::bad_alloc escapes to the caller.
void validateCoo(const CooInput& in, int threads);
// Upper bound of the bytes a build needs (documented formula, identical in TS).
double estimateBuildBytes(int64_t n, int64_t nUsers, int64_t nItems, bool adjacency, bool selfLoops);
GraphOut buildGraph(const CooInput& in, const BuildOptions& opts);

// Checks that a CSR passed in from outside is well formed: rowPtr non-decreasing from 0
// to nnz (= the length of colIdx and values), columns in range and strictly ascending per
// row, values finite. Reads nothing past rowPtr[nRows] or nnz.
void validateCsr(const CsrView& m, int64_t nnz, const std::string& name);
CsrOut transpose(const CsrView& m, int threads);
CsrOut bipartiteAdjacency(const CsrView& userItem, const CsrView& itemUser, const AdjOptions& o, int threads);

}  // namespace gnnrl
