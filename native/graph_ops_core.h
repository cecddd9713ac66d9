// Graph operations on an existing CSR, N-API free: item-item co-occurrence (top-N per
// item), uniform layer-wise neighbour sampling and random-walk neighbourhoods. Every
// random draw is hashU32(streamSeed, counter) (the same function as src/util/rng.ts),
// so results depend only on (graph, seed) — not on threads — and match the TS twin.
#pragma once
#include <cstdint>
#include <vector>

#include "csr_core.h"

namespace gnnrl {

inline uint32_t hashU32(uint32_t seed, uint32_t counter) {
  uint32_t h = counter * 747796405u + seed;
  h = ((h >> ((h >> 28) + 4)) ^ h) * 277803737u;
  return (h >> 22) ^ h;
}

// Joins rows that threads built separately into one CSR: thread t filled rows
// [bounds[t], bounds[t+1]) into cols[t] / vals[t] in row order, and rowLen holds every
// row's length. `what` names the operation in the error past 2^31 - 1 entries.
CsrOut joinThreadRows(int64_t nRows, int64_t nCols, const Array<int32_t>& rowLen, const std::vector<int64_t>& bounds,
                      const std::vector<std::vector<int32_t>>& cols, const std::vector<std::vector<float>>& vals,
                      const char* what);

enum class CoocMeasure { Count, Cosine };

// Row a: the topN items b != a sharing most users with a, ranked by score descending
// then b ascending, stored with columns ascending. score = c(a, b) (users holding both)
// or c / sqrt(deg a * deg b) (binary cosine), computed in float64, stored as float32.
CsrOut cooccurrence(const CsrView& userItem, const CsrView& itemUser, int topN, CoocMeasure m, int threads);

struct SampleOut {
  std::vector<Array<int32_t>> layers;  // layers[0] = seeds; layers[l+1] = layers[l] ++ new nodes
  std::vector<CsrOut> blocks;          // block l: layers[l].size() x layers[l+1].size()
};

// Layer-wise uniform sampling without replacement (GraphSAGE). For layer l, row p (node
// v of degree d, fan-out f): d <= f keeps every neighbour; otherwise Floyd's algorithm
// draws f distinct positions, draw j in [0, f) being hashU32(hashU32(seed, l), p*f + j)
// mod (d - f + j + 1). New nodes are appended in row order, then neighbour order. Block
// columns are local indices into layers[l+1], ascending; values 1/k (mean aggregation).
SampleOut sampleNeighbors(const CsrView& g, const int32_t* seeds, int64_t nSeeds, const int32_t* fanouts,
                          int64_t nLayers, uint32_t seed);

// PinSage-style neighbourhoods: from each seed node, `walks` walks of `length` steps;
// step t (1-based) of walk w from seed s moves to a uniform neighbour, the draw being
// hashU32(hashU32(seed, 0xffffffff), (s*walks + w)*length + t - 1) mod degree (uint32
// arithmetic). A walk stops at a node without neighbours. Visits at steps divisible by
// `stride` to nodes other than the seed are counted; row s keeps the topK nodes by count
// (ties: lower node id), columns ascending, values = counts.
CsrOut randomWalkTopK(const CsrView& g, const int32_t* seeds, int64_t nSeeds, int walks, int length, int stride,
                      int topK, uint32_t seed, int threads);

// Dense ids in order of first appearance. Numeric ids are compared by value (-0 == 0).
struct IdEncodeOut {
  Array<int32_t> dense;       // per input position
  Array<int32_t> firstIndex;  // per dense id: the input position where it first appears
};
IdEncodeOut encodeNumbers(const double* ids, int64_t n);
// Strings as UTF-8 spans into one arena: id k is bytes[offsets[k] .. offsets[k+1]).
IdEncodeOut encodeStrings(const char* bytes, const int64_t* offsets, int64_t n);

}  // namespace gnnrl
