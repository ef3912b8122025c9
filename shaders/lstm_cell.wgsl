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

@group(0) @binding(0) var<uniform> params: Params;

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * WG;
    let n = params.batch * params.hidden;
    if (idx >= n) {
        return;
    }
    let h = params.hidden;
    let b = idx / h;
    let j = idx % h;
    let row = params.gates_offset + b * 4u * h;
    let i_gate = sigmoid(f32(gates[row + j]));
    let f_gate = sigmoid(f32(gates[row + h + j]));
    let g_gate = tanh(clamp(f32(gates[row + 2u * h + j]), -15.0, 15.0));
    let o_gate = sigmoid(f32(gates[row + 3u * h + j]));
    let c = f_gate * f32(c_prev[params.c_offset + idx]) + i_gate * g_gate;
    hc[idx] = T(o_gate * tanh(clamp(c, -15.0, 15.0)));
    hc[n + idx] = T(c);
}
