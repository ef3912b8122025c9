//! Launcher for shaders/attention.wgsl (CPU reference: the composed softmax(q k^T) v
//! in wgrad's functional::attention).

use super::{to_u32, Operand};
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::{DType, Layout};

const WG: u32 = 64;
/// Largest head dim the fused kernel holds in registers.
pub const MAX_HEAD_DIM: usize = 128;

uniform_params! {
    /// The block of every attention kernel (forward and backward, one-row and vec4), put in
    /// every attention module by [`prelude`]: `batch` x `heads` heads of `lq` queries and
    /// `lk` keys of head dim `e`; the mask's offset and strides; the operands' offsets.
    pub(crate) struct Params {
        batch: u32, heads: u32, lq: u32, lk: u32,
        e: u32, scale: f32, causal: u32, mask_offset: u32,
        mask_strides: [u32; 4],
        // d_out_offset: the output gradient's offset (the backward's; 0 in the forward).
        q_offset: u32, k_offset: u32, v_offset: u32, d_out_offset: u32,
        // chunk_from, chunk_to: the keys (forward, dQ) or queries (dK/dV) this dispatch walks.
        chunk_from: u32, chunk_to: u32, _pad0: u32, _pad1: u32,
    }
}

impl Params {
    /// The block for `q` [B, H, Lq, E] and `k`, `v` [B, H, Lk, E], the `mask` view
    /// broadcast to [B, H, Lq, Lk] if any, and (in the backward) the output gradient's
    /// offset; the chunk is set per dispatch.
    pub(crate) fn new(
        [q, k, v]: [Operand; 3],
        mask: Option<&Layout>,
        causal: bool,
        scale: f32,
        d_out_offset: usize,
    ) -> Params {
        let d = q.layout.dims();
        let u = |v: usize| to_u32(v, "attention");
        let (mask_offset, ms) = mask.map_or((0, &[0; 4][..]), |m| (m.offset(), m.strides()));
        Params {
            batch: u(d[0]),
            heads: u(d[1]),
            lq: u(d[2]),
            lk: u(k.layout.dims()[2]),
            e: u(d[3]),
            scale,
            causal: causal as u32,
            mask_offset: u(mask_offset),
            mask_strides: [u(ms[0]), u(ms[1]), u(ms[2]), u(ms[3])],
            q_offset: u(q.layout.offset()),
            k_offset: u(k.layout.offset()),
            v_offset: u(v.layout.offset()),
            d_out_offset: u(d_out_offset),
            chunk_from: 0,
            chunk_to: 0,
            _pad0: 0,
            _pad1: 0,
        }
    }
}

/// Loop iterations one invocation may spend per dispatch. Lavapipe (llvmpipe) ends an
/// invocation after 65535 loop iterations in total, leaving its outputs half written;
/// the attention kernels therefore walk their long loop in chunks of [`chunk_len`]
/// steps, one dispatch per chunk, carrying the accumulators through memory.
const ITERATION_BUDGET: usize = 40_000;

/// Steps of the long loop (keys, or query rows) per dispatch for head dim `e`: each step
/// costs about 2e + 3 loop iterations (two passes over the head dim).
pub(crate) fn chunk_len(e: usize) -> usize {
    (ITERATION_BUDGET / (2 * e + 3)).max(1)
}

/// Workgroups for `rows` invocations per (b, h) pair over `bh` pairs: x over blocks of
/// WG rows, y + z * groups.y over the pairs (z only past 65535 pairs).
pub(crate) fn grid(rows: usize, bh: usize) -> [u32; 3] {
    let y = bh.min(65535);
    [rows.div_ceil(WG as usize), y, bh.div_ceil(y.max(1))].map(|g| to_u32(g, "attention grid"))
}

/// The chunks [from, to) covering 0..n (one empty chunk when n is 0).
pub(crate) fn chunks(n: usize, e: usize) -> Vec<(usize, usize)> {
    let len = chunk_len(e);
    let mut out: Vec<(usize, usize)> = (0..n).step_by(len).map(|from| (from, (from + len).min(n))).collect();
    if out.is_empty() {
        out.push((0, 0));
    }
    out
}

/// How the mask operand (if any) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskKind {
    /// No mask operand.
    None,
    /// u32, non-zero = attend.
    Keep,
    /// f32 added to the scores.
    Additive,
}

/// The storage bindings (1, 2, ...: name, access, WGSL type; the tensors' type `T` is
/// `vec4<f32>` in the `vec4` kernels) followed by the mask's binding and the
/// `hidden`/`bias` helpers for `mask`: the prelude shared by the forward and backward
/// attention kernels.
pub(crate) fn prelude(dtype: DType, bindings: &[(&str, &str, &str)], mask: MaskKind, vec4: bool) -> String {
    let tensor = |ty| if vec4 && ty == "T" { "vec4<f32>" } else { ty };
    let bindings: Vec<_> = bindings.iter().map(|&(name, access, ty)| (name, access, tensor(ty))).collect();
    let mut p = format!("alias T = {};\n{}{}", wgsl_type(dtype), Params::WGSL, shaders::storage_bindings(&bindings));
    let m = bindings.len() + 1;
    p += &match mask {
        MaskKind::None => {
            "fn hidden(o: u32) -> bool { return false; }\nfn bias(o: u32) -> f32 { return 0.0; }\n".into()
        }
        MaskKind::Keep => format!(
            "@group(0) @binding({m}) var<storage, read> mask: array<u32>;\n\
             fn hidden(o: u32) -> bool {{ return mask[o] == 0u; }}\nfn bias(o: u32) -> f32 {{ return 0.0; }}\n"
        ),
        MaskKind::Additive => format!(
            "@group(0) @binding({m}) var<storage, read> mask: array<f32>;\n\
             fn hidden(o: u32) -> bool {{ return false; }}\nfn bias(o: u32) -> f32 {{ return mask[o]; }}\n"
        ),
    };
    p
}

/// Whether the vec4 kernels (four rows per invocation, vec4 loads over the head dim) run:
/// f32, a head dim and operand offsets that are multiples of 4, and a software adapter
/// (where they are 1.5-2x faster; hardware GPUs keep the one-row kernels, not measured
/// against them yet), unless the device's [`crate::KernelPolicy`] says otherwise.
pub(crate) fn use_vec4(gpu: &GpuDevice, dtype: DType, e: usize, offsets: &[usize]) -> bool {
    let fits = dtype == DType::F32 && e.is_multiple_of(4) && offsets.iter().all(|o| o.is_multiple_of(4));
    fits && gpu.policy().attention_vec4.unwrap_or_else(|| gpu.ctx.is_software())
}

/// The WGSL module for element type `dtype` and mask kind: shaders/attention.wgsl, or
/// with `vec4` attention_vec4.wgsl (f32, head dim a multiple of 4).
pub fn source(dtype: DType, mask: MaskKind, vec4: bool) -> String {
    let bindings = [
        ("out", "read_write", "T"),
        ("stats", "read_write", "f32"),
        ("q", "read", "T"),
        ("k", "read", "T"),
        ("v", "read", "T"),
    ];
    let file = if vec4 { shaders::ATTENTION_VEC4 } else { shaders::ATTENTION };
    shaders::compose(&[dtype], &prelude(dtype, &bindings, mask, vec4), file)
}

/// Fused attention over contiguous `q` [B, H, Lq, E], `k`/`v` [B, H, Lk, E]; `mask` is
/// a view broadcast to [B, H, Lq, Lk]. Returns the output, a contiguous [B, H, Lq, E]
/// buffer, and the row statistics the backward needs: f32 [B, H, Lq, 2], each row's
/// logsumexp in slot 0 (slot 1 is filled by the backward).
pub fn attention(
    gpu: &GpuDevice,
    q: Operand,
    k: Operand,
    v: Operand,
    mask: Option<(Operand, MaskKind)>,
    causal: bool,
    scale: f32,
) -> (PooledBuffer, PooledBuffer) {
    let d = q.layout.dims();
    let (batch, heads, lq, e) = (d[0], d[1], d[2], d[3]);
    let lk = k.layout.dims()[2];
    assert!(e <= MAX_HEAD_DIM, "attention: head dim {e} exceeds {MAX_HEAD_DIM}");
    let rows = batch * heads * lq;
    let out = gpu.output_buffer((rows * e * q.dtype.size_in_bytes()) as u64);
    let stats = gpu.output_buffer((rows * 2 * DType::F32.size_in_bytes()) as u64);
    let kind = mask.as_ref().map_or(MaskKind::None, |m| m.1);
    let mut params = Params::new([q, k, v], mask.as_ref().map(|m| m.0.layout), causal, scale, 0);
    let u = |v: usize| to_u32(v, "attention");
    let mut buffers = vec![&out, &stats, q.buffer, k.buffer, v.buffer];
    if let Some((m, _)) = &mask {
        buffers.push(m.buffer);
    }
    let vec4 = use_vec4(gpu, q.dtype, e, &[q.layout.offset(), k.layout.offset(), v.layout.offset()]);
    let rows = if vec4 { lq.div_ceil(4) } else { lq };
    for (from, to) in chunks(lk, e) {
        (params.chunk_from, params.chunk_to) = (u(from), u(to));
        gpu.launch(KernelLaunch::new(
            KernelKey::Attention { dtype: q.dtype, mask: kind, vec4 },
            &params,
            &buffers,
            grid(rows, batch * heads),
        ));
    }
    (out, stats)
}
