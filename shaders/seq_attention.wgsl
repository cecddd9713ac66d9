// Self-attention over many short sequences (B sequences × L ≤ 64 positions, d, dv ≤ 128):
//   S = Q·Kᵀ/√d (optionally causal: key j ≤ query i), P = softmax(S) per row, Z = P·V,
// and, with per-position weights w (T-self-attention: later positions weigh more),
//   pooled_b = Σ_i w_i · Z_bi.
// Padding: positions at or past a sequence's length are neither queries nor keys
// (their Z rows are 0).
//
// Forward: one workgroup of 64 invocations per sequence. S = Q·Kᵀ/√d is computed in
// 4 queries × 4 keys register tiles into workgroup memory (causal tiles wholly above the
// diagonal skipped), each invocation then turns one row of S into P (softmax; the row's
// log-sum-exp is kept for the backward), Z = P·V is computed in 4 rows × 4 columns
// register tiles, and the pooled output is fused as (wᵀP)·V: u_j = Σ_i w_i P_ij, then
// pooled_c = Σ_j u_j v_jc, each sum by one invocation in a fixed order (deterministic).
// The backward recomputes P from the log-sum-exp:
//   delta:  Δ_i = dZ_i · Z_i
//   dq:     dS_ij = P_ij (dZ_i·v_j − Δ_i),  dQ_i = Σ_j dS_ij k_j / √d
//   dkv:    dK_j = Σ_i dS_ij q_i / √d,      dV_j = Σ_i P_ij dZ_i
// where dZ_i = w_i · dPooled when the pooled output was used.

const MAXD: u32 = 128u;
const NEG_BIG: f32 = -3.0e38;

struct Params {
  b: u32,
  l: u32,
  d: u32,
  dv: u32,
  causal: u32,
  pooled: u32,     // 1: outputs/gradients go through the weighted pooling
  scale: f32,      // 1/√d
  groups_x: u32,
}

// aux: [0, l) per-position weights (f32 bits), [l, l + b) sequence lengths (u32).
fn weight(aux_w: u32) -> f32 { return bitcast<f32>(aux_w); }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<u32>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;
@group(0) @binding(5) var<storage, read_write> pooled: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowstat: array<vec2<f32>>;  // (lse, Δ) per (b, i)
@group(0) @binding(7) var<uniform> p: Params;

fn key_limit(i: u32, len: u32) -> u32 {
  return select(len, min(len, i + 1u), p.causal != 0u);
}

const LMAX: u32 = 64u;
// S, then P, of one sequence: row i at [i * l]; after Z, u_j = (wᵀP)_j at [j].
var<workgroup> sp: array<f32, LMAX * LMAX>;

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let bi = wid.x + wid.y * p.groups_x;
  if (bi >= p.b) { return; }
  let L = p.l;
  let len = min(aux[L + bi], L);
  let base = bi * L;  // first row of the sequence
  let nt = (len + 3u) / 4u;

  // S tiles: rows i0..i0+3, keys j0..j0+3, one vec4 of keys per query row.
  for (var t = li; t < nt * nt; t += 64u) {
    let i0 = (t / nt) * 4u;
    let j0 = (t % nt) * 4u;
    if (p.causal != 0u && j0 > i0 + 3u) { continue; }
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var c = 0u; c < p.d; c++) {
      var kv = vec4<f32>(0.0);
      for (var jj = 0u; jj < 4u; jj++) {
        if (j0 + jj < len) { kv[jj] = k[(base + j0 + jj) * p.d + c]; }
      }
      for (var r = 0u; r < 4u; r++) {
        let qv = select(0.0, q[(base + min(i0 + r, len - 1u)) * p.d + c], i0 + r < len);
        acc[r] = fma(vec4<f32>(qv), kv, acc[r]);
      }
    }
    for (var r = 0u; r < 4u; r++) {
      if (i0 + r < len) {
        for (var jj = 0u; jj < 4u; jj++) {
          if (j0 + jj < len) { sp[(i0 + r) * L + j0 + jj] = acc[r][jj] * p.scale; }
        }
      }
    }
  }
  workgroupBarrier();

  // Softmax, one row per invocation; P is 0 past the visible keys (causal or padding).
  let i = li;
  if (i < L) {
    var stat = vec2<f32>(NEG_BIG, 0.0);
    if (i < len) {
      let lim = key_limit(i, len);
      var m = NEG_BIG;
      for (var j = 0u; j < lim; j++) { m = max(m, sp[i * L + j]); }
      var tot = 0.0;
      for (var j = 0u; j < lim; j++) {
        let e = exp(sp[i * L + j] - m);
        sp[i * L + j] = e;
        tot += e;
      }
      let inv = 1.0 / tot;
      for (var j = 0u; j < lim; j++) { sp[i * L + j] *= inv; }
      for (var j = lim; j < len; j++) { sp[i * L + j] = 0.0; }
      stat.x = m + log(tot);
    }
    rowstat[base + i] = stat;
  }
  workgroupBarrier();

  // Z = P·V in tiles of 4 rows × 4 columns; padded rows are 0.
  let ncg = (p.dv + 3u) / 4u;
  for (var t = li; t < nt * ncg; t += 64u) {
    let i0 = (t / ncg) * 4u;
    let c0 = (t % ncg) * 4u;
    let jend = select(len, min(len, i0 + 4u), p.causal != 0u);
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var j = 0u; j < jend; j++) {
      var vv = vec4<f32>(0.0);
      for (var cc = 0u; cc < 4u; cc++) {
        if (c0 + cc < p.dv) { vv[cc] = v[(base + j) * p.dv + c0 + cc]; }
      }
      for (var r = 0u; r < 4u; r++) {
        let pr = select(0.0, sp[min(i0 + r, len - 1u) * L + j], i0 + r < len);
        acc[r] = fma(vec4<f32>(pr), vv, acc[r]);
      }
    }
    for (var r = 0u; r < 4u; r++) {
      if (i0 + r < len) {
        for (var cc = 0u; cc < 4u; cc++) {
          if (c0 + cc < p.dv) { z[(base + i0 + r) * p.dv + c0 + cc] = acc[r][cc]; }
        }
      }
    }
  }
  for (var x = li; x < (L - len) * p.dv; x += 64u) { z[(base + len) * p.dv + x] = 0.0; }

  if (p.pooled != 0u) {
    // u_j = Σ_i w_i P_ij over the real rows, then pooled = uᵀV.
    let j = li;
    var u = 0.0;
    if (j < len) {
      for (var r = 0u; r < len; r++) { u = fma(weight(aux[r]), sp[r * L + j], u); }
    }
    workgroupBarrier();
    if (j < len) { sp[j] = u; }
    workgroupBarrier();
    for (var c = li; c < p.dv; c += 64u) {
      var acc = 0.0;
      for (var jj = 0u; jj < len; jj++) { acc = fma(sp[jj], v[(base + jj) * p.dv + c], acc); }
      pooled[bi * p.dv + c] = acc;
    }
  }
}

// ---------------------------------------------------------------- backward

@group(0) @binding(0) var<storage, read> bq: array<f32>;
@group(0) @binding(1) var<storage, read> bk: array<f32>;
@group(0) @binding(2) var<storage, read> bv: array<f32>;
@group(0) @binding(3) var<storage, read> baux: array<u32>;
@group(0) @binding(4) var<storage, read> bz: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;        // dZ (b·l × dv) or dPooled (b × dv)
@group(0) @binding(6) var<storage, read_write> bstat: array<vec2<f32>>;
@group(0) @binding(7) var<uniform> bp: Params;

fn dz_at(bi: u32, i: u32, c: u32) -> f32 {
  if (bp.pooled != 0u) { return weight(baux[i]) * dout[bi * bp.dv + c]; }
  return dout[(bi * bp.l + i) * bp.dv + c];
}

@compute @workgroup_size(64)
fn delta(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = (wid.x + wid.y * bp.groups_x) * 64u + lid.x;
  if (r >= bp.b * bp.l) { return; }
  let bi = r / bp.l;
  let i = r % bp.l;
  var acc = 0.0;
  for (var c = 0u; c < bp.dv; c++) { acc = fma(dz_at(bi, i, c), bz[r * bp.dv + c], acc); }
  bstat[r].y = acc;
}

@group(0) @binding(0) var<storage, read> gq: array<f32>;
@group(0) @binding(1) var<storage, read> gk: array<f32>;
@group(0) @binding(2) var<storage, read> gv: array<f32>;
@group(0) @binding(3) var<storage, read> gaux: array<u32>;
@group(0) @binding(4) var<storage, read> gstat: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> gdout: array<f32>;
@group(0) @binding(6) var<storage, read_write> g_out1: array<f32>;   // dq (dq pass) or dk (dkv pass)
@group(0) @binding(7) var<storage, read_write> g_out2: array<f32>;   // dv (dkv pass)
@group(0) @binding(8) var<uniform> gp: Params;

fn gdz(bi: u32, i: u32, c: u32) -> f32 {
  if (gp.pooled != 0u) { return bitcast<f32>(gaux[i]) * gdout[bi * gp.dv + c]; }
  return gdout[(bi * gp.l + i) * gp.dv + c];
}

// P_ij and dS_ij for one (query i, key j) pair of sequence bi.
fn p_ds(bi: u32, i: u32, j: u32) -> vec2<f32> {
  let qb = (bi * gp.l + i) * gp.d;
  let kb = (bi * gp.l + j) * gp.d;
  var dot = 0.0;
  for (var c = 0u; c < gp.d; c++) { dot = fma(gq[qb + c], gk[kb + c], dot); }
  let st = gstat[bi * gp.l + i];
  let pij = exp(dot * gp.scale - st.x);
  let vb = (bi * gp.l + j) * gp.dv;
  var dp = 0.0;
  for (var c = 0u; c < gp.dv; c++) { dp = fma(gdz(bi, i, c), gv[vb + c], dp); }
  return vec2<f32>(pij, pij * (dp - st.y));
}

@compute @workgroup_size(64)
fn dq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = (wid.x + wid.y * gp.groups_x) * 64u + lid.x;
  if (r >= gp.b * gp.l) { return; }
  let bi = r / gp.l;
  let i = r % gp.l;
  let len = min(gaux[gp.l + bi], gp.l);
  var acc: array<f32, MAXD>;
  if (i < len) {
    let lim = select(len, min(len, i + 1u), gp.causal != 0u);
    for (var j = 0u; j < lim; j++) {
      let ds = p_ds(bi, i, j).y * gp.scale;
      let kb = (bi * gp.l + j) * gp.d;
      for (var c = 0u; c < gp.d; c++) { acc[c] = fma(ds, gk[kb + c], acc[c]); }
    }
  }
  for (var c = 0u; c < gp.d; c++) { g_out1[r * gp.d + c] = acc[c]; }
}

@compute @workgroup_size(64)
fn dkv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = (wid.x + wid.y * gp.groups_x) * 64u + lid.x;
  if (r >= gp.b * gp.l) { return; }
  let bi = r / gp.l;
  let j = r % gp.l;
  let len = min(gaux[gp.l + bi], gp.l);
  var acc_k: array<f32, MAXD>;
  var acc_v: array<f32, MAXD>;
  if (j < len) {
    // Queries that see key j: all of them, or i ≥ j under the causal mask.
    let first = select(0u, j, gp.causal != 0u);
    for (var i = first; i < len; i++) {
      let pd = p_ds(bi, i, j);
      let ds = pd.y * gp.scale;
      let qb = (bi * gp.l + i) * gp.d;
      for (var c = 0u; c < gp.d; c++) { acc_k[c] = fma(ds, gq[qb + c], acc_k[c]); }
      for (var c = 0u; c < gp.dv; c++) { acc_v[c] = fma(pd.x, gdz(bi, i, c), acc_v[c]); }
    }
  }
  for (var c = 0u; c < gp.d; c++) { g_out1[r * gp.d + c] = acc_k[c]; }
  for (var c = 0u; c < gp.dv; c++) { g_out2[r * gp.dv + c] = acc_v[c]; }
}
