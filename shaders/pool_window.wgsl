// The pooling windows that pool2d.wgsl and pool2d_backward.wgsl share (struct Params of
// kernels/pool.rs): where output o's window lies along one axis, and the divisor of an
// average.

// Window of output o along one axis: (start, end) clipped to [0, size), and the divisor
// extent when padding counts (clipped to the padded edge size + p). Adaptive pooling uses
// PyTorch's bins [floor(o*size/n_out), ceil((o+1)*size/n_out)).
fn window(o: u32, k: u32, s: u32, p: u32, size: u32, n_out: u32) -> vec3<u32> {
    if (params.adaptive != 0u) {
        let start = o * size / n_out;
        let end = ((o + 1u) * size + n_out - 1u) / n_out;
        return vec3<u32>(start, end, end - start);
    }
    let start = i32(o * s) - i32(p);
    let end = min(start + i32(k), i32(size + p));
    return vec3<u32>(u32(max(start, 0)), u32(clamp(end, 0, i32(size))), u32(end - start));
}

// The divisor of an average over the windows wh (rows) and ww (columns): the clipped
// window, or with count_include_pad the window clipped to the padded input.
fn divisor(wh: vec3<u32>, ww: vec3<u32>) -> u32 {
    if (params.count_include_pad != 0u) {
        return wh.z * ww.z;
    }
    return (wh.y - wh.x) * (ww.y - ww.x);
}
