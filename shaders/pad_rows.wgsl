// Copies dy [N, O, OH, OW] (any strides) into contiguous rows of OW4 >= OW columns,
// zero-filling columns OW..OW4: the vec4-aligned operand of the conv weight-gradient
// kernel, in one launch. One invocation per output element.
//
// The prelude supplies bindings out (1), dy (2).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/conv_grad_weight.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    if (i >= params.total) {
        return;
    }
    let col = i % params.ow4;
    var row = i / params.ow4;
    let h = row % params.dims.z;
    row /= params.dims.z;
    let o = row % params.dims.y;
    let n = row / params.dims.y;
    var v = 0.0;
    if (col < params.ow) {
        let s = params.view;
        v = dy[s.offset + n * s.n + o * s.c + h * s.h + col * s.w];
    }
    out[i] = v;
}
