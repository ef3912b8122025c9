//! `wgrad::functional` (import as `F`): torch.nn.functional's ops on tensors.

mod activation;
mod attention;
mod embedding;
mod loss;
mod norm;
mod rnn;

pub use activation::{dropout, gelu, layer_norm, log_softmax, relu, softmax};
pub use attention::{scaled_dot_product_attention, scaled_dot_product_attention_with_weights, AttnMask};
pub use embedding::embedding;
pub use loss::{binary_cross_entropy_with_logits, cross_entropy, cross_entropy_ignore, mse_loss, Reduction};
pub use norm::{batch_norm, RunningStats};
pub use rnn::{gru, lstm, rnn_tanh, RnnWeights};
pub use wgrad_core::params::{Conv2d, Pool2d};
