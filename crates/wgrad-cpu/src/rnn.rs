//! Fused recurrent cells (PyTorch gate order i, f, g, o), forward and backward, on
//! contiguous f32 rows. The GPU kernels in shaders/lstm_cell*.wgsl compute the same.

use crate::fastmath::{sigmoid, tanh};
use crate::matmul::{gemm_f32, Gemm, Mat};
use crate::simd::wide;

/// One LSTM step from pre-activation `gates` [B, 4H] and `c_prev` [B, H]:
/// returns `hc` [2, B, H] holding h_t then c_t.
pub fn lstm_cell(gates: &[f32], c_prev: &[f32], batch: usize, hidden: usize) -> Vec<f32> {
    let mut hc = vec![0.0f32; 2 * batch * hidden];
    lstm_cell_into(gates, c_prev, &mut hc, batch, hidden);
    hc
}

/// [`lstm_cell`] writing `hc` [2, B, H] into a slice.
fn lstm_cell_into(gates: &[f32], c_prev: &[f32], hc: &mut [f32], batch: usize, hidden: usize) {
    let (h_out, c_out) = hc.split_at_mut(batch * hidden);
    wide(
        #[inline(always)]
        || {
            // Every slice below is exactly `hidden` long, so the loop runs without bounds
            // checks and vectorises.
            let rows = gates.chunks_exact(4 * hidden).zip(c_prev.chunks_exact(hidden));
            let outs = h_out.chunks_exact_mut(hidden).zip(c_out.chunks_exact_mut(hidden));
            for ((g, cp), (h, c)) in rows.zip(outs) {
                let (gi, g) = g.split_at(hidden);
                let (gf, g) = g.split_at(hidden);
                let (gg, go) = g.split_at(hidden);
                for j in 0..hidden {
                    let (i, f, u, o) = (sigmoid(gi[j]), sigmoid(gf[j]), tanh(gg[j]), sigmoid(go[j]));
                    c[j] = f * cp[j] + i * u;
                    h[j] = o * tanh(c[j]);
                }
            }
        },
    )
}

/// A whole LSTM layer, as oneDNN runs it: per step one GEMM adding `h_{t-1} W_hh^T` to
/// that step's input projection in place, then the fused cell, with no allocation per
/// step. `xw` [T, B, 4H] (biases folded in), `h0` and `c0` [B, H], `w_hh_t` = W_hh^T
/// [H, 4H] row-major. Returns (`hc` [T, 2, B, H]: h_t and c_t of every step, `gates`
/// [T, B, 4H]: every step's pre-activations, which the backward reads).
pub fn lstm_sequence(
    xw: &[f32],
    h0: &[f32],
    c0: &[f32],
    w_hh_t: &[f32],
    steps: usize,
    batch: usize,
    hidden: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (n, g) = (batch * hidden, 4 * batch * hidden);
    let mut gates = xw[..steps * g].to_vec();
    let mut hc = vec![0.0f32; steps * 2 * n];
    for t in 0..steps {
        let (done, next) = hc.split_at_mut(t * 2 * n);
        let (h_prev, c_prev) = match t {
            0 => (h0, c0),
            _ => done[(t - 1) * 2 * n..].split_at(n),
        };
        let step_gates = &mut gates[t * g..(t + 1) * g];
        // gates_t [B, 4H] += h_{t-1} [B, H] @ W_hh^T [H, 4H]
        gemm_f32(
            (&mut step_gates[..], 4 * hidden, 1),
            Mat::rows(h_prev, hidden),
            Mat::rows(w_hh_t, 4 * hidden),
            [batch, hidden, 4 * hidden],
            Gemm::ADD.parallel(true),
        );
        lstm_cell_into(step_gates, c_prev, &mut next[..2 * n], batch, hidden);
    }
    (hc, gates)
}

/// Backward of [`lstm_cell`]: from `dhc` [2, B, H] (gradients of h_t and c_t), returns
/// (`dgates` [B, 4H], `dc_prev` [B, H]).
pub fn lstm_cell_backward(
    gates: &[f32],
    c_prev: &[f32],
    dhc: &[f32],
    batch: usize,
    hidden: usize,
) -> (Vec<f32>, Vec<f32>) {
    let n = batch * hidden;
    let mut dgates = vec![0.0f32; 4 * n];
    let mut dc_prev = vec![0.0f32; n];
    for b in 0..batch {
        let g = &gates[b * 4 * hidden..(b + 1) * 4 * hidden];
        let dg = &mut dgates[b * 4 * hidden..(b + 1) * 4 * hidden];
        for j in 0..hidden {
            let idx = b * hidden + j;
            let (i, f) = (sigmoid(g[j]), sigmoid(g[hidden + j]));
            let (gg, o) = (tanh(g[2 * hidden + j]), sigmoid(g[3 * hidden + j]));
            let cp = c_prev[idx];
            let tc = tanh(f * cp + i * gg);
            let dh = dhc[idx];
            let dc = dhc[n + idx] + dh * o * (1.0 - tc * tc);
            dg[j] = dc * gg * i * (1.0 - i);
            dg[hidden + j] = dc * cp * f * (1.0 - f);
            dg[2 * hidden + j] = dc * i * (1.0 - gg * gg);
            dg[3 * hidden + j] = dh * tc * o * (1.0 - o);
            dc_prev[idx] = dc * f;
        }
    }
    (dgates, dc_prev)
}

/// One GRU step (gate order r, z, n) from `xw`, `hw` [B, 3H] (input and hidden
/// projections, biases included) and `h_prev` [B, H]: returns h_t [B, H].
pub fn gru_cell(xw: &[f32], hw: &[f32], h_prev: &[f32], batch: usize, hidden: usize) -> Vec<f32> {
    let mut h = vec![0.0f32; batch * hidden];
    for b in 0..batch {
        let (x, g) = (&xw[b * 3 * hidden..], &hw[b * 3 * hidden..]);
        for j in 0..hidden {
            let r = sigmoid(x[j] + g[j]);
            let z = sigmoid(x[hidden + j] + g[hidden + j]);
            let n = tanh(x[2 * hidden + j] + r * g[2 * hidden + j]);
            h[b * hidden + j] = (1.0 - z) * n + z * h_prev[b * hidden + j];
        }
    }
    h
}

/// Backward of [`gru_cell`] from `dh` [B, H]: (`dxw`, `dhw` [B, 3H], `dh_prev` [B, H]),
/// where `dh_prev` is only the direct path `dh * z` (the rest flows through `dhw`).
pub fn gru_cell_backward(
    xw: &[f32],
    hw: &[f32],
    h_prev: &[f32],
    dh: &[f32],
    batch: usize,
    hidden: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut dxw = vec![0.0f32; 3 * batch * hidden];
    let mut dhw = vec![0.0f32; 3 * batch * hidden];
    let mut dh_prev = vec![0.0f32; batch * hidden];
    for b in 0..batch {
        let o = b * 3 * hidden;
        for j in 0..hidden {
            let idx = b * hidden + j;
            let r = sigmoid(xw[o + j] + hw[o + j]);
            let z = sigmoid(xw[o + hidden + j] + hw[o + hidden + j]);
            let hw_n = hw[o + 2 * hidden + j];
            let n = tanh(xw[o + 2 * hidden + j] + r * hw_n);
            let g = dh[idx];
            let an = g * (1.0 - z) * (1.0 - n * n);
            let ar = an * hw_n * r * (1.0 - r);
            let az = g * (h_prev[idx] - n) * z * (1.0 - z);
            dxw[o + j] = ar;
            dxw[o + hidden + j] = az;
            dxw[o + 2 * hidden + j] = an;
            dhw[o + j] = ar;
            dhw[o + hidden + j] = az;
            dhw[o + 2 * hidden + j] = an * r;
            dh_prev[idx] = g * z;
        }
    }
    (dxw, dhw, dh_prev)
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_gates_give_hand_computed_state() {
        // All pre-activations 0: i = f = o = 0.5, g = 0, so c = 0.5 * c_prev, h = 0.5 tanh(c).
        let hc = super::lstm_cell(&[0.0; 4], &[2.0], 1, 1);
        assert_eq!(hc[1], 1.0);
        assert!((hc[0] - 0.5 * 1f32.tanh()).abs() < 1e-6);
    }
}
