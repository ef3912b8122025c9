// Backward of softmax / log-softmax along one dim, fused: one workgroup per row reduces
// the row's sum, then writes the row's input gradient. With y the forward output and g
// the gradient of y (same shape, both contiguous):
//
//   softmax:      dx = y * (g - sum_r(g * y))
//   log-softmax:  dx = g - exp(y) * sum_r(g)
//
// Rows are laid out as in softmax.wgsl (outer dims collapsed on the host, `dim_stride`
// along the row). The prelude supplies: alias T; const LOG: bool; bindings out (1),
// y (2), g (3).

// struct Params: declared once in crates/wgrad-gpu/src/kernels/softmax.rs
// (uniform_params!) and prepended when the module is composed.

var<workgroup> partial: array<f32, 256>;

// Row o, thread lid (see softmax_rows.wgsl).
fn run(o: u32, lid: u32) {
    let base = row_offset(o, params.strides);
    var s = 0.0;
    for (var r = lid; r < params.len; r += WG) {
        let i = base + r * params.dim_stride;
        if (LOG) {
            s += f32(g[i]);
        } else {
            s += f32(g[i]) * f32(y[i]);
        }
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    for (var r = lid; r < params.len; r += WG) {
        let i = base + r * params.dim_stride;
        if (LOG) {
            out[i] = T(f32(g[i]) - exp(f32(y[i])) * total);
        } else {
            out[i] = T(f32(y[i]) * (f32(g[i]) - total));
        }
    }
}
