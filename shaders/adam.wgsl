// Fused Adam / AdamW update of up to MAX_TENSORS parameter tensors in one launch (a
// multi-tensor apply). Invocation i updates element e = i - start of the tensor j whose
// [start, start + n) range holds i; per element, as torch.optim.Adam / AdamW:
//
//   g  = grad + wd * p                 (Adam's L2 weight decay; 0 for AdamW)
//   p  = p * (1 - lr * decoupled_wd)   (AdamW's decoupled decay; 0 for Adam)
//   m  = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vmax = max(vmax, v) (amsgrad)
//   p -= lr / (1 - b1^t) * m / (sqrt(v' / (1 - b2^t)) + eps),   v' = vmax or v
//
// Out: one buffer; tensor j writes its [p; m; v] (or [p; m; v; vmax]) block of 3n (4n)
// values from slot j's `out`. The prelude supplies MAX_TENSORS, `out` (binding 1) and, per
// tensor, its parameter, gradient and state ([m; v] or [m; v; vmax]) bindings, read
// through load_p / load_g / load_state(j, index), which switch on j.

override WG: u32 = 256;

// struct Slot and struct Params: declared once in crates/wgrad-gpu/src/kernels/optim.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
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
    p = p * (1.0 - params.lr * params.decoupled_weight_decay);
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
