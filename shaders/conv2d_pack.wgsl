// Packs conv2d weights for the implicit-GEMM kernel (conv2d.wgsl): out is
// [G][A][MH][MW][B4] (B4 = B rounded up to a multiple of 4, the pad filled with zeros),
// read there as vec4s of 4 consecutive output channels for one (a, tap).
//
//   forward:           a = input channel c, b = output channel o, tap (mh, mw) = (kh, kw)
//   input gradient:    a = o, b = c, and per stride phase only the taps that touch the
//                      phase, flipped: kh = kh_first + mh * kh_step (kh_step < 0)
//
// Source element (g, a, b, kh, kw) is w[w_off + g*g_stride + a*a_stride + b*b_stride +
// kh*h_stride + kw*w_stride]: any strided weight view. One invocation per packed
// element; the launcher guarantees that every tap it names is inside the kernel.
//
// The prelude supplies: bindings out (1, f32) and w (2, f32).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/conv.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    if (i >= params.total) {
        return;
    }
    var r = i;
    let b = r % params.b4;
    r /= params.b4;
    let mw = r % params.mw;
    r /= params.mw;
    let mh = r % params.mh;
    r /= params.mh;
    let a = r % params.a;
    let g = r / params.a;
    var v = 0.0;
    if (b < params.b) {
        let kh = u32(params.kh_first + i32(mh) * params.kh_step);
        let kw = u32(params.kw_first + i32(mw) * params.kw_step);
        v = w[params.w_off + g * params.g_stride + a * params.a_stride + b * params.b_stride
              + kh * params.h_stride + kw * params.w_stride];
    }
    out[i] = v;
}
