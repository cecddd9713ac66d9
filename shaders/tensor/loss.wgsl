// Softmax cross-entropy with integer class labels, fused so the probabilities are
// never materialised in forward:
//   forward:  loss[r] = logsumexp(x[r, :]) - x[r, label[r]],  lse[r] saved for backward
//   backward: gx[r, c] = (exp(x[r, c] - lse[r]) - [c == label[r]]) * g[0] * scale
// forward runs one workgroup per row; backward one invocation per element.

override WG: u32 = 256u;

struct Params {
  rows: u32,
  cols: u32,
  scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@group(0) @binding(2) var<storage, read> blse: array<f32>;
@group(0) @binding(3) var<storage, read> bg: array<f32>;
@group(0) @binding(4) var<storage, read_write> bgx: array<f32>;
@group(0) @binding(5) var<uniform> bp: Params;

var<workgroup> red: array<f32, WG>;

fn tree(v: f32, lid: u32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max);
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
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  var m = -3.4028234663852886e38;
  for (var c = lid.x; c < p.cols; c += WG) {
    m = max(m, x[base + c]);
  }
  m = tree(m, lid.x, true);
  var s = 0.0;
  for (var c = lid.x; c < p.cols; c += WG) {
    s += exp(x[base + c] - m);
  }
  s = tree(s, lid.x, false);
  if (lid.x == 0u) {
    let l = m + log(s);
    lse[row] = l;
    // Labels are validated on the host when it knows them; an out-of-range label
    // that reaches here contributes a NaN rather than reading out of bounds.
    let t = labels[row];
    if (t >= 0 && u32(t) < p.cols) {
      loss[row] = l - x[base + u32(t)];
    } else {
      loss[row] = bitcast<f32>(0x7fc00000u + p.rows * 0u); // NaN, built at run time (const NaN is rejected)
    }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (i >= bp.rows * bp.cols) {
    return;
  }
  let row = i / bp.cols;
  let c = i - row * bp.cols;
  let onehot = select(0.0, 1.0, labels[row] == i32(c));
  bgx[i] = (exp(x[i] - blse[row]) - onehot) * bg[0] * bp.scale;
}
