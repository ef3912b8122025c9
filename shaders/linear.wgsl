// The entry point of the kernels that run one invocation per item (element, row, ...)
// of a 1-D range. The launcher dispatches shaders::linear_workgroups(n, WG): x workgroups
// first, spilling into y past the 65535 limit, so invocation i is
// gid.x + gid.y * groups.x * WG, and the last workgroup (and, when y is used, the rest of
// the last row of workgroups) runs past n.
//
// The kernel file declares WG (its launcher's workgroup size) and fn run(i: u32), which
// returns at once for i past its range.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    run(gid.x + gid.y * groups.x * WG);
}
