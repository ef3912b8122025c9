// Gradient of average and adaptive-average pooling as a gather (no atomics, each input
// element written once): dx[plane, ih, iw] = sum over the output windows (oh, ow) that
// contain (ih, iw) of dy[plane, oh, ow] / divisor(oh, ow). CPU reference:
// wgrad_cpu::pool::{avg_pool2d_backward, adaptive_avg_pool2d_backward}.
//
// Indexing: one invocation per input element, linear over contiguous [planes, H, W].
// The windows containing ih are oh in [ceil((ih + p - k + 1) / s), floor((ih + p) / s)]
// (fixed windows) or [floor(ih*OH/H), ceil((ih+1)*OH/H) - 1] (adaptive bins, each checked),
// clipped to [0, OH). Outputs are visited in increasing (oh, ow), the order in which the
// CPU reference adds them, and the divisors are computed exactly as in the forward.
//
// The prelude supplies: bindings out (1, f32, dx) and dy (2, f32, contiguous from `offset`).
// window() and divisor() are in pool_window.wgsl.

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/pool.rs
// (uniform_params!) and prepended when the module is composed.

// The outputs [first, last + 1) along one axis whose windows may contain input i.
fn outputs_of(i: u32, k: u32, s: u32, p: u32, size: u32, n_out: u32) -> vec2<u32> {
    if (params.adaptive != 0u) {
        return vec2<u32>(i * n_out / size, min(((i + 1u) * n_out + size - 1u) / size, n_out));
    }
    let a = i + p;
    var first = 0u;
    if (a + 1u >= k) {
        first = (a + 1u - k + s - 1u) / s;
    }
    return vec2<u32>(first, min(a / s + 1u, n_out));
}

fn run(i: u32) {
    if (i >= params.total) {
        return;
    }
    let iw = i % params.w;
    let ih = (i / params.w) % params.h;
    let plane = i / (params.w * params.h);
    let rh = outputs_of(ih, params.kh, params.sh, params.ph, params.h, params.oh);
    let rw = outputs_of(iw, params.kw, params.sw, params.pw, params.w, params.ow);
    let base = params.offset + plane * params.oh * params.ow;
    var acc = 0.0;
    for (var oh = rh.x; oh < rh.y; oh++) {
        let wh = window(oh, params.kh, params.sh, params.ph, params.h, params.oh);
        if (ih < wh.x || ih >= wh.y) {
            continue;
        }
        for (var ow = rw.x; ow < rw.y; ow++) {
            let ww = window(ow, params.kw, params.sw, params.pw, params.w, params.ow);
            if (iw < ww.x || iw >= ww.y) {
                continue;
            }
            let count = divisor(wh, ww);
            acc += dy[base + oh * params.ow + ow] / f32(count);
        }
    }
    out[i] = acc;
}
