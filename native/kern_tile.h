// The register-blocked GEMM micro-kernel and its packed panels, shared by the plain GEMM
// (kern_gemm_core.cc) and the fused scoring kernels (kern_score_core.cc). Include after
// kern_simd.h.
//
// A panel holds kMR rows of op(A) for kc steps (kMR floats per step), a B panel kNR
// columns of op(B) (kNR floats per step, kNR = two vectors); both are zero-padded at the
// edges, so the micro-kernel has no bounds checks. kMR × two vectors of accumulators is
// 12 registers, which fits SSE/AVX2's 16 with room for the loads and the broadcast.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kern_simd.h"

namespace gnnrl {
namespace kern {

constexpr int kMR = 6;
constexpr int kNR = 2 * kLanes;

// Element (i, k) of op(A) for A stored [M, K] (or [K, M] when trans).
struct MatView {
  const float* p;
  int64_t rows, cols;  // of op(X)
  bool trans;
  float at(int64_t r, int64_t c) const { return trans ? p[c * rows + r] : p[r * cols + c]; }
};

// Packs rows [r0, r0 + mr) × k [k0, k0 + kc) of op(A) into ceil(mr / kMR) panels.
inline void packA(const MatView& a, int64_t r0, int64_t mr, int64_t k0, int64_t kc, float* dst) {
  for (int64_t p = 0; p < mr; p += kMR) {
    const int64_t rows = std::min<int64_t>(kMR, mr - p);
    if (!a.trans) {
      for (int64_t i = 0; i < kMR; ++i) {
        if (i < rows) {
          const float* src = a.p + (r0 + p + i) * a.cols + k0;
          for (int64_t k = 0; k < kc; ++k) dst[k * kMR + i] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kMR + i] = 0.f;
        }
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = a.p + (k0 + k) * a.rows + r0 + p;
        for (int64_t i = 0; i < kMR; ++i) dst[k * kMR + i] = i < rows ? src[i] : 0.f;
      }
    }
    dst += kc * kMR;
  }
}

// Packs k [k0, k0 + kc) × columns [c0, c0 + nc) of op(B) into ceil(nc / kNR) panels.
// op(B) is [K, N]; B is stored [K, N], or [N, K] when trans (an item table: row j of the
// table is column j of op(B)).
inline void packB(const MatView& b, int64_t k0, int64_t kc, int64_t c0, int64_t nc, float* dst) {
  for (int64_t p = 0; p < nc; p += kNR) {
    const int64_t cols = std::min<int64_t>(kNR, nc - p);
    if (!b.trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = b.p + (k0 + k) * b.cols + c0 + p;
        float* d = dst + k * kNR;
        int64_t j = 0;
        for (; j < cols; ++j) d[j] = src[j];
        for (; j < kNR; ++j) d[j] = 0.f;
      }
    } else {
      for (int64_t j = 0; j < kNR; ++j) {
        if (j < cols) {
          const float* src = b.p + (c0 + p + j) * b.rows + k0;
          for (int64_t k = 0; k < kc; ++k) dst[k * kNR + j] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * kNR + j] = 0.f;
        }
      }
    }
    dst += kc * kNR;
  }
}

// acc[i][h] (row i, vector h of the kNR columns) = Σ_k Ap[k][i] · Bp[k][h], in k order.
struct Tile {
  VF c[kMR][2];
};

inline void microKernel(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, Tile& t) {
  VF c00 = vsplat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  VF c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; ++k) {
    const VF b0 = vload(Bp), b1 = vload(Bp + kLanes);
    VF a = vsplat(Ap[0]);
    c00 += a * b0; c01 += a * b1;
    a = vsplat(Ap[1]);
    c10 += a * b0; c11 += a * b1;
    a = vsplat(Ap[2]);
    c20 += a * b0; c21 += a * b1;
    a = vsplat(Ap[3]);
    c30 += a * b0; c31 += a * b1;
    a = vsplat(Ap[4]);
    c40 += a * b0; c41 += a * b1;
    a = vsplat(Ap[5]);
    c50 += a * b0; c51 += a * b1;
    Ap += kMR;
    Bp += kNR;
  }
  t.c[0][0] = c00; t.c[0][1] = c01; t.c[1][0] = c10; t.c[1][1] = c11; t.c[2][0] = c20; t.c[2][1] = c21;
  t.c[3][0] = c30; t.c[3][1] = c31; t.c[4][0] = c40; t.c[4][1] = c41; t.c[5][0] = c50; t.c[5][1] = c51;
}
static_assert(kMR == 6, "microKernel is written out for six rows");

}  // namespace kern
}  // namespace gnnrl
