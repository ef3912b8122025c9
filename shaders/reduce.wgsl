// Reductions over a set of dims: sum, mean, max, min, argmax, argmin. This file holds
// what both ways of reducing share; reduce_workgroup.wgsl or reduce_rows.wgsl follows it.
//
// The host views the input with the kept ("outer") dims first and the reduced
// ("inner") dims last, collapsing each group, so output element o reduces the inner
// run r = 0..inner of input offset(o, r). Every reduction carries a (value, index) pair
// so max/min and their arg versions share the code; ties keep the smaller index
// (PyTorch's "first").
//
// The launcher's prelude supplies: alias T (input), V (accumulator), O (output);
// bindings out (1) and x (2); const IDENTITY_V; fn combine(a: Pair, b: Pair) -> Pair;
// fn finish(p: Pair) -> O.

override WG: u32 = 256;
const NONE: u32 = 0xffffffffu;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/reduce.rs
// (uniform_params!) and prepended when the module is composed.

struct Pair {
    v: V,
    i: u32,
}

fn dim_size(d: u32) -> u32 {
    return params.shape[d / 4u][d % 4u];
}

fn dim_stride(d: u32) -> u32 {
    return params.strides[d / 4u][d % 4u];
}

// Offset of linear index `n` over dims [lo, hi).
fn span_offset(n: u32, lo: u32, hi: u32) -> u32 {
    var rem = n;
    var off = 0u;
    for (var d = hi; d > lo; d--) {
        let size = dim_size(d - 1u);
        off += (rem % size) * dim_stride(d - 1u);
        rem /= size;
    }
    return off;
}
