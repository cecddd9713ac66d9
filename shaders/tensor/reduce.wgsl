// Deterministic reductions, multi-pass only: WebGPU promises no forward progress
// between workgroups, so no workgroup ever waits for another. Each pass writes
// partials; the host launches passes until one value per output remains.
//
//   chunks: out[off + g] = scale * reduce(x[g*chunk .. min((g+1)*chunk, n)))
//           (a row reduction is chunk = cols; a full reduction repeats with big chunks)
//   cols:   out[s, c] = scale * sum_{r in chunk s} x[r, c]  (column sums, thread per column)

override OP: u32 = 0u;   // 0 sum, 1 sum of squares, 2 max
override WG: u32 = 256u;

struct Chunks {
  n: u32,
  chunk: u32,
  out_offset: u32,
  scale: f32,
}

struct Cols {
  rows: u32,
  cols: u32,
  rows_per_chunk: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> pc: Chunks;
@group(0) @binding(2) var<uniform> pl: Cols;

var<workgroup> partial: array<f32, WG>;

fn identity() -> f32 {
  if (OP == 2u) {
    return -3.4028234663852886e38;
  }
  return 0.0;
}

fn combine(acc: f32, v: f32) -> f32 {
  if (OP == 2u) {
    return max(acc, v);
  }
  return acc + v;
}

fn term(v: f32) -> f32 {
  if (OP == 1u) {
    return v * v;
  }
  return v;
}

@compute @workgroup_size(WG)
fn chunks(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  // The group index is uniform across the workgroup, so every invocation reaches the barriers.
  let g = wid.x + wid.y * nwg.x;
  let start = g * pc.chunk;
  let end = min(start + pc.chunk, pc.n);
  var acc = identity();
  // Four independent accumulators would reorder the sum; one strided loop keeps the
  // order fixed per (chunk, WG), which is all determinism needs.
  for (var i = start + lid.x; i < end; i += WG) {
    acc = combine(acc, term(x[i]));
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid.x < s) {
      partial[lid.x] = combine(partial[lid.x], partial[lid.x + s]);
    }
    workgroupBarrier();
  }
  if (lid.x == 0u && start < max(pc.n, 1u)) {
    out[pc.out_offset + g] = partial[0] * pc.scale;
  }
}

@compute @workgroup_size(WG)
fn cols(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (c >= pl.cols) {
    return;
  }
  let r0 = wid.z * pl.rows_per_chunk;
  let r1 = min(r0 + pl.rows_per_chunk, pl.rows);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    acc += x[r * pl.cols + c];
  }
  out[wid.z * pl.cols + c] = acc * pl.scale;
}

// Short rows (cols ≤ SHORT_ROW on the host): one invocation folds one row, no barriers.
// A workgroup per row would idle most of its 256 lanes on a 64-wide embedding row and
// pay log2(WG) barriers for it; here each invocation streams its own row, which suits
// the tall, narrow matrices the encoders reduce (a BPR batch's row dot products).
//   rows_thread: out[off + r] = scale * reduce(x[r*chunk .. (r+1)*chunk)), r < n / chunk
@compute @workgroup_size(WG)
fn rows_thread(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (r * pc.chunk >= pc.n) {
    return;
  }
  let start = r * pc.chunk;
  var acc = identity();
  for (var i = 0u; i < pc.chunk; i++) {
    acc = combine(acc, term(x[start + i]));
  }
  out[pc.out_offset + r] = acc * pc.scale;
}
