// Reductions over a set of dims: sum, mean, max, min, argmax, argmin.
//
// The host views the input with the kept ("outer") dims first and the reduced
// ("inner") dims last, collapsing each group, so output element o reduces the inner
// run r = 0..inner of input offset(o, r). `splits` workgroups per output element each
// take a chunk of r (long runs are split so that many workgroups share them; the host
// reduces the partials in a second launch); within a workgroup each thread folds
// r = start + lid, + WG, ... in increasing order, then a shared-memory tree halves the
// partials. Work item w writes out[w]: output o's partial p is at o * splits + p. Every reduction carries a (value, index) pair so max/min and
// their arg versions share the code; ties keep the smaller index (PyTorch's "first").
//
// The launcher's prelude supplies: alias T (input), V (accumulator), O (output);
// bindings out (1) and x (2); const IDENTITY_V; fn combine(a: Pair, b: Pair) -> Pair;
// fn finish(p: Pair) -> O.

override WG: u32 = 256;
const NONE: u32 = 0xffffffffu;

struct Params {
    outer: u32,
    inner: u32,
    outer_rank: u32,
    rank: u32,
    shape: array<vec4<u32>, 2>,
    strides: array<vec4<u32>, 2>,
    offset: u32,
    scale: f32,   // 1 / inner, for mean
    splits: u32,  // workgroups per output: each reduces `chunk` consecutive r
    chunk: u32,
}

struct Pair {
    v: V,
    i: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

var<workgroup> partial_v: array<V, 256>;
var<workgroup> partial_i: array<u32, 256>;

fn dim_size(d: u32) -> u32 {
    return params.shape[d / 4u][d % 4u];
}

fn dim_stride(d: u32) -> u32 {
    return params.strides[d / 4u][d % 4u];
}

// Offset of linear index `n` over dims [lo, hi).
fn span_offset(n: u32, lo: u32, hi: u32) -> u32 {
    var rem = n;
    var off = 0u;
    for (var d = hi; d > lo; d--) {
        let size = dim_size(d - 1u);
        off += (rem % size) * dim_stride(d - 1u);
        rem /= size;
    }
    return off;
}

fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = wg.x + wg.y * groups.x;
    if (w >= params.outer * params.splits) {
        return;
    }
    let o = w / params.splits;
    let start = (w % params.splits) * params.chunk;
    let end = min(start + params.chunk, params.inner);
    let base = params.offset + span_offset(o, 0u, params.outer_rank);
    var acc = Pair(IDENTITY_V, NONE);
    for (var r = start + lid; r < end; r += WG) {
        let v = V(x[base + span_offset(r, params.outer_rank, params.rank)]);
        acc = combine(acc, Pair(v, r));
    }
    partial_v[lid] = acc.v;
    partial_i[lid] = acc.i;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            let merged = combine(Pair(partial_v[lid], partial_i[lid]),
                                 Pair(partial_v[lid + stride], partial_i[lid + stride]));
            partial_v[lid] = merged.v;
            partial_i[lid] = merged.i;
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[w] = finish(Pair(partial_v[0], partial_i[0]));
    }
}
