//! Launchers for shaders/pool2d.wgsl, pool2d_backward.wgsl and max_pool2d_backward.wgsl
//! (CPU reference: wgrad_cpu::pool). Inputs are contiguous planes `[planes, h, w]`
//! (planes = N * C) starting at an element offset; outputs are new contiguous buffers.

use super::to_u32;
use crate::shaders;
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer, Window};
use wgrad_core::params::Pool2d;
pub use wgrad_core::params::{Planes, Pooling};
use wgrad_core::DType;

const WG: u32 = 256;

uniform_params! {
    /// The block of pool2d.wgsl and pool2d_backward.wgsl: `total` invocations over planes of
    /// `h` x `w` inputs and `oh` x `ow` outputs; the window (kernel, stride, padding,
    /// dilation; 0 when `adaptive`); the input's (x's or dy's) element `offset`.
    struct Params {
        total: u32, h: u32, w: u32, oh: u32,
        ow: u32, kh: u32, kw: u32, sh: u32,
        sw: u32, ph: u32, pw: u32, adaptive: u32,
        // dh, dw: dilation (max pooling; 1 otherwise).
        count_include_pad: u32, offset: u32, dh: u32, dw: u32,
    }
}

impl Params {
    fn new(total: usize, planes: Planes, pooling: Pooling, offset: usize) -> Params {
        let (hw, out_hw) = (planes.hw, planes.out_hw);
        let u = |v: usize| to_u32(v, "pool2d");
        let (p, cip) = match pooling {
            Pooling::Max(p) => (Some(p), false),
            Pooling::Avg(p, cip) => (Some(p), cip),
            Pooling::Adaptive => (None, false),
        };
        let g = |f: fn(&Pool2d) -> [usize; 2], i: usize| p.map_or(0, |p| u(f(&p)[i]));
        Params {
            total: u(total),
            h: u(hw[0]),
            w: u(hw[1]),
            oh: u(out_hw[0]),
            ow: u(out_hw[1]),
            kh: g(|p| p.kernel, 0),
            kw: g(|p| p.kernel, 1),
            sh: g(|p| p.stride, 0),
            sw: g(|p| p.stride, 1),
            ph: g(|p| p.padding, 0),
            pw: g(|p| p.padding, 1),
            adaptive: (pooling == Pooling::Adaptive) as u32,
            count_include_pad: cip as u32,
            offset: u(offset),
            dh: p.map_or(1, |p| u(p.dilation[0])),
            dw: p.map_or(1, |p| u(p.dilation[1])),
        }
    }
}

/// The windows binding elements `[first, first + len)` of each (buffer, first, len), or
/// None after recording the error (a range larger than one binding: the caller splits
/// the planes so that this does not happen).
fn windows(gpu: &GpuDevice, ranges: &[(&PooledBuffer, usize, usize)]) -> Option<Vec<Window>> {
    let mut out = Vec::with_capacity(ranges.len());
    for &(b, first, len) in ranges {
        match gpu.window(b, 4, first, first + len) {
            Ok(w) => out.push(w),
            Err(e) => {
                gpu.record_error(e);
                return None;
            }
        }
    }
    Some(out)
}

/// Most planes of `elems_per_plane` elements (the larger of input and output) that one
/// launch can bind.
pub fn planes_per_launch(gpu: &GpuDevice, elems_per_plane: usize) -> usize {
    (gpu.max_binding_bytes() as usize / 4 / elems_per_plane.max(1)).max(1)
}

/// The forward module: max pooling (with an index output) or average pooling.
pub fn source(max: bool) -> String {
    let prelude = if max {
        "const MAX: bool = true;\n\
         @group(0) @binding(3) var<storage, read_write> indices: array<u32>;\n\
         fn store_index(i: u32, v: u32) { indices[i] = v; }\n"
    } else {
        "const MAX: bool = false;\nfn store_index(i: u32, v: u32) {}\n"
    };
    let prelude = format!("{}{prelude}{}", Params::WGSL, shaders::io_bindings("f32", &["out"], &["x"]));
    shaders::compose(&[DType::F32], &prelude, shaders::POOL2D)
}

/// The average-pooling gradient module.
pub fn backward_source() -> String {
    let bindings = shaders::io_bindings("f32", &["out"], &["dy"]);
    shaders::compose(&[DType::F32], &format!("{}{bindings}", Params::WGSL), shaders::POOL2D_BACKWARD)
}

/// The max-pooling gradient module.
pub fn max_backward_source() -> String {
    let bindings = shaders::storage_bindings(&[
        ("out", "read_write", "f32"),
        ("dy", "read", "f32"),
        ("indices", "read", "u32"),
        ("bounds", "read", "u32"),
    ]);
    shaders::compose(&[DType::F32], &format!("{}{bindings}", MaxBackwardParams::WGSL), shaders::MAX_POOL2D_BACKWARD)
}

/// Pools the f32 `planes` of `x` (buffer, element offset). Returns the values and, for
/// max pooling, the u32 argmax indices.
pub fn pool2d(
    gpu: &GpuDevice,
    x: (&PooledBuffer, usize),
    planes: Planes,
    pooling: Pooling,
) -> (PooledBuffer, Option<PooledBuffer>) {
    let [x_len, total] = planes.lens();
    let out = gpu.output_buffer((total * 4) as u64);
    let max = matches!(pooling, Pooling::Max(_));
    let indices = max.then(|| gpu.output_buffer((total * 4) as u64));
    if total == 0 {
        return (out, indices);
    }
    let mut ranges = vec![(&out, 0, total), (x.0, x.1, x_len)];
    ranges.extend(indices.as_ref().map(|i| (i, 0, total)));
    let Some(w) = windows(gpu, &ranges) else { return (out, indices) };
    let params = Params::new(total, planes, pooling, x.1 - w[1].first_elem);
    let buffers: Vec<&PooledBuffer> = ranges.iter().map(|r| r.0).collect();
    gpu.launch_windowed(
        KernelLaunch::new(KernelKey::Pool2d { max }, &params, &buffers, shaders::linear_workgroups(total, WG)),
        &w,
    );
    (out, indices)
}

/// Gradient of average or adaptive-average pooling: `dy` (buffer, element offset) holds
/// the output planes; returns the input planes.
pub fn avg_pool2d_backward(
    gpu: &GpuDevice,
    dy: (&PooledBuffer, usize),
    planes: Planes,
    pooling: Pooling,
) -> PooledBuffer {
    assert!(!matches!(pooling, Pooling::Max(_)), "avg_pool2d_backward: use max_pool2d_backward for max pooling");
    let [total, dy_len] = planes.lens();
    let out = gpu.output_buffer((total * 4) as u64);
    if total == 0 {
        return out;
    }
    let ranges = [(&out, 0, total), (dy.0, dy.1, dy_len)];
    let Some(w) = windows(gpu, &ranges) else { return out };
    let params = Params::new(total, planes, pooling, dy.1 - w[1].first_elem);
    gpu.launch_windowed(
        KernelLaunch::new(KernelKey::Pool2dBackward, &params, &[&out, dy.0], shaders::linear_workgroups(total, WG)),
        &w,
    );
    out
}

uniform_params! {
    /// The block of both max-pooling gradient passes: `total` invocations (planes * OH * OW
    /// for the bounds, planes * H * W for the gather), the plane sizes, and the element
    /// offsets of dy and the indices.
    struct MaxBackwardParams {
        total: u32, h: u32, w: u32, oh: u32,
        ow: u32, dy_off: u32, idx_off: u32, _pad0: u32,
    }
}

/// The max-pooling gradient's bounds pass (see shaders/max_pool2d_bounds.wgsl).
pub fn max_bounds_source() -> String {
    let bindings = shaders::storage_bindings(&[("bounds", "read_write", "atomic<u32>"), ("indices", "read", "u32")]);
    shaders::compose(&[DType::F32], &format!("{}{bindings}", MaxBackwardParams::WGSL), shaders::MAX_POOL2D_BOUNDS)
}

/// Gradient of max pooling: `dy` and `indices` hold contiguous planes of `out_hw` from
/// their offsets; returns contiguous planes of `hw`. Two launches: the bounds of the
/// outputs whose argmax falls in each input row and column, then the gather.
pub fn max_pool2d_backward(
    gpu: &GpuDevice,
    dy: (&PooledBuffer, usize),
    indices: (&PooledBuffer, usize),
    planes: Planes,
) -> PooledBuffer {
    let ([dx_len, dy_len], (hw, out_hw)) = (planes.lens(), (planes.hw, planes.out_hw));
    let out = gpu.output_buffer((dx_len * 4) as u64);
    if dx_len == 0 {
        return out;
    }
    let u = |v: usize| to_u32(v, "max_pool2d_backward");
    let lines = hw[0] + hw[1];
    // Lower bounds start at u32::MAX, upper bounds at 0.
    let bounds = super::generated(gpu, 2 * lines, DType::U32, "select(0u, 0xffffffffu, i < s)", u(lines));
    let ranges = [(&out, 0, dx_len), (dy.0, dy.1, dy_len), (indices.0, indices.1, dy_len), (&bounds, 0, 2 * lines)];
    let Some(w) = windows(gpu, &ranges) else { return out };
    let mut params = MaxBackwardParams {
        total: u(dy_len),
        h: u(hw[0]),
        w: u(hw[1]),
        oh: u(out_hw[0]),
        ow: u(out_hw[1]),
        dy_off: u(dy.1 - w[1].first_elem),
        idx_off: u(indices.1 - w[2].first_elem),
        _pad0: 0,
    };
    gpu.launch_windowed(
        KernelLaunch::new(
            KernelKey::MaxPool2dBounds,
            &params,
            &[&bounds, indices.0],
            shaders::linear_workgroups(dy_len, WG),
        ),
        &[w[3], w[2]],
    );
    params.total = u(dx_len);
    gpu.launch_windowed(
        KernelLaunch::new(
            KernelKey::MaxPool2dBackward,
            &params,
            &[&out, dy.0, indices.0, &bounds],
            shaders::linear_workgroups(dx_len, WG),
        ),
        &w,
    );
    out
}

/// Every module, for validation.
pub fn variants() -> Vec<KernelKey> {
    vec![
        KernelKey::Pool2d { max: true },
        KernelKey::Pool2d { max: false },
        KernelKey::Pool2dBackward,
        KernelKey::MaxPool2dBounds,
        KernelKey::MaxPool2dBackward,
    ]
}
