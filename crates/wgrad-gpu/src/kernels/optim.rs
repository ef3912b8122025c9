//! Launcher for shaders/adam.wgsl, a multi-tensor Adam: one launch updates up to
//! [`max_tensors`] parameters (CPU reference: wgrad_cpu::optim::adam_step).

use super::to_u32;
use crate::shaders;
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

const WG: u32 = 256;
/// Tensors per launch at most: the parameter block (48 + 32 bytes per tensor) must fit
/// the 256-byte uniform slot of a dispatch.
const MAX_TENSORS: usize = 6;

uniform_params! {
    /// One tensor of a launch: its size, first invocation, and the element offsets of its
    /// parameter, gradient, state and output block.
    struct Slot as Slot {
        n: u32, start: u32, p: u32, g: u32,
        state: u32, out: u32, _pad0: u32, _pad1: u32,
    }
}

uniform_params! {
    /// A launch's block: the step's hyper-parameters (see [`AdamStep`]) and a slot per
    /// tensor, `count` of them in use (slots past those are zeros).
    struct Params {
        lr: f32, beta1: f32, beta2: f32, eps: f32,
        // bias1, bias2: 1 - beta1^t and 1 - beta2^t.
        weight_decay: f32, decoupled_weight_decay: f32, bias1: f32, bias2: f32,
        // total: elements of all the tensors.
        amsgrad: u32, count: u32, total: u32, _pad0: u32,
        slots: [Slot; MAX_TENSORS],
    }
}

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
    let mut prelude = format!(
        "const MAX_TENSORS: u32 = {MAX_TENSORS}u;\n{}{}@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n",
        Slot::WGSL,
        Params::WGSL
    );
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
    let mut params = Params {
        lr: h.lr,
        beta1: h.beta1,
        beta2: h.beta2,
        eps: h.eps,
        weight_decay: h.weight_decay,
        decoupled_weight_decay: h.decoupled_weight_decay,
        bias1: 1.0 - h.beta1.powi(t),
        bias2: 1.0 - h.beta2.powi(t),
        amsgrad: h.amsgrad as u32,
        count: u(tensors.len()),
        total: u(total),
        _pad0: 0,
        slots: bytemuck::Zeroable::zeroed(),
    };
    let mut start = 0;
    for ((slot, tensor), &out_offset) in params.slots.iter_mut().zip(tensors).zip(&offsets) {
        *slot = Slot {
            n: u(tensor.n),
            start: u(start),
            p: u(tensor.p.1),
            g: u(tensor.g.1),
            state: u(tensor.state.1),
            out: u(out_offset),
            _pad0: 0,
            _pad1: 0,
        };
        start += tensor.n;
    }
    let mut buffers = vec![&out];
    for t in tensors {
        buffers.extend([t.p.0, t.g.0, t.state.0]);
    }
    // Unused slots bind the first tensor's buffers again (never read).
    for _ in tensors.len()..slots {
        buffers.extend([tensors[0].p.0, tensors[0].g.0, tensors[0].state.0]);
    }
    gpu.launch(KernelLaunch::new(
        KernelKey::Adam { tensors: slots as u32 },
        &params,
        &buffers,
        shaders::linear_workgroups(total, WG),
    ));
    (out, offsets)
}
