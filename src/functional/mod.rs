//! `wgrad::functional` (import as `F`): torch.nn.functional's ops on tensors.

pub use wgrad_core::params::{Conv2d, Pool2d};
