//! Optimizer updates on host slices (the reference for shaders/adam.wgsl).

/// One Adam / AdamW step (torch.optim semantics) of `p` with gradient `g` and state
/// `[m; v]` (`[m; v; vmax]` with amsgrad), each of `p.len()` elements. Returns the new
/// `[p; m; v]` (plus `vmax`). `bias1 = 1 - beta1^t`, `bias2 = 1 - beta2^t`.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    p: &[f32],
    g: &[f32],
    state: &[f32],
    lr: f32,
    (beta1, beta2): (f32, f32),
    eps: f32,
    (weight_decay, decoupled_decay): (f32, f32),
    (bias1, bias2): (f32, f32),
    amsgrad: bool,
) -> Vec<f32> {
    let n = p.len();
    let rows = if amsgrad { 4 } else { 3 };
    let mut out = vec![0.0f32; rows * n];
    for i in 0..n {
        let grad = g[i] + weight_decay * p[i];
        let param = p[i] * (1.0 - lr * decoupled_decay);
        let m = beta1 * state[i] + (1.0 - beta1) * grad;
        let v = beta2 * state[n + i] + (1.0 - beta2) * grad * grad;
        let v_used = if amsgrad { state[2 * n + i].max(v) } else { v };
        if amsgrad {
            out[3 * n + i] = v_used;
        }
        out[i] = param - lr / bias1 * m / ((v_used / bias2).sqrt() + eps);
        out[n + i] = m;
        out[2 * n + i] = v;
    }
    out
}
