//! State dicts of modules: collecting, checking and loading them, and safetensors files.

use super::{Buffer, Module, Parameter};
use crate::{io, DType, Device, Error, Result, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Where a state-dict entry goes.
enum Slot {
    Param(Parameter),
    Buffer(Buffer),
}

impl Slot {
    fn tensor(&self) -> Tensor {
        match self {
            Slot::Param(p) => p.tensor(),
            Slot::Buffer(b) => b.tensor(),
        }
    }
    fn set(&self, t: Tensor) {
        match self {
            Slot::Param(p) => p.set(t),
            Slot::Buffer(b) => b.set(t),
        }
    }
}

fn slots<M: Module + ?Sized>(m: &M) -> Vec<(String, Slot)> {
    let mut out: Vec<(String, Slot)> = m.named_parameters().into_iter().map(|(n, p)| (n, Slot::Param(p))).collect();
    out.extend(m.named_buffers().into_iter().map(|(n, b)| (n, Slot::Buffer(b))));
    out
}

/// Parameters then buffers, by name, detached.
pub(crate) fn state_dict<M: Module + ?Sized>(m: &M) -> Vec<(String, Tensor)> {
    slots(m).into_iter().map(|(n, s)| (n, s.tensor().detach())).collect()
}

/// Checks every entry first (names, shapes, dtype kinds) and reports all problems at
/// once; only then converts and sets each one. `source` names the file in errors.
pub(crate) fn load_state_dict<M: Module + ?Sized>(m: &M, state: &HashMap<String, Tensor>, source: &str) -> Result<()> {
    let slots = slots(m);
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for (name, slot) in &slots {
        let current = slot.tensor();
        match state.get(name) {
            None => missing.push(name.clone()),
            Some(t) if t.dims() != current.dims() => {
                wrong.push(format!("{name} (file {}, model {})", t.shape(), current.shape()))
            }
            Some(t) if t.dtype().is_float() != current.dtype().is_float() => {
                wrong.push(format!("{name} (file dtype {}, model dtype {})", t.dtype(), current.dtype()))
            }
            Some(_) => {}
        }
    }
    let mut unexpected: Vec<String> = state.keys().filter(|k| !slots.iter().any(|(n, _)| n == *k)).cloned().collect();
    missing.sort();
    unexpected.sort();
    if !missing.is_empty() || !unexpected.is_empty() || !wrong.is_empty() {
        let mut parts = Vec::new();
        for (what, names) in [("missing", &missing), ("unexpected", &unexpected), ("wrong shape or dtype", &wrong)] {
            if !names.is_empty() {
                parts.push(format!("{what}: {}", names.join(", ")));
            }
        }
        return Err(Error::Format(format!(
            "{source}: does not match the model (nothing was loaded); {}",
            parts.join("; ")
        )));
    }
    // Convert everything before setting anything, so a failed transfer changes nothing.
    let mut converted = Vec::with_capacity(slots.len());
    for (name, slot) in &slots {
        let current = slot.tensor();
        converted.push(convert(&state[name], current.dtype(), current.device())?);
    }
    for ((_, slot), t) in slots.iter().zip(converted) {
        slot.set(t);
    }
    Ok(())
}

/// `t` as `dtype` on `device` (converted where it already is, to move the smaller copy
/// when it narrows).
fn convert(t: &Tensor, dtype: DType, device: &Device) -> Result<Tensor> {
    let t = crate::no_grad(|| t.detach().cast(dtype));
    t.try_to_device(device)
}

/// Saves the state dict to `path` as safetensors, atomically.
pub(crate) fn save<M: Module + ?Sized>(m: &M, path: &Path) -> Result<()> {
    io::save_safetensors(path, &state_dict(m))
}

/// Loads the state dict at `path` (read on the CPU, then moved to each parameter's
/// device).
pub(crate) fn load<M: Module + ?Sized>(m: &M, path: &Path) -> Result<()> {
    let state = io::load_safetensors(path, &Device::cpu())?;
    load_state_dict(m, &state, &path.display().to_string())
}
