// Fused attention backward, part 2 of 2 (dK and dV), for head dims that are a multiple
// of 4: attention_backward_dkdv.wgsl's recurrence (read that file first) with four key
// rows per invocation, so each query and output-gradient row loaded serves four keys,
// and vec4s over the head dim. Keys past the end repeat the last key (never stored).
//
// The prelude supplies: struct Params (attention.rs, uniform_params!);
// bindings dk (1, vec4<f32>), dv (2, vec4<f32>), stats (3, f32),
// q, k, v, d_out (4-7, vec4<f32>), [mask (8)]; fn hidden(o: u32) -> bool,
// fn bias(o: u32) -> f32.

// Key rows per invocation.
const KEYS: u32 = ROWS;

// Key rows j0 = KEYS * slot .. + KEYS of head bh per invocation (see
// attention_common.wgsl).
fn run(bh: u32, block: u32, slot: u32) {
    let j0 = slot * KEYS;
    if (j0 >= params.lk) {
        return;
    }
    let e4 = params.e / 4u;
    let ms = params.mask_strides;
    let first = params.chunk_from == 0u;
    var keys: array<u32, 4>;
    var mask_cols: array<u32, 4>;
    var kv: array<vec4<f32>, 128>;      // [KEYS][MAX_E4]
    var vv: array<vec4<f32>, 128>;      // [KEYS][MAX_E4]
    var dk_acc: array<vec4<f32>, 128>;  // [KEYS][MAX_E4]
    var dv_acc: array<vec4<f32>, 128>;  // [KEYS][MAX_E4]
    for (var c = 0u; c < KEYS; c++) {
        let j = min(j0 + c, params.lk - 1u);
        let key = bh * params.lk + j;
        keys[c] = key;
        mask_cols[c] = mask_head(bh) + j * ms.w;
        for (var d = 0u; d < e4; d++) {
            kv[c * MAX_E4 + d] = k[params.k_offset / 4u + key * e4 + d];
            vv[c * MAX_E4 + d] = v[params.v_offset / 4u + key * e4 + d];
            dk_acc[c * MAX_E4 + d] = select(dk[key * e4 + d], vec4<f32>(0.0), first);
            dv_acc[c * MAX_E4 + d] = select(dv[key * e4 + d], vec4<f32>(0.0), first);
        }
    }
    // Causal: queries before the workgroup's first key see none of its keys.
    let causal = params.causal != 0u;
    let end = min(params.lq, params.chunk_to);
    for (var i = queries_start(block * WG * KEYS); i < end; i++) {
        let qrow = bh * params.lq + i;
        let lse = stats[2u * qrow];
        if (lse >= EMPTY_ROW) {
            continue;
        }
        let delta = stats[2u * qrow + 1u];
        let qi = params.q_offset / 4u + qrow * e4;
        let oi = params.d_out_offset / 4u + qrow * e4;
        var s = vec4<f32>(0.0);
        var dp = vec4<f32>(0.0);
        for (var d = 0u; d < e4; d++) {
            let qs = q[qi + d] * params.scale;
            let g = d_out[oi + d];
            s += vec4<f32>(dot(qs, kv[d]), dot(qs, kv[MAX_E4 + d]), dot(qs, kv[2u * MAX_E4 + d]), dot(qs, kv[3u * MAX_E4 + d]));
            dp += vec4<f32>(dot(g, vv[d]), dot(g, vv[MAX_E4 + d]), dot(g, vv[2u * MAX_E4 + d]), dot(g, vv[3u * MAX_E4 + d]));
        }
        var p = vec4<f32>(0.0);
        for (var c = 0u; c < KEYS; c++) {
            let mo = mask_cols[c] + i * ms.z;
            if (!((causal && i < j0 + c) || hidden(mo))) {
                p[c] = exp(s[c] + bias(mo) - lse);
            }
        }
        let ds = p * (dp - vec4<f32>(delta));
        for (var d = 0u; d < e4; d++) {
            let g = d_out[oi + d];
            let qd = q[qi + d];
            dv_acc[d] += p.x * g;
            dv_acc[MAX_E4 + d] += p.y * g;
            dv_acc[2u * MAX_E4 + d] += p.z * g;
            dv_acc[3u * MAX_E4 + d] += p.w * g;
            dk_acc[d] += ds.x * qd;
            dk_acc[MAX_E4 + d] += ds.y * qd;
            dk_acc[2u * MAX_E4 + d] += ds.z * qd;
            dk_acc[3u * MAX_E4 + d] += ds.w * qd;
        }
    }
    let factor = select(1.0, params.scale, params.chunk_to >= params.lq);
    for (var c = 0u; c < KEYS; c++) {
        if (j0 + c >= params.lk) {
            break;
        }
        for (var d = 0u; d < e4; d++) {
            dk[keys[c] * e4 + d] = dk_acc[c * MAX_E4 + d] * factor;
            dv[keys[c] * e4 + d] = dv_acc[c * MAX_E4 + d];
        }
    }
}
