//! Launcher for shaders/adam.wgsl, a multi-tensor Adam: one launch updates up to
//! [`max_tensors`] parameters (CPU reference: wgrad_cpu::optim::adam_step).

use super::to_u32;
use crate::shaders;
use crate::{GpuDevice, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

const WG: u32 = 256;
/// Tensors per launch at most: the parameter block (48 + 32 bytes per tensor) must fit
/// the 256-byte uniform slot of a dispatch.
const MAX_TENSORS: usize = 6;

/// Hyper-parameters of one Adam / AdamW step (torch.optim semantics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// L2 penalty added to the gradient (Adam's weight_decay).
    pub weight_decay: f32,
    /// Decoupled decay applied to the parameter (AdamW's weight_decay).
    pub decoupled_weight_decay: f32,
    /// 1-based step count, for bias correction.
    pub step: u64,
    pub amsgrad: bool,
}

/// One parameter of a launch: `n` elements of the parameter, its gradient and its state
/// `[m; v]` (plus `vmax` with amsgrad), each a contiguous run (buffer, first element).
#[derive(Clone, Copy)]
pub struct AdamTensor<'a> {
    pub n: usize,
    pub p: (&'a PooledBuffer, usize),
    pub g: (&'a PooledBuffer, usize),
    pub state: (&'a PooledBuffer, usize),
}

/// How many tensors one launch takes on this device: each binds three storage buffers,
/// plus the shared output.
pub fn max_tensors(gpu: &GpuDevice) -> usize {
    let storage = gpu.limits().max_storage_buffers_per_shader_stage as usize;
    (storage.saturating_sub(1) / 3).clamp(1, MAX_TENSORS)
}

/// The WGSL module for launches of up to `tensors` tensors.
pub fn source(tensors: usize) -> String {
    let mut prelude =
        format!("const TENSORS: u32 = {tensors}u;\n@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n");
    let names = ["p", "g", "state"];
    for j in 0..tensors {
        for (k, name) in names.iter().enumerate() {
            let binding = 2 + 3 * j + k;
            prelude += &format!("@group(0) @binding({binding}) var<storage, read> {name}_{j}: array<f32>;\n");
        }
    }
    for name in names {
        prelude += &format!("fn load_{name}(j: u32, i: u32) -> f32 {{\n    switch j {{\n");
        for j in 0..tensors {
            prelude += &format!("        case {j}u: {{ return {name}_{j}[i]; }}\n");
        }
        prelude += "        default: { return 0.0; }\n    }\n}\n";
    }
    shaders::compose(&[DType::F32], &prelude, shaders::ADAM)
}

/// One fused Adam step of every tensor in `tensors` (at most [`max_tensors`]). Returns
/// one new buffer holding, for each tensor in order, its block `[p; m; v]` (plus `vmax`),
/// and the element offset of each block.
pub fn adam_step(gpu: &GpuDevice, tensors: &[AdamTensor], h: &AdamStep) -> (PooledBuffer, Vec<usize>) {
    let slots = max_tensors(gpu);
    assert!(!tensors.is_empty() && tensors.len() <= slots, "adam_step: 1 to {slots} tensors per launch");
    let rows = if h.amsgrad { 4 } else { 3 };
    let mut offsets = Vec::with_capacity(tensors.len());
    let mut total = 0;
    for t in tensors {
        offsets.push(rows * total);
        total += t.n;
    }
    let out = gpu.output_buffer((rows * total * 4) as u64);
    let t = h.step.max(1) as i32;
    let u = |v: usize| to_u32(v, "adam");
    let mut block: Vec<u32> = [h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.decoupled_weight_decay]
        .into_iter()
        .chain([1.0 - h.beta1.powi(t), 1.0 - h.beta2.powi(t)])
        .map(f32::to_bits)
        .collect();
    block.extend([h.amsgrad as u32, u(tensors.len()), u(total), 0]);
    let mut start = 0;
    for (tensor, &out_offset) in tensors.iter().zip(&offsets) {
        block.extend([tensor.n, start, tensor.p.1, tensor.g.1, tensor.state.1, out_offset, 0, 0].map(u));
        start += tensor.n;
    }
    block.resize(12 + 8 * slots, 0);
    let mut buffers = vec![&out];
    for t in tensors {
        buffers.extend([t.p.0, t.g.0, t.state.0]);
    }
    // Unused slots bind the first tensor's buffers again (never read).
    for _ in tensors.len()..slots {
        buffers.extend([tensors[0].p.0, tensors[0].g.0, tensors[0].state.0]);
    }
    gpu.launch(KernelLaunch {
        key: format!("adam|{slots}"),
        source: &|| source(slots),
        params: bytemuck::cast_slice(&block),
        buffers: &buffers,
        checks_ids: None,
        workgroups: shaders::linear_workgroups(total, WG),
    });
    (out, offsets)
}
