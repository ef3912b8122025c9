// Backward of the fused GRU cell (see gru_cell.wgsl), recomputing the gates:
//
//   dn = dh (1 - z)          dz = dh (h_{t-1} - n)       dh_{t-1} = dh z + ...
//   an = dn (1 - n^2)        ar = an hw_n r (1 - r)      az = dz z (1 - z)
//   dxw = [ar, az, an]       dhw = [ar, az, an r]
//
// (the rest of dh_{t-1} flows through dhw and W_hh, handled by autograd's matmul rule).
// Outputs dxw [B, 3H], dhw [B, 3H], dh_prev [B, H]; inputs contiguous views.
// The prelude supplies: alias T; bindings dxw (1), dhw (2), dh_prev (3), xw (4), hw (5),
// h_prev (6), dh (7).

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
    let hw_n = f32(hw[hr + 2u * hd]);
    let r = sigmoid(f32(xw[xr]) + f32(hw[hr]));
    let z = sigmoid(f32(xw[xr + hd]) + f32(hw[hr + hd]));
    let n = tanh(clamp(f32(xw[xr + 2u * hd]) + r * hw_n, -15.0, 15.0));
    let hp = f32(h_prev[params.h_offset + idx]);
    let g = f32(dh[params.dh_offset + idx]);
    let an = g * (1.0 - z) * (1.0 - n * n);
    let ar = an * hw_n * r * (1.0 - r);
    let az = g * (hp - n) * z * (1.0 - z);
    let o = b * 3u * hd + j;
    dxw[o] = T(ar);
    dxw[o + hd] = T(az);
    dxw[o + 2u * hd] = T(an);
    dhw[o] = T(ar);
    dhw[o + hd] = T(az);
    dhw[o + 2u * hd] = T(an * r);
    dh_prev[idx] = T(g * z);
}
