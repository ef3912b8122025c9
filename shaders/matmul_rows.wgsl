// Batched matrix multiply for few rows (M <= 32: a recurrent step h[B, H] @ W^T, a
// single query): out[b] = A[b] @ B[b], A viewed [batch, M, K] and B [batch, K, N]
// through arbitrary strides, out contiguous [batch, M, N].
//
// Why a third variant: matmul_vec4.wgsl blocks 64 rows per workgroup and
// matmul_tiled.wgsl 128, so with M = 1..32 most of their work is padding. Here a
// workgroup is one row of WG invocations along N; each invocation owns 4 consecutive
// columns and ROWS rows (ROWS = 1, 2, 4 or 8, the launcher's choice for M, set in the
// prelude) and walks K one step at a time: ROWS + 4 scalar loads for 4 * ROWS FMAs,
// all in registers. A's loads are the same address across the workgroup (broadcast).
// Out-of-range rows and columns read a clamped (valid) element and are masked at the
// store, so the K loop has no branches. Grid: x over 4*WG-column strips, y over
// ROWS-row groups, z over batches.
//
// The prelude supplies: alias T; bindings out (1), a (2), b (3); the block shape
// (BLOCK_ROWS = ROWS rows by 4 columns) and workgroup (WG_X = WG along N), which
// matmul_block.wgsl's entry uses.

const ROWS: u32 = BLOCK_ROWS;

fn run(blk: Block) {
    // Storage offsets of this invocation's rows of A and columns of B (clamped in range).
    var a_rows: array<u32, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
        a_rows[r] = blk.a_base + min(blk.row0 + r, params.m - 1u) * params.a_row;
    }
    var b_cols: vec4<u32>;
    for (var c = 0u; c < 4u; c++) {
        b_cols[c] = blk.b_base + min(blk.col0 + c, params.n - 1u) * params.b_col;
    }
    var acc: array<vec4<f32>, ROWS>;
    for (var kk = 0u; kk < params.k; kk++) {
        let ak = kk * params.a_col;
        let bk = kk * params.b_row;
        let bv = vec4<f32>(f32(b[b_cols[0] + bk]), f32(b[b_cols[1] + bk]), f32(b[b_cols[2] + bk]), f32(b[b_cols[3] + bk]));
        for (var r = 0u; r < ROWS; r++) {
            acc[r] += f32(a[a_rows[r] + ak]) * bv;
        }
    }
    for (var r = 0u; r < ROWS; r++) {
        let row = blk.row0 + r;
        if (row < params.m) {
            for (var c = 0u; c < 4u; c++) {
                if (blk.col0 + c < params.n) {
                    out[blk.out_base + row * params.n + blk.col0 + c] = T(acc[r][c]);
                }
            }
        }
    }
}
