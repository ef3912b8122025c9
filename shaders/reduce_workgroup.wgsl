// A workgroup per output element (after reduce.wgsl): for long runs. `splits` workgroups
// per output element each take a chunk of r (long runs are split so that many workgroups
// share them; the host reduces the partials in a second launch); within a workgroup each
// thread folds r = start + lid, + WG, ... in increasing order, then a shared-memory tree
// halves the partials. Work item w writes out[w]: output o's partial p is at
// o * splits + p.

var<workgroup> partial_v: array<V, 256>;
var<workgroup> partial_i: array<u32, 256>;

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
