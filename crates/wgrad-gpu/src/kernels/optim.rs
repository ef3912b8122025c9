//! Launcher for shaders/adam.wgsl (CPU reference: wgrad_cpu::optim::adam_step).

use super::to_u32;
use crate::shaders;
use crate::{GpuDevice, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

const WG: u32 = 256;

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

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    amsgrad: u32,
    p_offset: u32,
    g_offset: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled_decay: f32,
    bias1: f32,
    bias2: f32,
    state_offset: u32,
    _pad: [u32; 3],
}

/// The WGSL module.
pub fn source() -> String {
    let prelude = "@group(0) @binding(1) var<storage, read_write> out: array<f32>;\n\
                   @group(0) @binding(2) var<storage, read> p_in: array<f32>;\n\
                   @group(0) @binding(3) var<storage, read> g_in: array<f32>;\n\
                   @group(0) @binding(4) var<storage, read> state: array<f32>;\n";
    shaders::compose(&[DType::F32], prelude, shaders::ADAM)
}

/// One fused Adam step over `n` elements: contiguous views (buffer, offset) of the
/// parameter, its gradient and the state `[m; v]` (plus `vmax` with amsgrad). Returns
/// a new buffer `[p; m; v]` (plus `vmax`).
pub fn adam_step(
    gpu: &GpuDevice,
    n: usize,
    p: (&PooledBuffer, usize),
    g: (&PooledBuffer, usize),
    state: (&PooledBuffer, usize),
    h: &AdamStep,
) -> PooledBuffer {
    let rows = if h.amsgrad { 4 } else { 3 };
    let out = gpu.output_buffer((rows * n * 4) as u64);
    let t = h.step.max(1) as i32;
    let params = Params {
        n: to_u32(n, "adam"),
        amsgrad: h.amsgrad as u32,
        p_offset: to_u32(p.1, "adam"),
        g_offset: to_u32(g.1, "adam"),
        lr: h.lr,
        beta1: h.beta1,
        beta2: h.beta2,
        eps: h.eps,
        weight_decay: h.weight_decay,
        decoupled_decay: h.decoupled_weight_decay,
        bias1: 1.0 - h.beta1.powi(t),
        bias2: 1.0 - h.beta2.powi(t),
        state_offset: to_u32(state.1, "adam"),
        _pad: [0; 3],
    };
    gpu.launch(KernelLaunch {
        key: "adam".into(),
        source: &source,
        params: bytemuck::bytes_of(&params),
        buffers: &[&out, p.0, g.0, state.0],
        uses_errors: false,
        workgroups: shaders::linear_workgroups(n, WG),
    });
    out
}
