// Backward of the fused LSTM cell (see lstm_cell.wgsl): one invocation per (batch, unit)
// computes all four gate derivatives and the gradient reaching c_{t-1}.
//
//   dc  = dc_t + dh_t * o * (1 - tanh(c_t)^2)
//   di = dc * g * i(1-i)   df = dc * c_{t-1} * f(1-f)   dg = dc * i * (1-g^2)
//   do = dh_t * tanh(c_t) * o(1-o)                       dc_{t-1} = dc * f
//
// Gates are recomputed from the saved pre-activations (cheaper than storing them).
// Outputs: dgates [B, 4H] and dc_prev [B, H]. Inputs are contiguous views (with offsets); dhc is [2, B, H].
//
// The prelude supplies: alias T; bindings dgates (1), dc_prev (2), gates (3),
// c_prev (4), dhc (5).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/rnn.rs
// (uniform_params!) and prepended when the module is composed.

fn run(idx: u32) {
    let n = params.batch * params.hidden;
    if (idx >= n) {
        return;
    }
    let h = params.hidden;
    let b = idx / h;
    let j = idx % h;
    let gate = lstm_gates(b, j);
    let cp = f32(c_prev[params.c_offset + idx]);
    let tc = tanh_safe(gate.f * cp + gate.i * gate.g);
    let dh = f32(dhc[params.dhc_offset + idx]);
    let dc = f32(dhc[params.dhc_offset + n + idx]) + dh * gate.o * (1.0 - tc * tc);
    let out_row = b * 4u * h;
    dgates[out_row + j] = T(dc * gate.g * gate.i * (1.0 - gate.i));
    dgates[out_row + h + j] = T(dc * cp * gate.f * (1.0 - gate.f));
    dgates[out_row + 2u * h + j] = T(dc * gate.i * (1.0 - gate.g * gate.g));
    dgates[out_row + 3u * h + j] = T(dh * tc * gate.o * (1.0 - gate.o));
    dc_prev[idx] = T(dc * gate.f);
}
