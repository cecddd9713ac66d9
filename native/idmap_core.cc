// External id -> dense id encoding with open addressing (linear probing, power-of-two
// table at least twice the input). See graph_ops_core.h.
#include <cstring>
#include <string_view>
#include <vector>

#include "graph_ops_core.h"

namespace gnnrl {
namespace {

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser: spreads sequential ids
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27; x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline uint64_t hashBytes(const char* p, size_t n) {  // FNV-1a over 8-byte words, then mixed
  uint64_t h = 0xcbf29ce484222325ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) { uint64_t w; std::memcpy(&w, p + i, 8); h = (h ^ w) * 0x100000001b3ull; }
  uint64_t tail = 0;
  if (i < n) std::memcpy(&tail, p + i, n - i);
  return mix64(h ^ tail);
}

size_t tableSize(int64_t n) {
  size_t cap = 16;
  while (cap < static_cast<size_t>(n) * 2) cap <<= 1;
  return cap;
}

template <class Hash, class Eq>
IdEncodeOut encode(int64_t n, Hash hash, Eq eq) {
  if (n > kMaxIndex) throwLimit("ids: " + std::to_string(n) + " ids exceed the int32 index limit 2147483647");
  IdEncodeOut out;
  out.dense = Array<int32_t>(static_cast<size_t>(n));
  std::vector<int32_t> first;
  const size_t cap = tableSize(n), mask = cap - 1;
  std::vector<int32_t> slot(cap, -1);  // dense id, -1 = empty
  for (int64_t k = 0; k < n; ++k) {
    size_t h = static_cast<size_t>(hash(k)) & mask;
    for (;;) {
      int32_t d = slot[h];
      if (d < 0) { d = static_cast<int32_t>(first.size()); slot[h] = d; first.push_back(static_cast<int32_t>(k)); out.dense[k] = d; break; }
      if (eq(first[d], k)) { out.dense[k] = d; break; }
      h = (h + 1) & mask;
    }
  }
  out.firstIndex = Array<int32_t>(first.size());
  if (!first.empty()) std::memcpy(out.firstIndex.data(), first.data(), first.size() * 4);
  return out;
}

}  // namespace

IdEncodeOut encodeNumbers(const double* ids, int64_t n) {
  auto key = [ids](int64_t k) {
    double v = ids[k] == 0 ? 0.0 : ids[k];  // -0 and 0 are one id, as in a JS Map
    uint64_t b;
    std::memcpy(&b, &v, 8);
    return b;
  };
  return encode(n, [&](int64_t k) { return mix64(key(k)); }, [&](int64_t a, int64_t b) { return key(a) == key(b); });
}

IdEncodeOut encodeStrings(const char* bytes, const int64_t* off, int64_t n) {
  auto view = [bytes, off](int64_t k) { return std::string_view(bytes + off[k], static_cast<size_t>(off[k + 1] - off[k])); };
  return encode(
      n, [&](int64_t k) { auto s = view(k); return hashBytes(s.data(), s.size()); },
      [&](int64_t a, int64_t b) { return view(a) == view(b); });
}

}  // namespace gnnrl
