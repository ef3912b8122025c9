// The backward of gather / index_select / embedding, without float atomics: each
// invocation owns one element p of the input gradient and sums, in increasing order,
// the output gradients g[q] of every ids position q in the same "line" (q equal to p
// in every dim but `dim`) whose id equals p's coordinate along `dim`. Deterministic:
// the order of the sum never depends on scheduling. Ids were validated by the forward.
//
// Cost is numel(input) * ids.shape[dim]; large embedding tables want a sort-based
// variant (not yet written).
//
// The prelude supplies: alias T, I; bindings out (1, the input gradient, contiguous),
// g (2, ids' shape, strided), ids (3).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/gather.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    if (i >= params.numel) {
        return;
    }
    var rem = i;
    var id_base = params.id_offset;
    var g_base = params.g_offset;
    var wanted = 0u;
    var inside = true;
    for (var d = params.rank; d > 0u; d--) {
        let dd = d - 1u;
        let size = params.out_shape[dd / 4u][dd % 4u];
        let c = rem % size;
        rem /= size;
        if (dd == params.dim) {
            wanted = c;
        } else {
            inside = inside && c < params.id_shape[dd / 4u][dd % 4u];
            id_base += c * params.id_strides[dd / 4u][dd % 4u];
            g_base += c * params.g_strides[dd / 4u][dd % 4u];
        }
    }
    var acc = 0.0;
    if (inside) {
        let dd = params.dim;
        let id_step = params.id_strides[dd / 4u][dd % 4u];
        let g_step = params.g_strides[dd / 4u][dd % 4u];
        for (var l = 0u; l < params.lines; l++) {
            if (u32(ids[id_base + l * id_step]) == wanted) {
                acc += f32(g[g_base + l * g_step]);
            }
        }
    }
    out[i] = T(acc);
}
