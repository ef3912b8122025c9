// Fused scaled dot-product attention, backward part 2 of 2: dK and dV.
// Runs after attention_backward_dq.wgsl, which stored D_i = dO_i . O_i next to the
// forward's logsumexp L_i (stats[2 * row] = L_i, stats[2 * row + 1] = D_i).
//
// One invocation per key row (b, h, j); a workgroup owns WG consecutive keys of one
// (b, h). It keeps k_j, v_j and the dK, dV accumulators in registers and walks every query row that sees
// key j (i >= j when causal), recomputing the score instead of reading an [Lq, Lk] matrix:
//   S_ij = q_i . k_j * scale + mask_ij,  P_ij = exp(S_ij - L_i)
//   dV_j += P_ij dO_i,  dP_ij = dO_i . v_j,  dS_ij = P_ij (dP_ij - D_i),  dK_j += dS_ij q_i
// and finally dK_j *= scale. A dispatch walks only query rows [chunk_from, chunk_to)
// (see attention.wgsl on lavapipe's loop limit); the unscaled accumulators are carried
// between chunks in dk and dv. Query rows that saw no key (L_i = EMPTY_ROW) and masked
// pairs are skipped, so they add exactly zero (even where dO_i is NaN).
//
// q, k, v, d_out are contiguous [B, H, L, E] views (offsets allowed); dk and dv are
// contiguous from 0. The mask is any broadcast view of [B, H, Lq, Lk] given by 4 strides.
// The prelude supplies: struct Params (attention.rs, uniform_params!);
// alias T; bindings dk (1), dv (2), stats (3, f32), q (4), k (5),
// v (6), d_out (7), [mask (8)]; fn hidden(o: u32) -> bool, fn bias(o: u32) -> f32.

// One key row j of head bh per invocation (see attention_common.wgsl).
fn run(bh: u32, block: u32, j: u32) {
    if (j >= params.lk) {
        return;
    }
    let row = bh * params.lk + j;
    let e = min(params.e, MAX_E);
    var dk_acc: array<f32, MAX_E>;
    var dv_acc: array<f32, MAX_E>;
    let k_base = params.k_offset + row * params.e;
    let v_base = params.v_offset + row * params.e;
    var k_row: array<f32, MAX_E>;
    var v_row: array<f32, MAX_E>;
    let out_base = row * params.e;
    let first = params.chunk_from == 0u;
    for (var d = 0u; d < e; d++) {
        k_row[d] = f32(k[k_base + d]);
        v_row[d] = f32(v[v_base + d]);
        dk_acc[d] = select(f32(dk[out_base + d]), 0.0, first);
        dv_acc[d] = select(f32(dv[out_base + d]), 0.0, first);
    }
    let ms = params.mask_strides;
    let mask_col = mask_head(bh) + j * ms.w;
    // Causal: the loop starts at the block's first key (uniform); earlier rows are skipped.
    let causal = params.causal != 0u;
    let end = min(params.lq, params.chunk_to);
    for (var i = queries_start(block * WG); i < end; i++) {
        let qrow = bh * params.lq + i;
        let lse = stats[2u * qrow];
        let mo = mask_col + i * ms.z;
        if (lse < EMPTY_ROW && !(causal && i < j) && !hidden(mo)) {
            let qi = params.q_offset + qrow * params.e;
            let oi = params.d_out_offset + qrow * params.e;
            var s = bias(mo);
            var dp = 0.0;
            for (var d = 0u; d < e; d++) {
                s += (f32(q[qi + d]) * params.scale) * k_row[d];
                dp += f32(d_out[oi + d]) * v_row[d];
            }
            let p = exp(s - lse);
            let ds = p * (dp - stats[2u * qrow + 1u]);
            for (var d = 0u; d < e; d++) {
                dv_acc[d] += p * f32(d_out[oi + d]);
                dk_acc[d] += ds * f32(q[qi + d]);
            }
        }
    }
    let factor = select(1.0, params.scale, params.chunk_to >= params.lq);
    for (var d = 0u; d < e; d++) {
        dk[out_base + d] = T(dk_acc[d] * factor);
        dv[out_base + d] = T(dv_acc[d]);
    }
}
