//! Launchers for shaders/conv2d.wgsl (implicit-GEMM convolution: the forward pass and
//! the input gradient) and conv2d_pack.wgsl (weight packing); the weight gradient is in
//! [`super::conv_grad_weight`]. CPU reference: wgrad_cpu::conv.
//!
//! The input gradient is a gather with no atomics: for each stride phase (rh, rw) the
//! sub-grid ih = rh + SH*i, iw = rw + SW*j of dx receives exactly the taps kh with
//! (rh + PH - kh*DH) divisible by SH, which form an arithmetic progression; over that
//! sub-grid the gradient is a stride-1 convolution of dy by those taps, flipped and with
//! input and output channels swapped (see [`phase_taps`]). Each phase is one launch of
//! the forward kernel writing dx through strides; stride 1 means one launch.

use super::{to_u32, Operand};
use crate::shaders;
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer, Window};
use wgrad_core::params::Conv2dDims;
use wgrad_core::{DType, Layout};

const WG: u32 = 64;
const PACK_WG: u32 = 256;

/// What a conv kernel module is specialised on: the taps (per invocation), stride and
/// dilation along w (they size the input row segment and fix the inner loops), and the
/// block sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Consts {
    /// Taps along w handled by one invocation.
    pub kw: u32,
    /// Stride along w.
    pub sw: u32,
    /// Dilation along w.
    pub dw: u32,
    /// Output channels per invocation (4 or 8).
    pub ocb: u32,
    /// Output pixels per invocation (forward) / per reduction step (weight gradient).
    pub px: u32,
    /// Input channels per invocation (weight gradient only).
    pub cb: u32,
}

impl std::fmt::Display for Consts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "kw{} sw{} dw{} ocb{} px{} cb{}", self.kw, self.sw, self.dw, self.ocb, self.px, self.cb)
    }
}

impl Consts {
    /// Input values one row segment holds.
    pub(super) fn seg(&self) -> u32 {
        (self.px - 1) * self.sw + (self.kw - 1) * self.dw + 1
    }

    pub(super) fn prelude(&self) -> String {
        format!(
            "const SW: u32 = {}u;\nconst DW: u32 = {}u;\nconst OCB: u32 = {}u;\nconst SEG: u32 = {}u;\n",
            self.sw,
            self.dw,
            self.ocb,
            self.seg()
        )
    }
}

/// The forward kernel's module (also used per phase for the input gradient).
pub fn source(k: Consts) -> String {
    let bindings = shaders::storage_bindings(&[
        ("out", "read_write", "f32"),
        ("x", "read", "f32"),
        ("wp", "read", "vec4<f32>"),
        ("bias", "read", "f32"),
    ]);
    let prelude = format!(
        "{}{}{}const KW: u32 = {}u;\nconst PXB: u32 = {}u;\n{bindings}",
        Nchw::WGSL,
        ConvParams::WGSL,
        k.prelude(),
        k.kw,
        k.px
    );
    shaders::compose(&[DType::F32], &prelude, shaders::CONV2D)
}

/// The weight-packing kernel's module.
pub fn pack_source() -> String {
    let bindings = shaders::io_bindings("f32", &["out"], &["w"]);
    shaders::compose(&[DType::F32], &format!("{}{bindings}", PackParams::WGSL), shaders::CONV2D_PACK)
}

/// Forward consts for `kw` taps at stride `sw`, dilation `dw`, `og` channels per group:
/// 8 pixels per invocation unless the row segment would exceed 64 values.
fn forward_consts(kw: usize, sw: usize, dw: usize, og: usize) -> Consts {
    let mut k = Consts { kw: kw as u32, sw: sw as u32, dw: dw as u32, ocb: if og > 4 { 8 } else { 4 }, px: 8, cb: 1 };
    while k.px > 1 && k.seg() > 64 {
        k.px /= 2;
    }
    k
}

/// A 4-D strided view for a kernel: element offset (within the bound window) and strides.
#[derive(Debug, Clone, Copy)]
pub(super) struct View {
    pub off: usize,
    pub strides: [usize; 4],
}

impl View {
    pub(super) fn of(layout: &Layout, window: &Window) -> View {
        let s = layout.strides();
        View { off: layout.offset() - window.first_elem, strides: [s[0], s[1], s[2], s[3]] }
    }

    /// This view as a parameter block field (`what` names the launch in a size panic).
    pub(super) fn params(&self, what: &str) -> Nchw {
        let u = |v: usize| to_u32(v, what);
        let [n, c, h, w] = self.strides.map(u);
        Nchw { offset: u(self.off), n, c, h, w, _pad0: 0, _pad1: 0, _pad2: 0 }
    }
}

uniform_params! {
    /// A [`View`] in a kernel's parameter block (WGSL struct `Nchw`): element (n, c, h, w)
    /// is at `offset + n * v.n + c * v.c + h * v.h + w * v.w`.
    pub(super) struct Nchw as Nchw {
        offset: u32, n: u32, c: u32, h: u32,
        w: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

/// Binds the first `len` f32 elements of a buffer the launcher created, or None after
/// recording the error when they exceed one binding (the caller splits the batch so that
/// this does not happen while it can).
pub(super) fn whole(gpu: &GpuDevice, buffer: &PooledBuffer, len: usize) -> Option<Window> {
    match gpu.window(buffer, 4, 0, len) {
        Ok(w) => Some(w),
        Err(e) => {
            gpu.record_error(e);
            None
        }
    }
}

/// The window an operand's view needs, or None after recording the error.
pub(super) fn window_of(gpu: &GpuDevice, o: &Operand) -> Option<Window> {
    match gpu.window(o.buffer, o.dtype.size_in_bytes(), o.layout.offset(), o.layout.storage_extent()) {
        Ok(w) => Some(w),
        Err(e) => {
            gpu.record_error(e);
            None
        }
    }
}

uniform_params! {
    /// The weight packing's block (conv2d_pack.wgsl): `total` packed elements of
    /// [G][A][MH][MW][B4]; the weight view's offset and strides; the taps packed along h
    /// and w (first, signed step).
    struct PackParams {
        total: u32, a: u32, b: u32, b4: u32,
        mh: u32, mw: u32, w_off: u32, g_stride: u32,
        a_stride: u32, b_stride: u32, h_stride: u32, w_stride: u32,
        kh_first: i32, kh_step: i32, kw_first: i32, kw_step: i32,
    }
}

/// The taps of one axis that a stride phase uses, as the packing and the launch see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taps {
    /// Number of taps.
    pub count: usize,
    /// Kernel index of packed tap 0, and the step between packed taps (signed).
    pub first: i64,
    pub step: i64,
    /// Dilation and (signed) padding of the stride-1 convolution over dy.
    pub dil: usize,
    pub pad: i64,
}

/// The taps along one axis (kernel `k`, stride `s`, padding `p`, dilation `d`) whose
/// outputs touch input phase `r` (inputs i = r + s*t), as a stride-1 convolution of dy.
///
/// Tap kh reaches input i from output oh = (i + p - kh*d) / s when that divides: for
/// i = r + s*t, the taps with (r + p - kh*d) % s == 0 are kh = k0 + m*L (L = s/gcd(s,d)),
/// and oh = A + t - m*D with A = (r + p - k0*d)/s and D = d/gcd(s,d). Packing the taps
/// flipped (packed tap m' = count-1-m) makes that oh = t - pad + m'*D: a stride-1
/// convolution with dilation D and padding pad = (count-1)*D - A (possibly negative).
pub fn phase_taps(r: usize, k: usize, s: usize, p: usize, d: usize) -> Option<Taps> {
    let offset = |kh: usize| (r + p) as i64 - (kh * d) as i64;
    let k0 = (0..k.min(s)).find(|&kh| offset(kh).rem_euclid(s as i64) == 0)?;
    let g = gcd(s, d);
    let (step, dil) = (s / g, d / g);
    let count = (k - k0).div_ceil(step);
    let a = offset(k0).div_euclid(s as i64);
    let first = (k0 + (count - 1) * step) as i64;
    Some(Taps { count, first, step: -(step as i64), dil, pad: ((count - 1) * dil) as i64 - a })
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Packs weight view `w` ([O, Cg, KH, KW], any strides) to [G][A][MH][MW][B4] for the
/// forward kernel (`transposed` false: A = Cg, B = Og, all taps) or one phase of the input
/// gradient (`transposed`: A = Og, B = Cg, the given taps, flipped).
fn pack(gpu: &GpuDevice, w: &Operand, groups: usize, transposed: bool, th: Taps, tw: Taps) -> Option<Packed> {
    let dims = w.layout.dims();
    let (og, cg) = (dims[0] / groups, dims[1]);
    let (a, b) = if transposed { (og, cg) } else { (cg, og) };
    let b4 = b.next_multiple_of(4);
    let total = groups * a * th.count * tw.count * b4;
    let out = gpu.output_buffer((total * 4) as u64);
    let (ow, ww) = (whole(gpu, &out, total)?, window_of(gpu, w)?);
    let v = View::of(w.layout, &ww);
    let (a_stride, b_stride) = if transposed { (v.strides[0], v.strides[1]) } else { (v.strides[1], v.strides[0]) };
    let u = |x: usize| to_u32(x, "conv2d weight packing");
    let params = PackParams {
        total: u(total),
        a: u(a),
        b: u(b),
        b4: u(b4),
        mh: u(th.count),
        mw: u(tw.count),
        w_off: u(v.off),
        g_stride: u(og * v.strides[0]),
        a_stride: u(a_stride),
        b_stride: u(b_stride),
        h_stride: u(v.strides[2]),
        w_stride: u(v.strides[3]),
        kh_first: th.first as i32,
        kh_step: th.step as i32,
        kw_first: tw.first as i32,
        kw_step: tw.step as i32,
    };
    gpu.launch_windowed(
        KernelLaunch::new(
            KernelKey::Conv2dPack,
            &params,
            &[&out, w.buffer],
            shaders::linear_workgroups(total, PACK_WG),
        ),
        &[ow, ww],
    );
    Some(Packed { buffer: out, len: total })
}

/// Packed weights and their length in f32 elements.
struct Packed {
    buffer: PooledBuffer,
    len: usize,
}

uniform_params! {
    /// One launch of conv2d.wgsl: the sizes (input, output, taps along h, signed pads), the
    /// invocation blocks, the bias' offset, and the views of x and y.
    struct ConvParams {
        // cg: channels reduced per group.
        n: u32, cg: u32, h: u32, w: u32,
        // og: output channels per group.
        // og4: `og` rounded up to a multiple of 4 (a packed weight row).
        og: u32, og4: u32, oh: u32, ow: u32,
        // kh: taps along h (0: the output is the bias, or zeros).
        groups: u32, kh: u32, stride_h: u32, dil_h: u32,
        pad_h: i32, pad_w: i32, ow_blocks: u32, oc_blocks: u32,
        has_bias: u32, bias_off: u32, _pad0: u32, _pad1: u32,
        x: Nchw,
        y: Nchw,
    }
}

/// One launch of conv2d.wgsl: sizes as the kernel sees them (for the input gradient,
/// "input" is dy and "output" a phase of dx).
struct Launch {
    n: usize,
    groups: usize,
    cg: usize,
    hw: [usize; 2],
    og: usize,
    ohw: [usize; 2],
    kh: usize,
    stride_h: usize,
    dil: [usize; 2],
    pad: [i64; 2],
    consts: Consts,
}

fn launch_conv(
    gpu: &GpuDevice,
    l: &Launch,
    x: (&PooledBuffer, View, Window),
    packed: &Packed,
    bias: Option<(&PooledBuffer, usize)>,
    out: (&PooledBuffer, View, usize),
) {
    let bias_range = bias.map_or((&packed.buffer, packed.len), |b| (b.0, b.1 + l.og * l.groups));
    let (Some(ow), Some(pw), Some(bw)) =
        (whole(gpu, out.0, out.2), whole(gpu, &packed.buffer, packed.len), whole(gpu, bias_range.0, bias_range.1))
    else {
        return;
    };
    let k = l.consts;
    let og4 = l.og.next_multiple_of(4);
    let ow_blocks = l.ohw[1].div_ceil(k.px as usize);
    let oc_blocks = og4.div_ceil(k.ocb as usize);
    let total = l.n * l.groups * oc_blocks * l.ohw[0] * ow_blocks;
    let u = |v: usize| to_u32(v, "conv2d");
    let params = ConvParams {
        n: u(l.n),
        cg: u(l.cg),
        h: u(l.hw[0]),
        w: u(l.hw[1]),
        og: u(l.og),
        og4: u(og4),
        oh: u(l.ohw[0]),
        ow: u(l.ohw[1]),
        groups: u(l.groups),
        // An empty input contributes nothing: no taps, no loads.
        kh: if l.hw[0] == 0 || l.hw[1] == 0 || l.cg == 0 { 0 } else { u(l.kh) },
        stride_h: u(l.stride_h),
        dil_h: u(l.dil[0]),
        pad_h: l.pad[0] as i32,
        pad_w: l.pad[1] as i32,
        ow_blocks: u(ow_blocks),
        oc_blocks: u(oc_blocks),
        has_bias: bias.is_some() as u32,
        bias_off: u(bias.map_or(0, |b| b.1)),
        _pad0: 0,
        _pad1: 0,
        x: x.1.params("conv2d"),
        y: out.1.params("conv2d"),
    };
    gpu.launch_windowed(
        KernelLaunch::new(
            KernelKey::Conv2d(k),
            &params,
            &[out.0, x.0, &packed.buffer, bias_range.0],
            shaders::linear_workgroups(u(total) as usize, WG),
        ),
        &[ow, x.2, pw, bw],
    );
}

pub(super) fn contiguous_view(dims: [usize; 4]) -> View {
    View { off: 0, strides: [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1] }
}

/// conv2d forward: `x` [N, C, H, W] and `w` [O, C/groups, KH, KW] (any strides), `bias`
/// `[O]` (contiguous from its offset). Returns a contiguous `[N, O, OH, OW]` f32 buffer.
pub fn conv2d(gpu: &GpuDevice, x: Operand, w: Operand, bias: Option<Operand>, d: &Conv2dDims) -> PooledBuffer {
    let shape = d.output_shape();
    let out = gpu.output_buffer((shape.iter().product::<usize>() * 4) as u64);
    if shape.contains(&0) {
        return out;
    }
    let all = |k: usize| Taps { count: k, first: 0, step: 1, dil: 0, pad: 0 };
    let Some(packed) = pack(gpu, &w, d.p.groups, false, all(d.kh), all(d.kw)) else { return out };
    let Some(xw) = window_of(gpu, &x) else { return out };
    let bias_window = bias.as_ref().map(|b| (b.buffer, b.layout.offset()));
    let (s, p, dl) = (d.p.stride, d.p.padding, d.p.dilation);
    let launch = Launch {
        n: d.n,
        groups: d.p.groups,
        cg: d.cg(),
        hw: [d.h, d.w],
        og: d.og(),
        ohw: [d.oh, d.ow],
        kh: d.kh,
        stride_h: s[0],
        dil: dl,
        pad: [p[0] as i64, p[1] as i64],
        consts: forward_consts(d.kw, s[1], dl[1], d.og()),
    };
    let out_view = (&out, contiguous_view(shape), shape.iter().product());
    launch_conv(gpu, &launch, (x.buffer, View::of(x.layout, &xw), xw), &packed, bias_window, out_view);
    out
}

/// Gradient of conv2d with respect to the input: `dy` [N, O, OH, OW] and `w` (any
/// strides). Returns a contiguous [N, C, H, W] f32 buffer. One launch per stride phase
/// (see the module docs); phases no tap reaches are filled with zeros.
pub fn conv2d_grad_input(gpu: &GpuDevice, dy: Operand, w: Operand, d: &Conv2dDims) -> PooledBuffer {
    let shape = d.input_shape();
    let out = gpu.output_buffer((shape.iter().product::<usize>() * 4) as u64);
    if shape.contains(&0) {
        return out;
    }
    let Some(dyw) = window_of(gpu, &dy) else { return out };
    let (s, p, dl) = (d.p.stride, d.p.padding, d.p.dilation);
    for rh in 0..s[0].min(d.h) {
        for rw in 0..s[1].min(d.w) {
            let sub = [(d.h - rh).div_ceil(s[0]), (d.w - rw).div_ceil(s[1])];
            let view = View { off: rh * d.w + rw, strides: [d.c * d.h * d.w, d.h * d.w, s[0] * d.w, s[1]] };
            let taps = (phase_taps(rh, d.kh, s[0], p[0], dl[0]), phase_taps(rw, d.kw, s[1], p[1], dl[1]));
            let (Some(th), Some(tw)) = taps else {
                let layout = Layout::new([d.n, d.c, sub[0], sub[1]], view.strides.to_vec(), view.off);
                let zero = super::elementwise::Map { expr: "0.0", inputs: &[], scalar_dtype: DType::F32, scalar: 0 };
                super::elementwise::map_into(gpu, &zero, &out, &layout, DType::F32);
                continue;
            };
            let Some(packed) = pack(gpu, &w, d.p.groups, true, th, tw) else { return out };
            let launch = Launch {
                n: d.n,
                groups: d.p.groups,
                cg: d.og(),
                hw: [d.oh, d.ow],
                og: d.cg(),
                ohw: sub,
                kh: th.count,
                stride_h: 1,
                dil: [th.dil, tw.dil],
                pad: [th.pad, tw.pad],
                consts: forward_consts(tw.count, 1, tw.dil, d.cg()),
            };
            let dy_view = (dy.buffer, View::of(dy.layout, &dyw), dyw);
            launch_conv(gpu, &launch, dy_view, &packed, None, (&out, view, shape.iter().product()));
        }
    }
    out
}

/// Representative specialisations for validation: every code path, at the tap counts,
/// strides and dilations the tests and common networks use (the weight gradient's are in
/// [`super::conv_grad_weight::variants`]).
pub fn variants() -> Vec<KernelKey> {
    let mut out = vec![KernelKey::Conv2dPack];
    for kw in [1, 2, 3, 5, 7, 11] {
        for sw in [1, 2, 3, 4] {
            for dw in [1, 2] {
                for og in [1, 8] {
                    out.push(KernelKey::Conv2d(forward_consts(kw, sw, dw, og)));
                }
            }
        }
    }
    out
}
