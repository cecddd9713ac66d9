// Fused optimiser updates: one dispatch per parameter reads w, g and the state once
// and writes them once. `clip` holds the global gradient-norm scale computed on the
// device (clip_scale below), so clipping needs no readback; without clipping the host
// binds a buffer holding 1.
//
//   sgd:  v = mu * v + (g*s + wd * w);  w -= lr * v                  (L2 via wd)
//   adam: g' = g*s (+ wd * w unless ADAMW); m, v moments; w -= lr * (m̂ / (sqrt(v̂) + eps) (+ wd * w if ADAMW))

override ADAMW: bool = false;
override WG: u32 = 256u;

struct Sgd {
  n: u32,
  lr: f32,
  momentum: f32,
  wd: f32,
}

struct Adam {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  wd: f32,
  bc1: f32,   // 1 - beta1^t
  bc2: f32,   // 1 - beta2^t
}

struct Clip {
  max_norm: f32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32>;
@group(0) @binding(5) var<uniform> pa: Adam;

@group(0) @binding(3) var<storage, read> sclip: array<f32>;
@group(0) @binding(4) var<uniform> ps: Sgd;

@group(0) @binding(0) var<storage, read> sumsq: array<f32>;
@group(0) @binding(1) var<storage, read_write> scale: array<f32>;
@group(0) @binding(2) var<uniform> pc: Clip;

fn linear_id(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= pa.n) {
    return;
  }
  let wi = w[i];
  var gi = g[i] * clip[0];
  if (!ADAMW) {
    gi += pa.wd * wi;
  }
  let mi = pa.beta1 * m[i] + (1.0 - pa.beta1) * gi;
  let vi = pa.beta2 * v[i] + (1.0 - pa.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  var step = (mi / pa.bc1) / (sqrt(vi / pa.bc2) + pa.eps);
  if (ADAMW) {
    step += pa.wd * wi;
  }
  w[i] = wi - pa.lr * step;
}

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= ps.n) {
    return;
  }
  let wi = w[i];
  let gi = g[i] * sclip[0] + ps.wd * wi;
  let vi = ps.momentum * m[i] + gi;
  m[i] = vi;
  w[i] = wi - ps.lr * vi;
}

// One invocation: turns the global sum of squares into min(1, max_norm / (norm + eps)).
@compute @workgroup_size(1)
fn clip_scale() {
  let norm = sqrt(sumsq[0]);
  scale[0] = min(1.0, pc.max_norm / (norm + pc.eps));
}
