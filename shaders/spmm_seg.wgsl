// SpMM Y = A·X over a degree-aware segment layout (see src/graph/layout.ts): work is a
// list of units (row, start, end, slot) ordered longest row first (load balance), each
// covering at most maxSegment non-zeros of one row. A unit of a row with a single unit
// writes Y[row]; the units of a split row write partial sums to `partial[slot]`, and the
// `combine` pass adds them in slot order. No float atomics: the result is deterministic.
//
// Three strategies for the first pass, one entry point each, picked per adapter:
//   lanes_vec4   LANES = d/4 invocations share a unit, each owning one vec4 column group;
//                the unit's (col, val) loads are uniform across those lanes.
//   cache_vec4   as lanes_vec4, but each group of LANES lanes first stages up to LANES
//                (col, val) pairs in workgroup memory (GE-SpMM row caching): one global
//                load per pair instead of one per lane. Real GPUs reward this.
//   thread_vec4  one invocation per unit owns every column (up to 64 per pass, held in
//                16 vec4 registers): no barriers, long independent FMA chains. CPU
//                implementations of WebGPU (lavapipe) reward this.
// All three need d % 4 == 0; the scalar `lanes` variant serves any d.

override LANES: u32 = 16u;   // invocations per unit (lanes variants): a power of two ≤ 64
const WG: u32 = 64u;

struct Params {
  n_units: u32,
  d: u32,          // columns (scalar variant) or d / 4 (vec4 variants)
  groups_x: u32,
  n_split: u32,    // rows with more than one unit (combine pass)
}

@group(0) @binding(0) var<storage, read> units: array<vec4<i32>>;   // row, start, end, slot
@group(0) @binding(1) var<storage, read> col_idx: array<i32>;
@group(0) @binding(2) var<storage, read> vals: array<f32>;
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> part4: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: Params;

var<workgroup> cache_col: array<i32, WG>;
var<workgroup> cache_val: array<f32, WG>;

fn store4(u: vec4<i32>, c4: u32, v: vec4<f32>) {
  if (u.w < 0) {
    y4[u32(u.x) * p.d + c4] = v;
  } else {
    part4[u32(u.w) * p.d + c4] = v;
  }
}

@compute @workgroup_size(WG)
fn lanes_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let per_group = WG / LANES;
  let unit = (wid.x + wid.y * p.groups_x) * per_group + lid.x / LANES;
  if (unit >= p.n_units) { return; }
  let lane = lid.x % LANES;
  let u = units[unit];
  let d4 = p.d;
  for (var c4 = lane; c4 < d4; c4 += LANES) {
    var acc = vec4<f32>(0.0);
    for (var e = u.y; e < u.z; e++) {
      acc = fma(vec4<f32>(vals[e]), x4[u32(col_idx[e]) * d4 + c4], acc);
    }
    store4(u, c4, acc);
  }
}

@compute @workgroup_size(WG)
fn cache_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let per_group = WG / LANES;
  let group = wid.x + wid.y * p.groups_x;
  let sub = lid.x / LANES;
  let lane = lid.x % LANES;
  let unit = group * per_group + sub;
  let live = unit < p.n_units;
  var u = vec4<i32>(0, 0, 0, -1);
  if (live) { u = units[unit]; }
  // Every lane runs as many staging rounds as the group's longest unit needs, so the
  // barriers stay in uniform control flow (the loads below are uniform too).
  var longest = 0u;
  for (var i = 0u; i < per_group; i++) {
    let k = group * per_group + i;
    if (k < p.n_units) {
      let ui = units[k];
      longest = max(longest, u32(ui.z - ui.y));
    }
  }
  let rounds = (longest + LANES - 1u) / LANES;
  let d4 = p.d;
  let base = sub * LANES;
  // Each lane owns column groups lane, lane + LANES, …; up to 4 are held in registers.
  var acc: array<vec4<f32>, 4>;
  for (var r = 0u; r < rounds; r++) {
    let e = u.y + i32(r * LANES + lane);
    if (live && e < u.z) {
      cache_col[base + lane] = col_idx[e];
      cache_val[base + lane] = vals[e];
    }
    workgroupBarrier();
    let n_here = min(LANES, u32(max(0, u.z - u.y - i32(r * LANES))));
    for (var j = 0u; j < n_here; j++) {
      let col = u32(cache_col[base + j]);
      let v = vec4<f32>(cache_val[base + j]);
      for (var q = 0u; q < 4u; q++) {
        let c4 = lane + q * LANES;
        if (c4 < d4) { acc[q] = fma(v, x4[col * d4 + c4], acc[q]); }
      }
    }
    workgroupBarrier();
  }
  if (live) {
    for (var q = 0u; q < 4u; q++) {
      let c4 = lane + q * LANES;
      if (c4 < d4) { store4(u, c4, acc[q]); }
    }
  }
}

const W4: u32 = 16u;        // thread_vec4: vec4 accumulators per pass

@compute @workgroup_size(WG)
fn thread_vec4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let unit = gid.x + gid.y * nwg.x * WG;
  if (unit >= p.n_units) { return; }
  let u = units[unit];
  let d4 = p.d;
  for (var c0 = 0u; c0 < d4; c0 += W4) {
    // A constant trip count lets the compiler unroll the inner loops and keep the
    // accumulators in registers; the guard handles a tail (and d < 64).
    var acc = array<vec4<f32>, W4>();
    for (var e = u.y; e < u.z; e++) {
      let v = vec4<f32>(vals[e]);
      let xb = u32(col_idx[e]) * d4 + c0;
      for (var q = 0u; q < W4; q++) {
        if (c0 + q < d4) { acc[q] = fma(v, x4[xb + q], acc[q]); }
      }
    }
    for (var q = 0u; q < W4; q++) {
      if (c0 + q < d4) { store4(u, c0 + q, acc[q]); }
    }
  }
}

// Scalar columns, any d (here p.d is d itself): LANES lanes per unit.
@group(0) @binding(3) var<storage, read> x1: array<f32>;
@group(0) @binding(4) var<storage, read_write> y1: array<f32>;
@group(0) @binding(5) var<storage, read_write> part1: array<f32>;

@compute @workgroup_size(WG)
fn lanes(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let per_group = WG / LANES;
  let unit = (wid.x + wid.y * p.groups_x) * per_group + lid.x / LANES;
  if (unit >= p.n_units) { return; }
  let lane = lid.x % LANES;
  let u = units[unit];
  let d = p.d;
  for (var c = lane; c < d; c += LANES) {
    var acc = 0.0;
    for (var e = u.y; e < u.z; e++) {
      acc = fma(vals[e], x1[u32(col_idx[e]) * d + c], acc);
    }
    if (u.w < 0) {
      y1[u32(u.x) * d + c] = acc;
    } else {
      part1[u32(u.w) * d + c] = acc;
    }
  }
}

// Second pass: split rows (row, first slot, slot count) summed in slot order.
@group(0) @binding(0) var<storage, read> split: array<vec4<i32>>;
@group(0) @binding(1) var<storage, read> c_part: array<f32>;
@group(0) @binding(2) var<storage, read_write> c_y: array<f32>;
@group(0) @binding(3) var<uniform> cp: Params;

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  // One workgroup per split row; p.d here is the scalar column count.
  let sr = wid.x + wid.y * cp.groups_x;
  if (sr >= cp.n_split) { return; }
  let s = split[sr];
  let d = cp.d;
  for (var c = lid.x; c < d; c += WG) {
    var acc = 0.0;
    for (var k = 0; k < s.z; k++) {
      acc += c_part[u32(s.y + k) * d + c];
    }
    c_y[u32(s.x) * d + c] = acc;
  }
}
