//! 2-D max / average / adaptive-average pooling and their gradients (PyTorch semantics)
//! on contiguous f32 planes: `planes` = N * C planes of `[h, w]`, one rayon task per
//! plane. The GPU kernels in shaders/pool2d*.wgsl and max_pool2d_backward.wgsl are
//! tested against these.

use rayon::prelude::*;
use wgrad_core::params::Pool2d;

/// Below this many output elements the planes run sequentially.
const PARALLEL_MIN: usize = 1 << 14;

fn for_planes<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if chunk == 0 {
        return;
    }
    if out.len() >= PARALLEL_MIN {
        out.par_chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i, o));
    } else {
        out.chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i, o));
    }
}

/// The input range `[start, end)` of window `o` along one axis, clipped to `0..size`,
/// and the window's divisor extent when padding counts (clipped to the padded edge
/// `size + pad`, as PyTorch does for ceil_mode windows).
pub fn window(o: usize, k: usize, s: usize, p: usize, size: usize) -> (usize, usize, usize) {
    let start = (o * s) as isize - p as isize;
    let end = (start + k as isize).min((size + p) as isize);
    let padded = (end - start) as usize;
    (start.max(0) as usize, end.min(size as isize).max(0) as usize, padded)
}

/// The taps of dilated window `o` along one axis that fall inside `0..size`: input
/// positions `first, first + d, ...`, `count` of them (start `o * s - p`, `k` taps `d` apart).
pub fn taps(o: usize, k: usize, s: usize, p: usize, d: usize, size: usize) -> (usize, usize) {
    let start = (o * s) as isize - p as isize;
    let t0 = if start < 0 { ((-start) as usize).div_ceil(d) } else { 0 };
    let last = size as isize - 1 - start; // the largest offset t * d still inside
    let t1 = if last < 0 { 0 } else { k.min(last as usize / d + 1) };
    let count = t1.saturating_sub(t0);
    ((start + (t0 * d) as isize).max(0) as usize, count)
}

/// PyTorch's adaptive bin `i` of `n` over `size`: `[floor(i*size/n), ceil((i+1)*size/n))`.
pub fn adaptive_bin(i: usize, n: usize, size: usize) -> (usize, usize) {
    (i * size / n, ((i + 1) * size).div_ceil(n))
}

/// Max pooling of `planes` planes of `hw`: values and argmax indices (flat `h * W + w`
/// within the plane). Padding is -inf; ties keep the first, NaN wins (PyTorch's rule).
pub fn max_pool2d(x: &[f32], planes: usize, hw: [usize; 2], p: &Pool2d) -> (Vec<f32>, Vec<u32>) {
    if p.dilation != [1, 1] {
        return max_pool2d_dilated(x, planes, hw, p);
    }
    let [oh, ow] = p.output_hw(hw);
    let mut out = vec![(0.0f32, 0u32); planes * oh * ow];
    // The column windows are the same on every output row: computed once.
    let columns: Vec<(usize, usize)> = (0..ow)
        .map(|j| {
            let (w0, w1, _) = window(j, p.kernel[1], p.stride[1], p.padding[1], hw[1]);
            (w0, w1)
        })
        .collect();
    for_planes(&mut out, oh * ow, |plane, o| {
        let xp = &x[plane * hw[0] * hw[1]..(plane + 1) * hw[0] * hw[1]];
        for (r, out_row) in o.chunks_mut(ow.max(1)).enumerate() {
            let (h0, h1, _) = window(r, p.kernel[0], p.stride[0], p.padding[0], hw[0]);
            for (slot, &(w0, w1)) in out_row.iter_mut().zip(&columns) {
                let (mut best, mut arg) = (f32::NEG_INFINITY, h0 * hw[1] + w0);
                for ih in h0..h1 {
                    for (iw, &v) in xp[ih * hw[1] + w0..ih * hw[1] + w1].iter().enumerate() {
                        if v > best || v.is_nan() {
                            best = v;
                            arg = ih * hw[1] + w0 + iw;
                        }
                    }
                }
                *slot = (best, arg as u32);
            }
        }
    });
    out.into_iter().unzip()
}

/// [`max_pool2d`] with spaced taps (dilation): the same rules over taps `d` apart.
fn max_pool2d_dilated(x: &[f32], planes: usize, hw: [usize; 2], p: &Pool2d) -> (Vec<f32>, Vec<u32>) {
    let [oh, ow] = p.output_hw(hw);
    let [dh, dw] = p.dilation;
    let mut out = vec![(0.0f32, 0u32); planes * oh * ow];
    for_planes(&mut out, oh * ow, |plane, o| {
        let xp = &x[plane * hw[0] * hw[1]..(plane + 1) * hw[0] * hw[1]];
        for (i, slot) in o.iter_mut().enumerate() {
            let (h0, nh) = taps(i / ow, p.kernel[0], p.stride[0], p.padding[0], dh, hw[0]);
            let (w0, nw) = taps(i % ow, p.kernel[1], p.stride[1], p.padding[1], dw, hw[1]);
            let (mut best, mut arg) = (f32::NEG_INFINITY, h0 * hw[1] + w0);
            for ih in (0..nh).map(|t| h0 + t * dh) {
                for iw in (0..nw).map(|t| w0 + t * dw) {
                    let v = xp[ih * hw[1] + iw];
                    if v > best || v.is_nan() {
                        (best, arg) = (v, ih * hw[1] + iw);
                    }
                }
            }
            *slot = (best, arg as u32);
        }
    });
    out.into_iter().unzip()
}

/// Gradient of max pooling: each `g` is added to the input element its index names,
/// in output order (overlapping windows accumulate). Indices outside the plane (which
/// max_pool2d never produces) are ignored.
pub fn max_pool2d_backward(g: &[f32], indices: &[u32], planes: usize, hw: [usize; 2]) -> Vec<f32> {
    let plane_out = g.len().checked_div(planes).unwrap_or(0);
    let mut dx = vec![0.0f32; planes * hw[0] * hw[1]];
    for_planes(&mut dx, hw[0] * hw[1], |plane, d| {
        let range = plane * plane_out..(plane + 1) * plane_out;
        for (&gv, &i) in g[range.clone()].iter().zip(&indices[range]) {
            if let Some(slot) = d.get_mut(i as usize) {
                *slot += gv;
            }
        }
    });
    dx
}

/// Average pooling. The divisor is the window clipped to the input when
/// `count_include_pad` is false, else clipped to the padded input.
pub fn avg_pool2d(x: &[f32], planes: usize, hw: [usize; 2], p: &Pool2d, count_include_pad: bool) -> Vec<f32> {
    let [oh, ow] = p.output_hw(hw);
    let mut out = vec![0.0f32; planes * oh * ow];
    for_planes(&mut out, oh * ow, |plane, o| {
        let xp = &x[plane * hw[0] * hw[1]..(plane + 1) * hw[0] * hw[1]];
        for (i, slot) in o.iter_mut().enumerate() {
            let (h0, h1, hp) = window(i / ow, p.kernel[0], p.stride[0], p.padding[0], hw[0]);
            let (w0, w1, wp) = window(i % ow, p.kernel[1], p.stride[1], p.padding[1], hw[1]);
            let count = if count_include_pad { hp * wp } else { (h1 - h0) * (w1 - w0) };
            let sum: f32 = (h0..h1).map(|ih| xp[ih * hw[1] + w0..ih * hw[1] + w1].iter().sum::<f32>()).sum();
            *slot = if count == 0 { 0.0 } else { sum / count as f32 };
        }
    });
    out
}

/// Gradient of [`avg_pool2d`]: each output gradient, divided by its window's divisor,
/// is added to every input element of the window.
pub fn avg_pool2d_backward(g: &[f32], planes: usize, hw: [usize; 2], p: &Pool2d, count_include_pad: bool) -> Vec<f32> {
    let [oh, ow] = p.output_hw(hw);
    let mut dx = vec![0.0f32; planes * hw[0] * hw[1]];
    for_planes(&mut dx, hw[0] * hw[1], |plane, d| {
        for (i, &gv) in g[plane * oh * ow..(plane + 1) * oh * ow].iter().enumerate() {
            let (h0, h1, hp) = window(i / ow, p.kernel[0], p.stride[0], p.padding[0], hw[0]);
            let (w0, w1, wp) = window(i % ow, p.kernel[1], p.stride[1], p.padding[1], hw[1]);
            let count = if count_include_pad { hp * wp } else { (h1 - h0) * (w1 - w0) };
            if count == 0 {
                continue;
            }
            let share = gv / count as f32;
            for ih in h0..h1 {
                for v in &mut d[ih * hw[1] + w0..ih * hw[1] + w1] {
                    *v += share;
                }
            }
        }
    });
    dx
}

/// Adaptive average pooling to `out_hw` with PyTorch's overlapping bins.
pub fn adaptive_avg_pool2d(x: &[f32], planes: usize, hw: [usize; 2], out_hw: [usize; 2]) -> Vec<f32> {
    let [oh, ow] = out_hw;
    let mut out = vec![0.0f32; planes * oh * ow];
    for_planes(&mut out, oh * ow, |plane, o| {
        let xp = &x[plane * hw[0] * hw[1]..(plane + 1) * hw[0] * hw[1]];
        for (i, slot) in o.iter_mut().enumerate() {
            let (h0, h1) = adaptive_bin(i / ow, oh, hw[0]);
            let (w0, w1) = adaptive_bin(i % ow, ow, hw[1]);
            let sum: f32 = (h0..h1).map(|ih| xp[ih * hw[1] + w0..ih * hw[1] + w1].iter().sum::<f32>()).sum();
            *slot = sum / ((h1 - h0) * (w1 - w0)) as f32;
        }
    });
    out
}

/// Gradient of [`adaptive_avg_pool2d`] for an input of `hw`.
pub fn adaptive_avg_pool2d_backward(g: &[f32], planes: usize, hw: [usize; 2], out_hw: [usize; 2]) -> Vec<f32> {
    let [oh, ow] = out_hw;
    let mut dx = vec![0.0f32; planes * hw[0] * hw[1]];
    for_planes(&mut dx, hw[0] * hw[1], |plane, d| {
        for (i, &gv) in g[plane * oh * ow..(plane + 1) * oh * ow].iter().enumerate() {
            let (h0, h1) = adaptive_bin(i / ow, oh, hw[0]);
            let (w0, w1) = adaptive_bin(i % ow, ow, hw[1]);
            let share = gv / ((h1 - h0) * (w1 - w0)) as f32;
            for ih in h0..h1 {
                for v in &mut d[ih * hw[1] + w0..ih * hw[1] + w1] {
                    *v += share;
                }
            }
        }
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_bins() {
        // kernel 3 stride 2 pad 1 over 5: windows [-1,2) [1,4) [3,6) -> clipped, padded counts 3.
        assert_eq!(window(0, 3, 2, 1, 5), (0, 2, 3));
        assert_eq!(window(2, 3, 2, 1, 5), (3, 5, 3));
        // ceil_mode window past the padded edge: [4, 7) over 5 + pad 0 -> divisor 1.
        assert_eq!(window(2, 3, 2, 0, 5), (4, 5, 1));
        // 5 -> 3 adaptive: [0,2) [1,4) [3,5).
        assert_eq!((0..3).map(|i| adaptive_bin(i, 3, 5)).collect::<Vec<_>>(), vec![(0, 2), (1, 4), (3, 5)]);
    }
}
