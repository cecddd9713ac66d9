// Batched Q-targets over the whole catalogue: Q(s, a) = s · e_a + b_a.
//
// Pass 1 (`tile_max`): a workgroup of 8 × 8 invocations owns QB = 32 next-states and a
// chunk of the catalogue (at least 16 item tiles of QI = 32 items, `tiles_per_wg`). Per
// item tile it stages the items through workgroup memory and each invocation computes a
// 4 rows × 4 items register tile as four vec4 accumulators updated with fma (the
// matmul's packed tile, shaders/tensor/matmul.wgsl: 8 vec4 workgroup loads per 16 vec4
// fmas), then folds its 16 scores into a running (max, argmax) per row, skipping excluded
// items. The states are staged once per workgroup when d ≤ QK (else per QK-deep slab).
// After the chunk, one reduction across the 8 item lanes writes one (max, argmax) per
// row and chunk. The B × I score matrix is never stored.
// Pass 2 (`finish`): per row, reduces the chunk partials, evaluates the target table at
// the chosen item (Double DQN: chosen by the online table) and writes y = r + γ(1 − done)·Q.
// `tile_max_rows` is the barrier-free alternative the autotuner may pick (64-item tiles).
//
// Ties go to the lower item index. A row whose every item is excluded gets argmax −1,
// Q = 0, so y = r: the episode is treated as ending there.

const TILE_B: u32 = 64u;
const TILE_I: u32 = 64u;
const KC: u32 = 16u;
const NEG_INF: f32 = -3.0e38;

struct Params {
  b: u32,          // rows (next states)
  n_items: u32,
  d: u32,
  n_tiles: u32,    // ceil(n_items / TILE_I)
  has_bias: u32,
  has_mask: u32,
  gamma: f32,
  double_q: u32,
  row_offset: u32, // top-K: first row of this chunk
  rows: u32,       // top-K: rows in this chunk
  tiles_per_wg: u32, // tile_max: QI-item tiles per workgroup (n_tiles is then the chunk count)
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> s: array<f32>;          // b × d
@group(0) @binding(1) var<storage, read> e: array<f32>;          // n_items × d (the selecting table)
@group(0) @binding(2) var<storage, read> bias: array<f32>;       // n_items (or 1 when absent)
@group(0) @binding(3) var<storage, read> mask_ptr: array<i32>;   // b + 1 (CSR of excluded items)
@group(0) @binding(4) var<storage, read> mask_col: array<i32>;   // sorted per row
// b × n_tiles partials (n_tiles: item chunks of tile_max, 64-item tiles of tile_max_rows)
// as (bits of the f32 max, argmax) pairs: one buffer keeps pass 2
// within the default limit of 8 storage buffers per stage.
@group(0) @binding(5) var<storage, read_write> part: array<vec2<i32>>;
@group(0) @binding(6) var<uniform> p: Params;

var<workgroup> s_tile: array<array<f32, KC>, TILE_B>;
var<workgroup> e_tile: array<array<f32, KC>, TILE_I>;

fn is_excluded(row: u32, item: i32) -> bool {
  var lo = mask_ptr[row];
  var hi = mask_ptr[row + 1u];
  while (lo < hi) {
    let mid = (lo + hi) / 2;
    let c = mask_col[mid];
    if (c == item) { return true; }
    if (c < item) { lo = mid + 1; } else { hi = mid; }
  }
  return false;
}

fn better(v: f32, i: i32, bv: f32, bi: i32) -> bool {
  return bi < 0 || v > bv || (v == bv && i < bi);
}

// top-K's scoring tile (tile_scores): 16 × 16 invocations over 64 rows × 64 items, each
// returning its 4 × 4 block.
fn score_tile(row0: u32, item0: u32, tx: u32, ty: u32) -> array<array<f32, 4>, 4> {
  let flat = ty * 16u + tx;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.d; k0 += KC) {
    // 256 invocations load the 64 × KC chunks of both tiles, 4 values each.
    for (var q = 0u; q < 4u; q++) {
      let li = flat * 4u + q;
      let r = li / KC;
      let k = li % KC;
      let gr = row0 + r;
      let gi = item0 + r;
      let gk = k0 + k;
      s_tile[r][k] = select(0.0, s[gr * p.d + gk], gr < p.b && gk < p.d);
      e_tile[r][k] = select(0.0, e[gi * p.d + gk], gi < p.n_items && gk < p.d);
    }
    workgroupBarrier();
    for (var k = 0u; k < KC; k++) {
      var a: array<f32, 4>;
      var bb: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) { a[r] = s_tile[ty * 4u + r][k]; }
      for (var c = 0u; c < 4u; c++) { bb[c] = e_tile[tx * 4u + c][k]; }
      for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) { acc[r][c] = fma(a[r], bb[c], acc[r][c]); }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

const QB: u32 = 32u;  // rows per tile_max workgroup
const QI: u32 = 32u;  // items per tile step
const QK: u32 = 64u;  // depth of one staged slab
const QX: u32 = QI / 4u;  // invocations along items
const QY: u32 = QB / 4u;  // invocations along rows
const QN: u32 = QX * QY;

var<workgroup> qs: array<array<vec4<f32>, QK / 4u>, QB>;  // [row][k / 4] of the states' slab
var<workgroup> qe: array<array<vec4<f32>, QX>, QK>;       // [k][item / 4] of the items' slab

fn load_s(row: u32, k: u32) -> f32 {
  return select(0.0, s[row * p.d + k], row < p.b && k < p.d);
}

fn load_e(item: u32, k: u32) -> f32 {
  return select(0.0, e[item * p.d + k], item < p.n_items && k < p.d);
}

@compute @workgroup_size(QX, QY)
fn tile_max(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let tx = lid.x;  // item lane: items tx*4 .. tx*4+3 of each tile
  let ty = lid.y;  // row lane: rows ty*4 .. ty*4+3 of the workgroup's rows
  let row0 = wid.y * QB;
  let n_item_tiles = (p.n_items + QI - 1u) / QI;
  let t_begin = wid.x * p.tiles_per_wg;
  let t_end = min(n_item_tiles, t_begin + p.tiles_per_wg);
  var bv = vec4<f32>(NEG_INF);
  var bi = vec4<i32>(-1);
  for (var t = t_begin; t < t_end; t++) {
    let item0 = t * QI;
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var k0 = 0u; k0 < p.d; k0 += QK) {
      // The states' slab: once per workgroup when it holds all of d, else per slab.
      if (p.d > QK || t == t_begin) {
        for (var l = 0u; l < QB * QK / (4u * QN); l++) {
          let x = l * QN + li;
          let r = row0 + x / (QK / 4u);
          let k = k0 + (x % (QK / 4u)) * 4u;
          qs[x / (QK / 4u)][x % (QK / 4u)] = vec4<f32>(load_s(r, k), load_s(r, k + 1u), load_s(r, k + 2u), load_s(r, k + 3u));
        }
      }
      // Items as vec4 of 4 consecutive items at one depth: whole-vector stores (stores
      // into one component of a vec4 measured ~1.5× slower on lavapipe, for the kernel).
      for (var l = 0u; l < QI * QK / (4u * QN); l++) {
        let x = l * QN + li;
        let i = item0 + (x / QK) * 4u;
        let k = k0 + x % QK;
        qe[x % QK][x / QK] = vec4<f32>(load_e(i, k), load_e(i + 1u, k), load_e(i + 2u, k), load_e(i + 3u, k));
      }
      workgroupBarrier();
      let kc4 = min(QK / 4u, (p.d - k0 + 3u) / 4u);
      for (var k4 = 0u; k4 < kc4; k4++) {
        let k = k4 * 4u;
        let b0 = qe[k][tx];
        let b1 = qe[k + 1u][tx];
        let b2 = qe[k + 2u][tx];
        let b3 = qe[k + 3u][tx];
        // Written out per row: constant indices keep the accumulators in registers (a loop
        // over r measured ~20% slower on lavapipe).
        let a0 = qs[ty * 4u][k4];
        acc[0] = fma(vec4<f32>(a0.w), b3, fma(vec4<f32>(a0.z), b2, fma(vec4<f32>(a0.y), b1, fma(vec4<f32>(a0.x), b0, acc[0]))));
        let a1 = qs[ty * 4u + 1u][k4];
        acc[1] = fma(vec4<f32>(a1.w), b3, fma(vec4<f32>(a1.z), b2, fma(vec4<f32>(a1.y), b1, fma(vec4<f32>(a1.x), b0, acc[1]))));
        let a2 = qs[ty * 4u + 2u][k4];
        acc[2] = fma(vec4<f32>(a2.w), b3, fma(vec4<f32>(a2.z), b2, fma(vec4<f32>(a2.y), b1, fma(vec4<f32>(a2.x), b0, acc[2]))));
        let a3 = qs[ty * 4u + 3u][k4];
        acc[3] = fma(vec4<f32>(a3.w), b3, fma(vec4<f32>(a3.z), b2, fma(vec4<f32>(a3.y), b1, fma(vec4<f32>(a3.x), b0, acc[3]))));
      }
      workgroupBarrier();
    }
    // Fold this tile's 4 × 4 scores into the running best of each row.
    for (var r = 0u; r < 4u; r++) {
      let row = row0 + ty * 4u + r;
      if (row < p.b) {
        for (var c = 0u; c < 4u; c++) {
          let item = item0 + tx * 4u + c;
          if (item < p.n_items) {
            var v = acc[r][c];
            if (p.has_bias != 0u) { v += bias[item]; }
            // The mask is only consulted for a would-be winner: few binary searches per row.
            if (better(v, i32(item), bv[r], bi[r]) && !(p.has_mask != 0u && is_excluded(row, i32(item)))) {
              bv[r] = v;
              bi[r] = i32(item);
            }
          }
        }
      }
    }
  }
  // One reduction across the QX item lanes, through the (now idle) items' slab (QB ≤ QK):
  // the value and the index as two exact small floats (index >> 12 and index & 4095).
  for (var r = 0u; r < 4u; r++) {
    qe[ty * 4u + r][tx] = vec4<f32>(bv[r], f32(bi[r] >> 12u), f32(bi[r] & 4095), 0.0);
  }
  workgroupBarrier();
  if (tx == 0u) {
    for (var r = 0u; r < 4u; r++) {
      let lr = ty * 4u + r;
      let row = row0 + lr;
      if (row < p.b) {
        var best = NEG_INF;
        var best_i = -1;
        for (var l = 0u; l < QX; l++) {
          let x = qe[lr][l];
          let i = (i32(x.y) << 12u) | i32(x.z);
          if (i >= 0 && better(x.x, i, best, best_i)) {
            best = x.x;
            best_i = i;
          }
        }
        part[row * p.n_tiles + wid.x] = vec2<i32>(bitcast<i32>(best), best_i);
      }
    }
  }
}

// Variant without workgroup memory or barriers: each invocation owns one row and walks
// the TILE_I items of its tile. Item loads are the same address for every invocation of
// the workgroup (a broadcast) and each row stays in cache across the tile. Meant for
// adapters where barriers are costly; on lavapipe at d = 64 it measured slower than the
// tiled kernel (bench/NOTES.md), so it is chosen only when an autotune says so.
fn dot_row_item(row: u32, item: u32) -> f32 {
  var acc = vec4<f32>(0.0);
  var k = 0u;
  for (; k + 4u <= p.d; k += 4u) {
    let sv = vec4<f32>(s[row * p.d + k], s[row * p.d + k + 1u], s[row * p.d + k + 2u], s[row * p.d + k + 3u]);
    let ev = vec4<f32>(e[item * p.d + k], e[item * p.d + k + 1u], e[item * p.d + k + 2u], e[item * p.d + k + 3u]);
    acc = fma(sv, ev, acc);
  }
  var tail = 0.0;
  for (; k < p.d; k++) { tail = fma(s[row * p.d + k], e[item * p.d + k], tail); }
  return acc.x + acc.y + acc.z + acc.w + tail;
}

@compute @workgroup_size(64)
fn tile_max_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wid.y * 64u + lid.x;
  let tile_i = wid.x;
  if (row >= p.b) { return; }
  let item0 = tile_i * TILE_I;
  let item1 = min(p.n_items, item0 + TILE_I);
  var bv = NEG_INF;
  var bi = -1;
  for (var item = item0; item < item1; item++) {
    var v = dot_row_item(row, item);
    if (p.has_bias != 0u) { v += bias[item]; }
    if (better(v, i32(item), bv, bi) && !(p.has_mask != 0u && is_excluded(row, i32(item)))) {
      bv = v;
      bi = i32(item);
    }
  }
  part[row * p.n_tiles + tile_i] = vec2<i32>(bitcast<i32>(bv), bi);
}

// Pass for top-K: the masked, biased scores of a chunk of rows, written out in full
// (rows × n_items, bounded by the caller) for the selection kernel in topk.wgsl.
// Binding 5 (`part`) is reinterpreted as f32 scores through `chunk_scores`.
@group(0) @binding(5) var<storage, read_write> chunk_scores: array<f32>;

@compute @workgroup_size(16, 16)
fn tile_scores(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let row0 = p.row_offset + wid.y * TILE_B;
  let item0 = wid.x * TILE_I;
  let acc = score_tile(row0, item0, tx, ty);
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + ty * 4u + r;
    if (row < p.b && row < p.row_offset + p.rows) {
      for (var c = 0u; c < 4u; c++) {
        let item = item0 + tx * 4u + c;
        if (item < p.n_items) {
          var v = acc[r][c];
          if (p.has_bias != 0u) { v += bias[item]; }
          if (p.has_mask != 0u && is_excluded(row, i32(item))) { v = NEG_INF; }
          chunk_scores[(row - p.row_offset) * p.n_items + item] = v;
        }
      }
    }
  }
}

@group(0) @binding(0) var<storage, read> f_part: array<vec2<i32>>;
@group(0) @binding(1) var<storage, read> f_s: array<f32>;
@group(0) @binding(2) var<storage, read> f_e_target: array<f32>;
@group(0) @binding(3) var<storage, read> f_bias_target: array<f32>;
@group(0) @binding(4) var<storage, read> f_reward: array<f32>;
@group(0) @binding(5) var<storage, read> f_done: array<f32>;
// Eight storage buffers: the default per-stage limit, so this runs on any adapter.
@group(0) @binding(6) var<storage, read_write> f_y: array<f32>;       // b: r + γ(1 − done)·Q_target(s', a*)
@group(0) @binding(7) var<storage, read_write> f_arg: array<i32>;     // b: a*, or −1
@group(0) @binding(8) var<uniform> fp: Params;

@compute @workgroup_size(64)
fn finish(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= fp.b) { return; }
  var bv = NEG_INF;
  var bi = -1;
  for (var t = 0u; t < fp.n_tiles; t++) {
    let pv = f_part[row * fp.n_tiles + t];
    let v = bitcast<f32>(pv.x);
    if (pv.y >= 0 && better(v, pv.y, bv, bi)) {
      bv = v;
      bi = pv.y;
    }
  }
  var q = 0.0;
  if (bi >= 0) {
    if (fp.double_q != 0u) {
      // Double DQN: the online table chose bi; the target table values it.
      var dot = 0.0;
      for (var k = 0u; k < fp.d; k++) { dot = fma(f_s[row * fp.d + k], f_e_target[u32(bi) * fp.d + k], dot); }
      if (fp.has_bias != 0u) { dot += f_bias_target[u32(bi)]; }
      q = dot;
    } else {
      q = bv;
    }
  }
  let y = f_reward[row] + fp.gamma * (1.0 - f_done[row]) * q;
  f_y[row] = y;
  f_arg[row] = bi;
}
