// External id -> dense id encoding: open addressing with linear probing over a
// power-of-two table. See graph_ops_core.h.
#include <algorithm>
#include <cmath>
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

// One table slot: the full hash, the dense id, and the key itself when it fits in 16
// bytes (every number; most string ids), so a lookup touches only the table (no random
// read of the input) except for long strings. The table grows by doubling at half load,
// so its size follows the distinct ids, not the rows: a 10^7-row column with 10^6 ids
// keeps a 64 MiB table that caches far better than one sized for every row.
struct Slot {
  uint64_t h;
  int32_t dense;   // -1 = empty
  uint32_t len;    // key bytes (8 for numbers)
  uint64_t a, b;   // the key's first 16 bytes, zero padded
};

template <class Key>
IdEncodeOut encode(int64_t n, Key key) {
  if (n > kMaxIndex) throwLimit("ids: " + std::to_string(n) + " ids exceed the int32 index limit 2147483647");
  IdEncodeOut out;
  out.dense = Array<int32_t>(static_cast<size_t>(n));
  std::vector<int32_t> first;
  std::vector<Slot> table(1024, Slot{0, -1, 0, 0, 0});
  size_t mask = table.size() - 1;
  auto insertSlot = [&](const Slot& s) {
    size_t p = static_cast<size_t>(s.h) & mask;
    while (table[p].dense >= 0) p = (p + 1) & mask;
    table[p] = s;
  };
  for (int64_t k = 0; k < n; ++k) {
    std::string_view kv = key(k);
    Slot s{0, -1, static_cast<uint32_t>(kv.size()), 0, 0};
    std::memcpy(&s.a, kv.data(), std::min<size_t>(kv.size(), 8));
    if (kv.size() > 8) std::memcpy(&s.b, kv.data() + 8, std::min<size_t>(kv.size() - 8, 8));
    s.h = hashBytes(kv.data(), kv.size());
    size_t p = static_cast<size_t>(s.h) & mask;
    for (;;) {
      const Slot& t = table[p];
      if (t.dense < 0) {
        if (first.size() * 2 >= table.size()) {  // grow, then insert into the new table
          std::vector<Slot> old;
          old.swap(table);
          table.assign(old.size() * 2, Slot{0, -1, 0, 0, 0});
          mask = table.size() - 1;
          for (const Slot& o : old) if (o.dense >= 0) insertSlot(o);
        }
        s.dense = static_cast<int32_t>(first.size());
        first.push_back(static_cast<int32_t>(k));
        insertSlot(s);
        out.dense[k] = s.dense;
        break;
      }
      if (t.h == s.h && t.len == s.len && t.a == s.a && t.b == s.b &&
          (s.len <= 16 || key(first[static_cast<size_t>(t.dense)]) == kv)) {
        out.dense[k] = t.dense;
        break;
      }
      p = (p + 1) & mask;
    }
  }
  out.firstIndex = Array<int32_t>(first.size());
  if (!first.empty()) std::memcpy(out.firstIndex.data(), first.data(), first.size() * 4);
  return out;
}

}  // namespace

IdEncodeOut encodeNumbers(const double* ids, int64_t n) {
  // Keys are the 8 bytes of the double, -0 folded into 0 (one id, as in a JS Map).
  std::vector<double> folded;  // only materialised when a -0 is present
  const double* src = ids;
  for (int64_t k = 0; k < n; ++k)
    if (ids[k] == 0 && std::signbit(ids[k])) {
      folded.assign(ids, ids + n);
      for (double& v : folded) if (v == 0) v = 0.0;
      src = folded.data();
      break;
    }
  return encode(n, [src](int64_t k) { return std::string_view(reinterpret_cast<const char*>(src + k), 8); });
}

IdEncodeOut encodeStrings(const char* bytes, const int64_t* off, int64_t n) {
  return encode(n, [bytes, off](int64_t k) {
    return std::string_view(bytes + off[k], static_cast<size_t>(off[k + 1] - off[k]));
  });
}

}  // namespace gnnrl
