// The one vector type of the dense kernels. With GCC or Clang it is a generic vector
// (`vector_size`), which the compiler maps onto whatever the build's -march offers
// (AVX-512: 16 lanes, AVX/AVX2: 8, otherwise 4, i.e. SSE2 or NEON) and lowers to scalar
// code where there is no SIMD at all; other compilers get a plain struct of floats that
// their auto-vectoriser may or may not use. No intrinsics, so the addon builds anywhere.
//
// Kernel files also allow contracting a*b+c into FMA (the graph builder's files keep
// -ffp-contract=off so their floats match the TypeScript builder bit for bit; kernels
// are compared with a tolerance instead).
//
// Include this header first in a kernel file: GCC's pragma applies to what follows it, and
// functions compiled under different options (e.g. std headers included earlier) would
// not be inlined into the kernels.
#pragma once
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

#include <cstring>

namespace gnnrl {
namespace kern {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif

#if defined(__GNUC__) || defined(__clang__)
typedef float VF __attribute__((vector_size(kLanes * sizeof(float))));
inline VF vsplat(float x) { return VF{} + x; }
#else
struct VF {
  float v[kLanes];
  float& operator[](int i) { return v[i]; }
  float operator[](int i) const { return v[i]; }
};
inline VF operator+(VF a, VF b) { for (int i = 0; i < kLanes; ++i) a.v[i] += b.v[i]; return a; }
inline VF operator*(VF a, VF b) { for (int i = 0; i < kLanes; ++i) a.v[i] *= b.v[i]; return a; }
inline VF& operator+=(VF& a, VF b) { return a = a + b; }
inline VF vsplat(float x) { VF r; for (int i = 0; i < kLanes; ++i) r.v[i] = x; return r; }
#endif

inline VF vload(const float* p) { VF v; std::memcpy(&v, p, sizeof v); return v; }
inline void vstore(float* p, VF v) { std::memcpy(p, &v, sizeof v); }

// SIMD the kernels were compiled for, for `gnnrl doctor`.
inline const char* simdName() {
#if defined(__AVX512F__)
  return "avx512f (16 lanes)";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2+fma (8 lanes)";
#elif defined(__AVX__)
  return "avx (8 lanes)";
#elif defined(__SSE2__)
  return "sse2 (4 lanes)";
#elif defined(__ARM_NEON)
  return "neon (4 lanes)";
#else
  return "none (generic vectors lowered to scalar code)";
#endif
}

}  // namespace kern
}  // namespace gnnrl
