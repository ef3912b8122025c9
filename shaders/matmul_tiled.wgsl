// Batched matrix multiply for hardware GPUs: workgroup-memory tiles + register blocking.
//
// A workgroup of WG_X x WG_Y threads computes a BM x BN tile of out; each thread a
// TM x TN block held in registers as vec4 accumulators. The tile sizes come from the
// prelude (the launcher picks them by shape; see kernels/matmul.rs `Tile`).
//
// Thread (lx, ly) owns the 4-row groups ly, ly + WG_Y, ... and the 4-column groups
// lx, lx + WG_X, ... of the tile: neighbouring threads read neighbouring vec4s of tile_b
// (no bank conflicts), share tile_a's vec4 (a broadcast), and store neighbouring 16-byte
// chunks of a row of out (coalesced).
//
// K is walked in steps of BK: the whole workgroup stages the BM x BK slice of A and the
// BK x BN slice of B in workgroup memory as 4x4 blocks (load_a / load_b of the prelude),
// then each thread does TM * TN FMAs per k from TM / 4 + TN / 4 vec4 reads. Operand
// orientation and vec4 alignment are those of matmul_vec4.wgsl; M, N, K are multiples of
// 4. Rows and columns past the edge load clamped (valid) data and are not stored; k past
// K loads 0. On software adapters (lavapipe) workgroup memory is slower than registers,
// so they run matmul_vec4.wgsl instead.
//
// Split K: when the product has too few tiles to fill the GPU, workgroup z = split *
// batch + b walks only K range [split * k_chunk, (split + 1) * k_chunk) of batch b and
// writes its partial product to out[z] (the host sums the partials; k_chunk is a
// multiple of BK). k_chunk = 0 means no split.
//
// The prelude supplies the bindings and load_a / load_b of matmul_vec4.wgsl and the
// constants BM, BN, BK, TM, TN (TM, TN, BK multiples of 4; BM / TM and BN / TN threads).

const WG_X: u32 = BN / TN;
const WG_Y: u32 = BM / TM;
const THREADS: u32 = WG_X * WG_Y;
// vec4 groups per tile row / column, and accumulator vec4s per thread along n.
const GM: u32 = BM / 4u;
const GN: u32 = BN / 4u;
const TG: u32 = TN / 4u;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/matmul.rs
// (uniform_params!) and prepended when the module is composed.

// tile_a[k * GM + i] = A[tile rows 4i .. 4i+4, k0 + k];  tile_b[k * GN + j] = B[k0 + k, tile cols 4j .. 4j+4]
var<workgroup> tile_a: array<vec4<f32>, BK * GM>;
var<workgroup> tile_b: array<vec4<f32>, BK * GN>;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    let batch = wg.z % params.batch;
    var k_begin = 0u;
    var k_end = params.k;
    if (params.k_chunk > 0u) {
        k_begin = (wg.z / params.batch) * params.k_chunk;
        k_end = min(k_begin + params.k_chunk, params.k);
    }
    let row_base = wg.y * BM;
    let col_base = wg.x * BN;
    let a_base = params.a_offset + batch * params.a_batch;
    let b_base = params.b_offset + batch * params.b_batch;
    var acc: array<vec4<f32>, TM * TG>;
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // A's 4x4 blocks, k-blocks fastest (a row-major A reads along its rows).
        for (var i = t; i < GM * (BK / 4u); i += THREADS) {
            let kb = (i % (BK / 4u)) * 4u;
            let blk = i / (BK / 4u);
            let row = min(row_base + blk * 4u, params.m - 4u);
            var cols = mat4x4<f32>();
            if (k0 + kb < k_end) {
                cols = transpose(load_a(row, k0 + kb, a_base));
            }
            for (var j = 0u; j < 4u; j++) {
                tile_a[(kb + j) * GM + blk] = cols[j];
            }
        }
        // B's 4x4 blocks, column blocks fastest (a row-major B reads along its rows).
        for (var i = t; i < GN * (BK / 4u); i += THREADS) {
            let blk = i % GN;
            let kb = (i / GN) * 4u;
            let col = min(col_base + blk * 4u, params.n - 4u);
            var rows = mat4x4<f32>();
            if (k0 + kb < k_end) {
                rows = load_b(col, k0 + kb, b_base);
            }
            for (var j = 0u; j < 4u; j++) {
                tile_b[(kb + j) * GN + blk] = rows[j];
            }
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k++) {
            var a: array<vec4<f32>, TM / 4u>;
            var b: array<vec4<f32>, TG>;
            for (var g = 0u; g < TM / 4u; g++) {
                a[g] = tile_a[k * GM + lid.y + g * WG_Y];
            }
            for (var h = 0u; h < TG; h++) {
                b[h] = tile_b[k * GN + lid.x + h * WG_X];
            }
            for (var g = 0u; g < TM / 4u; g++) {
                for (var r = 0u; r < 4u; r++) {
                    for (var h = 0u; h < TG; h++) {
                        acc[(g * 4u + r) * TG + h] += a[g][r] * b[h];
                    }
                }
            }
        }
        workgroupBarrier();
    }
    let out_base = wg.z * params.m * params.n;
    for (var g = 0u; g < TM / 4u; g++) {
        for (var r = 0u; r < 4u; r++) {
            let row = row_base + (lid.y + g * WG_Y) * 4u + r;
            if (row < params.m) {
                for (var h = 0u; h < TG; h++) {
                    let col = col_base + (lid.x + h * WG_X) * 4u;
                    if (col < params.n) {
                        let v = acc[(g * 4u + r) * TG + h];
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
}
