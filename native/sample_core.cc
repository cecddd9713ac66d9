// Neighbour sampling and random walks. See graph_ops_core.h for the exact draws.
#include <algorithm>
#include <vector>

#include "core_threads.h"
#include "graph_ops_core.h"

namespace gnnrl {

SampleOut sampleNeighbors(const CsrView& g, const int32_t* seeds, int64_t nSeeds, const int32_t* fanouts,
                          int64_t nLayers, uint32_t seed) {
  const int64_t N = g.nRows;
  if (g.nCols != N)
    throwInput("graph", -1, "a square matrix (nRows == nCols), got " + std::to_string(N) + " x " + std::to_string(g.nCols));
  for (int64_t l = 0; l < nLayers; ++l)
    if (fanouts[l] < 1) throwInput("fanouts", l, "an integer >= 1, got " + std::to_string(fanouts[l]));
  // local[v] = index of node v in the layer being built, -1 when absent. Reset through the
  // layer's own node list, so the cost per call is O(N) once, not per layer.
  std::vector<int32_t> local(static_cast<size_t>(N), -1);
  SampleOut out;
  Array<int32_t> first(static_cast<size_t>(nSeeds));
  for (int64_t p = 0; p < nSeeds; ++p) {
    int32_t v = seeds[p];
    if (v < 0 || v >= N) throwInput("seeds", p, "a node id in [0, " + std::to_string(N) + "), got " + std::to_string(v));
    if (local[v] >= 0) throwInput("seeds", p, "unique node ids, got " + std::to_string(v) + " again (first at " + std::to_string(local[v]) + ")");
    local[v] = static_cast<int32_t>(p);
    first[p] = v;
  }
  for (int64_t p = 0; p < nSeeds; ++p) local[seeds[p]] = -1;
  out.layers.push_back(std::move(first));

  std::vector<int32_t> chosen, next, bCols;
  std::vector<float> bVals;
  for (int64_t l = 0; l < nLayers; ++l) {
    const Array<int32_t>& rows = out.layers.back();
    const int64_t R = static_cast<int64_t>(rows.size());
    const int64_t f = fanouts[l];
    const uint32_t ls = hashU32(seed, static_cast<uint32_t>(l));
    next.assign(rows.data(), rows.data() + R);
    for (int64_t p = 0; p < R; ++p) local[rows[p]] = static_cast<int32_t>(p);
    CsrOut blk;
    blk.rowPtr = Array<int32_t>(static_cast<size_t>(R + 1));
    blk.rowPtr[0] = 0;
    bCols.clear();
    bVals.clear();
    for (int64_t p = 0; p < R; ++p) {
      const int32_t v = rows[p];
      const int32_t base = g.rowPtr[v];
      const int64_t d = g.rowPtr[v + 1] - base;
      chosen.clear();
      if (d <= f) {
        for (int64_t q = 0; q < d; ++q) chosen.push_back(static_cast<int32_t>(q));
      } else {
        for (int64_t j = 0; j < f; ++j) {  // Floyd: position m = d - f + j
          int64_t m = d - f + j;
          uint32_t h = hashU32(ls, static_cast<uint32_t>(static_cast<uint64_t>(p) * static_cast<uint64_t>(f) + static_cast<uint64_t>(j)));
          int32_t t = static_cast<int32_t>(h % static_cast<uint32_t>(m + 1));
          bool have = std::find(chosen.begin(), chosen.end(), t) != chosen.end();
          chosen.push_back(have ? static_cast<int32_t>(m) : t);
        }
      }
      std::sort(chosen.begin(), chosen.end());
      const size_t rowStart = bCols.size();
      for (int32_t q : chosen) {
        int32_t w = g.colIdx[base + q];
        if (local[w] < 0) { local[w] = static_cast<int32_t>(next.size()); next.push_back(w); }
        bCols.push_back(local[w]);
      }
      std::sort(bCols.begin() + static_cast<std::ptrdiff_t>(rowStart), bCols.end());
      const float val = chosen.empty() ? 0.0f : static_cast<float>(1.0 / static_cast<double>(chosen.size()));
      for (size_t k = rowStart; k < bCols.size(); ++k) bVals.push_back(val);
      if (bCols.size() > static_cast<size_t>(kMaxIndex)) throwLimit("sampleNeighbors: block has more than 2147483647 entries");
      blk.rowPtr[p + 1] = static_cast<int32_t>(bCols.size());
    }
    for (int32_t w : next) local[w] = -1;
    blk.nRows = R;
    blk.nCols = static_cast<int64_t>(next.size());
    blk.colIdx = Array<int32_t>(bCols.size());
    blk.values = Array<float>(bVals.size());
    std::copy(bCols.begin(), bCols.end(), blk.colIdx.data());
    std::copy(bVals.begin(), bVals.end(), blk.values.data());
    Array<int32_t> layer(next.size());
    std::copy(next.begin(), next.end(), layer.data());
    out.blocks.push_back(std::move(blk));
    out.layers.push_back(std::move(layer));
  }
  return out;
}

CsrOut randomWalkTopK(const CsrView& g, const int32_t* seeds, int64_t nSeeds, int walks, int length, int stride,
                      int topK, uint32_t seed, int threads) {
  const int64_t N = g.nRows;
  if (g.nCols != N)
    throwInput("graph", -1, "a square matrix (nRows == nCols), got " + std::to_string(N) + " x " + std::to_string(g.nCols));
  for (int64_t s = 0; s < nSeeds; ++s)
    if (seeds[s] < 0 || seeds[s] >= N) throwInput("seeds", s, "a node id in [0, " + std::to_string(N) + "), got " + std::to_string(seeds[s]));
  const uint32_t ws = hashU32(seed, 0xffffffffu);
  const int T = std::max(1, std::min<int>(threads, static_cast<int>(std::max<int64_t>(1, nSeeds))));
  auto sb = evenSplit(nSeeds, T);
  std::vector<std::vector<int32_t>> cols(T);
  std::vector<std::vector<float>> vals(T);
  Array<int32_t> rowLen(static_cast<size_t>(nSeeds));
  forkJoin(T, [&](int t) {
    std::vector<int32_t> visits(static_cast<size_t>(N), 0), touched;
    std::vector<std::pair<int32_t, int32_t>> cand;  // (count, node)
    for (int64_t s = sb[t]; s < sb[t + 1]; ++s) {
      const int32_t v0 = seeds[s];
      touched.clear();
      for (int w = 0; w < walks; ++w) {
        int32_t cur = v0;
        uint32_t c0 = (static_cast<uint32_t>(s) * static_cast<uint32_t>(walks) + static_cast<uint32_t>(w)) * static_cast<uint32_t>(length);
        for (int step = 1; step <= length; ++step) {
          int32_t d = g.rowPtr[cur + 1] - g.rowPtr[cur];
          if (d == 0) break;
          uint32_t h = hashU32(ws, c0 + static_cast<uint32_t>(step - 1));
          cur = g.colIdx[g.rowPtr[cur] + static_cast<int32_t>(h % static_cast<uint32_t>(d))];
          if (step % stride == 0 && cur != v0) {
            if (visits[cur]++ == 0) touched.push_back(cur);
          }
        }
      }
      cand.clear();
      for (int32_t x : touched) { cand.emplace_back(visits[x], x); visits[x] = 0; }
      size_t keep = std::min<size_t>(cand.size(), static_cast<size_t>(topK));
      std::partial_sort(cand.begin(), cand.begin() + keep, cand.end(), [](auto& a, auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      std::sort(cand.begin(), cand.begin() + keep, [](auto& a, auto& b) { return a.second < b.second; });
      for (size_t k = 0; k < keep; ++k) { cols[t].push_back(cand[k].second); vals[t].push_back(static_cast<float>(cand[k].first)); }
      rowLen[s] = static_cast<int32_t>(keep);
    }
  });
  return joinThreadRows(nSeeds, N, rowLen, sb, cols, vals, "randomWalk");
}

}  // namespace gnnrl
