// The kernels' thread pool: persistent workers (started once, not per call as the graph
// builder's forkJoin does, because a kernel call may last only microseconds), sized to
// the machine unless setThreads() says otherwise (the JS side passes GNNRL_THREADS).
//
// Determinism: run(parts, f) calls f(p) once for every p in [0, parts), on whichever
// thread is free. Kernels choose their parts from the data alone, or write each output
// element from exactly one part in a fixed order, so results never depend on the number
// of threads or on scheduling.
#pragma once
#include <cstdint>
#include <functional>

namespace gnnrl {
namespace kern {

// Threads the pool runs with (the caller's thread included), >= 1.
int poolThreads();
// Sets the pool's size (1..256); waits for a running job first.
void setPoolThreads(int n);
// Runs f(p) for p in [0, parts) and returns when all are done; rethrows the exception of
// the lowest failing part. Jobs from several threads run one after another. f must not
// call run() itself.
void parallelFor(int64_t parts, const std::function<void(int64_t)>& f);

}  // namespace kern
}  // namespace gnnrl
