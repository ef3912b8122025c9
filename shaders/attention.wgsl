// Fused scaled dot-product attention, forward: out = softmax(q k^T * scale + mask) v
// without materialising the [Lq, Lk] score matrix.
//
// One invocation per query row (b, h, i), a workgroup per WG rows of one (b, h): it
// keeps the row of q and an output accumulator in registers and walks the keys once with the online softmax
// (running max m, normaliser l; on a new max both rescale by exp(m_old - m_new)), the
// flash-attention recurrence. Head dim up to MAX_E (128). Causal masking is PyTorch's
// top-left alignment (key j visible to query i iff j <= i) and also shortens the loop.
// A row with every key masked divides 0 by 0 (NaN), as PyTorch's math path does.
//
// Chunks: a dispatch walks only keys [chunk_from, chunk_to); m, l and the accumulator
// are carried to the next dispatch in stats[2 * row + 1] (l), stats[2 * row] (m) and out
// (acc), and the last chunk normalises. Lavapipe (llvmpipe) stops any invocation after
// 65535 loop iterations in total (its infinite-loop guard), silently leaving the outputs
// half written; the launcher sizes chunks to stay far below that. Same arithmetic in
// the same order as one long loop, so the result does not depend on the chunking.
//
// For the backward (attention_backward_*.wgsl) each row also stores its logsumexp
// L = m + log(l) in stats[2 * row] (EMPTY_ROW for a row with every key masked, so the
// backward gives it zero gradients); stats[2 * row + 1] is then free for the backward's D.
//
// q, k, v, out are contiguous [B, H, L, E] views (offsets allowed). The mask is any
// broadcast view of [B, H, Lq, Lk] given by 4 strides (0 on broadcast dims).
// The prelude supplies: struct Params (attention.rs, uniform_params!);
// alias T; bindings out (1), stats (2, f32), q (3), k (4), v (5),
// [mask (6)];
// fn hidden(o: u32) -> bool (keep-mask says skip) and fn bias(o: u32) -> f32 (additive).

// One query row i of head bh per invocation (see attention_common.wgsl).
fn run(bh: u32, block: u32, i: u32) {
    if (i >= params.lq) {
        return;
    }
    let row = bh * params.lq + i;
    let e = min(params.e, MAX_E);
    var q_row: array<f32, MAX_E>;
    var acc: array<f32, MAX_E>;
    let q_base = params.q_offset + row * params.e;
    let out_base = row * params.e;
    let first = params.chunk_from == 0u;
    for (var d = 0u; d < e; d++) {
        q_row[d] = f32(q[q_base + d]) * params.scale;
        acc[d] = select(f32(out[out_base + d]), 0.0, first);
    }
    // Causal: the loop ends after the block's last row (uniform); later keys are skipped.
    let walk = key_walk(bh, i, (block + 1u) * WG);
    let causal = params.causal != 0u;
    var m = NEG_BIG;
    var l = 0.0;
    if (!first) {
        m = stats[2u * row];
        l = stats[2u * row + 1u];
    }
    for (var j = params.chunk_from; j < walk.end; j++) {
        let mo = walk.mask_row + j * params.mask_strides.w;
        if ((causal && j > i) || hidden(mo)) {
            continue;
        }
        var s = bias(mo);
        let kj = walk.k_base + j * params.e;
        for (var d = 0u; d < e; d++) {
            s += q_row[d] * f32(k[kj + d]);
        }
        let m_new = max(m, s);
        let correction = exp(m - m_new);
        let p = exp(s - m_new);
        l = l * correction + p;
        let vj = walk.v_base + j * params.e;
        for (var d = 0u; d < e; d++) {
            acc[d] = acc[d] * correction + p * f32(v[vj + d]);
        }
        m = m_new;
    }
    if (params.chunk_to < params.lk) {
        for (var d = 0u; d < e; d++) {
            out[out_base + d] = T(acc[d]);
        }
        stats[2u * row] = m;
        stats[2u * row + 1u] = l;
        return;
    }
    for (var d = 0u; d < e; d++) {
        out[out_base + d] = T(acc[d] / l);
    }
    stats[2u * row] = select(m + log(l), EMPTY_ROW, l == 0.0);
}
