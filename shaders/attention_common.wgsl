// What the attention kernels share (attention.wgsl, attention_vec4.wgsl and the four
// attention_backward_*.wgsl): sizes and sentinels, the entry point and its grid, and the
// ranges a dispatch walks.
//
// Grid: workgroup (x, y + z * groups.y) = (block x of WG invocations, head bh =
// b * heads + h), z only past 65535 heads (kernels::attention::grid). An invocation owns
// rows of one head: query rows (forward, dQ) or key rows (dK/dV), one per invocation or
// ROWS per invocation in the vec4 kernels. Every invocation of a workgroup has the same
// bh, so the addresses of the rows it walks (keys, or queries) are uniform across it.
//
// The kernel file defines fn run(bh: u32, block: u32, slot: u32): head bh, workgroup
// block `block`, and slot = block * WG + the invocation's index in it (its row, or its
// first row / ROWS).

override WG: u32 = 64;
// Largest head dim (kernels::attention::MAX_HEAD_DIM), and in vec4s.
const MAX_E: u32 = 128u;
const MAX_E4: u32 = 32u;
// Rows (queries, or keys) per invocation of the vec4 kernels.
const ROWS: u32 = 4u;
// A masked score in the vec4 kernels (its weight is exactly 0), and the running max of a
// row that has seen no key yet.
const NEG_BIG: f32 = -3.4028234e38;
// The logsumexp stored for a row that sees no key: exp(s - EMPTY_ROW) is 0 for any s.
const EMPTY_ROW: f32 = 3.4028234e38;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let bh = wid.y + wid.z * groups.y;
    if (bh >= params.batch * params.heads) {
        return;
    }
    run(bh, wid.x, wid.x * WG + lid.x);
}

// The mask element of (b, h, 0, 0) for head bh: row i, key j is at + i * z + j * w of
// params.mask_strides.
fn mask_head(bh: u32) -> u32 {
    let ms = params.mask_strides;
    return params.mask_offset + (bh / params.heads) * ms.x + (bh % params.heads) * ms.y;
}

// The end of the keys a dispatch walks (forward, dQ) for query rows below `rows_end`:
// its chunk's end, and with causal masking (key j visible to query i iff j <= i) no key
// past the last of those rows.
fn keys_end(rows_end: u32) -> u32 {
    var end = min(params.lk, params.chunk_to);
    if (params.causal != 0u) {
        end = min(end, min(params.lq, rows_end));
    }
    return end;
}

// What the one-row forward and dQ kernels walk for query row i of head bh: where the
// head's keys and values start, the row's mask row (add j * mask_strides.w for key j),
// and the end of the keys (keys_end for the rows below rows_end).
struct KeyWalk {
    k_base: u32,
    v_base: u32,
    mask_row: u32,
    end: u32,
}

fn key_walk(bh: u32, i: u32, rows_end: u32) -> KeyWalk {
    let head = bh * params.lk * params.e;
    let mask_row = mask_head(bh) + i * params.mask_strides.z;
    return KeyWalk(params.k_offset + head, params.v_offset + head, mask_row, keys_end(rows_end));
}

// The first query row a dK/dV dispatch walks for keys from `first_key` on: its chunk's
// start, and with causal masking none before the first key.
fn queries_start(first_key: u32) -> u32 {
    var start = params.chunk_from;
    if (params.causal != 0u) {
        start = max(start, first_key);
    }
    return start;
}
