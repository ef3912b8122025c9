//! `wgrad::nn`: modules with PyTorch's state-dict names, losses as modules, optimizers,
//! learning-rate schedules, gradient clipping and checkpoints (torch.nn, torch.optim).
//!
//! ```no_run
//! use wgrad::{nn, Device, Tensor};
//! let dev = Device::best();
//! let model = nn::Sequential::new().add(nn::Linear::new(4, 8, &dev)).add(nn::ReLU).add(nn::Linear::new(8, 1, &dev));
//! let mut opt = nn::Adam::new(model.parameters(), nn::AdamConfig { lr: 1e-2, ..Default::default() });
//! let x = Tensor::randn([16, 4], 0, &dev);
//! let loss = nn::MSELoss::new().forward(&model.forward(&x), &x.sum(1, true));
//! let grads = loss.backward().unwrap();
//! opt.step(&grads).unwrap();
//! model.save("model.safetensors").unwrap();
//! ```
//!
//! Every layer has `forward`, `parameters`, `named_parameters`, `state_dict`,
//! `load_state_dict`, `train`, `eval`, `save` and `load` as its own methods, so none of
//! the above needs [`Module`] in scope:
//!
//! ```
//! use wgrad::{nn, DType, Device, Tensor};
//! let dev = Device::cpu();
//! let up = nn::ConvTranspose2d::new(2, 3, 2, &dev).stride(2);
//! let names: Vec<String> = up.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["weight", "bias"]);
//! assert_eq!(nn::Conv1d::new(2, 4, 3, &dev).parameters().len(), 2);
//! let y = up.forward(&Tensor::zeros([1, 2, 4, 4], DType::F32, &dev));
//! assert_eq!(y.dims(), [1, 3, 8, 8]);
//! ```

mod activation;
mod attention;
pub mod bert;
mod checkpoint;
mod conv;
mod dropout;
mod embedding;
pub mod init;
mod linear;
mod loss;
mod module;
mod norm;
pub mod optim;
mod parameter;
mod pool;
mod reshape;
mod rnn;
mod sequential;
mod training;
mod transformer;

pub use crate::rng::manual_seed;
pub use attention::MhaArgs;
pub use bert::{BertConfig, BertOutput};
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss};
pub use module::{Module, ModuleField, TrainingFlag};
pub use norm::{BatchNorm1d, BatchNorm2d};
pub use optim::{
    clip_grad_norm, clip_grad_value, Adam, AdamConfig, AdamW, AdamWConfig, CosineAnnealingLR, LambdaLR, LinearLR,
    LrScheduler, OneCycleLR, Optimizer, ParamGroup, ReduceLROnPlateau, SequentialLR, Sgd, SgdConfig, StepLR,
};
pub use parameter::{Buffer, Parameter};
pub use rnn::RnnLayer;
pub use training::TrainingCheckpoint;

// The layers: exported with `forward`, `parameters`, `save`, ... as inherent methods.
module::export_layers! {
    activation::{GeluTanh, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh, ELU, GELU},
    attention::{MultiheadAttention},
    bert::{BertModel},
    conv::{Conv2d},
    dropout::{Dropout, Dropout2d},
    embedding::{Embedding},
    linear::{Linear},
    norm::{BatchNorm, LayerNorm},
    pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d},
    reshape::{Flatten, Identity},
    rnn::{Gru, Lstm, Rnn},
    sequential::{Sequential},
    transformer::{TransformerEncoder, TransformerEncoderLayer};
    own forward: conv::{Conv1d, ConvTranspose2d},
}
/// `#[derive(Module)]`: a struct's fields become its submodules (by field name), its
/// `Parameter` fields its parameters and its `Buffer` fields its buffers; see
/// [`wgrad_derive`](https://docs.rs/wgrad-derive) for the attributes.
///
/// ```
/// use wgrad::nn::{self, Module};
/// use wgrad::{Device, Tensor};
///
/// #[derive(Module)]
/// struct Mlp {
///     hidden: nn::Linear,
///     out: nn::Linear,
/// }
///
/// impl Mlp {
///     fn forward(&self, x: &Tensor) -> Tensor {
///         self.out.forward(&self.hidden.forward(x).relu())
///     }
/// }
///
/// let dev = Device::cpu();
/// let mlp = Mlp { hidden: nn::Linear::new(4, 8, &dev), out: nn::Linear::new(8, 2, &dev) };
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]);
/// assert_eq!(Module::forward(&mlp, &Tensor::zeros([3, 4], wgrad::DType::F32, &dev)).dims(), &[3, 2]);
/// ```
pub use wgrad_derive::Module;
