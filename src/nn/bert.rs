//! [`BertModel`]: the BERT encoder of Hugging Face `transformers` (`BertModel`), built
//! from [`BertConfig`] and loaded from a `model.safetensors` by its Hugging Face names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`,
//! ..., `pooler.dense.weight`).
//!
//! The blocks are the library's own: [`Embedding`], [`Linear`], [`LayerNorm`], exact (erf)
//! GELU and the fused `scaled_dot_product_attention` with a key padding mask. Dropout
//! follows the module's training mode on the hidden states (`hidden_dropout_prob`);
//! attention-probability dropout is not applied.
//!
//! ```
//! use wgrad::nn::{BertConfig, BertModel};
//! use wgrad::{Device, Tensor};
//! // A tiny random BERT; `BertModel::from_pretrained(dir, ..)` loads a real one.
//! let config = BertConfig::from_json(
//!     r#"{"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
//!         "intermediate_size": 32}"#,
//! )?;
//! let model = BertModel::new(&config, false, &Device::cpu());
//! let ids = Tensor::from_vec(vec![2u32, 7, 9, 3], [1, 4], &Device::cpu());
//! assert_eq!(model.forward_ids(&ids).dims(), [1, 4, 16]); // last_hidden_state
//! # Ok::<(), wgrad::Error>(())
//! ```

use super::{Dropout, Embedding, LayerNorm, Linear, Module};
use crate::functional as F;
use crate::{io, DType, Device, Error, Result, Tensor};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The fields of a Hugging Face BERT `config.json` that shape the model (others are
/// ignored); defaults are `transformers.BertConfig`'s.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    /// Rows of the word-embedding table.
    pub vocab_size: usize,
    /// Width of every hidden state.
    #[serde(default = "defaults::hidden_size")]
    pub hidden_size: usize,
    /// Encoder layers.
    #[serde(default = "defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Attention heads; `hidden_size` must be a multiple of it.
    #[serde(default = "defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    #[serde(default = "defaults::intermediate_size")]
    pub intermediate_size: usize,
    /// The feed-forward activation: `gelu` (erf), `gelu_new` / `gelu_pytorch_tanh`
    /// (tanh approximation), `relu`, `silu` / `swish`.
    #[serde(default = "defaults::hidden_act")]
    pub hidden_act: String,
    /// Dropout on embeddings and block outputs in training mode.
    #[serde(default = "defaults::dropout")]
    pub hidden_dropout_prob: f64,
    /// Positions the model has embeddings for.
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type (segment) table.
    #[serde(default = "defaults::type_vocab_size")]
    pub type_vocab_size: usize,
    /// LayerNorm's epsilon.
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Only `absolute` position embeddings are supported.
    #[serde(default = "defaults::position_embedding_type")]
    pub position_embedding_type: String,
}

mod defaults {
    pub fn hidden_size() -> usize {
        768
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn hidden_act() -> String {
        "gelu".into()
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn type_vocab_size() -> usize {
        2
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn position_embedding_type() -> String {
        "absolute".into()
    }
}

impl BertConfig {
    /// Reads and checks a `config.json`; errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<BertConfig> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
        BertConfig::from_json(&text).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
    }

    /// Parses and checks the text of a `config.json`.
    pub fn from_json(text: &str) -> Result<BertConfig> {
        let config: BertConfig = serde_json::from_str(text).map_err(|e| Error::Format(format!("BERT config: {e}")))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Format(format!("BERT config: {msg}")));
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.position_embedding_type != "absolute" {
            return bad(format!("position_embedding_type {:?} (only \"absolute\")", self.position_embedding_type));
        }
        if !(0.0..1.0).contains(&self.hidden_dropout_prob) {
            return bad(format!("hidden_dropout_prob {} is not in [0, 1)", self.hidden_dropout_prob));
        }
        Activation::parse(&self.hidden_act).map(drop)
    }
}

/// The feed-forward activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Gelu,
    GeluTanh,
    Relu,
    Silu,
}

impl Activation {
    fn parse(name: &str) -> Result<Activation> {
        Ok(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            other => return Err(Error::Format(format!("BERT config: hidden_act {other:?} is not supported"))),
        })
    }

    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu(),
            Activation::GeluTanh => x.gelu_tanh(),
            Activation::Relu => x.relu(),
            Activation::Silu => x.silu(),
        }
    }
}

/// Word, position and token-type embeddings, summed, normalised and dropped out.
#[derive(Module)]
#[module(no_forward)]
pub struct BertEmbeddings {
    /// `[vocab_size, hidden]`.
    pub word_embeddings: Embedding,
    /// `[max_position_embeddings, hidden]`.
    pub position_embeddings: Embedding,
    /// `[type_vocab_size, hidden]`.
    pub token_type_embeddings: Embedding,
    /// Normalises the sum.
    #[module(rename = "LayerNorm")]
    pub layer_norm: LayerNorm,
    /// Hidden dropout.
    pub dropout: Dropout,
}

impl BertEmbeddings {
    fn new(c: &BertConfig, dev: &Device) -> BertEmbeddings {
        let table = |rows: usize| Embedding::from_tensor(super::init::normal_std([rows, c.hidden_size], 0.02, dev));
        BertEmbeddings {
            word_embeddings: table(c.vocab_size),
            position_embeddings: table(c.max_position_embeddings),
            token_type_embeddings: table(c.type_vocab_size),
            layer_norm: LayerNorm::with_shape(&[c.hidden_size], c.layer_norm_eps, true, dev),
            dropout: Dropout::new(c.hidden_dropout_prob),
        }
    }

    /// `[N, L, hidden]` of ids `[N, L]`, positions `0..L`, token types (zeros if None).
    pub fn forward(&self, input_ids: &Tensor, token_type_ids: Option<&Tensor>) -> Tensor {
        let (n, l) = (input_ids.dims()[0], input_ids.dims()[1]);
        let dev = input_ids.device();
        let table = self.position_embeddings.weight.tensor();
        assert!(
            l <= table.dims()[0],
            "BERT: {l} tokens per sequence, but the model has {} positions (max_position_embeddings)",
            table.dims()[0]
        );
        // Positions 0..L are the table's first L rows: a view, no position ids to make.
        let positions = table.narrow(0, 0, l);
        let types = match token_type_ids {
            Some(t) => self.token_type_embeddings.forward(t),
            None => self.token_type_embeddings.forward(&Tensor::zeros([1, l], DType::U32, dev)),
        };
        let x = self.word_embeddings.forward(input_ids).add(&positions).add(&types);
        debug_assert_eq!(x.dims()[..2], [n, l]);
        self.dropout.forward(&self.layer_norm.forward(&x))
    }
}

/// The query, key and value projections of one layer's self-attention.
#[derive(Module)]
#[module(no_forward)]
pub struct BertSelfAttention {
    /// hidden -> hidden.
    pub query: Linear,
    /// hidden -> hidden.
    pub key: Linear,
    /// hidden -> hidden.
    pub value: Linear,
    /// Heads.
    #[module(skip)]
    pub num_heads: usize,
}

impl BertSelfAttention {
    /// Multi-head attention of `x` `[N, L, hidden]` to itself over the keys `keep`
    /// (`[N, 1, 1, L]`, u32, 1 = a real token) marks; `[N, L, hidden]`, heads concatenated.
    pub fn forward(&self, x: &Tensor, keep: Option<&Tensor>) -> Tensor {
        let (n, l, e) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let (h, d) = (self.num_heads, e / self.num_heads);
        let heads = |proj: &Linear| proj.forward(x).reshape([n, l, h, d]).permute(&[0, 2, 1, 3]);
        let mask = keep.map_or(F::AttnMask::None, F::AttnMask::Keep);
        let out =
            F::scaled_dot_product_attention(&heads(&self.query), &heads(&self.key), &heads(&self.value), mask, None);
        out.permute(&[0, 2, 1, 3]).reshape([n, l, e])
    }
}

/// A dense projection, dropout, and a residual LayerNorm (`BertSelfOutput` and
/// `BertOutput` in transformers).
#[derive(Module)]
#[module(no_forward)]
pub struct BertResidual {
    /// The projection back to hidden.
    pub dense: Linear,
    /// Normalises the residual sum.
    #[module(rename = "LayerNorm")]
    pub layer_norm: LayerNorm,
    /// Hidden dropout.
    pub dropout: Dropout,
}

impl BertResidual {
    fn new(from: usize, c: &BertConfig, dev: &Device) -> BertResidual {
        BertResidual {
            dense: bert_linear(from, c.hidden_size, dev),
            layer_norm: LayerNorm::with_shape(&[c.hidden_size], c.layer_norm_eps, true, dev),
            dropout: Dropout::new(c.hidden_dropout_prob),
        }
    }

    /// `LayerNorm(dropout(dense(x)) + residual)`.
    pub fn forward(&self, x: &Tensor, residual: &Tensor) -> Tensor {
        self.layer_norm.forward(&self.dropout.forward(&self.dense.forward(x)).add(residual))
    }
}

/// Self-attention and its output block.
#[derive(Module)]
#[module(no_forward)]
pub struct BertAttention {
    /// The projections (Hugging Face's `attention.self`).
    #[module(rename = "self")]
    pub self_attention: BertSelfAttention,
    /// Hugging Face's `attention.output`.
    pub output: BertResidual,
}

/// The feed-forward expansion and its activation.
#[derive(Module)]
#[module(no_forward)]
pub struct BertIntermediate {
    /// hidden -> intermediate.
    pub dense: Linear,
    #[module(skip)]
    activation: Activation,
}

/// One encoder layer: attention block, then feed-forward block, each post-norm.
#[derive(Module)]
#[module(no_forward)]
pub struct BertLayer {
    /// The attention block.
    pub attention: BertAttention,
    /// The feed-forward expansion.
    pub intermediate: BertIntermediate,
    /// The feed-forward projection back, with its residual norm.
    pub output: BertResidual,
}

impl BertLayer {
    fn new(c: &BertConfig, act: Activation, dev: &Device) -> BertLayer {
        let square = || bert_linear(c.hidden_size, c.hidden_size, dev);
        BertLayer {
            attention: BertAttention {
                self_attention: BertSelfAttention {
                    query: square(),
                    key: square(),
                    value: square(),
                    num_heads: c.num_attention_heads,
                },
                output: BertResidual::new(c.hidden_size, c, dev),
            },
            intermediate: BertIntermediate {
                dense: bert_linear(c.hidden_size, c.intermediate_size, dev),
                activation: act,
            },
            output: BertResidual::new(c.intermediate_size, c, dev),
        }
    }

    /// The layer applied to `[N, L, hidden]` with the key mask `keep` `[N, 1, 1, L]`.
    pub fn forward(&self, x: &Tensor, keep: Option<&Tensor>) -> Tensor {
        let attended = self.attention.output.forward(&self.attention.self_attention.forward(x, keep), x);
        let expanded = self.intermediate.activation.apply(&self.intermediate.dense.forward(&attended));
        self.output.forward(&expanded, &attended)
    }
}

/// The stack of layers (state-dict names `layer.<i>.…`).
#[derive(Module)]
#[module(no_forward)]
pub struct BertEncoder {
    /// The layers, applied in order.
    pub layer: Vec<BertLayer>,
}

/// `tanh(dense(first token))`: the pooled output.
#[derive(Module)]
#[module(no_forward)]
pub struct BertPooler {
    /// hidden -> hidden.
    pub dense: Linear,
}

/// What [`BertModel::forward`] returns (as `transformers`' `BaseModelOutputWithPooling`).
#[derive(Debug, Clone)]
pub struct BertOutput {
    /// `[N, L, hidden]`: the last layer's hidden states.
    pub last_hidden_state: Tensor,
    /// `[N, hidden]`: the pooler applied to the first (`[CLS]`) token, if the model has one.
    pub pooler_output: Option<Tensor>,
}

/// BERT (`transformers.BertModel`): embeddings, encoder and an optional pooler, with the
/// Hugging Face parameter names, so `state_dict()` and `load_state_dict` speak them.
///
/// ```
/// use wgrad::nn::{BertConfig, BertModel, Module};
/// use wgrad::{Device, Tensor};
///
/// let dev = Device::cpu();
/// let config = BertConfig::from_json(
///     r#"{"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2,
///         "num_attention_heads": 4, "intermediate_size": 32}"#,
/// ).unwrap();
/// let bert = BertModel::new(&config, true, &dev);
/// bert.eval();
/// let ids = Tensor::from_vec(vec![2u32, 7, 9, 0], [2, 2], &dev);
/// let mask = Tensor::from_vec(vec![1u32, 1, 1, 0], [2, 2], &dev);
/// let out = bert.forward_with(&ids, Some(&mask), None);
/// assert_eq!(out.last_hidden_state.dims(), &[2, 2, 16]);
/// assert_eq!(out.pooler_output.unwrap().dims(), &[2, 16]);
/// assert!(bert.named_parameters().iter().any(|(n, _)| n == "encoder.layer.1.attention.self.query.weight"));
/// ```
#[derive(Module)]
#[module(forward = forward_ids)]
pub struct BertModel {
    /// The input embeddings.
    pub embeddings: BertEmbeddings,
    /// The encoder layers.
    pub encoder: BertEncoder,
    /// The pooler, when the model has one.
    pub pooler: Option<BertPooler>,
    /// The configuration it was built from.
    #[module(skip)]
    pub config: BertConfig,
}

impl BertModel {
    /// A randomly initialised model (as transformers: normal(0, 0.02) weights, zero biases,
    /// unit LayerNorms), with a pooler if `add_pooling_layer`. The config must be valid
    /// (made by [`BertConfig::from_json`] / [`BertConfig::from_file`]).
    pub fn new(config: &BertConfig, add_pooling_layer: bool, device: &Device) -> BertModel {
        let act = Activation::parse(&config.hidden_act).expect("BertModel::new: an unchecked config");
        BertModel {
            embeddings: BertEmbeddings::new(config, device),
            encoder: BertEncoder {
                layer: (0..config.num_hidden_layers).map(|_| BertLayer::new(config, act, device)).collect(),
            },
            pooler: add_pooling_layer
                .then(|| BertPooler { dense: bert_linear(config.hidden_size, config.hidden_size, device) }),
            config: config.clone(),
        }
    }

    /// Loads `dir/config.json` and `dir/model.safetensors` (a Hugging Face model
    /// directory) onto `device`. See [`BertModel::from_safetensors`].
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<BertModel> {
        let dir = dir.as_ref();
        let config = BertConfig::from_file(dir.join("config.json"))?;
        BertModel::from_safetensors(&config, dir.join("model.safetensors"), device)
    }

    /// The model of `config` holding the weights of the safetensors file at `path`, by
    /// their Hugging Face names. Checkpoints of `BertFor*` models load too: a `bert.`
    /// prefix is removed, and their task heads (`cls.*`) and the `embeddings.position_ids`
    /// buffer are left out, as transformers does; old `LayerNorm.gamma` / `.beta` names
    /// are read as `.weight` / `.bias`. The pooler is built when the file has one.
    /// Anything else missing, unexpected or of the wrong shape is an `Err` listing every
    /// such name, and nothing is loaded then.
    pub fn from_safetensors(config: &BertConfig, path: impl AsRef<Path>, device: &Device) -> Result<BertModel> {
        let path = path.as_ref();
        let raw = io::load_safetensors(path, device)?;
        let state = hugging_face_names(raw);
        let model = BertModel::new(config, state.contains_key("pooler.dense.weight"), device);
        model.load_state_dict(&state).map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
        Ok(model)
    }

    /// The last hidden states of `input_ids` `[N, L]` with every token real.
    pub fn forward_ids(&self, input_ids: &Tensor) -> Tensor {
        self.forward_with(input_ids, None, None).last_hidden_state
    }

    /// `transformers.BertModel(input_ids, attention_mask, token_type_ids)`: ids `[N, L]`
    /// (u32 or i32), `attention_mask` `[N, L]` with 1 at real tokens and 0 at padding
    /// (all real if None), `token_type_ids` `[N, L]` (zeros if None).
    #[track_caller]
    pub fn forward_with(
        &self,
        input_ids: &Tensor,
        attention_mask: Option<&Tensor>,
        token_type_ids: Option<&Tensor>,
    ) -> BertOutput {
        let dims = input_ids.dims();
        assert!(dims.len() == 2, "BertModel: input_ids must be [N, L], got {}", input_ids.shape());
        let (n, l) = (dims[0], dims[1]);
        let max = self.config.max_position_embeddings;
        assert!(l <= max, "BertModel: {l} tokens, but the model has {max} positions");
        let keep = attention_mask.map(|m| {
            assert_eq!(m.dims(), [n, l], "BertModel: attention_mask must be [N, L] = [{n}, {l}]");
            m.ne(&Tensor::zeros([], m.dtype(), m.device())).reshape([n, 1, 1, l])
        });
        let mut x = self.embeddings.forward(input_ids, token_type_ids);
        for layer in &self.encoder.layer {
            x = layer.forward(&x, keep.as_ref());
        }
        let pooler_output = self.pooler.as_ref().map(|p| p.dense.forward(&x.select(1, 0)).tanh());
        BertOutput { last_hidden_state: x, pooler_output }
    }
}

/// sentence-transformers' mean pooling: the mean of `hidden` `[N, L, H]` over the tokens
/// where `attention_mask` `[N, L]` is nonzero; `[N, H]`.
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Tensor {
    let mask =
        attention_mask.ne(&Tensor::zeros([], attention_mask.dtype(), attention_mask.device())).cast(hidden.dtype());
    let counts = mask.sum(1, true).clamp(Some(1e-9), None); // [N, 1]
    hidden.mul(&mask.unsqueeze(2)).sum(1, false).div(&counts)
}

/// A Linear initialised as transformers' BERT: weight normal(0, 0.02), zero bias.
fn bert_linear(from: usize, to: usize, dev: &Device) -> Linear {
    Linear::from_tensors(super::init::normal_std([to, from], 0.02, dev), Some(Tensor::zeros([to], DType::F32, dev)))
}

/// Hugging Face checkpoint names as `BertModel` names them (see
/// [`BertModel::from_safetensors`]).
fn hugging_face_names(raw: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    let prefixed = raw.keys().any(|k| k.starts_with("bert."));
    raw.into_iter()
        .filter_map(|(name, t)| {
            let name = if prefixed { name.strip_prefix("bert.")?.to_string() } else { name };
            if name == "embeddings.position_ids" || name.starts_with("cls.") {
                return None;
            }
            let name = if let Some(stem) = name.strip_suffix("LayerNorm.gamma") {
                format!("{stem}LayerNorm.weight")
            } else if let Some(stem) = name.strip_suffix("LayerNorm.beta") {
                format!("{stem}LayerNorm.bias")
            } else {
                name
            };
            Some((name, t))
        })
        .collect()
}
