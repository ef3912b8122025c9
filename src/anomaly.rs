//! Anomaly detection (torch.autograd.detect_anomaly): when on, every op's output is
//! read back and checked for NaN and infinity, and the first op that produced one is
//! reported, with its input shapes, as an `Err` from the next readback or `sync()`.
//! Slow (a readback per op): for debugging.

use crate::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};
use wgrad_core::Error;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns anomaly detection on or off for the whole process.
pub fn detect_anomaly(on: bool) {
    ENABLED.store(on, Ordering::SeqCst);
}

pub(crate) fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Checks `out` of op `name`; records an `Error::Anomaly` on its device if needed.
pub(crate) fn check(out: &Tensor, name: &'static str, inputs: &[&Tensor]) {
    if !out.dtype().is_float() {
        return;
    }
    let Ok(host) = out.to_host() else { return };
    let values = host.to_f64_vec(&wgrad_core::Layout::contiguous([host.len()]));
    let what = if values.iter().any(|v| v.is_nan()) {
        "NaN"
    } else if values.iter().any(|v| v.is_infinite()) {
        "infinity"
    } else {
        return;
    };
    let shapes: Vec<String> = inputs.iter().map(|t| t.shape().to_string()).collect();
    let e = Error::Anomaly { op: name, what, inputs: shapes.join(", "), output: out.shape().to_string() };
    out.backend().record_error(e);
    // Only the first anomaly is reported: later ones are its consequences.
    detect_anomaly(false);
}
