//! Fused recurrent cells (PyTorch gate order i, f, g, o), forward and backward, on
//! contiguous f32 rows. The GPU kernels in shaders/lstm_cell*.wgsl compute the same.

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One LSTM step from pre-activation `gates` [B, 4H] and `c_prev` [B, H]:
/// returns `hc` [2, B, H] holding h_t then c_t.
pub fn lstm_cell(gates: &[f32], c_prev: &[f32], batch: usize, hidden: usize) -> Vec<f32> {
    let n = batch * hidden;
    let mut hc = vec![0.0f32; 2 * n];
    for b in 0..batch {
        let g = &gates[b * 4 * hidden..(b + 1) * 4 * hidden];
        for j in 0..hidden {
            let (i, f) = (sigmoid(g[j]), sigmoid(g[hidden + j]));
            let (gg, o) = (g[2 * hidden + j].tanh(), sigmoid(g[3 * hidden + j]));
            let c = f * c_prev[b * hidden + j] + i * gg;
            hc[b * hidden + j] = o * c.tanh();
            hc[n + b * hidden + j] = c;
        }
    }
    hc
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
            let (gg, o) = (g[2 * hidden + j].tanh(), sigmoid(g[3 * hidden + j]));
            let cp = c_prev[idx];
            let tc = (f * cp + i * gg).tanh();
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

#[cfg(test)]
mod tests {
    #[test]
    fn zero_gates_give_hand_computed_state() {
        // All pre-activations 0: i = f = o = 0.5, g = 0, so c = 0.5 * c_prev, h = 0.5 tanh(c).
        let hc = super::lstm_cell(&[0.0; 4], &[2.0], 1, 1);
        assert_eq!(hc[1], 1.0);
        assert!((hc[0] - 0.5 * 1f32.tanh()).abs() < 1e-7);
    }
}
