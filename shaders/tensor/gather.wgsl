// Row movement over row-major matrices, one output element per invocation:
//   gather:      out[i, c] = table[idx[i], c]               (embedding lookup)
//   segment_sum: out[r, c] = sum_{e in ptr[r]..ptr[r+1]} g[pos[e], c]
//                the gather's backward: a CSR of table row -> positions, built once per
//                index tensor, makes the scatter-add deterministic without float atomics
//   copy2d:      dst[r, dst_off + c] = src[r, src_off + c], c < width   (slice, concat)

override WG: u32 = 256u;

struct Gather {
  n_idx: u32,
  cols: u32,
  table_rows: u32,
  _pad: u32,
}

struct Segment {
  rows: u32,
  cols: u32,
}

struct Copy {
  rows: u32,
  width: u32,
  src_cols: u32,
  src_off: u32,
  dst_cols: u32,
  dst_off: u32,
}

@group(0) @binding(0) var<storage, read> table: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> pg: Gather;

@group(0) @binding(0) var<storage, read> ptr: array<i32>;
@group(0) @binding(1) var<storage, read> pos: array<i32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> sout: array<f32>;
@group(0) @binding(4) var<uniform> ps: Segment;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> pcp: Copy;

fn linear_id(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= pg.n_idx * pg.cols) {
    return;
  }
  let r = i / pg.cols;
  let c = i - r * pg.cols;
  let t = idx[r];
  // Out-of-range indices are rejected on the host when it holds them; on the device
  // they read as zero instead of touching memory outside the table.
  if (t < 0 || u32(t) >= pg.table_rows) {
    out[i] = 0.0;
  } else {
    out[i] = table[u32(t) * pg.cols + c];
  }
}

@compute @workgroup_size(WG)
fn segment_sum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= ps.rows * ps.cols) {
    return;
  }
  let r = i / ps.cols;
  let c = i - r * ps.cols;
  var acc = 0.0;
  for (var e = ptr[r]; e < ptr[r + 1u]; e++) {
    acc += g[u32(pos[e]) * ps.cols + c];
  }
  sout[i] = acc;
}

@compute @workgroup_size(WG)
fn copy2d(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = linear_id(wid, nwg, lid);
  if (i >= pcp.rows * pcp.width) {
    return;
  }
  let r = i / pcp.width;
  let c = i - r * pcp.width;
  dst[r * pcp.dst_cols + pcp.dst_off + c] = src[r * pcp.src_cols + pcp.src_off + c];
}
