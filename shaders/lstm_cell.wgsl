// Fused LSTM cell (PyTorch gate order i, f, g, o): one invocation per (batch, unit).
//
//   gates [B, 4H] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh   (pre-activations)
//   c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
//   h_t = sigmoid(o) * tanh(c_t)
//
// All four gates, the cell update and h_t in one kernel: per step the only other work
// is the recurrent matmul. Output hc [2, B, H]: h_t then c_t. Inputs are contiguous views (with offsets).
//
// The prelude supplies: alias T; bindings hc (1), gates (2), c_prev (3).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/rnn.rs
// (uniform_params!) and prepended when the module is composed.

fn run(idx: u32) {
    let n = params.batch * params.hidden;
    if (idx >= n) {
        return;
    }
    let gate = lstm_gates(idx / params.hidden, idx % params.hidden);
    let c = gate.f * f32(c_prev[params.c_offset + idx]) + gate.i * gate.g;
    hc[idx] = T(gate.o * tanh_safe(c));
    hc[n + idx] = T(c);
}
