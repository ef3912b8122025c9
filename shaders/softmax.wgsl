// Softmax / log-softmax along one dim, fused: one read pass and one write pass.
//
// Row o (all other dims, up to 7, collapsed on the host) is handled by one workgroup.
// Each thread folds its elements r = lid, lid + WG, ... into an online-softmax pair
// (running max m, sum s of exp(x - m)); a shared-memory tree merges the pairs
// (m = max(m1, m2), s = s1 e^(m1-m) + s2 e^(m2-m)); then every thread writes its
// elements as e^(x-m)/s, or x - m - log(s) when LOG. Stable for logits in the thousands.
//
// The prelude supplies: alias T; const LOG: bool; bindings out (1), x (2).

// struct Params: declared once in crates/wgrad-gpu/src/kernels/softmax.rs
// (uniform_params!) and prepended when the module is composed.

var<workgroup> part_m: array<f32, 256>;
var<workgroup> part_s: array<f32, 256>;

const NEG_INF: f32 = -3.4028234e38;

// Row o, thread lid (see softmax_rows.wgsl).
fn run(o: u32, lid: u32) {
    let x_base = params.x_offset + row_offset(o, params.x_strides);
    let out_base = row_offset(o, params.out_strides);
    var m = NEG_INF;
    var s = 0.0;
    for (var r = lid; r < params.len; r += WG) {
        let v = f32(x[x_base + r * params.x_dim_stride]);
        let m_new = max(m, v);
        s = s * exp(m - m_new) + exp(v - m_new);
        m = m_new;
    }
    part_m[lid] = m;
    part_s[lid] = s;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            let m1 = part_m[lid];
            let m2 = part_m[lid + stride];
            let mm = max(m1, m2);
            part_s[lid] = part_s[lid] * exp(m1 - mm) + part_s[lid + stride] * exp(m2 - mm);
            part_m[lid] = mm;
        }
        workgroupBarrier();
    }
    let row_max = part_m[0];
    let row_sum = part_s[0];
    let log_sum = log(row_sum);
    for (var r = lid; r < params.len; r += WG) {
        let v = f32(x[x_base + r * params.x_dim_stride]);
        var y: f32;
        if (LOG) {
            y = v - row_max - log_sum;
        } else {
            y = exp(v - row_max) / row_sum;
        }
        out[out_base + r * params.out_dim_stride] = T(y);
    }
}
