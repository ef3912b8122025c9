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
// The prelude supplies: alias T (element type); bindings out (1), a (2), b (3).

override WG_X: u32 = 8;
override WG_Y: u32 = 8;
const TILE: u32 = 4;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/matmul.rs
// (uniform_params!) and prepended when the module is composed.

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * TILE;
    let col0 = gid.x * TILE;
    let batch = gid.z;
    if (row0 >= params.m || col0 >= params.n || batch >= params.batch) {
        return;
    }
    // Storage offsets of the 4 rows of A and 4 columns of B this invocation reads.
    var a_rows: vec4<u32>;
    var b_cols: vec4<u32>;
    let a_base = params.a_offset + batch * params.a_batch;
    let b_base = params.b_offset + batch * params.b_batch;
    for (var t = 0u; t < TILE; t++) {
        a_rows[t] = a_base + min(row0 + t, params.m - 1u) * params.a_row;
        b_cols[t] = b_base + min(col0 + t, params.n - 1u) * params.b_col;
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
    let out_base = batch * params.m * params.n;
    for (var r = 0u; r < TILE; r++) {
        let row = row0 + r;
        if (row < params.m) {
            for (var c = 0u; c < TILE; c++) {
                if (col0 + c < params.n) {
                    out[out_base + row * params.n + col0 + c] = T(acc[r][c]);
                }
            }
        }
    }
}
