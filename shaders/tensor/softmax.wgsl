// Row softmax / log-softmax over a row-major [rows, cols] matrix: one workgroup per
// row (rows folded into (x, y) by the host), strided loops over columns and tree
// reductions in workgroup memory. Max-subtracted, so no overflow for any input.
//
//   forward:  y = softmax(x)  or  y = x - logsumexp(x)          (LOG)
//   backward: gx = y * (g - sum(g * y))  or  gx = g - exp(y) * sum(g)

override LOG: bool = false;
override WG: u32 = 256u;

struct Params {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@group(0) @binding(0) var<storage, read> by: array<f32>;
@group(0) @binding(1) var<storage, read> bg: array<f32>;
@group(0) @binding(2) var<storage, read_write> bgx: array<f32>;
@group(0) @binding(3) var<uniform> bp: Params;

var<workgroup> red: array<f32, WG>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = red[lid] + red[lid + s];
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform per workgroup: either every invocation returns here or none does.
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  var m = -3.4028234663852886e38;
  for (var c = lid.x; c < p.cols; c += WG) {
    m = max(m, x[base + c]);
  }
  m = reduce_max(m, lid.x);
  var s = 0.0;
  for (var c = lid.x; c < p.cols; c += WG) {
    s += exp(x[base + c] - m);
  }
  s = reduce_sum(s, lid.x);
  if (LOG) {
    let lse = m + log(s);
    for (var c = lid.x; c < p.cols; c += WG) {
      y[base + c] = x[base + c] - lse;
    }
  } else {
    let inv = 1.0 / s;
    for (var c = lid.x; c < p.cols; c += WG) {
      y[base + c] = exp(x[base + c] - m) * inv;
    }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= bp.rows) {
    return;
  }
  let base = row * bp.cols;
  var d = 0.0;
  for (var c = lid.x; c < bp.cols; c += WG) {
    if (LOG) {
      d += bg[base + c];
    } else {
      d += bg[base + c] * by[base + c];
    }
  }
  d = reduce_sum(d, lid.x);
  for (var c = lid.x; c < bp.cols; c += WG) {
    let g = bg[base + c];
    let yv = by[base + c];
    if (LOG) {
      bgx[base + c] = g - exp(yv) * d;
    } else {
      bgx[base + c] = yv * (g - d);
    }
  }
}
