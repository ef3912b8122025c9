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

mod activation;
mod attention;
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
pub use activation::{GeluTanh, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, GELU};
pub use attention::{MhaArgs, MultiheadAttention};
pub use conv::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, MSELoss};
pub use module::{Module, TrainingFlag};
pub use norm::{BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm};
pub use optim::{
    clip_grad_norm, clip_grad_value, Adam, AdamConfig, AdamW, AdamWConfig, CosineAnnealingLR, LinearLR, LrScheduler,
    OneCycleLR, Optimizer, Sgd, SgdConfig, StepLR,
};
pub use parameter::{Buffer, Parameter};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use reshape::{Flatten, Identity};
pub use rnn::{Gru, Lstm, Rnn, RnnLayer};
pub use sequential::Sequential;
pub use training::TrainingCheckpoint;
pub use transformer::{TransformerEncoder, TransformerEncoderLayer};

module::inherent_module_methods!(
    Linear,
    Conv2d,
    Sequential,
    ReLU,
    Sigmoid,
    Tanh,
    GELU,
    GeluTanh,
    Softmax,
    LogSoftmax,
    Flatten,
    Identity,
    MaxPool2d,
    AvgPool2d,
    AdaptiveAvgPool2d,
    Dropout,
    Embedding,
    LayerNorm,
    BatchNorm,
    MultiheadAttention,
    TransformerEncoderLayer,
    TransformerEncoder,
    Lstm,
    Gru,
    Rnn,
);
