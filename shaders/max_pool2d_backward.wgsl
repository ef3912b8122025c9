// Gradient of max pooling as a gather, without float atomics: dx[plane, e] = sum of
// dy[plane, o] over the outputs o whose recorded argmax indices[plane, o] is e (the index
// h * W + w written by pool2d.wgsl); overlapping windows that share a maximum add up.
// CPU reference: wgrad_cpu::pool::max_pool2d_backward.
//
// The backward takes only the indices, not the pooling windows, so the outputs to visit
// come from the indices themselves: the first pass (max_pool2d_bounds.wgsl) records,
// with integer atomicMin / atomicMax (order-independent, so deterministic), for every
// input row the first and last output row whose argmax lies in it, and likewise for
// columns. Every output that picked (ih, iw) lies in the rectangle of those bounds, and
// that rectangle lies within the outputs whose windows contain (ih, iw): about
// ceil(KH/SH) x ceil(KW/SW) outputs per input element. The result is exact for any
// indices (indices outside the plane are ignored).
//
// Indexing: one invocation per input element, linear over contiguous [planes, H, W]. It
// visits the rectangle in increasing (oh, ow), the order in which the CPU reference adds
// (results are bitwise equal). bounds holds [row lo (H), col lo (W), row hi (H), col hi
// (W)]; an empty range (lo = 0xffffffff, hi = 0) visits nothing.
//
// The prelude supplies: bindings out (1, f32, dx), dy (2, f32), indices (3, u32) (dy and
// indices contiguous [planes, OH, OW] from dy_off / idx_off), bounds (4, u32).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/pool.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    if (i >= params.total) {
        return;
    }
    let plane_in = params.h * params.w;
    let e = i % plane_in;
    let ih = e / params.w;
    let iw = e % params.w;
    let base = (i / plane_in) * params.oh * params.ow;
    let hw = params.h + params.w;
    let oh_hi = min(bounds[hw + ih], params.oh - 1u);
    let ow_lo = bounds[params.h + iw];
    let ow_hi = min(bounds[hw + params.h + iw], params.ow - 1u);
    var acc = 0.0;
    for (var oh = bounds[ih]; oh <= oh_hi; oh++) {
        for (var ow = ow_lo; ow <= ow_hi; ow++) {
            let o = base + oh * params.ow + ow;
            if (indices[params.idx_off + o] == e) {
                acc += dy[params.dy_off + o];
            }
        }
    }
    out[i] = acc;
}
