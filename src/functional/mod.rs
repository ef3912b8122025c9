//! `wgrad::functional` (import as `F`): torch.nn.functional's ops on tensors.
//!
//! ```
//! use wgrad::{functional as F, Device, Tensor};
//! let dev = Device::cpu();
//! let logits = Tensor::from_vec(vec![2.0f32, 0.5, -1.0, 0.1, 0.2, 3.0], [2, 3], &dev);
//! let target = Tensor::from_vec(vec![0u32, 2], [2], &dev);
//! let loss = F::cross_entropy(&logits, &target, F::Reduction::Mean, 0.0);
//! let probs = F::softmax(&logits, -1);
//! assert!(loss.to_scalar()? < 0.5);
//! assert!((probs.sum_all().to_scalar()? - 2.0).abs() < 1e-6);
//! # Ok::<(), wgrad::Error>(())
//! ```

mod activation;
mod attention;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod loss;
mod norm;
mod pool;
mod rnn;

pub use activation::{gelu, log_softmax, normalize, relu, softmax};
pub use attention::{scaled_dot_product_attention, scaled_dot_product_attention_with_weights, AttnMask};
pub use conv::{conv1d, conv2d, conv_transpose2d};
pub use dropout::{dropout, dropout2d};
pub use embedding::embedding;
pub use linear::linear;
pub use loss::{
    binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_pos_weight, cross_entropy, cross_entropy_ignore,
    cross_entropy_weighted, l1_loss, mse_loss, nll_loss, smooth_l1_loss, Reduction,
};
pub use norm::{batch_norm, layer_norm, RunningStats};
pub use pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_pool2d_with_indices};
pub use rnn::{gru, lstm, rnn_tanh, RnnWeights};
pub use wgrad_core::params::{Conv2d, Pool2d};

/// Advanced: the gradient functions that the convolution and pooling functionals' backward
/// rules call, for custom autograd rules and for testing those kernels directly. Training
/// code never needs them: `backward()` calls them.
///
/// ```
/// # use wgrad::{functional as F, DType, Device, Tensor};
/// let g = Tensor::ones([1, 1, 2, 2], DType::F32, &Device::cpu());
/// assert_eq!(F::grad::conv2d_grad_bias(&g).to_vec::<f32>()?, [4.0]);
/// # Ok::<(), wgrad::Error>(())
/// ```
pub mod grad {
    pub use super::conv::{conv2d_grad_bias, conv2d_grad_input, conv2d_grad_weight};
    pub use super::pool::{adaptive_avg_pool2d_backward, avg_pool2d_backward, max_pool2d_backward};
}
