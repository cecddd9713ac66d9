// Dense GEMM: C = op(A) · op(B), with op(A) [M, K], op(B) [K, N], C [M, N] row-major.
// A is stored [M, K] (or [K, M] when TRANS_A), B [K, N] (or [N, K] when TRANS_B), so
// backward passes need no transposed copies.
//
// Four entry points, chosen by the host from the shape (src/kernels/matmul.ts):
//
//   main        tiled, scalar global loads: any shape.
//   tiled_vec4  tiled, vec4 global loads and stores: the stored rows of A, B and C are
//               multiples of 4 floats long (K or M, N or K, and N).
//   thin        one invocation per 4 output rows, N ≤ 8: the [nodes, 64]·[64, 4]
//               attention logits, whose 32-wide tiles would idle 7/8 of the lanes.
//   thin_vec4   thin with vec4 loads and stores (N = 4 or 8, aligned rows).
//
// The vec4 entry points bind the same buffers as arrays of vec4 (a4, b4, c4 alias
// bindings 0-2; an entry point uses one view or the other, never both).
//
// Tiled: in the style of packed register-tiled GEMMs, an 8×8 workgroup computes a 32×32
// tile of C, each invocation a 4×4 block held as four vec4 accumulators updated with
// fma. K is walked in 32-deep slabs staged in workgroup memory, both operands as vec4
// rows (A as [m][k/4], B as [k][n/4]), so a 4-deep step reads 8 vec4 for 16 vec4 fmas.
// Loads outside M, N or the K range read zero.
//
// Split-K: workgroup z handles K range [z*k_split, (z+1)*k_split) and writes its own
// partial C at offset z*M*N; the host sums the partials with a second pass
// (reduce.wgsl `cols`). Used when the output has too few tiles (or, for thin, too few
// rows) to fill the device, e.g. 64×64 weight gradients reduced over 4096 rows.
// k_split is a multiple of 32 (or K itself), so vec4 steps never straddle a slice.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
/** thin: vec4 column groups of the output, 1 (N ≤ 4) or 2 (N ≤ 8). */
override NC: u32 = 1u;

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
@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> As: array<array<vec4<f32>, 8>, 32>;  // [m][k / 4]
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

/** vec4 of A's storage row `row` at column `col` (a multiple of 4), or zero past the ends. */
fn load_a4(row: u32, col: u32, rows_end: u32, cols_end: u32, row_len: u32) -> vec4<f32> {
  if (row >= rows_end || col >= cols_end) {
    return vec4<f32>(0.0);
  }
  return a4[(row * row_len + col) / 4u];
}

fn load_b4(row: u32, col: u32, rows_end: u32, cols_end: u32, row_len: u32) -> vec4<f32> {
  if (row >= rows_end || col >= cols_end) {
    return vec4<f32>(0.0);
  }
  return b4[(row * row_len + col) / 4u];
}

/** One 32-deep slab of the 4×4 block of invocation (tx, ty) from the staged tiles. */
fn mac_slab(tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
  let r = ty * 4u;
  for (var k4 = 0u; k4 < TS / 4u; k4++) {
    let k = k4 * 4u;
    let b0 = Bs[k][tx];
    let b1 = Bs[k + 1u][tx];
    let b2 = Bs[k + 2u][tx];
    let b3 = Bs[k + 3u][tx];
    for (var i = 0u; i < 4u; i++) {
      let av = As[r + i][k4];
      var s = (*acc)[i];
      s = fma(vec4<f32>(av.x), b0, s);
      s = fma(vec4<f32>(av.y), b1, s);
      s = fma(vec4<f32>(av.z), b2, s);
      s = fma(vec4<f32>(av.w), b3, s);
      (*acc)[i] = s;
    }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * TS;
  let n0 = wid.x * TS;
  let k_begin = wid.z * p.k_split;
  let k_end = min(k_begin + p.k_split, p.K);
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));

  for (var k0 = k_begin; k0 < k_end; k0 += TS) {
    // 64 invocations stage a 32×32 slab of each operand, 16 elements each, choosing the
    // index order so that consecutive invocations read consecutive addresses.
    for (var l = 0u; l < 16u; l++) {
      let e = l * 64u + li;
      let hi = e / TS;
      let lo = e % TS;
      if (TRANS_A) {
        As[lo][hi / 4u][hi % 4u] = load_a(m0 + lo, k0 + hi, k_end);
      } else {
        As[hi][lo / 4u][lo % 4u] = load_a(m0 + hi, k0 + lo, k_end);
      }
      if (TRANS_B) {
        Bs[lo][hi / 4u][hi % 4u] = load_b(k0 + lo, n0 + hi, k_end);
      } else {
        Bs[hi][lo / 4u][lo % 4u] = load_b(k0 + hi, n0 + lo, k_end);
      }
    }
    workgroupBarrier();
    mac_slab(lid.x, lid.y, &acc);
    workgroupBarrier();
  }

  let base = wid.z * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + lid.y * 4u + i;
    if (row < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let col = n0 + lid.x * 4u + j;
        if (col < p.N) {
          c[base + row * p.N + col] = acc[i][j];
        }
      }
    }
  }
}

@compute @workgroup_size(8, 8)
fn tiled_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * TS;
  let n0 = wid.x * TS;
  let k_begin = wid.z * p.k_split;
  let k_end = min(k_begin + p.k_split, p.K);
  var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));

  for (var k0 = k_begin; k0 < k_end; k0 += TS) {
    // Each slab is 32 storage rows of 8 vec4 per operand: 4 vec4 loads per invocation
    // and operand, consecutive invocations reading consecutive vec4 of a row. A stored
    // row that runs along the other index (A [K, M], B [N, K]) is scattered by component.
    for (var l = 0u; l < 4u; l++) {
      let e = l * 64u + li;
      let hi = e / 8u;
      let lo = e % 8u;
      if (TRANS_A) {
        let v = load_a4(k0 + hi, m0 + lo * 4u, k_end, p.M, p.M);
        As[lo * 4u][hi / 4u][hi % 4u] = v.x;
        As[lo * 4u + 1u][hi / 4u][hi % 4u] = v.y;
        As[lo * 4u + 2u][hi / 4u][hi % 4u] = v.z;
        As[lo * 4u + 3u][hi / 4u][hi % 4u] = v.w;
      } else {
        As[hi][lo] = load_a4(m0 + hi, k0 + lo * 4u, p.M, k_end, p.K);
      }
      if (TRANS_B) {
        let v = load_b4(n0 + hi, k0 + lo * 4u, p.N, k_end, p.K);
        Bs[lo * 4u][hi / 4u][hi % 4u] = v.x;
        Bs[lo * 4u + 1u][hi / 4u][hi % 4u] = v.y;
        Bs[lo * 4u + 2u][hi / 4u][hi % 4u] = v.z;
        Bs[lo * 4u + 3u][hi / 4u][hi % 4u] = v.w;
      } else {
        Bs[hi][lo] = load_b4(k0 + hi, n0 + lo * 4u, k_end, p.N, p.N);
      }
    }
    workgroupBarrier();
    mac_slab(lid.x, lid.y, &acc);
    workgroupBarrier();
  }

  // N is a multiple of 4, so a 4-column group is all in or all out.
  let base = wid.z * p.M * p.N;
  let col = n0 + lid.x * 4u;
  if (col < p.N) {
    for (var i = 0u; i < 4u; i++) {
      let row = m0 + lid.y * 4u + i;
      if (row < p.M) {
        c4[(base + row * p.N + col) / 4u] = acc[i];
      }
    }
  }
}

// Thin outputs: invocation t owns rows 4t..4t+3 and all N ≤ 8 columns, as 4·NC vec4
// accumulators (row i, column group j at i * 2 + j). No workgroup memory, no barriers:
// the few B values per k are the same address for every invocation (a broadcast).

@compute @workgroup_size(64)
fn thin(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = ((wid.x + wid.y * nwg.x) * 64u + li) * 4u;
  if (m0 >= p.M) {
    return;
  }
  let k_begin = wid.z * p.k_split;
  let k_end = min(k_begin + p.k_split, p.K);
  var acc: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  for (var k = k_begin; k < k_end; k++) {
    var bk: array<vec4<f32>, 2>;
    for (var j = 0u; j < NC; j++) {
      let n = j * 4u;
      bk[j] = vec4<f32>(load_b(k, n, k_end), load_b(k, n + 1u, k_end), load_b(k, n + 2u, k_end), load_b(k, n + 3u, k_end));
    }
    for (var i = 0u; i < 4u; i++) {
      let av = vec4<f32>(load_a(m0 + i, k, k_end));
      for (var j = 0u; j < NC; j++) {
        acc[i * 2u + j] = fma(av, bk[j], acc[i * 2u + j]);
      }
    }
  }
  let base = wid.z * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + i;
    if (row < p.M) {
      for (var n = 0u; n < p.N; n++) {
        c[base + row * p.N + n] = acc[i * 2u + n / 4u][n % 4u];
      }
    }
  }
}

@compute @workgroup_size(64)
fn thin_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = ((wid.x + wid.y * nwg.x) * 64u + li) * 4u;
  if (m0 >= p.M) {
    return;
  }
  let k_begin = wid.z * p.k_split;
  let k_end = min(k_begin + p.k_split, p.K);
  var acc: array<vec4<f32>, 8>;
  for (var i = 0u; i < 8u; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  for (var k = k_begin; k < k_end; k += 4u) {
    // A as a 4×4 block: av[i] holds row m0 + i at k..k+3.
    var av: array<vec4<f32>, 4>;
    if (TRANS_A) {
      // Stored [K, M] with M a multiple of 4: rows m0..m0+3 are one vec4 per k.
      let t0 = a4[(k * p.M + m0) / 4u];
      let t1 = a4[((k + 1u) * p.M + m0) / 4u];
      let t2 = a4[((k + 2u) * p.M + m0) / 4u];
      let t3 = a4[((k + 3u) * p.M + m0) / 4u];
      av[0] = vec4<f32>(t0.x, t1.x, t2.x, t3.x);
      av[1] = vec4<f32>(t0.y, t1.y, t2.y, t3.y);
      av[2] = vec4<f32>(t0.z, t1.z, t2.z, t3.z);
      av[3] = vec4<f32>(t0.w, t1.w, t2.w, t3.w);
    } else {
      for (var i = 0u; i < 4u; i++) {
        av[i] = load_a4(m0 + i, k, p.M, k_end, p.K);
      }
    }
    for (var j = 0u; j < NC; j++) {
      // B rows k..k+3 at column group j.
      var b0: vec4<f32>;
      var b1: vec4<f32>;
      var b2: vec4<f32>;
      var b3: vec4<f32>;
      if (TRANS_B) {
        // Stored [N, K]: column n of op(B) is a stored row; read 4 of them at k..k+3.
        let n = j * 4u;
        let t0 = b4[(n * p.K + k) / 4u];
        let t1 = b4[((n + 1u) * p.K + k) / 4u];
        let t2 = b4[((n + 2u) * p.K + k) / 4u];
        let t3 = b4[((n + 3u) * p.K + k) / 4u];
        b0 = vec4<f32>(t0.x, t1.x, t2.x, t3.x);
        b1 = vec4<f32>(t0.y, t1.y, t2.y, t3.y);
        b2 = vec4<f32>(t0.z, t1.z, t2.z, t3.z);
        b3 = vec4<f32>(t0.w, t1.w, t2.w, t3.w);
      } else {
        let n4 = p.N / 4u;
        b0 = b4[k * n4 + j];
        b1 = b4[(k + 1u) * n4 + j];
        b2 = b4[(k + 2u) * n4 + j];
        b3 = b4[(k + 3u) * n4 + j];
      }
      for (var i = 0u; i < 4u; i++) {
        var s = acc[i * 2u + j];
        s = fma(vec4<f32>(av[i].x), b0, s);
        s = fma(vec4<f32>(av[i].y), b1, s);
        s = fma(vec4<f32>(av[i].z), b2, s);
        s = fma(vec4<f32>(av[i].w), b3, s);
        acc[i * 2u + j] = s;
      }
    }
  }
  // N = 4·NC: each row is NC whole vec4.
  let base = wid.z * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + i;
    if (row < p.M) {
      for (var j = 0u; j < NC; j++) {
        c4[(base + row * p.N) / 4u + j] = acc[i * 2u + j];
      }
    }
  }
}
