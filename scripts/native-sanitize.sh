#!/usr/bin/env bash
# Builds the addon's N-API-free core (native/*_core.cc) with a standalone fuzz driver
# (native/fuzz/fuzz_main.cc) under AddressSanitizer + UndefinedBehaviorSanitizer, and runs
# a seeded random fuzz (valid and malformed inputs) for a bounded time. Exits non-zero on
# any sanitizer report or broken invariant. CI runs it.
#
# Then, unless GNNRL_SANITIZE_ASYNC=0 (or node / node_modules are missing), it builds the
# whole addon with the same sanitizers and runs native/fuzz/async_asan.mjs under node with
# libasan preloaded and LeakSanitizer on: the *Async kernel calls in flight together, with
# every reference dropped and GC forced, with an output detached, and inside worker
# threads terminated mid-call. Those calls run the same kern:: core functions (and the
# same index checks) that the fuzz driver feeds above, which also calls them from
# several threads at once as the libuv workers do (GNNRL_SANITIZE_TSAN=1 adds a
# ThreadSanitizer run of the driver).
#
#   scripts/native-sanitize.sh [seconds=25] [seed=1]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-25}"
seed="${2:-1}"
cxx="${CXX:-g++}"
command -v "$cxx" >/dev/null || { echo "native-sanitize: $cxx not found (install g++)" >&2; exit 1; }
out="$(mktemp -d "${TMPDIR:-/tmp}/gnnrl-sanitize.XXXXXX")"
trap 'rm -rf "$out"' EXIT
# -O1 keeps stack traces honest; -ffp-contract=off as in the addon build.
"$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -Wall -Wextra \
  -fsanitize=address,undefined -fno-sanitize-recover=all \
  -I"$root/native" "$root"/native/*_core.cc "$root/native/fuzz/fuzz_main.cc" \
  -pthread -o "$out/fuzz"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$out/fuzz" "$seconds" "$seed"

# GNNRL_SANITIZE_TSAN=1: the same driver under ThreadSanitizer too (its concurrent-callers
# iteration is what the async bindings do from libuv workers). Opt-in: one more build.
if [ "${GNNRL_SANITIZE_TSAN:-0}" = "1" ]; then
  "$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -fsanitize=thread \
    -I"$root/native" "$root"/native/*_core.cc "$root/native/fuzz/fuzz_main.cc" -pthread -o "$out/fuzz-tsan"
  TSAN_OPTIONS="halt_on_error=1" "$out/fuzz-tsan" "$seconds" "$seed"
fi

if [ "${GNNRL_SANITIZE_ASYNC:-1}" = "0" ]; then
  echo "native-sanitize: async pass skipped (GNNRL_SANITIZE_ASYNC=0)"
  exit 0
fi
napi_inc="$root/node_modules/node-api-headers/include"
addon_inc="$root/node_modules/node-addon-api"
if ! command -v node >/dev/null || [ ! -f "$napi_inc/node_api.h" ] || [ ! -f "$addon_inc/napi.h" ]; then
  echo "native-sanitize: async pass skipped (needs node and npm install's node-api-headers and node-addon-api)"
  exit 0
fi
libasan="$("$cxx" -print-file-name=libasan.so)"
[ -f "$libasan" ] || { echo "native-sanitize: $cxx has no libasan.so to preload" >&2; exit 1; }
mkdir -p "$out/obj"
# The addon's sources compiled in parallel (one process per core), as the addon build does.
jobs="$(nproc 2>/dev/null || echo 2)"
printf '%s\n' "$root"/native/*.cc | xargs -P "$jobs" -I{} sh -c '
  "$0" -std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -fPIC -fsanitize=address,undefined \
    -fno-sanitize-recover=all -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_ADDON_API_CPP_EXCEPTIONS -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS \
    -DBUILDING_NODE_EXTENSION -I"$1" -I"$2" -c "{}" -o "$3/obj/$(basename "{}" .cc).o"' "$cxx" "$napi_inc" "$addon_inc" "$out"
"$cxx" -shared -fsanitize=address,undefined "$out"/obj/*.o -pthread -o "$out/gnnrl_native.node"
LD_PRELOAD="$libasan" node --expose-gc "$root/native/fuzz/async_asan.mjs" "$out/gnnrl_native.node" "$seed"
