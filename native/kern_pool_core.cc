#include "kern_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace gnnrl {
namespace kern {
namespace {

int hardwareThreads() {
  unsigned h = std::thread::hardware_concurrency();
  return static_cast<int>(std::max(1u, std::min(h == 0 ? 1u : h, 256u)));
}

class Pool {
 public:
  explicit Pool(int n) { start(n); }
  ~Pool() { stop(); }

  int threads() const { return size_; }

  void resize(int n) {
    std::lock_guard<std::mutex> job(jobMutex_);
    if (n == size_) return;
    stop();
    start(n);
  }

  void run(int64_t parts, const std::function<void(int64_t)>& f) {
    if (parts <= 0) return;
    std::lock_guard<std::mutex> job(jobMutex_);
    if (size_ == 1 || parts == 1) {
      for (int64_t p = 0; p < parts; ++p) f(p);  // same exception order as below
      return;
    }
    std::vector<std::exception_ptr> errs(static_cast<size_t>(parts));
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &f;
      errs_ = &errs;
      parts_ = parts;
      next_.store(0);
      active_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    cv_.notify_all();
    work();
    {
      std::unique_lock<std::mutex> lk(m_);
      doneCv_.wait(lk, [&] { return active_ == 0; });
      fn_ = nullptr;
      errs_ = nullptr;
    }
    for (auto& e : errs) if (e) std::rethrow_exception(e);
  }

 private:
  void start(int n) {
    size_ = std::max(1, std::min(n, 256));
    quit_ = false;
    // Each worker starts from the generation current now, so a job (or a stop) posted
    // before the thread first runs is not missed.
    uint64_t gen;
    {
      std::lock_guard<std::mutex> lk(m_);
      gen = generation_;
    }
    for (int t = 1; t < size_; ++t) {
      try {
        workers_.emplace_back([this, gen] { loop(gen); });
      } catch (...) {
        break;  // fewer workers than asked: the caller's thread does the rest
      }
    }
    size_ = static_cast<int>(workers_.size()) + 1;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      quit_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  // Takes parts until none is left.
  void work() {
    for (;;) {
      int64_t p = next_.fetch_add(1);
      if (p >= parts_) return;
      try {
        (*fn_)(p);
      } catch (...) {
        (*errs_)[static_cast<size_t>(p)] = std::current_exception();
      }
    }
  }

  void loop(uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return quit_ || generation_ != seen; });
        seen = generation_;
        if (quit_) return;
      }
      work();
      {
        std::lock_guard<std::mutex> lk(m_);
        if (--active_ == 0) doneCv_.notify_one();
      }
    }
  }

  std::mutex jobMutex_;  // one job at a time
  std::mutex m_;
  std::condition_variable cv_, doneCv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  std::vector<std::exception_ptr>* errs_ = nullptr;
  int64_t parts_ = 0;
  std::atomic<int64_t> next_{0};
  int active_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
  int size_ = 1;
};

Pool& pool() {
  // Never destroyed: joining threads from a static destructor at process exit can hang
  // when the runtime has already torn threads down.
  static Pool* p = new Pool(hardwareThreads());
  return *p;
}

}  // namespace

int poolThreads() { return pool().threads(); }
void setPoolThreads(int n) { pool().resize(n); }
void parallelFor(int64_t parts, const std::function<void(int64_t)>& f) { pool().run(parts, f); }

}  // namespace kern
}  // namespace gnnrl
