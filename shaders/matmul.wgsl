// Batched matrix multiply: out[b] = A[b] @ B[b], A viewed [batch, M, K] and B
// [batch, K, N] through arbitrary strides (transposed operands and broadcast batches
// need no copy), out contiguous [batch, M, N].
//
// Variant "register-blocked" (all adapters for now): each invocation computes a 4x4
// block of outputs held in registers, walking K with 8 loads per 16 FMAs and no shared
// memory; this is what software adapters (lavapipe) run fastest. Out-of-range rows and
// columns read a clamped (valid) element and are masked at the store, keeping the K
// loop branch-free. Grid: x over column blocks, y over row blocks, z over batches.
//
// The prelude supplies: alias T (element type); bindings out (1), a (2), b (3); the
// block shape (4 x 4: the rows of A and columns of B it reads are vec4s), which
// matmul_block.wgsl's entry uses.

fn run(blk: Block) {
    // Storage offsets of the 4 rows of A and 4 columns of B this invocation reads.
    var a_rows: vec4<u32>;
    var b_cols: vec4<u32>;
    for (var t = 0u; t < 4u; t++) {
        a_rows[t] = blk.a_base + min(blk.row0 + t, params.m - 1u) * params.a_row;
        b_cols[t] = blk.b_base + min(blk.col0 + t, params.n - 1u) * params.b_col;
    }
    var acc: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < params.k; kk++) {
        let ak = kk * params.a_col;
        let bk = kk * params.b_row;
        let av = vec4<f32>(f32(a[a_rows[0] + ak]), f32(a[a_rows[1] + ak]), f32(a[a_rows[2] + ak]), f32(a[a_rows[3] + ak]));
        let bv = vec4<f32>(f32(b[b_cols[0] + bk]), f32(b[b_cols[1] + bk]), f32(b[b_cols[2] + bk]), f32(b[b_cols[3] + bk]));
        acc[0] += av.x * bv;
        acc[1] += av.y * bv;
        acc[2] += av.z * bv;
        acc[3] += av.w * bv;
    }
    for (var r = 0u; r < 4u; r++) {
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
