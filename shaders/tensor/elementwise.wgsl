// Element-wise maps over flat f32 arrays. One pipeline per `OP` (an override), so the
// op switch below folds away at pipeline creation and shapes travel in uniforms.
//
// Entry points:
//   unary / unary4   y[i] = f(x[i])            (unary4: vec4 loads/stores when n % 4 == 0)
//   binary / binary4 o[i] = g(a[ia], b[ib])    a, b broadcast through (row, col) strides
// One element (or one vec4) per invocation; the 1-D workgroup count is folded into
// (x, y) by the host, recovered here as wid.x + wid.y * nwg.x.

override OP: u32 = 0u;
override WG: u32 = 256u;

// ---- unary op codes (keep in sync with src/kernels/elementwise.ts)
const U_AFFINE: u32 = 0u;      // alpha * x + beta
const U_RELU: u32 = 1u;
const U_LEAKY: u32 = 2u;       // x > 0 ? x : alpha * x
const U_SIGMOID: u32 = 3u;
const U_TANH: u32 = 4u;
const U_EXP: u32 = 5u;
const U_LOG: u32 = 6u;
const U_SOFTPLUS: u32 = 7u;
const U_LOGSIGMOID: u32 = 8u;
const U_DROPOUT: u32 = 9u;     // keep iff hash(seed, i) >= thresh; kept values scaled by alpha
const U_SQUARE: u32 = 10u;
const U_SQRT: u32 = 11u;
const U_FILL: u32 = 12u;       // beta
const U_AXPY: u32 = 13u;       // y + alpha * x (reads y: in-place accumulation)

// ---- binary op codes
const B_LINCOMB: u32 = 0u;     // alpha * a + beta * b   (add, sub)
const B_MUL: u32 = 1u;         // alpha * a * b
const B_DIV: u32 = 2u;         // alpha * a / b
const B_RELU_BW: u32 = 3u;     // a = upstream grad, b = x
const B_LEAKY_BW: u32 = 4u;
const B_SIGMOID_BW: u32 = 5u;  // b = y
const B_TANH_BW: u32 = 6u;     // b = y
const B_SOFTPLUS_BW: u32 = 7u; // b = x
const B_LOGSIG_BW: u32 = 8u;   // b = x
const B_SQDIFF: u32 = 9u;      // (a - b)^2
const B_HUBER: u32 = 10u;      // huber(a - b; delta = alpha)
const B_HUBER_BW: u32 = 11u;   // clamp(a - b, -delta, delta)
const B_BPR: u32 = 12u;        // softplus(b - a) = -log sigmoid(a - b)
const B_BPR_BW: u32 = 13u;     // d/da of the above: -sigmoid(b - a)
const B_RHS: u32 = 14u;        // alpha * b + beta (broadcast b to a's shape)
const B_SQRT_BW: u32 = 15u;    // a * 0.5 / b, b = y = sqrt(x)

struct Unary {
  n: u32,
  seed: u32,
  thresh: u32,
  alpha: f32,
  beta: f32,
}

struct Binary {
  n: u32,
  cols: u32,
  a_rs: u32,
  a_cs: u32,
  b_rs: u32,
  b_cs: u32,
  alpha: f32,
  beta: f32,
  rows: u32,
}

@group(0) @binding(0) var<storage, read> ux: array<f32>;
@group(0) @binding(1) var<storage, read_write> uy: array<f32>;
@group(0) @binding(0) var<storage, read> ux4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> uy4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> up: Unary;

@group(0) @binding(0) var<storage, read> ba: array<f32>;
@group(0) @binding(1) var<storage, read> bb: array<f32>;
@group(0) @binding(2) var<storage, read_write> bo: array<f32>;
@group(0) @binding(0) var<storage, read> ba4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> bb4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> bo4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> bp: Binary;

// Mirrors hashU32 in src/util/rng.ts (PCG-style output permutation of a counter).
fn hash_u32(seed: u32, counter: u32) -> u32 {
  var h = counter * 747796405u + seed;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  return (h >> 22u) ^ h;
}

// log(1 + t) for t >= 0 (WGSL has no log1p). Below 0.01 a four-term series is exact to
// f32 (truncation t^5/5); above it log(1 + t) is well conditioned. GPU log is only
// accurate to an absolute ulp or so near 1, so tricks that rely on log(1 + tiny) fail.
fn log1p_(t: f32) -> f32 {
  if (t < 0.01) {
    return t * (1.0 - t * (0.5 - t * (0.33333334 - t * 0.25)));
  }
  return log(1.0 + t);
}

// tanh without cancellation near 0 (a series below 0.1, next term 62x^9/2835) and
// without overflow for large |x| (only exp of a non-positive argument is taken).
fn tanh_(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.1) {
    let x2 = x * x;
    return x * (1.0 + x2 * (-0.33333334 + x2 * (0.13333334 - x2 * 0.053968254)));
  }
  let e = exp(-2.0 * ax);
  return sign(x) * (1.0 - e) / (1.0 + e);
}

fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  let e = exp(x);
  return e / (1.0 + e);
}

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
fn softplus_(x: f32) -> f32 {
  return max(x, 0.0) + log1p_(exp(-abs(x)));
}

fn unary_op(x: f32, y: f32, i: u32) -> f32 {
  switch (OP) {
    case U_AFFINE: { return up.alpha * x + up.beta; }
    case U_RELU: { return max(x, 0.0); }
    case U_LEAKY: { return select(up.alpha * x, x, x > 0.0); }
    case U_SIGMOID: { return sigmoid_(x); }
    case U_TANH: { return tanh_(x); }
    case U_EXP: { return exp(x); }
    case U_LOG: { return log(x); }
    case U_SOFTPLUS: { return softplus_(x); }
    case U_LOGSIGMOID: { return -softplus_(-x); }
    case U_DROPOUT: { return select(0.0, x * up.alpha, hash_u32(up.seed, i) >= up.thresh); }
    case U_SQUARE: { return x * x; }
    case U_SQRT: { return sqrt(x); }
    case U_FILL: { return up.beta; }
    case U_AXPY: { return y + up.alpha * x; }
    default: { return x; }
  }
}

fn binary_op(a: f32, b: f32) -> f32 {
  switch (OP) {
    case B_LINCOMB: { return bp.alpha * a + bp.beta * b; }
    case B_MUL: { return bp.alpha * a * b; }
    case B_DIV: { return bp.alpha * a / b; }
    case B_RELU_BW: { return select(0.0, a, b > 0.0); }
    case B_LEAKY_BW: { return select(bp.alpha * a, a, b > 0.0); }
    case B_SIGMOID_BW: { return a * b * (1.0 - b); }
    case B_TANH_BW: { return a * (1.0 - b * b); }
    case B_SOFTPLUS_BW: { return a * sigmoid_(b); }
    case B_LOGSIG_BW: { return a * sigmoid_(-b); }
    case B_SQDIFF: { let d = a - b; return d * d; }
    case B_HUBER: {
      let d = abs(a - b);
      return select(bp.alpha * (d - 0.5 * bp.alpha), 0.5 * d * d, d <= bp.alpha);
    }
    case B_HUBER_BW: { return clamp(a - b, -bp.alpha, bp.alpha); }
    case B_BPR: { return softplus_(b - a); }
    case B_BPR_BW: { return -sigmoid_(b - a); }
    case B_RHS: { return bp.alpha * b + bp.beta; }
    case B_SQRT_BW: { return a * 0.5 / b; }
    default: { return a; }
  }
}

fn linear_id(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn unary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= up.n) {
    return;
  }
  var y = 0.0;
  if (OP == U_AXPY) {
    y = uy[i];
  }
  uy[i] = unary_op(ux[i], y, i);
}

@compute @workgroup_size(WG)
fn unary4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i * 4u >= up.n) {
    return;
  }
  let x = ux4[i];
  var y = vec4<f32>(0.0);
  if (OP == U_AXPY) {
    y = uy4[i];
  }
  let e = i * 4u;
  uy4[i] = vec4<f32>(unary_op(x.x, y.x, e), unary_op(x.y, y.y, e + 1u), unary_op(x.z, y.z, e + 2u), unary_op(x.w, y.w, e + 3u));
}

@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= bp.n) {
    return;
  }
  let r = i / bp.cols;
  let c = i - r * bp.cols;
  bo[i] = binary_op(ba[r * bp.a_rs + c * bp.a_cs], bb[r * bp.b_rs + c * bp.b_cs]);
}

// Broadcasting over wide rows: a 2-D grid (columns in x, rows in y and z) gives (r, c)
// without the per-element integer division of `binary`.
@compute @workgroup_size(WG)
fn binary2d(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let c = wid.x * WG + lid.x;
  let r = wid.y + wid.z * nwg.y;
  if (c >= bp.cols || r >= bp.rows) {
    return;
  }
  bo[r * bp.cols + c] = binary_op(ba[r * bp.a_rs + c * bp.a_cs], bb[r * bp.b_rs + c * bp.b_cs]);
}

// Both operands full-shape and n % 4 == 0: no index arithmetic, vec4 memory traffic.
@compute @workgroup_size(WG)
fn binary4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i * 4u >= bp.n) {
    return;
  }
  let a = ba4[i];
  let b = bb4[i];
  bo4[i] = vec4<f32>(binary_op(a.x, b.x), binary_op(a.y, b.y), binary_op(a.z, b.z), binary_op(a.w, b.w));
}
