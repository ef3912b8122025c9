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

@group(0) @binding(0) var<uniform> params: Params;

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * WG;
    if (idx >= params.batch * params.hidden) {
        return;
    }
    let hd = params.hidden;
    let b = idx / hd;
    let j = idx % hd;
    let xr = params.xw_offset + b * 3u * hd + j;
    let hr = params.hw_offset + b * 3u * hd + j;
    let r = sigmoid(f32(xw[xr]) + f32(hw[hr]));
    let z = sigmoid(f32(xw[xr + hd]) + f32(hw[hr + hd]));
    let n = tanh(clamp(f32(xw[xr + 2u * hd]) + r * f32(hw[hr + 2u * hd]), -15.0, 15.0));
    let hp = f32(h_prev[params.h_offset + idx]);
    h[idx] = T((1.0 - z) * n + z * hp);
}
