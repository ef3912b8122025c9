// Fused GRU cell (PyTorch's formulation, gate order r, z, n): one invocation per
// (batch, unit).
//
//   xw = x_t W_ih^T + b_ih, hw = h_{t-1} W_hh^T + b_hh        (both [B, 3H])
//   r = sigmoid(xw_r + hw_r), z = sigmoid(xw_z + hw_z), n = tanh(xw_n + r * hw_n)
//   h_t = (1 - z) * n + z * h_{t-1}
//
// Inputs are contiguous views (with offsets); output h [B, H].
// The prelude supplies: alias T; bindings h (1), xw (2), hw (3), h_prev (4).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/rnn.rs
// (uniform_params!) and prepended when the module is composed.

fn run(idx: u32) {
    if (idx >= params.batch * params.hidden) {
        return;
    }
    let gate = gru_gates(idx / params.hidden, idx % params.hidden);
    let hp = f32(h_prev[params.h_offset + idx]);
    h[idx] = T((1.0 - gate.z) * gate.n + gate.z * hp);
}
