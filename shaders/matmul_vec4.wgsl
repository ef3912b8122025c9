// Batched matrix multiply, register-blocked with vec4 loads: out[b] = A[b] @ B[b].
//
// Each invocation computes a 16 x 16 block of outputs (four groups of 4 rows, four
// groups of 4 columns) held in registers, walking K four at a time: per step it loads
// four 4x4 blocks of A and four 4x4 blocks of B as vec4s (32 loads) for 1024 FMAs, with
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
// fn load_b(col0: u32, k: u32, base: u32) -> mat4x4<f32> (column j = B[k+j, col0..col0+4]);
// the block shape (16 x 32), which matmul_block.wgsl's entry uses.

fn run(blk: Block) {
    // First row of each 4-row group and column of each 4-column group, clamped so that
    // every load stays in range (stores are masked below).
    let r_hi = params.m - 4u;
    let c_hi = params.n - 4u;
    let rg = vec4<u32>(min(blk.row0, r_hi), min(blk.row0 + 4u, r_hi), min(blk.row0 + 8u, r_hi), min(blk.row0 + 12u, r_hi));
    var cg: array<u32, 8>;
    for (var g = 0u; g < 8u; g++) {
        cg[g] = min(blk.col0 + 4u * g, c_hi);
    }
    var acc: array<array<vec4<f32>, 8>, 16>;
    for (var k = 0u; k < params.k; k += 4u) {
        let a0 = load_a(rg.x, k, blk.a_base);
        let a1 = load_a(rg.y, k, blk.a_base);
        let a2 = load_a(rg.z, k, blk.a_base);
        let a3 = load_a(rg.w, k, blk.a_base);
        for (var g = 0u; g < 8u; g++) {
            let bm = load_b(cg[g], k, blk.b_base);
            acc[0][g] += bm * a0[0];
            acc[1][g] += bm * a0[1];
            acc[2][g] += bm * a0[2];
            acc[3][g] += bm * a0[3];
            acc[4][g] += bm * a1[0];
            acc[5][g] += bm * a1[1];
            acc[6][g] += bm * a1[2];
            acc[7][g] += bm * a1[3];
            acc[8][g] += bm * a2[0];
            acc[9][g] += bm * a2[1];
            acc[10][g] += bm * a2[2];
            acc[11][g] += bm * a2[3];
            acc[12][g] += bm * a3[0];
            acc[13][g] += bm * a3[1];
            acc[14][g] += bm * a3[2];
            acc[15][g] += bm * a3[3];
        }
    }
    for (var r = 0u; r < BLOCK_ROWS; r++) {
        // Row r of the block was loaded from clamped group start rg[r / 4].
        let row = rg[r / 4u] + r % 4u;
        let intended = blk.row0 + r;
        if (intended < params.m && row == intended) {
            for (var g = 0u; g < 8u; g++) {
                let col = cg[g];
                if (blk.col0 + g * 4u < params.n && col == blk.col0 + g * 4u) {
                    let o = blk.out_base + row * params.n + col;
                    out[o] = acc[r][g].x;
                    out[o + 1u] = acc[r][g].y;
                    out[o + 2u] = acc[r][g].z;
                    out[o + 3u] = acc[r][g].w;
                }
            }
        }
    }
}
