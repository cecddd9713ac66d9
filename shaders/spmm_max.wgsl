// Max aggregation (GraphSAGE's max aggregator): Y[i,c] = max over neighbours j of X[j,c],
// keeping argmax A[i,c] = j (the lowest j among equal maxima; −1 and Y = 0 for a row
// without neighbours). Backward over the transpose, deterministic:
//   dX[j,c] = Σ over destinations i that have j as neighbour, with A[i,c] = j, of dY[i,c].

override LANES: u32 = 64u;
const WG: u32 = 64u;

struct Params {
  n_rows: u32,
  d: u32,
  groups_x: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(1) var<storage, read> col_idx: array<i32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> arg: array<i32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = (wid.x + wid.y * p.groups_x) * (WG / LANES) + lid.x / LANES;
  if (row >= p.n_rows) { return; }
  let lane = lid.x % LANES;
  let start = row_ptr[row];
  let end = row_ptr[row + 1u];
  for (var c = lane; c < p.d; c += LANES) {
    var best = 0.0;
    var bi = -1;
    for (var e = start; e < end; e++) {
      let j = col_idx[e];
      let v = x[u32(j) * p.d + c];
      // Columns are sorted, so the first maximum seen has the lowest index.
      if (bi < 0 || v > best) {
        best = v;
        bi = j;
      }
    }
    y[row * p.d + c] = best;
    arg[row * p.d + c] = bi;
  }
}

@group(0) @binding(0) var<storage, read> t_ptr: array<i32>;
@group(0) @binding(1) var<storage, read> t_dst: array<i32>;
@group(0) @binding(2) var<storage, read> b_arg: array<i32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> bp: Params;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let j = (wid.x + wid.y * bp.groups_x) * (WG / LANES) + lid.x / LANES;
  if (j >= bp.n_rows) { return; }
  let lane = lid.x % LANES;
  for (var c = lane; c < bp.d; c += LANES) {
    var acc = 0.0;
    for (var t = t_ptr[j]; t < t_ptr[j + 1u]; t++) {
      let i = u32(t_dst[t]);
      if (b_arg[i * bp.d + c] == i32(j)) { acc += dy[i * bp.d + c]; }
    }
    dx[j * bp.d + c] = acc;
  }
}
