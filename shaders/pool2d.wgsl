// 2-D pooling forward, PyTorch semantics: max (with argmax indices), average (both
// count_include_pad modes) and adaptive average. CPU reference: wgrad_cpu::pool.
//
// Variants (the prelude's const MAX): max pooling (taps dh / dw apart when dilated)
// writes the value and the index h * W + w of the maximum within the input plane (padding is -inf, so it never wins;
// ties keep the first, NaN wins, as PyTorch); average pooling divides the window sum by
// the window clipped to the input (count_include_pad off) or to the padded input (on:
// a ceil_mode window hanging past the padded edge divides by its clipped size), and with
// `adaptive` set uses PyTorch's bins [floor(i*H/OH), ceil((i+1)*H/OH)) instead.
//
// Indexing: one invocation per output element, linear over contiguous [planes, OH, OW];
// the input is contiguous planes [planes, H, W] from `offset`. Windows are clipped to the
// plane before any load, so every index is in range.
//
// The prelude supplies: const MAX: bool; bindings out (1, f32), x (2, f32) and, for max,
// indices (3, u32); fn store_index(i: u32, v: u32). window() and divisor() are in
// pool_window.wgsl.

override WG: u32 = 256;

// struct Params: declared once in crates/wgrad-gpu/src/kernels/pool.rs
// (uniform_params!) and prepended when the module is composed.

// The taps of max-pooling window o along one axis (k taps d apart from o * s - p) that
// fall inside [0, size): (first input position, how many).
fn taps(o: u32, k: u32, s: u32, p: u32, d: u32, size: u32) -> vec2<u32> {
    let start = i32(o * s) - i32(p);
    var t0 = 0;
    if (start < 0) {
        t0 = (-start + i32(d) - 1) / i32(d);
    }
    let last = i32(size) - 1 - start;
    var t1 = 0;
    if (last >= 0) {
        t1 = min(i32(k), last / i32(d) + 1);
    }
    return vec2<u32>(u32(max(start + t0 * i32(d), 0)), u32(max(t1 - t0, 0)));
}

fn run(i: u32) {
    if (i >= params.total) {
        return;
    }
    let ow = i % params.ow;
    let oh = (i / params.ow) % params.oh;
    let plane = i / (params.ow * params.oh);
    let wh = window(oh, params.kh, params.sh, params.ph, params.h, params.oh);
    let ww = window(ow, params.kw, params.sw, params.pw, params.w, params.ow);
    let base = params.offset + plane * params.h * params.w;
    if (MAX) {
        let th = taps(oh, params.kh, params.sh, params.ph, params.dh, params.h);
        let tw = taps(ow, params.kw, params.sw, params.pw, params.dw, params.w);
        // -inf from a `let`: a constant expression may not overflow f32 (browsers reject it).
        let minus_inf_bits = 0xff800000u;
        var best = bitcast<f32>(minus_inf_bits);
        var arg = th.x * params.w + tw.x;
        for (var a = 0u; a < th.y; a++) {
            let ih = th.x + a * params.dh;
            for (var b = 0u; b < tw.y; b++) {
                let iw = tw.x + b * params.dw;
                let v = x[base + ih * params.w + iw];
                if (v > best || is_nan(v)) {
                    best = v;
                    arg = ih * params.w + iw;
                }
            }
        }
        out[i] = best;
        store_index(i, arg);
    } else {
        var sum = 0.0;
        for (var ih = wh.x; ih < wh.y; ih++) {
            for (var iw = ww.x; iw < ww.y; iw++) {
                sum += x[base + ih * params.w + iw];
            }
        }
        let count = divisor(wh, ww);
        out[i] = select(sum / f32(count), 0.0, count == 0u);
    }
}
