// Tiled GEMM: C = op(A) · op(B), with op(A) [M, K], op(B) [K, N], C [M, N] row-major.
// A is stored [M, K] (or [K, M] when TRANS_A), B [K, N] (or [N, K] when TRANS_B), so
// backward passes need no transposed copies.
//
// In the style of packed register-tiled GEMMs: an 8×8 workgroup computes a 32×32 tile
// of C, each invocation a 4×4 block held as four vec4 accumulators updated with fma.
// The K dimension is walked in 32-deep slabs staged in workgroup memory; loads outside
// M, N or the K range read zero, so any shape works. Shapes are uniforms: one pipeline
// per (TRANS_A, TRANS_B).
//
// Split-K: workgroup z handles K range [z*k_split, (z+1)*k_split) and writes its own
// partial C at offset z*M*N; the host sums the partials with a second pass
// (reduce.wgsl `cols`). Used when the output has too few tiles to fill the device,
// e.g. 64×64 weight gradients reduced over 4096 rows.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

const TS: u32 = 32u;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  k_split: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> As: array<array<f32, 32>, 32>;       // [m][k]
var<workgroup> Bs: array<array<vec4<f32>, 8>, 32>;  // [k][n / 4]

fn load_a(m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= p.M || k >= k_end) {
    return 0.0;
  }
  if (TRANS_A) {
    return a[k * p.M + m];
  }
  return a[m * p.K + k];
}

fn load_b(k: u32, n: u32, k_end: u32) -> f32 {
  if (k >= k_end || n >= p.N) {
    return 0.0;
  }
  if (TRANS_B) {
    return b[n * p.K + k];
  }
  return b[k * p.N + n];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * TS;
  let n0 = wid.x * TS;
  let k_begin = wid.z * p.k_split;
  let k_end = min(k_begin + p.k_split, p.K);
  let tx = lid.x;
  let ty = lid.y;
  var acc: array<vec4<f32>, 4>;

  for (var k0 = k_begin; k0 < k_end; k0 += TS) {
    // 64 invocations stage a 32×32 slab of each operand, 16 elements each, choosing the
    // index order so that consecutive invocations read consecutive addresses.
    for (var l = 0u; l < 16u; l++) {
      let e = l * 64u + li;
      let hi = e / TS;
      let lo = e % TS;
      if (TRANS_A) {
        As[lo][hi] = load_a(m0 + lo, k0 + hi, k_end);
      } else {
        As[hi][lo] = load_a(m0 + hi, k0 + lo, k_end);
      }
      if (TRANS_B) {
        Bs[lo][hi / 4u][hi % 4u] = load_b(k0 + lo, n0 + hi, k_end);
      } else {
        Bs[hi][lo / 4u][lo % 4u] = load_b(k0 + hi, n0 + lo, k_end);
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TS; kk++) {
      let bv = Bs[kk][tx];
      let r = ty * 4u;
      acc[0] = fma(vec4<f32>(As[r][kk]), bv, acc[0]);
      acc[1] = fma(vec4<f32>(As[r + 1u][kk]), bv, acc[1]);
      acc[2] = fma(vec4<f32>(As[r + 2u][kk]), bv, acc[2]);
      acc[3] = fma(vec4<f32>(As[r + 3u][kk]), bv, acc[3]);
    }
    workgroupBarrier();
  }

  let base = wid.z * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + ty * 4u + i;
    if (row < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let col = n0 + tx * 4u + j;
        if (col < p.N) {
          c[base + row * p.N + col] = acc[i][j];
        }
      }
    }
  }
}
