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
// The prelude supplies: alias T; const ROWS: u32; bindings out (1), a (2), b (3).

override WG: u32 = 64;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/matmul.rs
// (uniform_params!) and prepended when the module is composed.

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col0 = gid.x * 4u;
    let row0 = gid.y * ROWS;
    let batch = gid.z;
    if (row0 >= params.m || col0 >= params.n || batch >= params.batch) {
        return;
    }
    let a_base = params.a_offset + batch * params.a_batch;
    let b_base = params.b_offset + batch * params.b_batch;
    // Storage offsets of this invocation's rows of A and columns of B (clamped in range).
    var a_rows: array<u32, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
        a_rows[r] = a_base + min(row0 + r, params.m - 1u) * params.a_row;
    }
    var b_cols: vec4<u32>;
    for (var c = 0u; c < 4u; c++) {
        b_cols[c] = b_base + min(col0 + c, params.n - 1u) * params.b_col;
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
    let out_base = batch * params.m * params.n;
    for (var r = 0u; r < ROWS; r++) {
        let row = row0 + r;
        if (row < params.m) {
            for (var c = 0u; c < 4u; c++) {
                if (col0 + c < params.n) {
                    out[out_base + row * params.n + col0 + c] = T(acc[r][c]);
                }
            }
        }
    }
}
