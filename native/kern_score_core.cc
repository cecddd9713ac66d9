// The fused catalogue-scoring kernels: Q-targets (running max/argmax, Double DQN) and
// top-K. Both score a block of query rows against the whole item table with the GEMM
// micro-kernel of kern_tile.h and fold each kMR × kNR tile into per-row state at once
// (a running best, or a k-element heap), so the batch × items scores are never stored.
//
// Work split: parts are fixed blocks of kRowBlock rows; every row is scanned by one part
// in increasing item order, so ties (to the lower index) and the result are the same for
// any thread count. Items go in blocks of kItemBlock (their packed panels stay in L2
// while the row block's kMR-row groups pass over them).
#include "kern_simd.h"  // first: sets the floating-point contraction for this file

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kern.h"
#include "kern_pool.h"
#include "kern_tile.h"

namespace gnnrl {
namespace kern {
namespace {

constexpr int64_t kRowBlock = 96;   // a multiple of kMR
constexpr int64_t kItemBlock = 512;  // a multiple of kNR

inline VF vmax(VF a, VF b) {
#if defined(__GNUC__) || defined(__clang__)
  return a > b ? a : b;
#else
  for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
  return a;
#endif
}

inline float hmax(VF v) {
  float l[kLanes];
  vstore(l, v);
  float m = l[0];
  for (int i = 1; i < kLanes; ++i) m = l[i] > m ? l[i] : m;
  return m;
}

// The item table packed once per call as kNR-column panels of op(B) = tableᵀ, with the
// bias padded to whole panels.
struct PackedTable {
  int64_t nItems, dim, panels;
  std::vector<float> panel;  // panels × dim × kNR
  std::vector<float> bias;   // panels × kNR (zeros when absent or past nItems)
  PackedTable(const float* table, const float* b, int64_t n, int64_t d)
      : nItems(n), dim(d), panels((n + kNR - 1) / kNR), panel(static_cast<size_t>(panels * d * kNR)),
        bias(static_cast<size_t>(panels * kNR), 0.f) {
    const MatView v{table, d, n, true};
    const int64_t perPart = 16;
    parallelFor((panels + perPart - 1) / perPart, [&](int64_t part) {
      const int64_t p0 = part * perPart, p1 = std::min(panels, p0 + perPart);
      packB(v, 0, d, p0 * kNR, std::min(n, p1 * kNR) - p0 * kNR, panel.data() + p0 * d * kNR);
    });
    if (b) std::copy(b, b + n, bias.begin());
  }
};

// Exclusion lists sorted per row (callers may give any order), so a row's cursor moves
// forward with the items.
struct SortedExclusions {
  const int32_t* rowPtr = nullptr;
  std::vector<int32_t> col;
  SortedExclusions(const Exclusions& e, int64_t batch) {
    if (!e.rowPtr) return;
    rowPtr = e.rowPtr;
    col.assign(e.colIdx + e.rowPtr[0], e.colIdx + e.rowPtr[batch]);
    const int64_t base = e.rowPtr[0];
    parallelFor((batch + 1023) / 1024, [&](int64_t part) {
      for (int64_t r = part * 1024; r < std::min(batch, (part + 1) * 1024); ++r)
        std::sort(col.begin() + (rowPtr[r] - base), col.begin() + (rowPtr[r + 1] - base));
    });
    base_ = base;
  }
  int64_t begin(int64_t r) const { return rowPtr ? rowPtr[r] - base_ : 0; }
  int64_t end(int64_t r) const { return rowPtr ? rowPtr[r + 1] - base_ : 0; }
  int64_t base_ = 0;
};

// Runs `Fold` over every (kMR-row group, item panel) tile of the batch. Fold is made once
// per row block: Fold(r0, rows) with a tile(i0, mr, panel, tileScores) member that gets
// the tile with bias added, and a finish() member.
template <class MakeFold>
void scoreAll(const float* queries, int64_t batch, int64_t dim, const PackedTable& t, MakeFold&& makeFold) {
  const MatView q{queries, batch, dim, false};
  const int64_t blocks = (batch + kRowBlock - 1) / kRowBlock;
  const int64_t panelsPerBlock = kItemBlock / kNR;
  parallelFor(blocks, [&](int64_t ib) {
    const int64_t r0 = ib * kRowBlock, rows = std::min(kRowBlock, batch - r0);
    thread_local std::vector<float> aPack;
    const size_t need = static_cast<size_t>(((rows + kMR - 1) / kMR) * kMR * dim);
    if (aPack.size() < need) aPack.resize(need);
    packA(q, r0, rows, 0, dim, aPack.data());
    auto fold = makeFold(r0, rows);
    Tile tile;
    for (int64_t p0 = 0; p0 < t.panels; p0 += panelsPerBlock) {
      const int64_t p1 = std::min(t.panels, p0 + panelsPerBlock);
      for (int64_t g = 0; g * kMR < rows; ++g) {
        const int64_t mr = std::min<int64_t>(kMR, rows - g * kMR);
        for (int64_t p = p0; p < p1; ++p) {
          microKernel(dim, aPack.data() + g * kMR * dim, t.panel.data() + p * dim * kNR, tile);
          const VF b0 = vload(t.bias.data() + p * kNR), b1 = vload(t.bias.data() + p * kNR + kLanes);
          for (int64_t i = 0; i < mr; ++i) {
            tile.c[i][0] += b0;
            tile.c[i][1] += b1;
          }
          fold.tile(g * kMR, mr, p * kNR, std::min<int64_t>(kNR, t.nItems - p * kNR), tile);
        }
      }
    }
    fold.finish();
  });
}

// Advances row r's cursor to `item` and says whether the item is excluded.
inline bool excluded(const SortedExclusions& ex, int64_t& cur, int64_t end, int32_t item) {
  while (cur < end && ex.col[static_cast<size_t>(cur)] < item) ++cur;
  return cur < end && ex.col[static_cast<size_t>(cur)] == item;
}

struct Cand {
  float s;
  int32_t i;
};

// Strict weak order "a ranks before b": higher score first, NaN last, ties to the lower index.
inline bool better(const Cand& a, const Cand& b) {
  const bool an = a.s != a.s, bn = b.s != b.s;
  if (an != bn) return bn;
  if (!an && a.s != b.s) return a.s > b.s;
  return a.i < b.i;
}

}  // namespace

void qtarget(const QTargetArgs& a, float* y, int32_t* argmax) {
  if (a.batch <= 0) return;
  const PackedTable table(a.chooser, a.chooserBias, a.nItems, a.dim);
  const SortedExclusions ex(a.exclude, a.batch);
  struct Fold {
    const QTargetArgs& a;
    const SortedExclusions& ex;
    float* y;
    int32_t* argmax;
    int64_t r0, rows;
    std::vector<float> best;
    std::vector<int32_t> bi;
    std::vector<int64_t> cur;
    Fold(const QTargetArgs& a_, const SortedExclusions& e, float* y_, int32_t* am, int64_t r0_, int64_t n)
        : a(a_), ex(e), y(y_), argmax(am), r0(r0_), rows(n), best(n, 0.f), bi(n, -1), cur(n) {
      for (int64_t i = 0; i < n; ++i) cur[i] = ex.begin(r0 + i);
    }
    void tile(int64_t i0, int64_t mr, int64_t item0, int64_t nr, const Tile& t) {
      for (int64_t i = 0; i < mr; ++i) {
        const int64_t r = i0 + i;
        // Nothing in the tile beats the running best (ties keep the lower index; a NaN
        // best stays, as in the reference): skip the scan.
        if (bi[r] >= 0 && !(hmax(vmax(t.c[i][0], t.c[i][1])) > best[r])) continue;
        float s[kNR];
        vstore(s, t.c[i][0]);
        vstore(s + kLanes, t.c[i][1]);
        const int64_t end = ex.end(r0 + r);
        for (int64_t j = 0; j < nr; ++j) {
          const int32_t item = static_cast<int32_t>(item0 + j);
          if (ex.rowPtr && excluded(ex, cur[r], end, item)) continue;
          if (bi[r] < 0 || s[j] > best[r]) {
            best[r] = s[j];
            bi[r] = item;
          }
        }
      }
    }
    void finish() {
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t row = r0 + i;
        double q = 0;
        if (bi[i] >= 0) {
          if (a.value) {  // Double DQN: the target table values the online choice
            const float* s = a.next + row * a.dim;
            const float* e = a.value + static_cast<int64_t>(bi[i]) * a.dim;
            for (int64_t k = 0; k < a.dim; ++k) q += static_cast<double>(s[k]) * e[k];
            if (a.valueBias) q += a.valueBias[bi[i]];
          } else {
            q = best[i];
          }
        }
        y[row] = static_cast<float>(a.reward[row] + static_cast<double>(a.gamma) * (1.0 - a.done[row]) * q);
        argmax[row] = bi[i];
      }
    }
  };
  scoreAll(a.next, a.batch, a.dim, table, [&](int64_t r0, int64_t rows) { return Fold(a, ex, y, argmax, r0, rows); });
}

void topk(const TopKArgs& a, int32_t* indices, float* scores) {
  if (a.batch <= 0) return;
  const PackedTable table(a.items, a.bias, a.nItems, a.dim);
  const SortedExclusions ex(a.exclude, a.batch);
  const int64_t k = a.k;
  struct Fold {
    const SortedExclusions& ex;
    int32_t* indices;
    float* scores;
    int64_t k, r0, rows;
    std::vector<Cand> heap;  // rows × k min-heaps, root = the worst kept
    std::vector<int64_t> count, cur;
    Fold(const SortedExclusions& e, int32_t* idx, float* sc, int64_t k_, int64_t r0_, int64_t n)
        : ex(e), indices(idx), scores(sc), k(k_), r0(r0_), rows(n), heap(static_cast<size_t>(n * k_)), count(n, 0), cur(n) {
      for (int64_t i = 0; i < n; ++i) cur[i] = ex.begin(r0 + i);
    }
    static bool worse(const Cand& a, const Cand& b) { return better(b, a); }
    void tile(int64_t i0, int64_t mr, int64_t item0, int64_t nr, const Tile& t) {
      for (int64_t i = 0; i < mr; ++i) {
        const int64_t r = i0 + i;
        Cand* h = heap.data() + r * k;
        // A full heap whose worst is a number: a later item must beat it strictly.
        if (count[r] == k && h[0].s == h[0].s && !(hmax(vmax(t.c[i][0], t.c[i][1])) > h[0].s)) continue;
        float s[kNR];
        vstore(s, t.c[i][0]);
        vstore(s + kLanes, t.c[i][1]);
        const int64_t end = ex.end(r0 + r);
        for (int64_t j = 0; j < nr; ++j) {
          const Cand c{s[j], static_cast<int32_t>(item0 + j)};
          if (ex.rowPtr && excluded(ex, cur[r], end, c.i)) continue;
          if (count[r] < k) {
            h[count[r]++] = c;
            std::push_heap(h, h + count[r], better);  // max-heap under `better` = root is the worst
          } else if (better(c, h[0])) {
            std::pop_heap(h, h + k, better);
            h[k - 1] = c;
            std::push_heap(h, h + k, better);
          }
        }
      }
    }
    void finish() {
      for (int64_t i = 0; i < rows; ++i) {
        Cand* h = heap.data() + i * k;
        std::sort(h, h + count[i], better);
        int32_t* oi = indices + (r0 + i) * k;
        float* os = scores + (r0 + i) * k;
        for (int64_t j = 0; j < k; ++j) {
          oi[j] = j < count[i] ? h[j].i : -1;
          os[j] = j < count[i] ? h[j].s : -std::numeric_limits<float>::infinity();
        }
      }
    }
  };
  scoreAll(a.queries, a.batch, a.dim, table, [&](int64_t r0, int64_t rows) { return Fold(ex, indices, scores, k, r0, rows); });
}

}  // namespace kern
}  // namespace gnnrl
