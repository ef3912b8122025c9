// An invocation per output element (after reduce.wgsl): for many short runs (softmax and
// layer-norm backward rows, attention rows), where a workgroup per output spends its time
// in barriers (on lavapipe ~60 us per workgroup). Each invocation folds r = 0..inner in
// order; the host keeps `inner` short (lavapipe ends invocations that loop 65535 times).

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let o = gid.x + gid.y * groups.x * WG;
    if (o >= params.outer) {
        return;
    }
    let base = params.offset + span_offset(o, 0u, params.outer_rank);
    var acc = Pair(IDENTITY_V, NONE);
    for (var r = 0u; r < params.inner; r++) {
        let v = V(x[base + span_offset(r, params.outer_rank, params.rank)]);
        acc = combine(acc, Pair(v, r));
    }
    out[o] = finish(acc);
}
