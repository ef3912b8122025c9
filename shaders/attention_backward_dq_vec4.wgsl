// Fused attention backward, part 1 of 2 (D and dQ), for head dims that are a multiple
// of 4: attention_backward_dq.wgsl's recurrence (read that file first) laid out like
// attention_vec4.wgsl: four query rows per invocation, so each key and value row loaded
// serves four queries, and vec4s over the head dim. Rows past the end repeat the last
// row (computed, never stored).
//
// The prelude supplies: struct Params (attention.rs, uniform_params!);
// bindings dq (1, vec4<f32>), stats (2, f32, read_write), q, k, v,
// d_out, out (3-7, vec4<f32>), [mask (8)]; fn hidden(o: u32) -> bool, fn bias(o: u32) -> f32.

// Query rows i0 = ROWS * slot .. + ROWS of head bh per invocation (see
// attention_common.wgsl).
fn run(bh: u32, block: u32, slot: u32) {
    let i0 = slot * ROWS;
    if (i0 >= params.lq) {
        return;
    }
    let e4 = params.e / 4u;
    let ms = params.mask_strides;
    let first = params.chunk_from == 0u;
    var rows: array<u32, 4>;
    var mask_rows: array<u32, 4>;
    var lse = vec4<f32>(0.0);
    var delta = vec4<f32>(0.0);
    var qv: array<vec4<f32>, 128>;   // [ROWS][MAX_E4], times scale
    var dov: array<vec4<f32>, 128>;  // [ROWS][MAX_E4]
    var acc: array<vec4<f32>, 128>;  // [ROWS][MAX_E4]
    for (var r = 0u; r < ROWS; r++) {
        let i = min(i0 + r, params.lq - 1u);
        let row = bh * params.lq + i;
        rows[r] = row;
        mask_rows[r] = mask_head(bh) + i * ms.z;
        lse[r] = stats[2u * row];
        var dot_out = 0.0;
        for (var d = 0u; d < e4; d++) {
            qv[r * MAX_E4 + d] = q[params.q_offset / 4u + row * e4 + d] * params.scale;
            let g = d_out[params.d_out_offset / 4u + row * e4 + d];
            dov[r * MAX_E4 + d] = g;
            if (first) {
                dot_out += dot(g, out[row * e4 + d]);
                acc[r * MAX_E4 + d] = vec4<f32>(0.0);
            } else {
                acc[r * MAX_E4 + d] = dq[row * e4 + d];
            }
        }
        if (first) {
            delta[r] = select(dot_out, 0.0, lse[r] >= EMPTY_ROW);
            if (i0 + r < params.lq) {
                stats[2u * row + 1u] = delta[r];
            }
        } else {
            delta[r] = stats[2u * row + 1u];
        }
    }
    let k_base = params.k_offset / 4u + bh * params.lk * e4;
    let v_base = params.v_offset / 4u + bh * params.lk * e4;
    let end = keys_end(i0 + ROWS);
    let causal = params.causal != 0u;
    for (var j = params.chunk_from; j < end; j++) {
        let kj = k_base + j * e4;
        let vj = v_base + j * e4;
        var s = vec4<f32>(0.0);
        var dp = vec4<f32>(0.0);
        for (var d = 0u; d < e4; d++) {
            let kv = k[kj + d];
            let vv = v[vj + d];
            s += vec4<f32>(dot(qv[d], kv), dot(qv[MAX_E4 + d], kv), dot(qv[2u * MAX_E4 + d], kv), dot(qv[3u * MAX_E4 + d], kv));
            dp += vec4<f32>(dot(dov[d], vv), dot(dov[MAX_E4 + d], vv), dot(dov[2u * MAX_E4 + d], vv), dot(dov[3u * MAX_E4 + d], vv));
        }
        var ds = vec4<f32>(0.0);
        for (var r = 0u; r < ROWS; r++) {
            let mo = mask_rows[r] + j * ms.w;
            if (!(lse[r] >= EMPTY_ROW || (causal && j > i0 + r) || hidden(mo))) {
                ds[r] = exp(s[r] + bias(mo) - lse[r]) * (dp[r] - delta[r]);
            }
        }
        for (var d = 0u; d < e4; d++) {
            let kv = k[kj + d];
            acc[d] += ds.x * kv;
            acc[MAX_E4 + d] += ds.y * kv;
            acc[2u * MAX_E4 + d] += ds.z * kv;
            acc[3u * MAX_E4 + d] += ds.w * kv;
        }
    }
    let factor = select(1.0, params.scale, params.chunk_to >= params.lk);
    for (var r = 0u; r < ROWS; r++) {
        if (i0 + r >= params.lq) {
            break;
        }
        for (var d = 0u; d < e4; d++) {
            dq[rows[r] * e4 + d] = acc[r * MAX_E4 + d] * factor;
        }
    }
}
