// 2-D convolution as an implicit GEMM (no im2col buffer): y[n, g*Og + o, oh, ow] =
// bias + sum over (c, kh, kw) of W[g, c, kh, kw, o] * x[n, g*Cg + c, oh*SH - PH + kh*DH,
// ow*SW - PW + kw*DW], zero outside the input. CPU reference: wgrad_cpu::conv.
//
// Used for the forward pass and, per stride phase, for the gradient of the input (the
// launcher runs a stride-1 convolution of dy by the flipped, transposed weights over
// each sub-grid ih = rh + SH*i, iw = rw + SW*j of dx, writing through strides; negative
// padding occurs there, hence signed pads). The gradient of the weight has its own
// kernel (conv2d_grad_weight.wgsl).
//
// Indexing: one invocation computes a block of OCB output channels (of one group) x PXB
// adjacent output pixels of one output row; the linear invocation index is, fastest
// first, (ow block, oh, channel block, group, n). Walking (c, kh), it loads the input
// row segment the block needs for all KW taps once: SEG = (PXB-1)*SW + (KW-1)*DW + 1
// values (10 for 3x3 stride 1 and 8 pixels) serve PXB*KW products each, then per tap a
// vec4 per 4 channels of the packed weights (conv2d_pack.wgsl: [G][Cg][KH][KW][Og4],
// Og padded to a multiple of 4 with zeros). On software adapters (lavapipe), where each
// load is a per-lane loop, this load reuse is what sets the speed; the output row being
// shared by the block makes the row bounds check uniform (one branch per (c, kh)).
//
// Bounds: the input column is clamped into the row and the value masked (padding reads
// a valid element and contributes 0), channel blocks past Og4 read the last packed
// vec4, and stores are masked by ow < OW and o < Og: every index is in range for sizes
// consistent with the parameter block, so the module needs no runtime bounds checks.
//
// The prelude supplies: consts KW, SW, DW (taps, stride and dilation along w: they
// size the segment and let the compiler unroll), OCB (4 or 8), PXB, SEG; bindings out
// (1, f32), x (2, f32), wp (3, vec4<f32>), bias (4, f32).

override WG: u32 = 64;
const Q: u32 = OCB / 4u;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/conv.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    let per_item = params.groups * params.oc_blocks * params.oh * params.ow_blocks;
    if (i >= params.n * per_item) {
        return;
    }
    var r = i;
    let owb = r % params.ow_blocks;
    r /= params.ow_blocks;
    let oh = r % params.oh;
    r /= params.oh;
    let ocb = r % params.oc_blocks;
    r /= params.oc_blocks;
    let g = r % params.groups;
    let n = r / params.groups;

    let ow0 = owb * PXB;
    let rowq = params.og4 / 4u;        // vec4s per packed weight row
    let q0 = ocb * Q;
    let q_last = rowq - 1u;
    let ih0 = i32(oh * params.stride_h) - params.pad_h;
    let iw0 = i32(ow0 * SW) - params.pad_w;
    let w_last = i32(params.w) - 1;
    let x_group = params.x.offset + n * params.x.n + g * params.cg * params.x.c;
    let per_c = params.kh * KW * rowq;
    var acc: array<array<vec4<f32>, Q>, PXB>;
    for (var c = 0u; c < params.cg; c++) {
        let xc = x_group + c * params.x.c;
        let wc = (g * params.cg + c) * per_c;
        for (var kh = 0u; kh < params.kh; kh++) {
            let ih = ih0 + i32(kh * params.dil_h);
            if (ih < 0 || ih >= i32(params.h)) {
                continue;
            }
            let row = xc + u32(ih) * params.x.h;
            var xs: array<f32, SEG>;
            for (var t = 0u; t < SEG; t++) {
                let iw = iw0 + i32(t);
                let v = x[row + u32(clamp(iw, 0, w_last)) * params.x.w];
                xs[t] = select(0.0, v, iw >= 0 && iw <= w_last);
            }
            let wk = wc + kh * KW * rowq;
            for (var kw = 0u; kw < KW; kw++) {
                var wv: array<vec4<f32>, Q>;
                for (var q = 0u; q < Q; q++) {
                    wv[q] = wp[wk + kw * rowq + min(q0 + q, q_last)];
                }
                for (var j = 0u; j < PXB; j++) {
                    let xv = xs[j * SW + kw * DW];
                    for (var q = 0u; q < Q; q++) {
                        acc[j][q] += wv[q] * xv;
                    }
                }
            }
        }
    }
    let y_row = params.y.offset + n * params.y.n + oh * params.y.h;
    for (var q = 0u; q < Q; q++) {
        for (var l = 0u; l < 4u; l++) {
            let o = (q0 + q) * 4u + l;
            if (o < params.og) {
                let ch = g * params.og + o;
                var b = 0.0;
                if (params.has_bias != 0u) {
                    b = bias[params.bias_off + ch];
                }
                let y_ch = y_row + ch * params.y.c;
                for (var j = 0u; j < PXB; j++) {
                    let ow = ow0 + j;
                    if (ow < params.ow) {
                        out[y_ch + ow * params.y.w] = acc[j][q][l] + b;
                    }
                }
            }
        }
    }
}
