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
    let out_row = b * 4u * h;
    let i_gate = sigmoid(f32(gates[row + j]));
    let f_gate = sigmoid(f32(gates[row + h + j]));
    let g_gate = tanh(clamp(f32(gates[row + 2u * h + j]), -15.0, 15.0));
    let o_gate = sigmoid(f32(gates[row + 3u * h + j]));
    let cp = f32(c_prev[params.c_offset + idx]);
    let tc = tanh(clamp(f_gate * cp + i_gate * g_gate, -15.0, 15.0));
    let dh = f32(dhc[params.dhc_offset + idx]);
    let dc = f32(dhc[params.dhc_offset + n + idx]) + dh * o_gate * (1.0 - tc * tc);
    dgates[out_row + j] = T(dc * g_gate * i_gate * (1.0 - i_gate));
    dgates[out_row + h + j] = T(dc * cp * f_gate * (1.0 - f_gate));
    dgates[out_row + 2u * h + j] = T(dc * i_gate * (1.0 - g_gate * g_gate));
    dgates[out_row + 3u * h + j] = T(dh * tc * o_gate * (1.0 - o_gate));
    dc_prev[idx] = T(dc * f_gate);
}
