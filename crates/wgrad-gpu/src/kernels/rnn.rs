//! Launchers for the fused recurrent cells: shaders/lstm_cell*.wgsl and gru_cell*.wgsl
//! (CPU reference: wgrad_cpu::rnn).

use super::to_u32;
use crate::shaders::{self, wgsl_type};
use crate::uniforms::uniform_params;
use crate::{GpuDevice, KernelKey, KernelLaunch, PooledBuffer};
use wgrad_core::DType;

const WG: u32 = 256;

uniform_params! {
    /// An LSTM step over `batch` rows of `hidden` units: the element offsets of the
    /// (contiguous) input views.
    struct Params {
        batch: u32, hidden: u32, gates_offset: u32, c_offset: u32,
        dhc_offset: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    }
}

/// A contiguous input: its buffer and the element offset where the view starts.
pub type View<'a> = (&'a PooledBuffer, usize);

/// The parameter block `params` (WGSL), then storage bindings 1.. for `outputs`
/// (read_write) then `inputs` (read).
fn bindings(params: &str, dtype: DType, outputs: &[&str], inputs: &[&str]) -> String {
    format!("{params}alias T = {};\n{}", wgsl_type(dtype), shaders::io_bindings("T", outputs, inputs))
}

/// The forward cell module.
pub fn source(dtype: DType) -> String {
    shaders::compose(&[dtype], &bindings(Params::WGSL, dtype, &["hc"], &["gates", "c_prev"]), shaders::LSTM_CELL)
}

/// The backward cell module.
pub fn backward_source(dtype: DType) -> String {
    let p = bindings(Params::WGSL, dtype, &["dgates", "dc_prev"], &["gates", "c_prev", "dhc"]);
    shaders::compose(&[dtype], &p, shaders::LSTM_CELL_BACKWARD)
}

fn params(batch: usize, hidden: usize, gates: usize, c: usize, dhc: usize) -> Params {
    let u = |v| to_u32(v, "lstm");
    Params {
        batch: u(batch),
        hidden: u(hidden),
        gates_offset: u(gates),
        c_offset: u(c),
        dhc_offset: u(dhc),
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    }
}

/// One LSTM step: contiguous views `gates` [B, 4H] and `c_prev` [B, H] -> `hc` [2, B, H].
pub fn lstm_cell(
    gpu: &GpuDevice,
    dtype: DType,
    gates: View,
    c_prev: View,
    batch: usize,
    hidden: usize,
) -> PooledBuffer {
    let n = batch * hidden;
    let hc = gpu.output_buffer((2 * n * dtype.size_in_bytes()) as u64);
    gpu.launch(KernelLaunch::new(
        KernelKey::LstmCell { dtype },
        &params(batch, hidden, gates.1, c_prev.1, 0),
        &[&hc, gates.0, c_prev.0],
        shaders::linear_workgroups(n, WG),
    ));
    hc
}

/// The step's backward: from contiguous `gates`, `c_prev` and `dhc` [2, B, H], the
/// gradients (`dgates` [B, 4H], `dc_prev` [B, H]).
pub fn lstm_cell_backward(
    gpu: &GpuDevice,
    dtype: DType,
    gates: View,
    c_prev: View,
    dhc: View,
    batch: usize,
    hidden: usize,
) -> (PooledBuffer, PooledBuffer) {
    let n = batch * hidden;
    let size = dtype.size_in_bytes() as u64;
    let dgates = gpu.output_buffer(4 * n as u64 * size);
    let dc_prev = gpu.output_buffer(n as u64 * size);
    gpu.launch(KernelLaunch::new(
        KernelKey::LstmCellBackward { dtype },
        &params(batch, hidden, gates.1, c_prev.1, dhc.1),
        &[&dgates, &dc_prev, gates.0, c_prev.0, dhc.0],
        shaders::linear_workgroups(n, WG),
    ));
    (dgates, dc_prev)
}

uniform_params! {
    /// A GRU step over `batch` rows of `hidden` units: the element offsets of the
    /// (contiguous) input views.
    struct GruParams {
        batch: u32, hidden: u32, xw_offset: u32, hw_offset: u32,
        h_offset: u32, dh_offset: u32, _pad0: u32, _pad1: u32,
    }
}

/// The forward GRU cell module.
pub fn gru_source(dtype: DType) -> String {
    shaders::compose(&[dtype], &bindings(GruParams::WGSL, dtype, &["h"], &["xw", "hw", "h_prev"]), shaders::GRU_CELL)
}

/// The backward GRU cell module.
pub fn gru_backward_source(dtype: DType) -> String {
    let p = bindings(GruParams::WGSL, dtype, &["dxw", "dhw", "dh_prev"], &["xw", "hw", "h_prev", "dh"]);
    shaders::compose(&[dtype], &p, shaders::GRU_CELL_BACKWARD)
}

fn gru_params(batch: usize, hidden: usize, xw: usize, hw: usize, h: usize, dh: usize) -> GruParams {
    let u = |v| to_u32(v, "gru");
    GruParams {
        batch: u(batch),
        hidden: u(hidden),
        xw_offset: u(xw),
        hw_offset: u(hw),
        h_offset: u(h),
        dh_offset: u(dh),
        _pad0: 0,
        _pad1: 0,
    }
}

/// One GRU step from contiguous views `xw`, `hw` [B, 3H] (projections with biases) and
/// `h_prev` [B, H]: returns h_t [B, H].
pub fn gru_cell(
    gpu: &GpuDevice,
    dtype: DType,
    xw: View,
    hw: View,
    h_prev: View,
    batch: usize,
    hidden: usize,
) -> PooledBuffer {
    let n = batch * hidden;
    let h = gpu.output_buffer((n * dtype.size_in_bytes()) as u64);
    gpu.launch(KernelLaunch::new(
        KernelKey::GruCell { dtype },
        &gru_params(batch, hidden, xw.1, hw.1, h_prev.1, 0),
        &[&h, xw.0, hw.0, h_prev.0],
        shaders::linear_workgroups(n, WG),
    ));
    h
}

/// The GRU step's backward: (`dxw`, `dhw` [B, 3H], `dh_prev` [B, H]) from `dh` [B, H].
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward(
    gpu: &GpuDevice,
    dtype: DType,
    xw: View,
    hw: View,
    h_prev: View,
    dh: View,
    batch: usize,
    hidden: usize,
) -> (PooledBuffer, PooledBuffer, PooledBuffer) {
    let n = batch * hidden;
    let size = dtype.size_in_bytes() as u64;
    let dxw = gpu.output_buffer(3 * n as u64 * size);
    let dhw = gpu.output_buffer(3 * n as u64 * size);
    let dh_prev = gpu.output_buffer(n as u64 * size);
    gpu.launch(KernelLaunch::new(
        KernelKey::GruCellBackward { dtype },
        &gru_params(batch, hidden, xw.1, hw.1, h_prev.1, dh.1),
        &[&dxw, &dhw, &dh_prev, xw.0, hw.0, h_prev.0, dh.0],
        shaders::linear_workgroups(n, WG),
    ));
    (dxw, dhw, dh_prev)
}
