// What softmax.wgsl and softmax_backward.wgsl share: a workgroup of WG threads per row,
// and where a row starts.
//
// Row o is one position of the other dims (collapsed on the host into params.shape's
// first outer_rank dims); the grid spills into y past 65535 rows. The kernel file defines
// fn run(o: u32, lid: u32) for row o and thread lid of its workgroup; every thread of a
// workgroup has the same o, so run's barriers are in uniform control flow.

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = wg.x + wg.y * groups.x;
    if (o >= params.rows) {
        return;
    }
    run(o, lid);
}

// The offset of row o's first element through `strides` (strides of the outer dims,
// packed 4 per vec4).
fn row_offset(o: u32, strides: array<vec4<u32>, 2>) -> u32 {
    var rem = o;
    var off = 0u;
    for (var d = params.outer_rank; d > 0u; d--) {
        let dd = d - 1u;
        let size = params.shape[dd / 4u][dd % 4u];
        off += (rem % size) * strides[dd / 4u][dd % 4u];
        rem /= size;
    }
    return off;
}
