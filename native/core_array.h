// An owned, uninitialised array of trivially copyable values. Outputs are allocated with
// malloc so the binding can hand the block to V8 as an external ArrayBuffer (no copy) and
// free it in the finaliser. Allocation failure throws std::bad_alloc, which every entry
// point maps to a 'limit' error.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace gnnrl {

template <class T>
class Array {
 public:
  Array() = default;
  explicit Array(size_t n) : n_(n) {
    if (n == 0) return;
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    p_ = static_cast<T*>(std::malloc(n * sizeof(T)));
    if (!p_) throw std::bad_alloc();
  }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  Array(Array&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  Array& operator=(Array&& o) noexcept {
    if (this != &o) { std::free(p_); p_ = o.p_; n_ = o.n_; o.p_ = nullptr; o.n_ = 0; }
    return *this;
  }
  ~Array() { std::free(p_); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }
  // Gives up ownership; the caller must std::free the pointer.
  T* release() { T* p = p_; p_ = nullptr; n_ = 0; return p; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace gnnrl
