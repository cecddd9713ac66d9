// Assembly of per-thread row buffers into one CSR (shared by co-occurrence and random walks).
#include <algorithm>
#include <string>

#include "core_error.h"
#include "graph_ops_core.h"

namespace gnnrl {

CsrOut joinThreadRows(int64_t nRows, int64_t nCols, const Array<int32_t>& rowLen, const std::vector<int64_t>& bounds,
                      const std::vector<std::vector<int32_t>>& cols, const std::vector<std::vector<float>>& vals,
                      const char* what) {
  CsrOut o;
  o.nRows = nRows;
  o.nCols = nCols;
  o.rowPtr = Array<int32_t>(static_cast<size_t>(nRows + 1));
  o.rowPtr[0] = 0;
  int64_t total = 0;
  for (int64_t r = 0; r < nRows; ++r) {
    total += rowLen[r];
    if (total > kMaxIndex) throwLimit(std::string(what) + ": more than 2147483647 entries");
    o.rowPtr[r + 1] = static_cast<int32_t>(total);
  }
  o.colIdx = Array<int32_t>(static_cast<size_t>(total));
  o.values = Array<float>(static_cast<size_t>(total));
  for (size_t t = 0; t < cols.size(); ++t) {
    if (cols[t].empty()) continue;
    int32_t off = o.rowPtr[bounds[t]];
    std::copy(cols[t].begin(), cols[t].end(), o.colIdx.data() + off);
    std::copy(vals[t].begin(), vals[t].end(), o.values.data() + off);
  }
  return o;
}

}  // namespace gnnrl
