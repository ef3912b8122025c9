//! How the CPU backend asks the system allocator to treat freed tensors.
//!
//! A training step frees and re-allocates the same large buffers every iteration. With
//! glibc's defaults, buffers of 128 KiB and more are mapped fresh from the kernel and
//! unmapped on free, and freed heap memory beyond 128 KiB at the heap's top is handed
//! back: every step then page-faults and zero-fills its activations again (a quarter of
//! an LSTM forward's time, a sixth of a BERT forward's, in `perf`). The CPU backend
//! therefore asks glibc, once, to serve buffers of every size from the heap (no mapping
//! per buffer; the largest threshold glibc allows, 32 MiB, still left BERT's 47 MB
//! embedding gradient and its optimizer state mapped fresh every step: 8% of a
//! fine-tuning step) and to keep up to 1 GiB of freed memory for reuse, as a caching
//! allocator does. A process that sets `MALLOC_MMAP_MAX_`, `MALLOC_MMAP_THRESHOLD_` or
//! `MALLOC_TRIM_THRESHOLD_` itself keeps its own settings. Other C libraries and systems
//! are left as they are.

use std::sync::Once;

/// Applies the policy above once per process; later calls cost one atomic load.
pub fn retain_freed_buffers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(apply);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    /// Buffers mapped on their own: none (a buffer too large for a thread's arena comes
    /// from the main heap instead).
    const MAPPED_BUFFERS: i32 = 0;
    /// Freed memory at the heap's top kept for reuse instead of returned to the system.
    const RETAINED_FREE_MEMORY: i32 = 1 << 30;
    let set_by_user = ["MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if !set_by_user {
        // Safety: mallopt only changes glibc's tuning parameters; it is safe to call at
        // any time from any thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, MAPPED_BUFFERS);
            libc::mallopt(libc::M_TRIM_THRESHOLD, RETAINED_FREE_MEMORY);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}
