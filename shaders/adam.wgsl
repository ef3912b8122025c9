// Fused Adam / AdamW update of up to TENSORS parameter tensors in one launch (a
// multi-tensor apply). Invocation i updates element e = i - start of the tensor j whose
// [start, start + n) range holds i; per element, as torch.optim.Adam / AdamW:
//
//   g  = grad + wd * p                 (Adam's L2 weight decay; 0 for AdamW)
//   p  = p * (1 - lr * decoupled_wd)   (AdamW's decoupled decay; 0 for Adam)
//   m  = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) (amsgrad)
//   p -= lr / (1 - b1^t) * m / (sqrt(v' / (1 - b2^t)) + eps),   v' = vmax or v
//
// Out: one buffer; tensor j writes its [p; m; v] (or [p; m; v; vmax]) block of 3n (4n)
// values from slot j's `out`. The prelude supplies TENSORS, `out` (binding 1) and, per
// tensor, its parameter, gradient and state ([m; v] or [m; v; vmax]) bindings, read
// through load_p / load_g / load_state(j, index), which switch on j.

override WG: u32 = 256;

// One tensor of the launch: its size, first invocation, and the offsets (in elements)
// of its parameter, gradient, state and output block.
struct Slot {
    n: u32,
    start: u32,
    p: u32,
    g: u32,
    state: u32,
    out: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Params {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled_decay: f32,
    bias1: f32,   // 1 - beta1^t
    bias2: f32,   // 1 - beta2^t
    amsgrad: u32,
    count: u32,   // slots in use
    total: u32,   // elements of all of them
    _pad: u32,
    slots: array<Slot, TENSORS>,
}

@group(0) @binding(0) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= params.total) {
        return;
    }
    var j = 0u;
    for (var t = 1u; t < params.count; t++) {
        if (i >= params.slots[t].start) {
            j = t;
        }
    }
    let slot = params.slots[j];
    let e = i - slot.start;
    let n = slot.n;
    var p = load_p(j, slot.p + e);
    let g = load_g(j, slot.g + e) + params.weight_decay * p;
    p = p * (1.0 - params.lr * params.decoupled_decay);
    let m = params.beta1 * load_state(j, slot.state + e) + (1.0 - params.beta1) * g;
    let v = params.beta2 * load_state(j, slot.state + n + e) + (1.0 - params.beta2) * g * g;
    var v_used = v;
    if (params.amsgrad != 0u) {
        v_used = max(load_state(j, slot.state + 2u * n + e), v);
        out[slot.out + 3u * n + e] = v_used;
    }
    let denom = sqrt(v_used / params.bias2) + params.eps;
    out[slot.out + e] = p - params.lr / params.bias1 * m / denom;
    out[slot.out + n + e] = m;
    out[slot.out + 2u * n + e] = v;
}
