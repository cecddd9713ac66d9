// Self-attention over many short sequences (B sequences × L ≤ 64 positions, d, dv ≤ 128):
//   S = Q·Kᵀ/√d (optionally causal: key j ≤ query i), P = softmax(S) per row, Z = P·V,
// and, with per-position weights w (T-self-attention: later positions weigh more),
//   pooled_b = Σ_i w_i · Z_bi.
// Padding: positions at or past a sequence's length are neither queries nor keys
// (their Z rows are 0).
//
// One invocation per (sequence, query) row: scores, an online softmax and the P·V
// accumulation happen in registers, so no L × L matrix is written; the row's
// log-sum-exp is kept for the backward, which recomputes P from it:
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

fn row_id(wid: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * p.groups_x) * 64u + lid.x;
}

fn key_limit(i: u32, len: u32) -> u32 {
  return select(len, min(len, i + 1u), p.causal != 0u);
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = row_id(wid, lid);
  if (r >= p.b * p.l) { return; }
  let bi = r / p.l;
  let i = r % p.l;
  let len = min(aux[p.l + bi], p.l);
  var acc: array<f32, MAXD>;
  var qi: array<f32, MAXD>;
  var m = NEG_BIG;
  var s = 0.0;
  if (i < len) {
    for (var c = 0u; c < p.d; c++) { qi[c] = q[r * p.d + c]; }
    let lim = key_limit(i, len);
    for (var j = 0u; j < lim; j++) {
      let kb = (bi * p.l + j) * p.d;
      var dot = 0.0;
      for (var c = 0u; c < p.d; c++) { dot = fma(qi[c], k[kb + c], dot); }
      let sc = dot * p.scale;
      let m_new = max(m, sc);
      let rescale = exp(m - m_new);
      let wgt = exp(sc - m_new);
      s = s * rescale + wgt;
      let vb = (bi * p.l + j) * p.dv;
      for (var c = 0u; c < p.dv; c++) { acc[c] = fma(wgt, v[vb + c], acc[c] * rescale); }
      m = m_new;
    }
  }
  let inv = select(0.0, 1.0 / s, s > 0.0);
  for (var c = 0u; c < p.dv; c++) { z[r * p.dv + c] = acc[c] * inv; }
  rowstat[r] = vec2<f32>(select(NEG_BIG, m + log(s), s > 0.0), 0.0);
}

// Pooling is a second tiny pass (one invocation per (sequence, column)) so that each
// output is summed by one invocation in position order: deterministic.
@compute @workgroup_size(64)
fn pool(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = row_id(wid, lid);
  if (t >= p.b * p.dv) { return; }
  let bi = t / p.dv;
  let c = t % p.dv;
  var acc = 0.0;
  for (var i = 0u; i < p.l; i++) { acc = fma(weight(aux[i]), z[(bi * p.l + i) * p.dv + c], acc); }
  pooled[t] = acc;
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
