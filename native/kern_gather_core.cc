// Row movement of the native backend (src/kernels/gather.ts): gather rows by index (an
// index outside the table gives a zero row, as the reference), the deterministic backward
// (a segment sum over the table row → positions CSR, summed in CSR order in double), and
// strided column-block copies (slice, concat). Fixed parts on the pool; every output
// element written by one part.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kern.h"
#include "kern_pool.h"

namespace gnnrl {
namespace kern {
namespace {

template <class Row>
void forRowParts(int64_t rows, int64_t cols, Row row) {
  if (rows <= 0) return;
  const int64_t per = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(cols, 1));
  parallelFor((rows + per - 1) / per, [&](int64_t p) {
    const int64_t r1 = std::min(rows, (p + 1) * per);
    for (int64_t r = p * per; r < r1; ++r) row(r);
  });
}

}  // namespace

void gather(const float* table, int64_t tableRows, const int32_t* idx, int64_t n, int64_t cols, float* out) {
  if (cols <= 0) return;  // empty rows: nothing to copy (and the arrays may be empty, their pointers null)
  forRowParts(n, cols, [&](int64_t i) {
    const int64_t t = idx[i];
    float* o = out + i * cols;
    if (t >= 0 && t < tableRows) std::memcpy(o, table + t * cols, static_cast<size_t>(cols) * sizeof(float));
    else std::fill(o, o + cols, 0.f);
  });
}

void segmentSum(const int32_t* ptr, const int32_t* pos, const float* g, int64_t rows, int64_t cols, float* out) {
  forRowParts(rows, cols, [&](int64_t r) {
    std::vector<double> acc(static_cast<size_t>(cols), 0.0);
    for (int64_t e = ptr[r]; e < ptr[r + 1]; ++e) {
      const float* gr = g + static_cast<int64_t>(pos[e]) * cols;
      for (int64_t c = 0; c < cols; ++c) acc[static_cast<size_t>(c)] += gr[c];
    }
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = static_cast<float>(acc[static_cast<size_t>(c)]);
  });
}

void copy2d(const float* src, float* dst, const Copy2dShape& s) {
  if (s.width <= 0) return;
  forRowParts(s.rows, s.width, [&](int64_t r) {
    std::memcpy(dst + r * s.dstCols + s.dstOff, src + r * s.srcCols + s.srcOff, static_cast<size_t>(s.width) * sizeof(float));
  });
}

}  // namespace kern
}  // namespace gnnrl
