// Layer normalisation backward for the input, fused: one invocation per row. With
// xhat = (x - mean) * rstd and g = dy * w (mean and rstd from the forward's stats):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
// (the weight and bias gradients are column sums, reduced by the host).
//
// The prelude supplies bindings (all f32) dx (1), x (2), w (3), dy (4), stats (5);
// offsets are in elements.

override WG: u32 = 64;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/layer_norm.rs
// (uniform_params!) and prepended when the module is composed.

fn run(row: u32) {
    if (row >= params.rows) {
        return;
    }
    let d = params.d;
    let xb = params.x_offset + row * d;
    let gb = params.dy_offset + row * d;
    let mean = stats[2u * row];
    let rstd = stats[2u * row + 1u];
    var sum_g = 0.0;
    var sum_gx = 0.0;
    for (var i = 0u; i < d; i++) {
        let g = dy[gb + i] * w[params.w_offset + i];
        sum_g += g;
        sum_gx += g * (x[xb + i] - mean) * rstd;
    }
    let mean_g = sum_g / f32(d);
    let mean_gx = sum_gx / f32(d);
    for (var i = 0u; i < d; i++) {
        let g = dy[gb + i] * w[params.w_offset + i];
        let xhat = (x[xb + i] - mean) * rstd;
        dx[row * d + i] = rstd * (g - mean_g - xhat * mean_gx);
    }
}
