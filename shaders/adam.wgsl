// Fused Adam / AdamW update of one parameter tensor: one invocation per element reads
// the parameter, its gradient and both moments, and writes the three new values.
//
//   g  = grad + wd * p                 (Adam's L2 weight decay; 0 for AdamW)
//   p  = p * (1 - lr * decoupled_wd)   (AdamW's decoupled decay; 0 for Adam)
//   m  = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) (amsgrad)
//   p -= lr / (1 - b1^t) * m / (sqrt(v' / (1 - b2^t)) + eps),   v' = vmax or v
//
// as torch.optim.Adam / AdamW. Out: [3, n] (or [4, n] with amsgrad): p, m, v, vmax.
// Inputs are contiguous with offsets. The prelude supplies bindings out (1), p (2),
// g (3), state (4: [m; v] or [m; v; vmax] of the previous step, contiguous).

override WG: u32 = 256;

struct Params {
    n: u32,
    amsgrad: u32,
    p_offset: u32,
    g_offset: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled_decay: f32,
    bias1: f32,   // 1 - beta1^t
    bias2: f32,   // 1 - beta2^t
    state_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    let n = params.n;
    if (i >= n) {
        return;
    }
    var p = p_in[params.p_offset + i];
    let g = g_in[params.g_offset + i] + params.weight_decay * p;
    p = p * (1.0 - params.lr * params.decoupled_decay);
    let m = params.beta1 * state[params.state_offset + i] + (1.0 - params.beta1) * g;
    let v = params.beta2 * state[params.state_offset + n + i] + (1.0 - params.beta2) * g * g;
    var v_used = v;
    if (params.amsgrad != 0u) {
        v_used = max(state[params.state_offset + 2u * n + i], v);
        out[3u * n + i] = v_used;
    }
    let denom = sqrt(v_used / params.bias2) + params.eps;
    out[i] = p - params.lr / params.bias1 * m / denom;
    out[n + i] = m;
    out[2u * n + i] = v;
}
