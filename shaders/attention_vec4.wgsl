// Fused scaled dot-product attention, forward, for head dims that are a multiple of 4:
// the same online-softmax recurrence as attention.wgsl (read that file first), laid out
// for adapters where every storage load is costly (lavapipe runs each as a per-lane loop):
//
// - one invocation handles ROWS = 4 query rows of one (b, h), so each key and value
//   row it loads serves four queries;
// - q, k, v and the accumulators are vec4s over the head dim;
// - keys are taken KB = 16 at a time: the block's 4 x 16 scores are computed first, then
//   the accumulators are rescaled once per block (not once per key) by the running-max
//   correction, then the block's values are added.
//
// A masked score is the sentinel NEG_BIG (its weight is exactly 0); a row that has seen
// no key keeps m = NEG_BIG, correction 1 and l = 0. Stats, chunking and the output are
// exactly as in attention.wgsl, so the backward kernels read either.
//
// The prelude supplies: struct Params (attention.rs, uniform_params!);
// bindings out (1, array<vec4<f32>>), stats (2, f32), q, k, v
// (3-5, array<vec4<f32>>), [mask (6)]; fn hidden(o: u32) -> bool, fn bias(o: u32) -> f32.

// Keys per block of scores.
const KB: u32 = 16u;

// Query rows i0 = ROWS * slot .. + ROWS of head bh per invocation (see
// attention_common.wgsl).
fn run(bh: u32, block: u32, slot: u32) {
    let i0 = slot * ROWS;
    if (i0 >= params.lq) {
        return;
    }
    let e4 = params.e / 4u;
    let first = params.chunk_from == 0u;
    // Rows past the end repeat the last row (loaded, never stored).
    var rows: array<u32, 4>;
    var mask_rows: array<u32, 4>;
    let ms = params.mask_strides;
    for (var r = 0u; r < ROWS; r++) {
        let i = min(i0 + r, params.lq - 1u);
        rows[r] = bh * params.lq + i;
        mask_rows[r] = mask_head(bh) + i * ms.z;
    }
    var qv: array<vec4<f32>, 128>;   // [ROWS][MAX_E4]
    var acc: array<vec4<f32>, 128>;  // [ROWS][MAX_E4]
    for (var r = 0u; r < ROWS; r++) {
        for (var d = 0u; d < e4; d++) {
            qv[r * MAX_E4 + d] = q[params.q_offset / 4u + rows[r] * e4 + d] * params.scale;
            acc[r * MAX_E4 + d] = select(out[rows[r] * e4 + d], vec4<f32>(0.0), first);
        }
    }
    var m = vec4<f32>(NEG_BIG);
    var l = vec4<f32>(0.0);
    if (!first) {
        for (var r = 0u; r < ROWS; r++) {
            m[r] = stats[2u * rows[r]];
            l[r] = stats[2u * rows[r] + 1u];
        }
    }
    let k_base = params.k_offset / 4u + bh * params.lk * e4;
    let v_base = params.v_offset / 4u + bh * params.lk * e4;
    // Causal: keys past the last of the four rows are hidden from all of them.
    let end = keys_end(i0 + ROWS);
    let causal = params.causal != 0u;
    for (var j0 = params.chunk_from; j0 < end; j0 += KB) {
        let block = min(KB, end - j0);
        // Scores of the block: s[jj][r] for key j0 + jj and row r.
        var s: array<vec4<f32>, 16>;
        var block_max = vec4<f32>(NEG_BIG);
        for (var jj = 0u; jj < block; jj++) {
            let j = j0 + jj;
            let kj = k_base + j * e4;
            var qk = vec4<f32>(0.0);
            for (var d = 0u; d < e4; d++) {
                let kv = k[kj + d];
                qk += vec4<f32>(
                    dot(qv[d], kv),
                    dot(qv[MAX_E4 + d], kv),
                    dot(qv[2u * MAX_E4 + d], kv),
                    dot(qv[3u * MAX_E4 + d], kv),
                );
            }
            var sv = vec4<f32>(NEG_BIG);
            for (var r = 0u; r < ROWS; r++) {
                let mo = mask_rows[r] + j * ms.w;
                if (!((causal && j > i0 + r) || hidden(mo))) {
                    sv[r] = qk[r] + bias(mo);
                }
            }
            s[jj] = sv;
            block_max = max(block_max, sv);
        }
        let m_new = max(m, block_max);
        let correction = select(exp(m - m_new), vec4<f32>(1.0), m_new == vec4<f32>(NEG_BIG));
        l *= correction;
        for (var d = 0u; d < e4; d++) {
            acc[d] *= correction.x;
            acc[MAX_E4 + d] *= correction.y;
            acc[2u * MAX_E4 + d] *= correction.z;
            acc[3u * MAX_E4 + d] *= correction.w;
        }
        for (var jj = 0u; jj < block; jj++) {
            let sv = s[jj];
            let p = select(exp(sv - m_new), vec4<f32>(0.0), sv == vec4<f32>(NEG_BIG));
            l += p;
            let vj = v_base + (j0 + jj) * e4;
            for (var d = 0u; d < e4; d++) {
                let vv = v[vj + d];
                acc[d] += p.x * vv;
                acc[MAX_E4 + d] += p.y * vv;
                acc[2u * MAX_E4 + d] += p.z * vv;
                acc[3u * MAX_E4 + d] += p.w * vv;
            }
        }
        m = m_new;
    }
    let last = params.chunk_to >= params.lk;
    for (var r = 0u; r < ROWS; r++) {
        if (i0 + r >= params.lq) {
            break;
        }
        let o = rows[r] * e4;
        for (var d = 0u; d < e4; d++) {
            out[o + d] = select(acc[r * MAX_E4 + d], acc[r * MAX_E4 + d] / l[r], last);
        }
        if (last) {
            stats[2u * rows[r]] = select(m[r] + log(l[r]), EMPTY_ROW, l[r] == 0.0);
        } else {
            stats[2u * rows[r]] = m[r];
            stats[2u * rows[r] + 1u] = l[r];
        }
    }
}
