// Top-K selection per row of a score matrix (rows × n_items), K ≤ 128.
//
// One workgroup per row. Scores become order-preserving u32 keys; a 4-pass radix
// select (8 bits per pass, histogram in workgroup memory with integer atomics, which are
// exact and so deterministic) finds the K-th largest key T. Items above T are all taken;
// items equal to T are taken lowest index first, by a prefix sum over per-invocation
// counts of contiguous index ranges. The K winners are then bitonic-sorted in workgroup
// memory by (score desc, index asc). Slots past the number of eligible items get index −1
// and score −∞. Scores ≤ −3e38 mark excluded items.

const WG: u32 = 256u;
const KMAX: u32 = 128u;
const EXCLUDED: f32 = -3.0e38;

struct Params {
  rows: u32,
  n_items: u32,
  k: u32,
  row_offset: u32, // output row of this chunk's first row
  groups_x: u32,
  _pad0: u32,     // always 0 (see neg_inf)
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read_write> out_idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> out_val: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> sh_prefix: u32;
var<workgroup> sh_need: u32;
var<workgroup> cnt_gt: array<u32, WG>;
var<workgroup> cnt_eq: array<u32, WG>;
var<workgroup> sel_key: array<u32, KMAX>;
var<workgroup> sel_idx: array<u32, KMAX>;

fn key_of(v: f32) -> u32 {
  if (v <= EXCLUDED) { return 0u; }
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// (key desc, index asc): true when a should come before b.
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  return ka > kb || (ka == kb && ia < ib);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let row = wid.x + wid.y * p.groups_x;
  if (row >= p.rows) { return; } // uniform per workgroup: no barrier is skipped by part of it
  let n = p.n_items;
  let base = row * n;
  let k = min(p.k, n);

  if (lid == 0u) {
    sh_prefix = 0u;
    sh_need = k;
  }
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    let prefix = sh_prefix;
    // Bits above this pass's digit must match the prefix chosen so far.
    let hi_mask = select(0u, 0xFFFFFFFFu << (shift + 8u), round > 0u);
    for (var i = lid; i < n; i += WG) {
      let key = key_of(scores[base + i]);
      if ((key & hi_mask) == prefix) {
        atomicAdd(&hist[(key >> shift) & 255u], 1u);
      }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var need = sh_need;
      var cum = 0u;
      var digit = 0u;
      for (var bin = 255i; bin >= 0i; bin--) {
        let h = atomicLoad(&hist[u32(bin)]);
        if (cum + h >= need) {
          digit = u32(bin);
          need -= cum;
          break;
        }
        cum += h;
      }
      sh_prefix = prefix | (digit << shift);
      sh_need = need;
    }
    workgroupBarrier();
  }
  let t = sh_prefix;      // the K-th largest key
  let need_eq = sh_need;  // how many items equal to t to take

  // Contiguous index ranges per invocation keep "lowest index first" for ties.
  let chunk = (n + WG - 1u) / WG;
  let lo = min(n, lid * chunk);
  let hi = min(n, lo + chunk);
  var gt = 0u;
  var eq = 0u;
  for (var i = lo; i < hi; i++) {
    let key = key_of(scores[base + i]);
    if (key > t) { gt++; } else if (key == t && t != 0u) { eq++; }
  }
  cnt_gt[lid] = gt;
  cnt_eq[lid] = eq;
  for (var i = lid; i < KMAX; i += WG) {
    sel_key[i] = 0u;
    sel_idx[i] = 0xFFFFFFFFu;
  }
  workgroupBarrier();
  if (lid == 0u) {
    // Exclusive prefix sums (256 entries: a serial scan is cheap next to the item scans).
    var sg = 0u;
    var se = 0u;
    for (var j = 0u; j < WG; j++) {
      let g = cnt_gt[j];
      let e = cnt_eq[j];
      cnt_gt[j] = sg;
      cnt_eq[j] = se;
      sg += g;
      se += e;
    }
    sh_need = sg; // number of items strictly above t
  }
  workgroupBarrier();
  var og = cnt_gt[lid];
  var oe = cnt_eq[lid];
  let total_gt = sh_need;
  for (var i = lo; i < hi; i++) {
    let key = key_of(scores[base + i]);
    if (key > t) {
      sel_key[og] = key;
      sel_idx[og] = i;
      og++;
    } else if (key == t && t != 0u) {
      if (oe < need_eq) {
        sel_key[total_gt + oe] = key;
        sel_idx[total_gt + oe] = i;
      }
      oe++;
    }
  }
  workgroupBarrier();

  // Bitonic sort of KMAX entries, descending by key, ascending by index.
  for (var size = 2u; size <= KMAX; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      if (lid < KMAX) {
        let partner = lid ^ stride;
        if (partner > lid) {
          let ka = sel_key[lid];
          let ia = sel_idx[lid];
          let kb = sel_key[partner];
          let ib = sel_idx[partner];
          let descending = (lid & size) == 0u;
          let swap = select(before(ka, ia, kb, ib), before(kb, ib, ka, ia), descending);
          if (swap) {
            sel_key[lid] = kb;
            sel_idx[lid] = ib;
            sel_key[partner] = ka;
            sel_idx[partner] = ia;
          }
        }
      }
      workgroupBarrier();
    }
  }

  let out_row = p.row_offset + row;
  // −∞ for empty slots. A constant −∞ is a WGSL error, so build it from a uniform that is 0.
  let neg_inf = bitcast<f32>(p._pad0 | 0xff800000u);
  for (var i = lid; i < p.k; i += WG) {
    let idx = sel_idx[i];
    let valid = i < k && idx != 0xFFFFFFFFu && sel_key[i] != 0u;
    out_idx[out_row * p.k + i] = select(-1, i32(idx), valid);
    out_val[out_row * p.k + i] = select(neg_inf, scores[base + min(idx, n - 1u)], valid);
  }
}
