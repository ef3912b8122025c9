// Deterministic scatter-add of rows: out[v, :] = sum over l with ids[l] == v of
// g[l, :], in increasing l (the backward of index_select / embedding). Float atomics
// would make the sum order (and so the result) depend on scheduling; instead the ids
// are bucketed by a counting sort:
//
//   pass "count":  counts[ids[l]] += 1                   (u32 atomics; one thread per l)
//   pass "scan":   starts = exclusive prefix sum of counts (one workgroup)
//   pass "place":  order[starts[v] + k] = l               (k from an atomic cursor)
//   pass "sort":   each bucket sorted ascending            (one thread per row v)
//   pass "sum":    out[v, d] = sum of g[order[...], d]     (one thread per (v, d))
//
// Every pass is this file with a prelude defining its bindings and `fn run(i: u32)`;
// the counts/cursor buffer is zeroed by the host before "count". Cost O(L + V*D) plus
// the bucket sorts, instead of O(V*D*L) for the gather form.

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/index_add.rs
// (uniform_params!) and prepended when the module is composed.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    run(gid.x + gid.y * groups.x * WG, lid);
}
