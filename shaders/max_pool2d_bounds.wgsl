// First pass of the max-pooling gradient (see max_pool2d_backward.wgsl): for every input
// row and column, the first and last output row / column whose recorded argmax lies in
// it, over all planes. Integer atomicMin / atomicMax give the same result in any order.
//
// Indexing: one invocation per output element, linear over contiguous [planes, OH, OW];
// indices outside the plane (which max pooling never writes) are skipped. bounds holds
// [row lo (H), col lo (W), row hi (H), col hi (W)], filled with 0xffffffff (lo) and
// 0 (hi) by the launcher beforehand.
//
// The prelude supplies: bindings bounds (1, atomic<u32>) and indices (2, u32, contiguous
// from idx_off).

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/pool.rs
// (uniform_params!) and prepended when the module is composed.

fn run(i: u32) {
    if (i >= params.total) {
        return;
    }
    let e = indices[params.idx_off + i];
    if (e >= params.h * params.w) {
        return;
    }
    let oh = (i / params.ow) % params.oh;
    let ow = i % params.ow;
    let r = e / params.w;
    let c = e % params.w;
    let hw = params.h + params.w;
    atomicMin(&bounds[r], oh);
    atomicMin(&bounds[params.h + c], ow);
    atomicMax(&bounds[hw + r], oh);
    atomicMax(&bounds[hw + params.h + c], ow);
}
