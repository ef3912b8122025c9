// The entry point of the matmul kernels in which each invocation computes one block of
// outputs (matmul.wgsl, matmul_rows.wgsl, matmul_vec4.wgsl). Invocation gid computes
// BLOCK_ROWS rows from gid.y * BLOCK_ROWS and BLOCK_COLS columns from gid.x * BLOCK_COLS
// of batch gid.z; a block wholly past the edges returns at once. The launcher's prelude
// declares BLOCK_ROWS, BLOCK_COLS and the workgroup shape WG_X x WG_Y (kernels::matmul::
// BlockShape, which also sizes the grid); the kernel file defines fn run(blk: Block).

// Where a block starts: its first output row and column, and its batch's first elements
// of A, B and the (contiguous) output.
struct Block {
    row0: u32,
    col0: u32,
    a_base: u32,
    b_base: u32,
    out_base: u32,
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * BLOCK_ROWS;
    let col0 = gid.x * BLOCK_COLS;
    let batch = gid.z;
    if (row0 >= params.m || col0 >= params.n || batch >= params.batch) {
        return;
    }
    let a_base = params.a_offset + batch * params.a_batch;
    let b_base = params.b_offset + batch * params.b_batch;
    run(Block(row0, col0, a_base, b_base, batch * params.m * params.n));
}
