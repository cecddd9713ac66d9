// Item-item co-occurrence graph for KNN baselines. See graph_ops_core.h.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core_threads.h"
#include "graph_ops_core.h"

namespace gnnrl {

CsrOut cooccurrence(const CsrView& ui, const CsrView& iu, int topN, CoocMeasure measure, int threads) {
  const int64_t nI = iu.nRows;
  const int T = std::max(1, threads);
  auto rb = rowSplit(iu.rowPtr, nI, T);
  // Each part keeps its rows' (col, value) lists; rows are concatenated in order after.
  std::vector<std::vector<int32_t>> cols(T);
  std::vector<std::vector<float>> vals(T);
  Array<int32_t> rowLen(static_cast<size_t>(nI));
  forkJoin(T, [&](int t) {
    std::vector<int32_t> cnt(static_cast<size_t>(nI), 0), touched;
    std::vector<std::pair<double, int32_t>> cand;
    for (int64_t a = rb[t]; a < rb[t + 1]; ++a) {
      touched.clear();
      for (int32_t j = iu.rowPtr[a]; j < iu.rowPtr[a + 1]; ++j) {
        int32_t u = iu.colIdx[j];
        for (int32_t x = ui.rowPtr[u]; x < ui.rowPtr[u + 1]; ++x) {
          int32_t b = ui.colIdx[x];
          if (b == a) continue;
          if (cnt[b]++ == 0) touched.push_back(b);
        }
      }
      cand.clear();
      const double da = static_cast<double>(iu.rowPtr[a + 1] - iu.rowPtr[a]);
      for (int32_t b : touched) {
        double c = static_cast<double>(cnt[b]);
        double s = c;
        if (measure == CoocMeasure::Cosine) s = c / std::sqrt(da * static_cast<double>(iu.rowPtr[b + 1] - iu.rowPtr[b]));
        cand.emplace_back(s, b);
        cnt[b] = 0;
      }
      auto better = [](const std::pair<double, int32_t>& x, const std::pair<double, int32_t>& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
      };
      size_t keep = std::min<size_t>(cand.size(), static_cast<size_t>(topN));
      std::partial_sort(cand.begin(), cand.begin() + keep, cand.end(), better);
      std::sort(cand.begin(), cand.begin() + keep,
                [](const std::pair<double, int32_t>& x, const std::pair<double, int32_t>& y) { return x.second < y.second; });
      for (size_t k = 0; k < keep; ++k) {
        cols[t].push_back(cand[k].second);
        vals[t].push_back(static_cast<float>(cand[k].first));
      }
      rowLen[a] = static_cast<int32_t>(keep);
    }
  });
  return joinThreadRows(nI, nI, rowLen, rb, cols, vals, "cooccurrence");
}

}  // namespace gnnrl
