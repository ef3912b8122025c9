// Batched matrix multiply, register-blocked with vec4 loads: out[b] = A[b] @ B[b].
//
// Each invocation computes an 8 x 16 block of outputs (two groups of 4 rows, four
// groups of 4 columns) held in registers, walking K four at a time: per step it loads
// two 4x4 blocks of A and four 4x4 blocks of B as vec4s (24 loads) for 512 FMAs, with
// no shared memory. On software adapters (lavapipe), where every load is a per-lane
// loop, this FMA-to-load ratio is what matters; shared-memory tiling measured slower.
//
// Blocks are canonicalised so one inner loop serves every operand layout:
//   a[r]  = vec4 of A[row r, k..k+4]                     (rows of a 4x4 A block)
//   bm[g] = mat4x4 whose column j is B[k+j, cols of g]   (so bm[g] * a[r] adds
//           sum_j A[r, k+j] * B[k+j, cols] to the 4 outputs of row r, group g)
// The prelude's load_a / load_b read either orientation: k-contiguous operands load a
// vec4 along k and transpose, m/n-contiguous ones load along m/n directly. The launcher
// picks this kernel only when K and every vec4 axis are multiples of 4 and the strides
// and offsets keep vec4 alignment; otherwise matmul.wgsl runs.
//
// M, N and K are multiples of 4, so 4-row / 4-column groups never straddle the edge:
// groups past it are clamped to the last valid group for loading and masked at the store.
// The prelude supplies: bindings out (1, array<f32>), a (2), b (3) as array<vec4<f32>>;
// fn load_a(row0: u32, k: u32, base: u32) -> mat4x4<f32> (column r = row row0 + r over k);
// fn load_b(col0: u32, k: u32, base: u32) -> mat4x4<f32> (column j = B[k+j, col0..col0+4]).

override WG_X: u32 = 8;
override WG_Y: u32 = 8;
const ROWS: u32 = 8;
const COLS: u32 = 16;

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

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * ROWS;
    let col0 = gid.x * COLS;
    let batch = gid.z;
    if (row0 >= params.m || col0 >= params.n || batch >= params.batch) {
        return;
    }
    let a_base = params.a_offset + batch * params.a_batch;
    let b_base = params.b_offset + batch * params.b_batch;
    // First row of each 4-row group and column of each 4-column group, clamped so that
    // every load stays in range (stores are masked below).
    let r_hi = params.m - 4u;
    let c_hi = params.n - 4u;
    let rg = vec2<u32>(min(row0, r_hi), min(row0 + 4u, r_hi));
    let cg = vec4<u32>(min(col0, c_hi), min(col0 + 4u, c_hi), min(col0 + 8u, c_hi), min(col0 + 12u, c_hi));
    var acc: array<array<vec4<f32>, 4>, 8>;
    for (var k = 0u; k < params.k; k += 4u) {
        let a0 = load_a(rg.x, k, a_base);
        let a1 = load_a(rg.y, k, a_base);
        for (var g = 0u; g < 4u; g++) {
            let bm = load_b(cg[g], k, b_base);
            acc[0][g] += bm * a0[0];
            acc[1][g] += bm * a0[1];
            acc[2][g] += bm * a0[2];
            acc[3][g] += bm * a0[3];
            acc[4][g] += bm * a1[0];
            acc[5][g] += bm * a1[1];
            acc[6][g] += bm * a1[2];
            acc[7][g] += bm * a1[3];
        }
    }
    let out_base = batch * params.m * params.n;
    for (var r = 0u; r < ROWS; r++) {
        // Row r of the block was loaded from clamped group start rg[r / 4].
        let row = select(rg.x, rg.y, r >= 4u) + r % 4u;
        let intended = row0 + r;
        if (intended < params.m && row == intended) {
            for (var g = 0u; g < 4u; g++) {
                let col = cg[g];
                if (col0 + g * 4u < params.n && col == col0 + g * 4u) {
                    let o = out_base + row * params.n + col;
                    out[o] = acc[r][g].x;
                    out[o + 1u] = acc[r][g].y;
                    out[o + 2u] = acc[r][g].z;
                    out[o + 3u] = acc[r][g].w;
                }
            }
        }
    }
}
