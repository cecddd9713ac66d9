// Dense GEMM: packed panels, the kMR × kNR micro-kernel of kern_tile.h, cache blocks of
// kKC × kNC (a B block of 256 × 1024 floats, 1 MiB, stays in L2/L3 while row blocks of
// A stream past it; each B panel of 256 × kNR floats stays in L1 across a row block).
// Every C element sums its K products in k order, one kKC slice after another, whatever
// the blocking of rows, so the result does not depend on the thread count.
#include "kern_simd.h"  // first: sets the floating-point contraction for this file

#include <cstring>
#include <vector>

#include "kern.h"
#include "kern_pool.h"
#include "kern_tile.h"

namespace gnnrl {
namespace kern {
namespace {

constexpr int64_t kKC = 256;
constexpr int64_t kNC = 1024;  // a multiple of kNR for every lane count
constexpr int64_t kMC = 96;    // a multiple of kMR

// Writes (first slice) or adds a tile to C, clipped to mr × nr.
void storeTile(const Tile& t, float* C, int64_t ldc, int64_t mr, int64_t nr, bool add) {
  if (mr == kMR && nr == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* ci = C + i * ldc;
      if (add) {
        vstore(ci, vload(ci) + t.c[i][0]);
        vstore(ci + kLanes, vload(ci + kLanes) + t.c[i][1]);
      } else {
        vstore(ci, t.c[i][0]);
        vstore(ci + kLanes, t.c[i][1]);
      }
    }
    return;
  }
  float tmp[kMR][kNR];
  for (int i = 0; i < kMR; ++i) {
    vstore(tmp[i], t.c[i][0]);
    vstore(tmp[i] + kLanes, t.c[i][1]);
  }
  for (int64_t i = 0; i < mr; ++i) {
    float* ci = C + i * ldc;
    if (add) for (int64_t j = 0; j < nr; ++j) ci[j] += tmp[i][j];
    else for (int64_t j = 0; j < nr; ++j) ci[j] = tmp[i][j];
  }
}

}  // namespace

void gemm(const float* A, const float* B, float* C, const GemmShape& s) {
  const int64_t M = s.M, N = s.N, K = s.K;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    std::memset(C, 0, static_cast<size_t>(M * N) * sizeof(float));
    return;
  }
  const MatView a{A, M, K, s.transA};
  const MatView b{B, K, N, s.transB};
  // Row blocks: kMC rows, or fewer so that every thread has one (a 64-row weight gradient
  // on 7 threads still uses them all). Only the partition changes, never the sums.
  const int threads = poolThreads();
  int64_t mc = kMC;
  if ((M + kMC - 1) / kMC < threads) mc = std::max<int64_t>(kMR, ((M + threads - 1) / threads + kMR - 1) / kMR * kMR);
  const int64_t rowBlocks = (M + mc - 1) / mc;
  std::vector<float> bPack(static_cast<size_t>(kKC * kNC));

  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    const int64_t panels = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      float* bp = bPack.data();
      // Pack the B block, a few panels per part.
      const int64_t perPart = 4;
      parallelFor((panels + perPart - 1) / perPart, [&](int64_t part) {
        const int64_t p0 = part * perPart, p1 = std::min(panels, p0 + perPart);
        const int64_t c0 = p0 * kNR, c1 = std::min(nc, p1 * kNR);
        packB(b, pc, kc, jc + c0, c1 - c0, bp + p0 * kc * kNR);
      });
      const bool add = pc > 0;
      parallelFor(rowBlocks, [&](int64_t ib) {
        const int64_t i0 = ib * mc, m = std::min(mc, M - i0);
        thread_local std::vector<float> aPack;
        const size_t need = static_cast<size_t>(((m + kMR - 1) / kMR) * kMR * kc);
        if (aPack.size() < need) aPack.resize(need);
        packA(a, i0, m, pc, kc, aPack.data());
        Tile t;
        for (int64_t jp = 0; jp < panels; ++jp) {
          const float* bpan = bp + jp * kc * kNR;
          const int64_t nr = std::min<int64_t>(kNR, nc - jp * kNR);
          for (int64_t ip = 0; ip * kMR < m; ++ip) {
            microKernel(kc, aPack.data() + ip * kMR * kc, bpan, t);
            storeTile(t, C + (i0 + ip * kMR) * N + jc + jp * kNR, N, std::min<int64_t>(kMR, m - ip * kMR), nr, add);
          }
        }
      });
    }
  }
}

const char* kernelSimd() { return simdName(); }

}  // namespace kern
}  // namespace gnnrl
