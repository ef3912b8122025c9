// Batched matrix multiply for hardware GPUs: shared-memory tiles + register blocking.
//
// A workgroup of 16 x 16 threads computes a 128 x 128 tile of out; each thread an 8 x 8
// block (two 4-row groups x two 4-column groups, as vec4 accumulators). K is walked in
// steps of BK = 8: 64 threads stage the 128 x 8 slice of A and 64 threads the 8 x 128
// slice of B in workgroup memory (as vec4s along m and along n), then every thread reads
// 4 vec4s per k for 64 FMAs. Operand orientation and vec4 alignment are the same as
// matmul_vec4.wgsl (the prelude's load_a / load_b); M, N, K are multiples of 4. Rows and
// columns past the edge load clamped (valid) data and are not stored; k past K loads 0.
// On software adapters (lavapipe), workgroup memory is slower than registers, so they
// run matmul_vec4.wgsl instead.
//
// The prelude supplies the same bindings and load_a / load_b as matmul_vec4.wgsl.

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 8u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a_offset: u32,
    a_batch: u32,
    a_row: u32,
    a_col: u32,
    b_offset: u32,
    b_batch: u32,
    b_row: u32,
    b_col: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// tile_a[k * 32 + i] = A[tile row 4i .. 4i+4, k];  tile_b[k * 32 + j] = B[k, tile col 4j .. 4j+4]
var<workgroup> tile_a: array<vec4<f32>, 256>;
var<workgroup> tile_b: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let batch = wg.z;
    let row_base = wg.y * BM;
    let col_base = wg.x * BN;
    let a_base = params.a_offset + batch * params.a_batch;
    let b_base = params.b_offset + batch * params.b_batch;
    var acc: array<vec4<f32>, 16>;
    for (var k0 = 0u; k0 < params.k; k0 += BK) {
        if (t < 64u) {
            let blk = t % 32u;
            let kb = k0 + (t / 32u) * 4u;
            let row = min(row_base + blk * 4u, params.m - 4u);
            var cols = mat4x4<f32>();
            if (kb < params.k) {
                cols = transpose(load_a(row, kb, a_base));
            }
            for (var j = 0u; j < 4u; j++) {
                tile_a[((t / 32u) * 4u + j) * 32u + blk] = cols[j];
            }
        } else if (t < 128u) {
            let u = t - 64u;
            let blk = u % 32u;
            let kb = k0 + (u / 32u) * 4u;
            let col = min(col_base + blk * 4u, params.n - 4u);
            var rows = mat4x4<f32>();
            if (kb < params.k) {
                rows = load_b(col, kb, b_base);
            }
            for (var j = 0u; j < 4u; j++) {
                tile_b[((u / 32u) * 4u + j) * 32u + blk] = rows[j];
            }
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k++) {
            let a0 = tile_a[k * 32u + lid.y * 2u];
            let a1 = tile_a[k * 32u + lid.y * 2u + 1u];
            let b0 = tile_b[k * 32u + lid.x * 2u];
            let b1 = tile_b[k * 32u + lid.x * 2u + 1u];
            for (var r = 0u; r < 4u; r++) {
                acc[r * 2u] += a0[r] * b0;
                acc[r * 2u + 1u] += a0[r] * b1;
                acc[8u + r * 2u] += a1[r] * b0;
                acc[8u + r * 2u + 1u] += a1[r] * b1;
            }
        }
        workgroupBarrier();
    }
    let out_base = batch * params.m * params.n;
    for (var r = 0u; r < 8u; r++) {
        let row = row_base + lid.y * 8u + r;
        if (row < params.m) {
            for (var c = 0u; c < 2u; c++) {
                let col = col_base + lid.x * 8u + c * 4u;
                if (col < params.n) {
                    let v = acc[r * 2u + c];
                    let o = out_base + row * params.n + col;
                    out[o] = v.x;
                    out[o + 1u] = v.y;
                    out[o + 2u] = v.z;
                    out[o + 3u] = v.w;
                }
            }
        }
    }
}
