// Gradient of conv2d with respect to the weight, as an implicit GEMM reducing over the
// output pixels (no im2col buffer): dW[g*Og + o, c, kh, kw] = sum over (n, oh, ow) of
// dy[n, g*Og + o, oh, ow] * x[n, g*Cg + c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW].
// CPU reference: wgrad_cpu::conv::conv2d_grad_weight.
//
// Indexing: one invocation owns OCB output channels x CB input channels x KWB adjacent
// taps of one kernel row kh, for one split of the reduction; the linear invocation index
// is, fastest first, (tap block, kh, channel block o, channel block c, group, split).
// The reduction runs over the flattened rows (n, oh) of the split and 4 output pixels
// at a time: one vec4 of dy per output channel (4 pixels; the launcher hands over dy
// with rows padded to a multiple of 4, contiguous along w, so these loads are aligned
// and the padding is zeros) and, per input channel, the SEG = 3*SW + (KWB-1)*DW + 1
// input values that 4 pixels x KWB taps need, each loaded once: OCB/4*4 + CB*SEG loads
// (8 + 24 for 3x3 stride 1) for OCB*CB*KWB*4 products (384).
//
// Splits: the weight gradient is small (O*Cg*KH*KW) and its reduction long (N*OH*OW), so
// the rows are split over `splits` partial gradients [splits, O, Cg, KH, KW] which the
// launcher sums in split order (deterministic, no atomics).
//
// Bounds: channels past Og / Cg and taps past KW are clamped for loading and masked at the
// store; input columns are clamped and masked as in conv2d.wgsl; dy rows hold OW4 (a
// multiple of 4) columns, so each vec4 lies inside its row.
//
// The prelude supplies: consts KWB, SW, DW, OCB (4 or 8), CB, PX (4), SEG; bindings out
// (1, f32), dy (2, vec4<f32>), x (3, f32).

override WG: u32 = 64;
const Q: u32 = OCB / 4u;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/conv_grad_weight.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    let per_split = params.groups * params.c_blocks * params.o_blocks * params.kh * params.kw_blocks;
    if (i >= params.splits * per_split) {
        return;
    }
    var r = i;
    let kwb = r % params.kw_blocks;
    r /= params.kw_blocks;
    let kh = r % params.kh;
    r /= params.kh;
    let ob = r % params.o_blocks;
    r /= params.o_blocks;
    let cb = r % params.c_blocks;
    r /= params.c_blocks;
    let g = r % params.groups;
    let split = r / params.groups;

    let o0 = ob * OCB;
    let c0 = cb * CB;
    let kw0 = kwb * KWB;
    let w_last = i32(params.w) - 1;
    let row_start = split * params.rows_per_split;
    let row_end = min(row_start + params.rows_per_split, params.n * params.oh);
    var acc: array<array<array<vec4<f32>, Q>, KWB>, CB>;
    for (var row = row_start; row < row_end; row++) {
        let ni = row / params.oh;
        let ohi = row % params.oh;
        let ih = i32(ohi * params.stride_h) - params.pad_h + i32(kh * params.dil_h);
        if (ih < 0 || ih >= i32(params.h)) {
            continue;
        }
        let g_row = params.g.offset + ni * params.g.n + g * params.og * params.g.c + ohi * params.g.h;
        let x_row = params.x.offset + ni * params.x.n + g * params.cg * params.x.c + u32(ih) * params.x.h;
        for (var ow0 = 0u; ow0 < params.ow4; ow0 += PX) {
            // gv[q][j]: dy at pixel ow0 + j for channels o0 + 4q .. o0 + 4q + 3.
            let at = (g_row + ow0) / 4u;
            let gc4 = params.g.c / 4u;
            var gv: array<mat4x4<f32>, Q>;
            for (var q = 0u; q < Q; q++) {
                let o = min(vec4<u32>(o0 + q * 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(params.og - 1u));
                gv[q] = transpose(mat4x4<f32>(dy[at + o.x * gc4], dy[at + o.y * gc4], dy[at + o.z * gc4], dy[at + o.w * gc4]));
            }
            let iw0 = i32(ow0 * SW) - params.pad_w + i32(kw0 * DW);
            for (var c = 0u; c < CB; c++) {
                let xr = x_row + min(c0 + c, params.cg - 1u) * params.x.c;
                var xs: array<f32, SEG>;
                for (var t = 0u; t < SEG; t++) {
                    let iw = iw0 + i32(t);
                    let v = x[xr + u32(clamp(iw, 0, w_last)) * params.x.w];
                    xs[t] = select(0.0, v, iw >= 0 && iw <= w_last);
                }
                for (var u = 0u; u < KWB; u++) {
                    for (var j = 0u; j < PX; j++) {
                        // Pixels past OW (zeros in dy) must not meet an infinite x: 0 * inf.
                        let xv = select(0.0, xs[j * SW + u * DW], ow0 + j < params.ow);
                        for (var q = 0u; q < Q; q++) {
                            acc[c][u][q] += gv[q][j] * xv;
                        }
                    }
                }
            }
        }
    }
    let taps = params.kh * params.kw;
    let base = split * params.groups * params.og * params.cg * taps;
    for (var c = 0u; c < CB; c++) {
        let cc = c0 + c;
        for (var u = 0u; u < KWB; u++) {
            let kw = kw0 + u;
            if (cc < params.cg && kw < params.kw) {
                for (var q = 0u; q < Q; q++) {
                    for (var l = 0u; l < 4u; l++) {
                        let o = o0 + q * 4u + l;
                        if (o < params.og) {
                            let ch = g * params.og + o;
                            out[base + (ch * params.cg + cc) * taps + kh * params.kw + kw] = acc[c][u][q][l];
                        }
                    }
                }
            }
        }
    }
}
