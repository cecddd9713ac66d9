#!/usr/bin/env bash
# Builds the addon's N-API-free core (native/*_core.cc) with a standalone fuzz driver
# (native/fuzz/fuzz_main.cc) under AddressSanitizer + UndefinedBehaviorSanitizer, and runs
# a seeded random fuzz (valid and malformed inputs) for a bounded time. Exits non-zero on
# any sanitizer report or broken invariant. CI runs it.
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
