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

fn run(idx: u32) {
    if (idx >= params.batch * params.hidden) {
        return;
    }
    let hd = params.hidden;
    let b = idx / hd;
    let j = idx % hd;
    let gate = gru_gates(b, j);
    let hp = f32(h_prev[params.h_offset + idx]);
    let g = f32(dh[params.dh_offset + idx]);
    let an = g * (1.0 - gate.z) * (1.0 - gate.n * gate.n);
    let ar = an * gate.hw_n * gate.r * (1.0 - gate.r);
    let az = g * (hp - gate.n) * gate.z * (1.0 - gate.z);
    let o = b * 3u * hd + j;
    dxw[o] = T(ar);
    dxw[o + hd] = T(az);
    dxw[o + 2u * hd] = T(an);
    dhw[o] = T(ar);
    dhw[o + hd] = T(az);
    dhw[o + 2u * hd] = T(an * gate.r);
    dh_prev[idx] = T(g * gate.z);
}
