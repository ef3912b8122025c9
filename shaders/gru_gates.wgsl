// The gates of the fused GRU cells (gru_cell.wgsl and its backward), recomputed from the
// projections xw and hw [B, 3H] (PyTorch order r, z, n; contiguous from params.xw_offset
// and params.hw_offset) that both cells bind.

struct GruGates {
    r: f32,
    z: f32,
    n: f32,
    // The n part of hw (h_{t-1} W_hn^T + b_hn), which the reset gate scales.
    hw_n: f32,
}

// The gates of unit j of batch row b:
//   r = sigmoid(xw_r + hw_r), z = sigmoid(xw_z + hw_z), n = tanh(xw_n + r * hw_n).
fn gru_gates(b: u32, j: u32) -> GruGates {
    let hd = params.hidden;
    let xr = params.xw_offset + b * 3u * hd + j;
    let hr = params.hw_offset + b * 3u * hd + j;
    let hw_n = f32(hw[hr + 2u * hd]);
    let r = sigmoid(f32(xw[xr]) + f32(hw[hr]));
    let z = sigmoid(f32(xw[xr + hd]) + f32(hw[hr + hd]));
    let n = tanh_safe(f32(xw[xr + 2u * hd]) + r * hw_n);
    return GruGates(r, z, n, hw_n);
}
