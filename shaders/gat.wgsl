// Graph attention (GAT) over CSR rows (destination i, neighbours j), K heads of F columns:
//   z_ij = el[i,h] + er[j,h],  e_ij = LeakyReLU(z_ij),  α_ij = softmax_j(e_ij),
//   out[i, hF + f] = Σ_j α_ij · H[j, hF + f].
// Forward: one pass per row with an online softmax (running max and denominator, as in
// flash attention), so edge scores are never written; it keeps the per-row
// log-sum-exp for backward, which recomputes α from it.
// Backward (deterministic, no float atomics):
//   row_dot:  D[i,h]  = Σ_f dOut[i,hF+f] · out[i,hF+f]            (= Σ_j α_ij dα_ij)
//   edge:     α_ij, dα_ij = dOut_i·H_j (head h), dz_ij = α_ij (dα_ij − D_ih) · lrelu'(z_ij)
//   row_sum:  d_el[i,h] = Σ_j dz_ij
//   src:      over the transpose: d_er[j,h] = Σ_i dz_ij,  dH[j,c] = Σ_i α_ij dOut[i,c]

override LANES: u32 = 64u;
const WG: u32 = 64u;
const NEG_BIG: f32 = -3.0e38;

struct Params {
  n_rows: u32,     // destination rows (forward, row passes) or source rows (src pass)
  heads: u32,
  f: u32,          // columns per head
  groups_x: u32,
  slope: f32,      // LeakyReLU negative slope
  n_edges: u32,
  _pad0: u32,
  _pad1: u32,
}

fn lrelu(z: f32, slope: f32) -> f32 {
  return select(z * slope, z, z > 0.0);
}

// ---------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read> row_ptr: array<i32>;
@group(0) @binding(1) var<storage, read> col_idx: array<i32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;        // n_src × heads·f
@group(0) @binding(3) var<storage, read> el: array<f32>;       // n_dst × heads
@group(0) @binding(4) var<storage, read> er: array<f32>;       // n_src × heads
@group(0) @binding(5) var<storage, read_write> out: array<f32>;       // n_dst × heads·f
@group(0) @binding(6) var<storage, read_write> rowstat: array<vec2<f32>>; // n_dst × heads: (lse, D)
@group(0) @binding(7) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let rows_per_group = WG / LANES;
  let row = (wid.x + wid.y * p.groups_x) * rows_per_group + lid.x / LANES;
  if (row >= p.n_rows) { return; }
  let lane = lid.x % LANES;
  let width = p.heads * p.f;
  let start = row_ptr[row];
  let end = row_ptr[row + 1u];
  for (var c = lane; c < width; c += LANES) {
    let head = c / p.f;
    let eli = el[row * p.heads + head];
    var m = NEG_BIG;
    var s = 0.0;
    var acc = 0.0;
    for (var e = start; e < end; e++) {
      let j = u32(col_idx[e]);
      let score = lrelu(eli + er[j * p.heads + head], p.slope);
      let m_new = max(m, score);
      let rescale = exp(m - m_new);
      let w = exp(score - m_new);
      s = s * rescale + w;
      acc = acc * rescale + w * h[j * width + c];
      m = m_new;
    }
    out[row * width + c] = select(0.0, acc / s, s > 0.0);
    if (c % p.f == 0u) {
      rowstat[row * p.heads + head] = vec2<f32>(select(NEG_BIG, m + log(s), s > 0.0), 0.0);
    }
  }
}

// Variant: one invocation per (row, head). The row's scores are walked twice (max, then
// weights), so each edge's exp() is computed once per head instead of once per column,
// and the head's F ≤ 64 columns accumulate in registers. No barriers.
const MAXF: u32 = 64u;

@compute @workgroup_size(WG)
fn forward_heads(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let k = (wid.x + wid.y * p.groups_x) * WG + lid.x;
  if (k >= p.n_rows * p.heads) { return; }
  let row = k / p.heads;
  let head = k % p.heads;
  let width = p.heads * p.f;
  let start = row_ptr[row];
  let end = row_ptr[row + 1u];
  let eli = el[row * p.heads + head];
  var m = NEG_BIG;
  for (var e = start; e < end; e++) {
    m = max(m, lrelu(eli + er[u32(col_idx[e]) * p.heads + head], p.slope));
  }
  var acc: array<f32, MAXF>;
  var s = 0.0;
  let c0 = head * p.f;
  for (var e = start; e < end; e++) {
    let j = u32(col_idx[e]);
    let w = exp(lrelu(eli + er[j * p.heads + head], p.slope) - m);
    s += w;
    for (var f = 0u; f < p.f; f++) { acc[f] = fma(w, h[j * width + c0 + f], acc[f]); }
  }
  let inv = select(0.0, 1.0 / s, s > 0.0);
  for (var f = 0u; f < p.f; f++) { out[row * width + c0 + f] = acc[f] * inv; }
  rowstat[k] = vec2<f32>(select(NEG_BIG, m + log(s), s > 0.0), 0.0);
}

// ---------------------------------------------------------------- backward: D per row and head

@group(0) @binding(0) var<storage, read> rd_dout: array<f32>;
@group(0) @binding(1) var<storage, read> rd_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> rd_stat: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> rp: Params;

@compute @workgroup_size(WG)
fn row_dot(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;   // (row, head) pair
  if (k >= rp.n_rows * rp.heads) { return; }
  let row = k / rp.heads;
  let head = k % rp.heads;
  let base = row * rp.heads * rp.f + head * rp.f;
  var dsum = 0.0;
  for (var f = 0u; f < rp.f; f++) { dsum = fma(rd_dout[base + f], rd_out[base + f], dsum); }
  rd_stat[k].y = dsum;
}

// ---------------------------------------------------------------- backward: per edge and head

@group(0) @binding(0) var<storage, read> ed_row: array<i32>;     // destination row of each edge
@group(0) @binding(1) var<storage, read> ed_col: array<i32>;
@group(0) @binding(2) var<storage, read> ed_el: array<f32>;
@group(0) @binding(3) var<storage, read> ed_er: array<f32>;
@group(0) @binding(4) var<storage, read> ed_stat: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> ed_h: array<f32>;
@group(0) @binding(6) var<storage, read> ed_dout: array<f32>;
@group(0) @binding(7) var<storage, read_write> ed_out: array<vec2<f32>>;  // n_edges × heads: (α, dz)
@group(0) @binding(8) var<uniform> ep: Params;

@compute @workgroup_size(WG)
fn edge(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;   // (edge, head) pair
  if (k >= ep.n_edges * ep.heads) { return; }
  let e = k / ep.heads;
  let head = k % ep.heads;
  let i = u32(ed_row[e]);
  let j = u32(ed_col[e]);
  let z = ed_el[i * ep.heads + head] + ed_er[j * ep.heads + head];
  let st = ed_stat[i * ep.heads + head];
  let alpha = exp(lrelu(z, ep.slope) - st.x);
  let width = ep.heads * ep.f;
  var dalpha = 0.0;
  for (var f = 0u; f < ep.f; f++) {
    let c = head * ep.f + f;
    dalpha = fma(ed_dout[i * width + c], ed_h[j * width + c], dalpha);
  }
  let dz = alpha * (dalpha - st.y) * select(ep.slope, 1.0, z > 0.0);
  ed_out[k] = vec2<f32>(alpha, dz);
}

// ---------------------------------------------------------------- backward: d_el by row

@group(0) @binding(0) var<storage, read> rs_ptr: array<i32>;
@group(0) @binding(1) var<storage, read> rs_edge: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> rs_del: array<f32>;
@group(0) @binding(3) var<uniform> sp: Params;

@compute @workgroup_size(WG)
fn row_sum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;
  if (k >= sp.n_rows * sp.heads) { return; }
  let row = k / sp.heads;
  let head = k % sp.heads;
  var acc = 0.0;
  for (var e = rs_ptr[row]; e < rs_ptr[row + 1u]; e++) { acc += rs_edge[u32(e) * sp.heads + head].y; }
  rs_del[k] = acc;
}

// ---------------------------------------------------------------- backward: sources over the transpose

@group(0) @binding(0) var<storage, read> t_ptr: array<i32>;    // transpose: rows are sources
@group(0) @binding(1) var<storage, read> t_dst: array<i32>;    // destination of each transposed entry
@group(0) @binding(2) var<storage, read> t_edge: array<i32>;   // its edge id in the forward CSR
@group(0) @binding(3) var<storage, read> t_ed: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> t_dout: array<f32>;
@group(0) @binding(5) var<storage, read_write> t_der: array<f32>;
@group(0) @binding(6) var<storage, read_write> t_dh: array<f32>;
@group(0) @binding(7) var<uniform> tp: Params;

@compute @workgroup_size(WG)
fn src(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let rows_per_group = WG / LANES;
  let j = (wid.x + wid.y * tp.groups_x) * rows_per_group + lid.x / LANES;
  if (j >= tp.n_rows) { return; }
  let lane = lid.x % LANES;
  let width = tp.heads * tp.f;
  let start = t_ptr[j];
  let end = t_ptr[j + 1u];
  for (var c = lane; c < width; c += LANES) {
    let head = c / tp.f;
    var acc = 0.0;
    var dz = 0.0;
    for (var t = start; t < end; t++) {
      let ad = t_ed[u32(t_edge[t]) * tp.heads + head];
      acc = fma(ad.x, t_dout[u32(t_dst[t]) * width + c], acc);
      dz += ad.y;
    }
    t_dh[j * width + c] = acc;
    if (c % tp.f == 0u) { t_der[j * tp.heads + head] = dz; }
  }
}
