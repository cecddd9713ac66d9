// Y = A · X for CSR A (n_rows × n_cols) and dense row-major X (n_cols × d), Y (n_rows × d).
//
// LANES invocations cooperate on one row, each owning the feature columns
// lane, lane + LANES, ...; a workgroup holds WG / LANES rows. Every lane walks the row's
// (col, val) list in the same order, so those loads are uniform across the lanes (one
// cache line serves them all) while the X loads are contiguous across lanes.
// Deterministic: each output element is summed by one invocation in CSR order.
// A matrix too big for one storage binding runs block by block (rows × column ranges of
// X, bound as buffer ranges); blocks after a row block's first add into Y in order.

override WG: u32 = 64;
override LANES: u32 = 64;

struct Params {
  n_rows: u32,
  d: u32,
  groups_x: u32,
  accumulate: u32, // 1: y += A·X (column blocks of a split matrix after the first)
}

@group(0) @binding(0) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(1) var<storage, read> col_idx: array<i32>;
@group(0) @binding(2) var<storage, read> vals: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let rows_per_group = WG / LANES;
  let group = wid.x + wid.y * p.groups_x;
  let row = group * rows_per_group + lid.x / LANES;
  if (row >= p.n_rows) {
    return;
  }
  let lane = lid.x % LANES;
  let start = u32(row_ptr[row]);
  let end = u32(row_ptr[row + 1u]);
  let d = p.d;
  for (var c = lane; c < d; c += LANES) {
    var acc = 0.0;
    for (var e = start; e < end; e++) {
      acc = fma(vals[e], x[u32(col_idx[e]) * d + c], acc);
    }
    if (p.accumulate != 0u) {
      y[row * d + c] += acc;
    } else {
      y[row * d + c] = acc;
    }
  }
}
