//! Launcher for shaders/conv2d_grad_weight.wgsl: the gradient of conv2d with respect to
//! its weight as an implicit GEMM over the output pixels, split over partial gradients
//! that are summed in order. CPU reference: wgrad_cpu::conv::conv2d_grad_weight.

use super::conv::{contiguous_view, whole, window_of, Consts, Nchw, View};
use super::{to_u32, Operand};
use crate::shaders;
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer, Window};
use wgrad_core::params::Conv2dDims;
use wgrad_core::{DType, Layout};

const WG: u32 = 64;

/// The weight-gradient kernel's module.
pub fn source(k: Consts) -> String {
    let bindings =
        shaders::storage_bindings(&[("out", "read_write", "f32"), ("dy", "read", "vec4<f32>"), ("x", "read", "f32")]);
    let prelude = format!(
        "{}{}{}const KWB: u32 = {}u;\nconst PX: u32 = {}u;\nconst CB: u32 = {}u;\n{bindings}",
        Nchw::WGSL,
        GradWeightParams::WGSL,
        k.prelude(),
        k.kw,
        k.px,
        k.cb
    );
    shaders::compose(&[DType::F32], &prelude, shaders::CONV2D_GRAD_WEIGHT)
}

uniform_params! {
    /// The weight gradient's block: the sizes, the invocation blocks, the split of the
    /// (n, oh) rows, and the views of x and of dy (g).
    struct GradWeightParams {
        n: u32, cg: u32, h: u32, w: u32,
        // ow4: dy's row length: `ow` rounded up to a multiple of 4.
        og: u32, oh: u32, ow: u32, ow4: u32,
        groups: u32, kh: u32, kw: u32, stride_h: u32,
        dil_h: u32, pad_h: i32, pad_w: i32, o_blocks: u32,
        c_blocks: u32, kw_blocks: u32, splits: u32, rows_per_split: u32,
        x: Nchw,
        g: Nchw,
    }
}

/// True when vec4 loads can read 4 consecutive pixels of `dy` rows of `ow` pixels:
/// contiguous along w, rows a multiple of 4 long, strides and offset multiples of 4.
fn vec4_rows(v: &View, ow: usize) -> bool {
    v.strides[3] == 1
        && ow.is_multiple_of(4)
        && [v.off, v.strides[0], v.strides[1], v.strides[2]].iter().all(|s| s.is_multiple_of(4))
}

/// The module of shaders/pad_rows.wgsl.
pub fn pad_rows_source() -> String {
    let bindings = shaders::io_bindings("f32", &["out"], &["dy"]);
    shaders::compose(&[DType::F32], &format!("{}{}{bindings}", Nchw::WGSL, PadParams::WGSL), shaders::PAD_ROWS)
}

uniform_params! {
    /// pad_rows.wgsl's block: `total` output elements, rows of `ow` values padded to `ow4`;
    /// dy's `dims` (N, O, OH, OW) and `view`.
    struct PadParams {
        total: u32, ow: u32, ow4: u32, _pad0: u32,
        dims: [u32; 4],
        view: Nchw,
    }
}

/// A contiguous copy of `dy` [N, O, OH, OW] (bound through `dyw`) with rows padded to
/// `ow4` columns of zeros, in one launch.
fn padded_rows(gpu: &GpuDevice, dy: &Operand, dyw: Window, ow4: usize) -> Option<PooledBuffer> {
    let [n, o, oh, ow] = [0, 1, 2, 3].map(|i| dy.layout.dims()[i]);
    let total = n * o * oh * ow4;
    let out = gpu.output_buffer((total * 4) as u64);
    let out_window = whole(gpu, &out, total)?;
    let u = |v: usize| to_u32(v, "conv2d weight gradient padding");
    let params = PadParams {
        total: u(total),
        ow: u(ow),
        ow4: u(ow4),
        _pad0: 0,
        dims: [n, o, oh, ow].map(u),
        view: View::of(dy.layout, &dyw).params("conv2d weight gradient padding"),
    };
    let workgroups = shaders::linear_workgroups(total, 256);
    gpu.launch_windowed(
        KernelLaunch::new(KernelKey::PadRows, &params, &[&out, dy.buffer], workgroups),
        &[out_window, dyw],
    );
    Some(out)
}

/// Weight-gradient consts: up to 4 taps per invocation (in equal blocks), 8 or 4 output
/// channels, 4 input channels, 4 pixels per step.
fn grad_weight_consts(d: &Conv2dDims) -> Consts {
    let blocks = d.kw.div_ceil(4);
    Consts {
        kw: d.kw.div_ceil(blocks) as u32,
        sw: d.p.stride[1] as u32,
        dw: d.p.dilation[1] as u32,
        ocb: if d.og() > 4 { 8 } else { 4 },
        px: 4,
        cb: 4,
    }
}

/// Gradient of conv2d with respect to the weight: `dy` [N, O, OH, OW] and `x` [N, C, H, W]
/// (any strides). Returns a contiguous [O, C/groups, KH, KW] f32 buffer. The reduction
/// over (n, oh) rows is split into partial gradients, summed in order.
pub fn conv2d_grad_weight(gpu: &GpuDevice, dy: Operand, x: Operand, d: &Conv2dDims) -> PooledBuffer {
    let size: usize = d.weight_shape().iter().product();
    let zeros = |out: &PooledBuffer| {
        let zero = super::elementwise::Map { expr: "0.0", inputs: &[], scalar_dtype: DType::F32, scalar: 0 };
        super::elementwise::map_into(gpu, &zero, out, &Layout::contiguous([size]), DType::F32);
    };
    if size == 0 {
        return gpu.output_buffer(0);
    }
    let rows = d.n * d.oh;
    if rows * d.ow == 0 || d.h == 0 || d.w == 0 {
        let out = gpu.output_buffer((size * 4) as u64);
        zeros(&out);
        return out;
    }
    let k = grad_weight_consts(d);
    let o_blocks = d.og().div_ceil(k.ocb as usize);
    let c_blocks = d.cg().div_ceil(k.cb as usize);
    let kw_blocks = d.kw.div_ceil(k.kw as usize);
    let per_split = d.p.groups * o_blocks * c_blocks * d.kh * kw_blocks;
    // Enough invocations to fill the adapter, without partials beyond 4M values.
    let target = if gpu.ctx.is_software() { 2048 } else { 32768 };
    let splits = (target / per_split).clamp(1, rows).min(((1 << 22) / size).max(1));
    let rows_per_split = rows.div_ceil(splits);
    let splits = rows.div_ceil(rows_per_split);
    let partial = gpu.output_buffer((splits * size * 4) as u64);
    let (Some(xw), Some(pw)) = (window_of(gpu, &x), whole(gpu, &partial, splits * size)) else { return partial };
    let xv = View::of(x.layout, &xw);
    let ow4 = d.ow.next_multiple_of(4);
    let padded;
    let (dy_buffer, gv, dyw) = match window_of(gpu, &dy) {
        None => return partial,
        Some(w) if vec4_rows(&View::of(dy.layout, &w), d.ow) => (dy.buffer, View::of(dy.layout, &w), w),
        Some(w) => {
            let Some(p) = padded_rows(gpu, &dy, w, ow4) else { return partial };
            padded = p;
            let Some(w) = whole(gpu, &padded, d.n * d.o * d.oh * ow4) else { return partial };
            (&padded, contiguous_view([d.n, d.o, d.oh, ow4]), w)
        }
    };
    let u = |v: usize| to_u32(v, "conv2d weight gradient");
    let (s, p, dl) = (d.p.stride, d.p.padding, d.p.dilation);
    let params = GradWeightParams {
        n: u(d.n),
        cg: u(d.cg()),
        h: u(d.h),
        w: u(d.w),
        og: u(d.og()),
        oh: u(d.oh),
        ow: u(d.ow),
        ow4: u(ow4),
        groups: u(d.p.groups),
        kh: u(d.kh),
        kw: u(d.kw),
        stride_h: u(s[0]),
        dil_h: u(dl[0]),
        pad_h: u(p[0]) as i32,
        pad_w: u(p[1]) as i32,
        o_blocks: u(o_blocks),
        c_blocks: u(c_blocks),
        kw_blocks: u(kw_blocks),
        splits: u(splits),
        rows_per_split: u(rows_per_split),
        x: xv.params("conv2d weight gradient"),
        g: gv.params("conv2d weight gradient"),
    };
    gpu.launch_windowed(
        KernelLaunch::new(
            KernelKey::Conv2dGradWeight(k),
            &params,
            &[&partial, dy_buffer, x.buffer],
            shaders::linear_workgroups(u(splits * per_split) as usize, WG),
        ),
        &[pw, dyw, xw],
    );
    if splits == 1 {
        return partial;
    }
    // Sum the partials as ones[1, splits] @ partials[splits, size]: the matmul kernel
    // adds them in split order (deterministic) and, unlike a reduction over a short
    // leading dim, keeps every invocation busy (on lavapipe 1 ms instead of 120 ms for
    // 10 x 18432).
    let ones_layout = Layout::contiguous([1, 1, splits]);
    let ones = super::generated(gpu, splits, DType::F32, "s", 1.0f32.to_bits());
    let layout = Layout::contiguous([1, splits, size]);
    super::matmul::matmul(
        gpu,
        Operand { buffer: &ones, layout: &ones_layout, dtype: DType::F32 },
        Operand { buffer: &partial, layout: &layout, dtype: DType::F32 },
    )
}

/// Representative specialisations for validation (see [`super::conv::variants`]).
pub fn variants() -> Vec<KernelKey> {
    let mut out = Vec::new();
    for (kw, sw, dw, og) in [(1, 1, 1, 1), (3, 1, 1, 8), (3, 2, 2, 3), (11, 4, 1, 64), (5, 3, 1, 16), (2, 2, 1, 4)] {
        let mut d = wgrad_core::params::Conv2d::default();
        d.stride[1] = sw;
        d.dilation[1] = dw;
        let dims = d.dims(&[1, 4, 32, 64], &[og, 4, 1, kw]);
        out.push(KernelKey::Conv2dGradWeight(grad_weight_consts(&dims)));
    }
    out.push(KernelKey::PadRows);
    out
}
