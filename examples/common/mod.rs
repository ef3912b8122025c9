//! Shared by the training demos (included with `#[path = "common/mod.rs"] mod common;`):
//! the common flags, the per-epoch progress bar, the run's history with its summary and
//! `final:` lines and PNG chart, the training checkpoint behind `--resume`, and the MPI
//! job behind `--distributed`.

// Each demo uses a different part of this module.
#![allow(dead_code)]

mod chart;
mod cli;
pub mod job;
pub mod progress;
pub mod resume;
pub mod seed_cnn;
pub mod sentences;

#[allow(unused_imports)] // only bert parses a --device of its own
pub use cli::{device, CommonArgs, Run};
#[allow(unused_imports)] // mnist uses only part of it
pub use progress::{EpochBar, History};
