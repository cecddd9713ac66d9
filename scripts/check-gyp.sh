#!/usr/bin/env bash
# Proves binding.gyp still builds the addon: copies the package's build inputs to a
# temporary folder, runs node-gyp there (so build/ from cmake-js is never touched), loads
# the result and runs a smoke build through it. Offline: node-gyp uses the Node headers
# already on the machine (npm config `nodedir`, else the running Node's prefix).
#
#   scripts/check-gyp.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gnnrl-gyp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# node-gyp: the project's own, else the copy bundled with npm.
gyp="$root/node_modules/node-gyp/bin/node-gyp.js"
if [ ! -f "$gyp" ]; then
  npm_root="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  gyp="$npm_root/node_modules/node-gyp/bin/node-gyp.js"
fi
[ -f "$gyp" ] || { echo "check-gyp: node-gyp not found (it ships with npm)" >&2; exit 1; }

nodedir="$(npm config get nodedir 2>/dev/null || true)"
if [ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ "$nodedir" = "null" ]; then
  nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
fi
[ -f "$nodedir/include/node/node_api.h" ] || { echo "check-gyp: no Node headers under $nodedir/include/node" >&2; exit 1; }

mkdir -p "$tmp/pkg/native" "$tmp/pkg/node_modules"
cp "$root/binding.gyp" "$root/package.json" "$tmp/pkg/"
cp "$root"/native/*.cc "$root"/native/*.h "$tmp/pkg/native/"
ln -s "$root/node_modules/node-addon-api" "$tmp/pkg/node_modules/node-addon-api"

cd "$tmp/pkg"
node "$gyp" rebuild --nodedir="$nodedir" -j "$(nproc 2>/dev/null || echo 2)" >"$tmp/gyp.log" 2>&1 || {
  cat "$tmp/gyp.log" >&2
  echo "check-gyp: node-gyp rebuild failed" >&2
  exit 1
}
node -e '
  const addon = require(process.argv[1]);
  class GnnrlError extends Error { constructor(code, message, details) { super(message); this.code = code; this.details = details; } }
  addon.init(GnnrlError);
  const g = addon.buildGraph(
    { users: Int32Array.of(0, 0, 1), items: Int32Array.of(1, 1, 0), nUsers: 2, nItems: 2 },
    { adjacency: { norm: "sym" } });
  if (g.userItem.colIdx.length !== 2 || g.adjacency.colIdx.length !== 4) throw new Error("unexpected graph");
  try { addon.buildGraph({ users: Int32Array.of(5), items: Int32Array.of(0), nUsers: 2, nItems: 2 }); throw new Error("no error"); }
  catch (e) { if (!(e instanceof GnnrlError) || e.code !== "input") throw e; }
  console.log("check-gyp: node-gyp build loads and works (" + process.argv[1] + ")");
' "$tmp/pkg/build/Release/gnnrl_native.node"
