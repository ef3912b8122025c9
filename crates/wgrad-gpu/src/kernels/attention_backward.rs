//! Launcher for the fused attention backward, shaders/attention_backward_dq.wgsl then
//! shaders/attention_backward_dkdv.wgsl (CPU reference: the composed gradient in wgrad's
//! functional::attention, which the tests compare against).

use super::attention::{chunks, grid, prelude, use_vec4, MaskKind, Params, MAX_HEAD_DIM};
use super::{to_u32, Operand};
use crate::shaders::{self, ShaderFile};
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

/// The two backward passes, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pass {
    /// D = rowsum(dO * O) and dQ, one invocation per query row.
    Dq,
    /// dK and dV, one invocation per key row.
    DkDv,
}

impl Pass {
    fn file(self, vec4: bool) -> ShaderFile {
        match (self, vec4) {
            (Pass::Dq, false) => shaders::ATTENTION_BACKWARD_DQ,
            (Pass::DkDv, false) => shaders::ATTENTION_BACKWARD_DKDV,
            (Pass::Dq, true) => shaders::ATTENTION_BACKWARD_DQ_VEC4,
            (Pass::DkDv, true) => shaders::ATTENTION_BACKWARD_DKDV_VEC4,
        }
    }
}

/// The WGSL module of `pass` for element type `dtype` and mask kind; `vec4`: the
/// four-rows-per-invocation variant (f32 only), which reads every tensor as vec4s.
pub fn source(pass: Pass, dtype: DType, mask: MaskKind, vec4: bool) -> String {
    // Outputs, then the row statistics (the dQ pass writes delta into them), then inputs.
    let (outputs, stats, inputs): (&[&str], &str, &[&str]) = match pass {
        Pass::Dq => (&["dq"], "read_write", &["q", "k", "v", "d_out", "out"]),
        Pass::DkDv => (&["dk", "dv"], "read", &["q", "k", "v", "d_out"]),
    };
    let mut bindings: Vec<_> = outputs.iter().map(|&name| (name, "read_write", "T")).collect();
    bindings.push(("stats", stats, "f32"));
    bindings.extend(inputs.iter().map(|&name| (name, "read", "T")));
    shaders::compose(&[dtype], &prelude(dtype, &bindings, mask, vec4), pass.file(vec4))
}

/// What the forward saved, with the output gradient: everything the backward reads.
pub struct AttentionSaved<'a> {
    /// Contiguous q [B, H, Lq, E] (offset allowed), as given to the forward.
    pub q: Operand<'a>,
    /// Contiguous k [B, H, Lk, E].
    pub k: Operand<'a>,
    /// Contiguous v [B, H, Lk, E].
    pub v: Operand<'a>,
    /// The forward's output buffer, contiguous [B, H, Lq, E] from offset 0.
    pub out: &'a PooledBuffer,
    /// The forward's row statistics (f32 [B, H, Lq, 2]); the backward fills slot 1.
    pub stats: &'a PooledBuffer,
    /// The mask view broadcast to [B, H, Lq, Lk], as given to the forward.
    pub mask: Option<(Operand<'a>, MaskKind)>,
    /// Causal masking, as in the forward.
    pub causal: bool,
    /// The score scale, as in the forward.
    pub scale: f32,
}

/// Gradients (dq, dk, dv), contiguous like q, k, v, of the fused attention for the output
/// gradient `d_out` (contiguous [B, H, Lq, E], offset allowed). Records two dispatches;
/// no [Lq, Lk] buffer is allocated.
pub fn attention_backward(gpu: &GpuDevice, saved: &AttentionSaved, d_out: Operand) -> [PooledBuffer; 3] {
    let d = saved.q.layout.dims();
    let (batch, heads, lq, e) = (d[0], d[1], d[2], d[3]);
    let lk = saved.k.layout.dims()[2];
    assert!(e <= MAX_HEAD_DIM, "attention backward: head dim {e} exceeds {MAX_HEAD_DIM}");
    let dtype = saved.q.dtype;
    let kind = saved.mask.as_ref().map_or(MaskKind::None, |m| m.1);
    let mask = saved.mask.as_ref().map(|m| m.0.layout);
    let operands = [saved.q, saved.k, saved.v];
    let mut params = Params::new(operands, mask, saved.causal, saved.scale, d_out.layout.offset());
    let u = |v: usize| to_u32(v, "attention backward");
    let bytes = |rows: usize| (rows * e * dtype.size_in_bytes()) as u64;
    let (dq, dk, dv) = (
        gpu.output_buffer(bytes(batch * heads * lq)),
        gpu.output_buffer(bytes(batch * heads * lk)),
        gpu.output_buffer(bytes(batch * heads * lk)),
    );
    let (q, k, v) = (saved.q.buffer, saved.k.buffer, saved.v.buffer);
    // (pass, buffers, invocations per (b, h), length of the loop each walks in chunks)
    let passes: [(Pass, Vec<&PooledBuffer>, usize, usize); 2] = [
        (Pass::Dq, vec![&dq, saved.stats, q, k, v, d_out.buffer, saved.out], lq, lk),
        (Pass::DkDv, vec![&dk, &dv, saved.stats, q, k, v, d_out.buffer], lk, lq),
    ];
    let offsets = [saved.q.layout.offset(), saved.k.layout.offset(), saved.v.layout.offset(), d_out.layout.offset()];
    let vec4 = use_vec4(gpu, dtype, e, &offsets);
    for (pass, mut buffers, rows, walk) in passes {
        if let Some((m, _)) = &saved.mask {
            buffers.push(m.buffer);
        }
        for (from, to) in chunks(walk, e) {
            (params.chunk_from, params.chunk_to) = (u(from), u(to));
            gpu.launch(KernelLaunch::new(
                KernelKey::AttentionBackward { pass, dtype, mask: kind, vec4 },
                &params,
                &buffers,
                grid(if vec4 { rows.div_ceil(4) } else { rows }, batch * heads),
            ));
        }
    }
    [dq, dk, dv]
}
