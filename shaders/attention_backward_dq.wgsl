// Fused scaled dot-product attention, backward part 1 of 2: D and dQ.
// FlashAttention-2's backward with the query side split off (no atomics): part 2,
// attention_backward_dkdv.wgsl, runs after this and accumulates dK and dV.
//
// One invocation per query row (b, h, i), a workgroup per WG rows of one (b, h). It
// keeps q_i (times scale), dO_i and a dQ accumulator in registers, stores D_i = dO_i . O_i in stats[2 * row + 1] for part 2,
// then walks the keys the forward saw, recomputing each score instead of reading an
// [Lq, Lk] matrix:
//   S_ij = q_i . k_j * scale + mask_ij      (summed in the forward's order)
//   P_ij = exp(S_ij - L_i)                  (L_i = stats[2 * row], the forward's logsumexp)
//   dP_ij = dO_i . v_j,  dS_ij = P_ij (dP_ij - D_i),  dQ_i += dS_ij k_j
// and finally dQ_i *= scale. A dispatch walks only keys [chunk_from, chunk_to) (see
// attention.wgsl on lavapipe's loop limit); the unscaled accumulator is carried between
// chunks in dq, D is computed by the first chunk. A row that saw no key (L_i = EMPTY_ROW; its forward output
// is NaN) gets dQ_i = 0 and D_i = 0, and part 2 skips it, so it adds nothing anywhere.
//
// q, k, v, d_out are contiguous [B, H, L, E] views (offsets allowed); out (the forward's
// output) and dq are contiguous from 0. The mask is any broadcast view of [B, H, Lq, Lk]
// given by 4 strides (0 on broadcast dims).
// The prelude supplies: struct Params (attention.rs, uniform_params!);
// alias T; bindings dq (1), stats (2, f32, read_write), q (3), k (4),
// v (5), d_out (6), out (7), [mask (8)]; fn hidden(o: u32) -> bool, fn bias(o: u32) -> f32.

// One query row i of head bh per invocation (see attention_common.wgsl).
fn run(bh: u32, block: u32, i: u32) {
    if (i >= params.lq) {
        return;
    }
    let row = bh * params.lq + i;
    let e = min(params.e, MAX_E);
    let lse = stats[2u * row];
    let empty = lse >= EMPTY_ROW;
    var q_row: array<f32, MAX_E>;
    var do_row: array<f32, MAX_E>;
    var acc: array<f32, MAX_E>;
    let q_base = params.q_offset + row * params.e;
    let do_base = params.d_out_offset + row * params.e;
    let first = params.chunk_from == 0u;
    var delta = 0.0;
    for (var d = 0u; d < e; d++) {
        q_row[d] = f32(q[q_base + d]) * params.scale;
        do_row[d] = f32(d_out[do_base + d]);
        if (first) {
            delta += do_row[d] * f32(out[row * params.e + d]);
            acc[d] = 0.0;
        } else {
            acc[d] = f32(dq[row * params.e + d]);
        }
    }
    if (first) {
        delta = select(delta, 0.0, empty);
        stats[2u * row + 1u] = delta;
    } else {
        delta = stats[2u * row + 1u];
    }
    // Causal: the loop ends after the block's last row (uniform); later keys are skipped.
    let walk = key_walk(bh, i, (block + 1u) * WG);
    let causal = params.causal != 0u;
    for (var j = params.chunk_from; j < walk.end; j++) {
        let mo = walk.mask_row + j * params.mask_strides.w;
        if (empty || (causal && j > i) || hidden(mo)) {
            continue;
        }
        let kj = walk.k_base + j * params.e;
        let vj = walk.v_base + j * params.e;
        var s = bias(mo);
        var dp = 0.0;
        for (var d = 0u; d < e; d++) {
            s += q_row[d] * f32(k[kj + d]);
            dp += do_row[d] * f32(v[vj + d]);
        }
        let ds = exp(s - lse) * (dp - delta);
        for (var d = 0u; d < e; d++) {
            acc[d] += ds * f32(k[kj + d]);
        }
    }
    let factor = select(1.0, params.scale, params.chunk_to >= params.lk);
    for (var d = 0u; d < e; d++) {
        dq[row * params.e + d] = T(acc[d] * factor);
    }
}
