// Layer normalisation forward, fused: one invocation per row of D elements (the trailing
// normalised dims, contiguous). Two passes over the row: mean, then the biased variance
// of the centred values (stable when the mean is large); then y = (x - mean) * rstd * w + b.
// Also writes stats[2 row] = mean, stats[2 row + 1] = rstd for the backward pass.
// The host keeps D <= 4096 (lavapipe ends invocations that loop 65535 times).
//
// The prelude supplies bindings (all f32) y (1), stats (2), x (3), w (4), b (5); offsets
// are in elements.

override WG: u32 = 64;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/layer_norm.rs
// (uniform_params!) and prepended when the module is composed.

fn run(row: u32) {
    if (row >= params.rows) {
        return;
    }
    let d = params.d;
    let base = params.x_offset + row * d;
    var sum = 0.0;
    for (var i = 0u; i < d; i++) {
        sum += x[base + i];
    }
    let mean = sum / f32(d);
    var sq = 0.0;
    for (var i = 0u; i < d; i++) {
        let c = x[base + i] - mean;
        sq += c * c;
    }
    let rstd = inverseSqrt(sq / f32(d) + params.eps);
    for (var i = 0u; i < d; i++) {
        y[row * d + i] = (x[base + i] - mean) * rstd * w[params.w_offset + i] + b[params.b_offset + i];
    }
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
}
